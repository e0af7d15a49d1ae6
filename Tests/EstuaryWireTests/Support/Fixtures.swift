import EstuaryWire
import Foundation

/// The canonical envelopes behind Protocol/vectors/valid.json. The checked-in files are the
/// truth the tests read; these builders exist so the vectors can be regenerated.
enum Fixtures {
    static let agentClockMs: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z

    static var hello: Estuary_V1_Envelope {
        var hello = Estuary_V1_Hello()
        hello.protocolVersions = [1]
        hello.site = .with {
            $0.id = "gz-tianhe"
            $0.displayName = "National Supercomputer Center in Guangzhou"
            $0.region = "guangzhou"
            $0.zones = ["gba", "mainland"]
            $0.driver = "slurm"
        }
        hello.agentVersion = "0.1.0"
        hello.agentInstance = "b7f3c2a19e04"
        hello.compression = ["zstd"]
        hello.maxFrameBytes = 4_194_304
        hello.knownJobs = [
            .with { $0.jobID = "j-0001"; $0.state = .running; $0.attempt = 1 },
            .with { $0.jobID = "j-0003"; $0.state = .starting; $0.attempt = 2 },
        ]
        hello.nextSeq = 44
        hello.outboxEpoch = "ob-5f2c9a7e"
        return Estuary_V1_Envelope(body: .hello(hello))
    }

    static var welcome: Estuary_V1_Envelope {
        var welcome = Estuary_V1_Welcome()
        welcome.protocolVersion = 1
        welcome.compression = "zstd"
        welcome.maxFrameBytes = 4_194_304
        welcome.resumeFrom = 40
        welcome.sessionID = "s-7c1e0b52"
        welcome.reportIntervalMs = 5000
        welcome.coordinatorID = "coord-guangzhou"
        return Estuary_V1_Envelope(body: .welcome(welcome))
    }

    static var capacityFull: Estuary_V1_Envelope {
        var report = Estuary_V1_CapacityReport()
        report.full = true
        report.pools = [
            .with { $0.acceleratorClass = "ascend-910b"; $0.count = 1024; $0.free = 256 },
            .with { $0.acceleratorClass = "nvidia-a100"; $0.count = 64; $0.free = 8 },
            .with { $0.acceleratorClass = "cpu-x86-64"; $0.count = 8192; $0.free = 2048 },
        ]
        report.runningJobs = 37
        report.sentAtMs = agentClockMs
        return Estuary_V1_Envelope(body: .capacity(report))
    }

    /// A full report of a large Slurm site: one pool per accelerator class in `largeSiteClasses`.
    static var capacityLargeSite: Estuary_V1_Envelope {
        var report = Estuary_V1_CapacityReport()
        report.full = true
        report.pools = largeSiteClasses.enumerated().map { index, name in
            .with {
                $0.acceleratorClass = name
                $0.count = UInt32(64 << (index % 6))
                $0.free = UInt32((64 << (index % 6)) / (2 + index % 5))
            }
        }
        report.runningJobs = 1873
        report.sentAtMs = agentClockMs
        return Estuary_V1_Envelope(body: .capacity(report))
    }

    static let largeSiteClasses = [
        "nvidia-h100-sxm-80g", "nvidia-h100-pcie-80g", "nvidia-h800-sxm-80g", "nvidia-h20-96g",
        "nvidia-a100-sxm-80g", "nvidia-a100-pcie-40g", "nvidia-a800-sxm-80g", "nvidia-l40s-48g",
        "nvidia-l20-48g", "nvidia-v100-sxm2-32g", "nvidia-t4-16g", "nvidia-rtx4090-24g",
        "ascend-910b", "ascend-910b3", "ascend-910c", "ascend-310p", "hygon-dcu-k100",
        "hygon-dcu-z100", "cambricon-mlu370-x8", "cambricon-mlu590", "kunlunxin-p800",
        "kunlunxin-r200", "iluvatar-bi-v150", "metax-c500", "moore-threads-s4000", "enflame-s60",
        "biren-br104", "amd-mi300x", "amd-mi250x", "intel-gaudi2", "cpu-x86-64",
        "cpu-x86-64-avx512", "cpu-arm64", "cpu-kunpeng-920", "cpu-phytium-s2500", "cpu-hygon-c86",
        "cpu-sw26010-pro", "cpu-x86-64-largemem", "cpu-x86-64-hbm", "fpga-xilinx-u280",
        "nvidia-b200-sxm-192g", "nvidia-h200-sxm-141g", "nvidia-a40-48g", "nvidia-a10-24g",
        "nvidia-l4-24g", "ascend-910a", "cambricon-mlu370-s4", "cpu-x86-64-gpu-host",
    ]

    static var jobAssign: Estuary_V1_Envelope {
        var assign = Estuary_V1_JobAssign()
        assign.jobID = "j-0002"
        assign.attempt = 1
        assign.spec = .with {
            $0.name = "llm-finetune"
            $0.tenant = "acme-ai"
            $0.command = ["/usr/bin/python3", "train.py", "--epochs", "3"]
            $0.env = ["OMP_NUM_THREADS": "8", "HF_HOME": "/scratch/hf", "NCCL_DEBUG": "WARN"]
            $0.acceleratorClass = "ascend-910b"
            $0.count = 8
            $0.tasks = 2
            $0.memoryMib = 65536
            $0.walltimeSeconds = 7200
            $0.priority = 10
        }
        return Estuary_V1_Envelope(seq: 1, ack: 43, body: .jobAssign(assign))
    }

    static var jobCancel: Estuary_V1_Envelope {
        let cancel = Estuary_V1_JobCancel.with { $0.jobID = "j-0001"; $0.reason = "cancelled by user" }
        return Estuary_V1_Envelope(seq: 2, ack: 43, body: .jobCancel(cancel))
    }

    static var jobUpdateSucceeded: Estuary_V1_Envelope {
        let update = Estuary_V1_JobUpdate.with {
            $0.jobID = "j-0001"
            $0.attempt = 1
            $0.state = .succeeded
            $0.atMs = agentClockMs + 61_000
            $0.hasExitCode_p = true
            $0.exitCode = 0
            $0.message = "exit code 0"
        }
        return Estuary_V1_Envelope(seq: 41, ack: 2, body: .jobUpdate(update))
    }

    static var jobUpdateFailed: Estuary_V1_Envelope {
        let update = Estuary_V1_JobUpdate.with {
            $0.jobID = "j-0003"
            $0.attempt = 2
            $0.state = .failed
            $0.atMs = agentClockMs + 62_500
            $0.hasExitCode_p = true
            $0.exitCode = 137
            $0.signal = 9
            $0.message = "killed by signal 9 (SIGKILL), exit code 137"
        }
        return Estuary_V1_Envelope(seq: 42, ack: 2, body: .jobUpdate(update))
    }

    static var usageBatch: Estuary_V1_Envelope {
        let batch = Estuary_V1_UsageBatch.with {
            $0.records = [
                .with {
                    $0.recordID = "u-j-0001-1"
                    $0.jobID = "j-0001"
                    $0.acceleratorClass = "ascend-910b"
                    $0.units = 16
                    $0.startedAtMs = agentClockMs
                    $0.endedAtMs = agentClockMs + 61_000
                },
                .with {
                    $0.recordID = "u-j-0003-2"
                    $0.jobID = "j-0003"
                    $0.acceleratorClass = "cpu-x86-64"
                    $0.units = 32
                    $0.startedAtMs = agentClockMs + 1_500
                    $0.endedAtMs = agentClockMs + 62_500
                },
            ]
        }
        return Estuary_V1_Envelope(seq: 43, ack: 2, body: .usage(batch))
    }

    static var logChunk: Estuary_V1_Envelope {
        let chunk = Estuary_V1_LogChunk.with {
            $0.jobID = "j-0001"
            $0.stream = .stderr
            $0.offset = 4096
            $0.data = Data("epoch 3/3: loss=0.412\n".utf8)
        }
        return Estuary_V1_Envelope(ack: 2, body: .logChunk(chunk))
    }

    static var drain: Estuary_V1_Envelope {
        let drain = Estuary_V1_Drain.with { $0.reason = "coordinator shutting down for upgrade"; $0.retryAfterMs = 15_000 }
        return Estuary_V1_Envelope(ack: 43, body: .drain(drain))
    }

    static var error: Estuary_V1_Envelope {
        let error = Estuary_V1_Error.with {
            $0.code = .protocolViolation
            $0.message = "the first upstream envelope must be Hello"
            $0.fatal = true
        }
        return Estuary_V1_Envelope(body: .error(error))
    }

    static var pureAck: Estuary_V1_Envelope { Estuary_V1_Envelope(ack: 43, body: nil) }
}
