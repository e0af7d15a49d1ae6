import ArgumentParser
import EstuaryWire
import Foundation
import NIOCore

/// Frame codec throughput (encode and decode, with and without zstd) and compression ratios on
/// realistic envelopes. Prints one Markdown section; it measures, it never asserts.
struct CodecBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Measure frame encode/decode rates and zstd ratios on realistic envelopes."
    )

    @Option(help: "Frames per timed batch.")
    var iterations: Int = 1000

    @Option(help: "Minimum time spent on each scenario and direction, e.g. 1s or 500ms.")
    var duration: String = "1s"

    func validate() throws {
        guard iterations > 0 else { throw ValidationError("--iterations must be positive") }
        guard DurationFlag.parse(duration) != nil else { throw ValidationError("--duration: use e.g. 1s, 500ms or 2m") }
    }

    func run() async throws {
        let minimum = DurationFlag.parse(duration) ?? .seconds(1)
        SectionHeader.print("Codec", details: [
            "One envelope per frame, encoded into and decoded from a reused buffer on one thread (\(System.coreCount) cores available); at least \(iterations) frames and \(duration) per cell.",
            "MB/s counts uncompressed payload bytes (10^6 B/s). zstd level \(FrameLimits().zstdLevel), compression threshold \(FrameLimits().compressionThreshold) B; smaller payloads stay uncompressed, so their zstd rows equal the plain ones.",
        ])
        print("| envelope | payload B | compression | wire B | wire/payload | encode frames/s | decode frames/s | encode MB/s | decode MB/s |")
        print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
        for (name, envelope) in Self.scenarios() {
            for compression in [Compression.none, .zstd] {
                let row = try measure(envelope, compression: compression, minimum: minimum)
                let cells = [
                    name, "\(row.payload)", "\(compression)", "\(row.wire)",
                    Format.fixed(Double(row.wire) / Double(row.payload), 3),
                    Format.grouped(row.encodeRate), Format.grouped(row.decodeRate),
                    Format.fixed(row.encodeRate * Double(row.payload) / 1e6, 1),
                    Format.fixed(row.decodeRate * Double(row.payload) / 1e6, 1),
                ]
                print("| " + cells.joined(separator: " | ") + " |")
            }
        }
        print()
    }

    struct Row {
        var payload: Int
        var wire: Int
        var encodeRate: Double
        var decodeRate: Double
    }

    private func measure(_ envelope: Estuary_V1_Envelope, compression: Compression, minimum: Duration) throws -> Row {
        let encoder = FrameEncoder(compression: compression)
        let payload = try FrameEncoder().encode(envelope).readableBytes - 5
        let batchSize = max(1, iterations)
        var batch = ByteBuffer()
        for _ in 0..<batchSize { try encoder.encode(envelope, into: &batch) }
        let wire = batch.readableBytes / batchSize - 5

        let clock = ContinuousClock()
        var frames = 0
        var scratch = ByteBuffer()
        let encodeStart = clock.now
        repeat {
            scratch.clear()
            for _ in 0..<batchSize { try encoder.encode(envelope, into: &scratch) }
            frames += batchSize
        } while clock.now - encodeStart < minimum
        let encodeRate = Double(frames) / (clock.now - encodeStart).seconds

        frames = 0
        var checksum: UInt64 = 0
        let decodeStart = clock.now
        repeat {
            var decoder = FrameDecoder(acceptCompressed: true)
            decoder.append(batch)
            while let decoded = try decoder.next() { checksum &+= decoded.ack; frames += 1 }
        } while clock.now - decodeStart < minimum
        let decodeRate = Double(frames) / (clock.now - decodeStart).seconds
        if checksum == 42 { print("") }  // keeps the decoded values alive
        return Row(payload: payload, wire: wire, encodeRate: encodeRate, decodeRate: decodeRate)
    }

    // MARK: realistic envelopes

    static func scenarios() -> [(String, Estuary_V1_Envelope)] {
        [
            ("JobUpdate (failed, exit 137)", jobUpdate()),
            ("CapacityReport, 8 pools", capacity(pools: 8)),
            ("CapacityReport, 24 pools", capacity(pools: 24)),
            ("CapacityReport, large Slurm site, 64 pools", capacity(pools: 64)),
            ("UsageBatch, 100 records", usage(records: 100)),
            ("LogChunk, 64 KiB of training log", logChunk()),
        ]
    }

    static let classFamilies = [
        "nvidia-h100-sxm-80g", "nvidia-h800-sxm-80g", "nvidia-h20-96g", "nvidia-a100-sxm-80g",
        "nvidia-a800-sxm-80g", "nvidia-l40s-48g", "nvidia-v100-sxm2-32g", "ascend-910b", "ascend-910c",
        "hygon-dcu-k100", "cambricon-mlu590", "kunlunxin-p800", "cpu-x86-64", "cpu-arm64",
        "cpu-kunpeng-920", "cpu-x86-64-largemem",
    ]

    static func capacity(pools: Int) -> Estuary_V1_Envelope {
        let suffixes = ["", "-ib", "-roce", "-debug"]
        var report = Estuary_V1_CapacityReport()
        report.full = true
        report.pools = (0..<pools).map { index in
            var pool = Estuary_V1_Pool()
            pool.acceleratorClass = classFamilies[index % classFamilies.count] + suffixes[(index / classFamilies.count) % suffixes.count]
            let nodes = [4, 16, 32, 128, 512][index % 5]
            pool.count = UInt32(nodes * (pool.acceleratorClass.hasPrefix("cpu") ? 64 : 8))
            pool.free = pool.count / UInt32(2 + index % 7)
            return pool
        }
        report.runningJobs = UInt32(pools * 37)
        report.sentAtMs = 1_767_225_600_000
        return Estuary_V1_Envelope(ack: 1234, body: .capacity(report))
    }

    static func jobUpdate() -> Estuary_V1_Envelope {
        var update = Estuary_V1_JobUpdate()
        update.jobID = "j-01JH2Q8Z6K3M4N5P6Q7R8S9T0V"
        update.attempt = 1
        update.state = .failed
        update.atMs = 1_767_225_661_000
        update.hasExitCode_p = true
        update.exitCode = 137
        update.signal = 9
        update.message = "killed by signal 9 (SIGKILL), exit code 137"
        return Estuary_V1_Envelope(seq: 90_210, ack: 17, body: .jobUpdate(update))
    }

    static func usage(records: Int) -> Estuary_V1_Envelope {
        var batch = Estuary_V1_UsageBatch()
        batch.records = (0..<records).map { index in
            var record = Estuary_V1_UsageRecord()
            record.jobID = "j-01JH2Q8Z6K3M4N5P6Q7R\(String(index, radix: 36))"
            record.recordID = "u-\(record.jobID)-1"
            record.acceleratorClass = classFamilies[index % classFamilies.count]
            record.units = UInt32([1, 8, 16, 64][index % 4])
            record.startedAtMs = 1_767_225_600_000 + Int64(index) * 997
            record.endedAtMs = record.startedAtMs + 3_600_000 + Int64(index) * 13
            return record
        }
        return Estuary_V1_Envelope(seq: 90_211, ack: 17, body: .usage(batch))
    }

    static func logChunk() -> Estuary_V1_Envelope {
        var text = ""
        var step = 0
        while text.utf8.count < 65_536 - 200 {
            step += 1
            text += "[rank \(step % 16)] step \(step) loss=\(Double(1000 - step % 1000) / 997) lr=3.0e-4 tokens/s=\(41_000 + step % 977)\n"
        }
        var chunk = Estuary_V1_LogChunk()
        chunk.jobID = "j-01JH2Q8Z6K3M4N5P6Q7R8S9T0V"
        chunk.offset = 1 << 20
        chunk.data = Data(text.utf8)
        return Estuary_V1_Envelope(ack: 17, body: .logChunk(chunk))
    }
}
