#if canImport(Glibc)
import Glibc
#endif
import EstuaryModel
import EstuaryTransport
import EstuaryWire
import Foundation

/// The envelopes a simulated agent sends, built the way estuary-agent builds them
/// (PROTOCOL.md; the coordinator's SessionHandler is the reference).
struct SimulatedSite: Sendable {
    let id: String
    let outboxEpoch: String
    let pools: [PoolCapacity]
    /// Region and data zones announced in Hello (the scheduler's residency and latency rules).
    var region = "benchmark"
    var zones = ["gba"]
    /// List prices announced in Hello; nil: the site prices nothing, and its usage is not charged.
    var priceBook: PriceBook?

    /// Site ids sort in index order: `bench-000042`.
    init(index: Int, runID: String, pools: [PoolCapacity]) {
        self.id = "bench-" + String(repeating: "0", count: max(0, 6 - String(index).count)) + String(index)
        self.outboxEpoch = "bench-\(runID)-\(index)"
        self.pools = pools
    }

    var headers: [(String, String)] {
        [(WireProtocol.protocolHeader, "1"), (WireProtocol.siteHeader, id)]
    }

    func hello() -> Estuary_V1_Envelope {
        Estuary_V1_Envelope(body: .hello(.with {
            $0.protocolVersions = WireProtocol.supportedVersions
            $0.site = .with {
                $0.id = id
                $0.displayName = "Simulated site \(id) (estuary-bench)"
                $0.region = region
                $0.zones = zones
                $0.driver = "process"
                if let priceBook { $0.priceBook = Estuary_V1_PriceBook(priceBook) }
            }
            $0.agentVersion = "estuary-bench"
            $0.agentInstance = "\(id)-\(UInt32.random(in: 0...UInt32.max))"
            $0.compression = Compression.offer()
            $0.outboxEpoch = outboxEpoch
            $0.nextSeq = 1
        }))
    }

    func capacity(runningJobs: Int = 0) -> Estuary_V1_Envelope {
        Estuary_V1_Envelope(body: .capacity(.with {
            $0.full = true
            $0.pools = pools.map(Estuary_V1_Pool.init)
            $0.runningJobs = UInt32(clamping: runningJobs)
            $0.sentAtMs = WallClock.milliseconds()
        }))
    }

    /// Sends Hello and waits for Welcome; switches compression on as negotiated. Returns the
    /// coordinator's resume point (the last upstream seq it applied for this outbox epoch).
    func handshake(_ session: MeshSession, reader: inout EnvelopeReader) async throws -> UInt64 {
        try await session.writer.send(hello())
        guard let first = try await reader.next() else {
            throw BenchError.failed("site \(id): the coordinator ended the session before Welcome")
        }
        switch first.body {
        case .welcome(let welcome):
            session.codec.use(Compression(rawValue: welcome.compression) ?? .none)
            return welcome.resumeFrom
        case .error(let error):
            throw BenchError.failed("site \(id): refused: \(error.code) \(error.message)")
        default:
            throw BenchError.failed("site \(id): expected Welcome, got \(String(describing: first.body))")
        }
    }
}

enum WallClock {
    static func milliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// A counting semaphore for async code: bounds how many sessions connect at once.
actor AsyncLimiter {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ permits: Int) { available = max(1, permits) }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
