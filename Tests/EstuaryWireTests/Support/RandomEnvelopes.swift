import EstuaryWire
import Foundation

/// Random but valid envelopes of every body kind, drawn from a seeded generator.
struct RandomEnvelopes {
    var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func int<T: FixedWidthInteger>(_ range: ClosedRange<T>) -> T { T.random(in: range, using: &rng) }
    mutating func bool() -> Bool { Bool.random(using: &rng) }

    mutating func string(maxLength: Int = 24) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-_./ ÅéΣ漢字🙂")
        return String((0..<int(0...maxLength)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    mutating func bytes(maxLength: Int) -> Data {
        Data((0..<int(0...maxLength)).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    mutating func state() -> Estuary_V1_JobState {
        [.starting, .running, .succeeded, .failed, .cancelled, .rejected, .lost].randomElement(using: &rng)!
    }

    mutating func pools(count: Int) -> [Estuary_V1_Pool] {
        (0..<count).map { _ in
            var pool = Estuary_V1_Pool()
            pool.acceleratorClass = Fixtures.largeSiteClasses.randomElement(using: &rng)!
            pool.count = int(0...100_000)
            pool.free = int(0...pool.count)
            pool.simulated = bool()
            return pool
        }
    }

    mutating func envelope() -> Estuary_V1_Envelope {
        var envelope = Estuary_V1_Envelope()
        envelope.seq = bool() ? 0 : int(1...UInt64.max)
        envelope.ack = bool() ? 0 : int(1...1_000_000)
        switch int(0...10) {
        case 0:
            envelope.hello = .with {
                $0.protocolVersions = [1, int(2...9)]
                $0.site = .with { $0.id = string(); $0.zones = [string(), string()]; $0.driver = "slurm" }
                $0.compression = bool() ? ["zstd"] : []
                $0.knownJobs = (0..<int(0...20)).map { _ in .with { $0.jobID = string(); $0.state = state(); $0.attempt = int(1...9) } }
                $0.nextSeq = int(1...UInt64.max)
                $0.outboxEpoch = string()
            }
        case 1:
            envelope.welcome = .with {
                $0.protocolVersion = 1
                $0.compression = bool() ? "zstd" : ""
                $0.resumeFrom = int(0...UInt64.max)
                $0.sessionID = string()
                $0.reportIntervalMs = int(0...UInt32.max)
            }
        case 2:
            envelope.capacity = .with {
                $0.full = bool()
                $0.pools = pools(count: int(0...64))
                $0.runningJobs = int(0...UInt32.max)
                $0.sentAtMs = int(Int64.min...Int64.max)
            }
        case 3:
            envelope.jobAssign = .with {
                $0.jobID = string()
                $0.attempt = int(0...UInt32.max)
                $0.spec = .with {
                    $0.name = string()
                    $0.command = (0..<int(0...8)).map { _ in string() }
                    $0.env = Dictionary((0..<int(0...12)).map { _ in (string(maxLength: 8), string()) }, uniquingKeysWith: { a, _ in a })
                    $0.count = int(0...UInt32.max)
                    $0.memoryMib = int(0...UInt64.max)
                    $0.priority = int(Int32.min...Int32.max)
                }
            }
        case 4: envelope.jobCancel = .with { $0.jobID = string(); $0.reason = string(maxLength: 200) }
        case 5:
            envelope.jobUpdate = .with {
                $0.jobID = string()
                $0.state = state()
                $0.hasExitCode_p = bool()
                $0.exitCode = int(Int32.min...Int32.max)
                $0.signal = int(0...64)
                $0.message = string(maxLength: 100)
            }
        case 6:
            envelope.usage = .with {
                $0.records = (0..<int(0...40)).map { _ in
                    .with { $0.recordID = string(); $0.units = int(0...4096); $0.endedAtMs = int(Int64.min...Int64.max) }
                }
            }
        case 7: envelope.logChunk = .with { $0.jobID = string(); $0.stream = .stderr; $0.offset = int(0...UInt64.max); $0.data = bytes(maxLength: 3000) }
        case 8: envelope.drain = .with { $0.reason = string(); $0.retryAfterMs = int(0...UInt32.max) }
        case 9: envelope.error = .with { $0.code = .internal; $0.message = string(maxLength: 300); $0.fatal = bool() }
        default: break  // a pure ack
        }
        return envelope
    }
}
