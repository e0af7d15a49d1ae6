import Synchronization

/// How fast one client (a token, or an address before it has authenticated) may call the API.
public struct RateLimit: Sendable, Hashable {
    /// Sustained requests per second. Default 50.
    public var requestsPerSecond: Double
    /// Requests allowed in a burst above the sustained rate. Default 100.
    public var burst: Int

    public static let `default` = RateLimit(requestsPerSecond: 50, burst: 100)

    public init(requestsPerSecond: Double, burst: Int) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
    }
}

/// A token bucket: holds up to `burst` tokens, refills at `requestsPerSecond`, and each
/// request takes one. Pure: the caller supplies the time (nanoseconds on a monotonic clock).
struct TokenBucket: Sendable, Hashable {
    enum Decision: Sendable, Hashable {
        case allowed
        /// Refused; a token will be available after this many whole seconds (at least 1).
        case limited(retryAfterSeconds: Int)
    }

    private(set) var tokens: Double
    private(set) var updatedAtNs: Int64

    init(limit: RateLimit, nowNs: Int64) {
        tokens = Double(limit.burst)
        updatedAtNs = nowNs
    }

    mutating func take(limit: RateLimit, nowNs: Int64) -> Decision {
        refill(limit: limit, nowNs: nowNs)
        if tokens >= 1 {
            tokens -= 1
            return .allowed
        }
        let waitSeconds = (1 - tokens) / max(limit.requestsPerSecond, 1e-9)
        return .limited(retryAfterSeconds: max(1, Int(waitSeconds.rounded(.up))))
    }

    /// Whether the bucket would be full at `nowNs` (an idle client: its entry can be dropped).
    func isFull(limit: RateLimit, nowNs: Int64) -> Bool {
        var copy = self
        copy.refill(limit: limit, nowNs: nowNs)
        return copy.tokens >= Double(limit.burst)
    }

    private mutating func refill(limit: RateLimit, nowNs: Int64) {
        let elapsed = Double(max(0, nowNs - updatedAtNs)) / 1e9
        tokens = min(Double(limit.burst), tokens + elapsed * limit.requestsPerSecond)
        updatedAtNs = nowNs
    }
}

/// One token bucket per client key, shared by every connection of the API.
final class RateLimiter: Sendable {
    let limit: RateLimit
    /// Above this many tracked clients, idle ones (full buckets) are dropped.
    let maxTrackedKeys: Int
    private let buckets = Mutex<[String: TokenBucket]>([:])
    private let clock: @Sendable () -> Int64

    init(limit: RateLimit, maxTrackedKeys: Int = 10_000, clock: @escaping @Sendable () -> Int64 = RateLimiter.monotonicNs) {
        self.limit = limit
        self.maxTrackedKeys = maxTrackedKeys
        self.clock = clock
    }

    func take(_ key: String) -> TokenBucket.Decision {
        let now = clock()
        let limit = self.limit
        let maxTrackedKeys = self.maxTrackedKeys
        return buckets.withLock { buckets in
            if buckets[key] == nil, buckets.count >= maxTrackedKeys {
                buckets = buckets.filter { !$0.value.isFull(limit: limit, nowNs: now) }
                // Every tracked client is busy: forget them all rather than grow without bound.
                // They start again with a full burst, which is the lesser harm.
                if buckets.count >= maxTrackedKeys { buckets.removeAll(keepingCapacity: true) }
            }
            var bucket = buckets[key] ?? TokenBucket(limit: limit, nowNs: now)
            let decision = bucket.take(limit: limit, nowNs: now)
            buckets[key] = bucket
            return decision
        }
    }

    private static let origin = ContinuousClock.now

    @Sendable static func monotonicNs() -> Int64 {
        let elapsed = origin.duration(to: .now).components
        return elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000
    }
}
