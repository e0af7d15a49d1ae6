/// Tuning of one gossip node. The defaults are memberlist's LAN profile with Lifeguard on, except
/// for the suspicion timeout, whose floor (`suspicionMinMs`) is set so that a member paused for
/// 5 s is not declared dead (docs/GOSSIP.md has the measurements behind it).
public struct GossipConfiguration: Sendable, Hashable {
    /// Time between two failure-detection probes (scaled by the local health multiplier).
    public var probeIntervalMs: Int64 = 1000
    /// How long a direct ping waits for its ack before asking others (scaled by local health).
    public var probeTimeoutMs: Int64 = 500
    /// k: members asked to ping a target indirectly when the direct ping gets no ack.
    public var indirectChecks: Int = 3
    /// λ: each update is piggybacked about λ·⌈log10(N+1)⌉ times by every member that learns it.
    public var retransmitMultiplier: Int = 4
    /// α: the suspicion timeout is at least α·probeInterval·max(1, log10 N) (and `suspicionMinMs`).
    public var suspicionMultiplier: Int = 2
    /// β: with Lifeguard, a fresh suspicion lasts β times the minimum and shrinks towards the
    /// minimum as independent confirmations arrive.
    public var suspicionMaxTimeoutMultiplier: Int = 3
    /// Floor of the suspicion timeout, whatever N: the longest stall (GC, VM pause, SIGSTOP)
    /// that must not get a live member declared dead, plus the time its refutation needs.
    public var suspicionMinMs: Int64 = 6000
    /// Lifeguard local health multiplier ceiling: probe interval and timeout are scaled by
    /// 1 + score, score in 0..<awarenessMax.
    public var awarenessMax: Int = 8
    /// Time between gossip rounds (only sent while there are updates to spread).
    public var gossipIntervalMs: Int64 = 200
    /// Members gossiped to per round.
    public var gossipFanout: Int = 3
    /// Base interval of the anti-entropy push-pull; above 32 members it grows like memberlist's
    /// pushPullScale (×(1 + ⌈log2 N − 5⌉)).
    public var pushPullIntervalMs: Int64 = 30_000
    /// How long dead and left members (and removed sites) are remembered before being reaped.
    public var deadReapMs: Int64 = 300_000
    /// Budget of a probe or gossip message, piggybacked updates included.
    public var maxMessageBytes: Int = 1400
    /// Largest push-pull message this node sends or accepts (full state of a big mesh).
    public var maxPushPullBytes: Int = 8 << 20
    /// true: local health awareness, dynamic suspicion and nacks (Lifeguard); false: plain SWIM.
    public var lifeguard: Bool = true

    public init() {}

    /// Faster failure detection: probes twice as often (500 ms, 200 ms timeout) and a 2 s
    /// suspicion floor with α = 1, at the price of declaring dead a member that stalls for more
    /// than about 3 s, and twice the probe traffic. For meshes whose coordinators never pause
    /// (no swap, no live migration, no long GC).
    public static var fastDetection: GossipConfiguration {
        var c = GossipConfiguration()
        c.probeIntervalMs = 500
        c.probeTimeoutMs = 200
        c.suspicionMultiplier = 1
        c.suspicionMinMs = 2000
        return c
    }

    /// Plain SWIM with the default timings: no local health, fixed suspicion timeout, no nacks.
    public static var swim: GossipConfiguration {
        var c = GossipConfiguration()
        c.lifeguard = false
        return c
    }

    /// Every problem with the values, empty when they are usable.
    public func validate() -> [String] {
        var problems: [String] = []
        if probeIntervalMs <= 0 { problems.append("probeIntervalMs must be positive") }
        if probeTimeoutMs <= 0 || probeTimeoutMs >= probeIntervalMs {
            problems.append("probeTimeoutMs must be positive and below probeIntervalMs")
        }
        if indirectChecks < 0 { problems.append("indirectChecks must not be negative") }
        if retransmitMultiplier < 1 { problems.append("retransmitMultiplier must be at least 1") }
        if suspicionMultiplier < 1 { problems.append("suspicionMultiplier must be at least 1") }
        if suspicionMaxTimeoutMultiplier < 1 { problems.append("suspicionMaxTimeoutMultiplier must be at least 1") }
        if suspicionMinMs < 0 { problems.append("suspicionMinMs must not be negative") }
        if awarenessMax < 1 { problems.append("awarenessMax must be at least 1") }
        if gossipIntervalMs <= 0 { problems.append("gossipIntervalMs must be positive") }
        if gossipFanout < 1 { problems.append("gossipFanout must be at least 1") }
        if pushPullIntervalMs <= 0 { problems.append("pushPullIntervalMs must be positive") }
        if deadReapMs < 0 { problems.append("deadReapMs must not be negative") }
        if maxMessageBytes < 512 { problems.append("maxMessageBytes must be at least 512") }
        if maxPushPullBytes < maxMessageBytes { problems.append("maxPushPullBytes must be at least maxMessageBytes") }
        return problems
    }

    // MARK: derived figures (memberlist util.go, re-derived)

    /// Transmissions of one update by one member: λ·⌈log10(N+1)⌉.
    func retransmitLimit(members n: Int) -> Int {
        retransmitMultiplier * max(1, Int(Double(n + 1).log10Ceil))
    }

    /// Minimum suspicion timeout for a mesh of `n` members.
    func suspicionMin(members n: Int) -> Int64 {
        let scale = max(1.0, Double(max(n, 1)).log10Value)
        let scaled = Int64((Double(suspicionMultiplier) * scale * Double(probeIntervalMs)).rounded())
        return max(scaled, suspicionMinMs)
    }

    /// Push-pull interval for a mesh of `n` members.
    func pushPullInterval(members n: Int) -> Int64 {
        guard n > 32 else { return pushPullIntervalMs }
        let multiplier = Int64((Double(n).log2Value - 5).rounded(.up)) + 1
        return pushPullIntervalMs * multiplier
    }
}

extension Double {
    var log10Value: Double { logBase10(self) }
    var log2Value: Double { logBase10(self) / logBase10(2) }
    var log10Ceil: Double { logBase10(self).rounded(.up) }
}

/// log10 without Foundation (pure modules keep their imports small).
@inline(__always) func logBase10(_ x: Double) -> Double {
    // ln via the identity log10(x) = log2(x)·log10(2); Swift's stdlib lacks log, so compute
    // log2 from the exponent and a short series on the mantissa.
    precondition(x > 0)
    let exponent = Double(x.exponent)
    let mantissa = x.significand  // in [1, 2)
    // ln(m) with m in [1,2): atanh series on (m-1)/(m+1), converges fast.
    let y = (mantissa - 1) / (mantissa + 1)
    let y2 = y * y
    var term = y
    var sum = 0.0
    var k = 1.0
    while k < 40 {
        sum += term / k
        term *= y2
        k += 2
    }
    let lnMantissa = 2 * sum
    let ln2 = 0.693_147_180_559_945_3
    return (exponent * ln2 + lnMantissa) / 2.302_585_092_994_046
}
