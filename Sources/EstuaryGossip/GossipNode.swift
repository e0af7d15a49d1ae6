import EstuaryModel

/// One coordinator's membership and capacity gossip: SWIM failure detection with Lifeguard,
/// infection-style dissemination of updates, a digest-based push-pull anti-entropy, Vivaldi
/// coordinates. Pure: time and randomness come in, effects (bytes to send, events) go out;
/// the shell sends the bytes and calls `tick` by `nextWakeupMs`.
public struct GossipNode: Sendable {
    public let id: String
    public let address: String
    public let region: String
    public let configuration: GossipConfiguration

    var incarnation: UInt64 = 0
    var leaving = false
    var rng: SplitMix64
    var others: [String: MemberView] = [:]
    /// Ids of `others`, for uniform random choice.
    var order: [String] = []
    var addressIndex: [String: String] = [:]
    /// Members not dead or left, self included.
    var liveCount = 1
    /// Dead or left members and site tombstones waiting to be reaped.
    var reapable = 0

    var probeList: [String] = []
    var probeCursor = 0
    var probe: Probe?
    var relays: [UInt64: Relay] = [:]
    var nextSeq: UInt64 = 1
    var suspicions: [String: Suspicion] = [:]
    var awareness = 0
    var vivaldi = VivaldiClient()

    var broadcasts = BroadcastQueue()
    /// Updates still waiting to be piggybacked (each until sent its retransmit limit): 0 once
    /// everything this member learned has been passed on.
    public var pendingBroadcasts: Int { broadcasts.count }
    var sites: [String: SiteEntry] = [:]
    var lastOwnVersion: UInt64 = 0
    var seeds: [String] = []

    var nextProbeAt: Int64
    var nextGossipAt: Int64
    var nextPushPullAt: Int64
    var nextReapAt: Int64
    /// When to try a push-pull with a random dead member (Serf's reconnect): the way two
    /// halves of a healed partition find each other again.
    var nextReconnectAt: Int64

    /// Effects produced by the call in progress.
    var output: [GossipEffect] = []

    struct Probe: Sendable {
        var seq: UInt64
        var target: String
        var sentAt: Int64
        var indirectAt: Int64
        var deadline: Int64
        var indirectSent = false
        var acked = false
        var expectedNacks = 0
        var nacks = 0
    }

    struct Relay: Sendable {
        var requesterAddress: String
        var originalSeq: UInt64
        var nackAt: Int64
        var expireAt: Int64
        var nackSent = false
    }

    struct SiteEntry: Sendable {
        var record: CapacityRecord
        var changedAtMs: Int64
    }

    public init(id: String, address: String, region: String, configuration: GossipConfiguration, seed: UInt64, now: Int64) {
        self.id = id
        self.address = address
        self.region = region
        self.configuration = configuration
        self.rng = SplitMix64(seed: seed ^ fnv1a(id))
        // Spread the first probe and push-pull over an interval so that nodes started together
        // do not act in lock-step.
        nextProbeAt = now + Int64(rng.below(Int(max(1, configuration.probeIntervalMs))))
        nextGossipAt = now + Int64(rng.below(Int(max(1, configuration.gossipIntervalMs))))
        nextPushPullAt = now + configuration.pushPullIntervalMs / 2
            + Int64(rng.below(Int(max(1, configuration.pushPullIntervalMs))))
        nextReapAt = now + configuration.probeIntervalMs
        nextReconnectAt = now + configuration.pushPullIntervalMs
    }

    // MARK: reading

    /// Every known member, this node included, dead and left ones until they are reaped.
    public var members: [MemberView] {
        var result = [selfView]
        result.append(contentsOf: others.values)
        return result.sorted { $0.id < $1.id }
    }

    /// One member's view (this node included), nil when unknown or reaped.
    public func member(_ id: String) -> MemberView? {
        id == self.id ? selfView : others[id]
    }

    var selfView: MemberView {
        MemberView(
            id: id, address: address, region: region, state: leaving ? .left : .alive, incarnation: incarnation,
            stateChangedAtMs: 0, rttMs: nil, coordinate: vivaldi.coordinate)
    }

    /// Every known site's summary, this node's own included (withdrawn sites excluded).
    public var capacity: [CapacitySummary] {
        sites.values.filter { !$0.record.removed }.map { view(of: $0.record) }.sorted { $0.site < $1.site }
    }

    /// Lifeguard's awareness score: 0 when healthy, up to `awarenessMax` − 1.
    public var localHealth: Int { awareness }

    public var coordinate: VivaldiCoordinate { vivaldi.coordinate }

    /// RTT between two members (either may be this node) estimated from their coordinates.
    public func estimatedRTTMs(between a: String, and b: String) -> Double? {
        guard let ca = member(a)?.coordinate, let cb = member(b)?.coordinate else { return nil }
        return ca.estimatedRTTMs(to: cb)
    }

    /// The latest time at which `tick` must be called next.
    public var nextWakeupMs: Int64 {
        // Every deadline below moves past `now` when `tick(now:)` handles it, so a shell that
        // sleeps until this time never spins.
        var t = nextProbeAt
        if let probe {
            t = min(t, probe.indirectSent ? probe.deadline : probe.indirectAt)
            t = min(t, probe.deadline)
        }
        if !broadcasts.isEmpty { t = min(t, nextGossipAt) }
        t = min(t, nextPushPullAt)
        for relay in relays.values { t = min(t, relay.nackSent ? relay.expireAt : relay.nackAt) }
        for suspicion in suspicions.values { t = min(t, suspicion.deadlineMs) }
        if reapable > 0 { t = min(t, nextReapAt, nextReconnectAt) }
        return t
    }

    // MARK: driving

    /// Starts a push-pull with every seed address (the shell may call it again if none
    /// answered; a node alone also retries the seeds at its push-pull interval).
    public mutating func join(seeds: [String], now: Int64) -> [GossipEffect] {
        self.seeds = seeds.filter { $0 != address }
        broadcasts.enqueue(aliveUpdateOfSelf)
        for seed in self.seeds {
            send(to: seed, .pushPullRequest(join: true, digest: digest()), updates: [aliveUpdateOfSelf])
        }
        return drain()
    }

    /// Probes, probe and suspicion timeouts, gossip rounds, push-pull and reaping that are due.
    public mutating func tick(now: Int64) -> [GossipEffect] {
        expireRelays(now: now)
        if !leaving { advanceProbe(now: now) }
        expireSuspicions(now: now)
        if now >= nextGossipAt {
            nextGossipAt = now + configuration.gossipIntervalMs
            gossip(now: now)
        }
        if now >= nextPushPullAt {
            nextPushPullAt = now + configuration.pushPullInterval(members: liveCount)
            if !leaving { startPushPull(now: now) }
        }
        if now >= nextReconnectAt {
            nextReconnectAt = now + configuration.pushPullIntervalMs
            if !leaving, reapable > 0 { reconnect(now: now) }
        }
        if now >= nextReapAt {
            nextReapAt = now + configuration.probeIntervalMs
            if reapable > 0 { reap(now: now) }
        }
        return drain()
    }

    /// Handles one message. `sender` is the coordinator id proven by the peer's TLS
    /// certificate (nil in simulation or over h2c); a message claiming another sender is refused.
    /// Replies go to the mesh address the message carries in its header, not to `address` (the
    /// connection's source), which is informational. Messages can be up to `maxPushPullBytes`.
    public mutating func receive(_ bytes: [UInt8], from address: String, sender: String?, now: Int64) throws(GossipError)
        -> [GossipEffect]
    {
        let message = try GossipCodec.decode(bytes, maxBytes: configuration.maxPushPullBytes)
        if let sender, sender != message.senderId { throw .senderMismatch(claimed: message.senderId, proven: sender) }
        if message.senderId == id { throw .fromSelf }
        let fromAntiEntropy: Bool
        switch message.body {
        case .pushPullResponse, .pushPullPush, .pushPullRequest: fromAntiEntropy = true
        default: fromAntiEntropy = false
        }
        for update in message.updates {
            apply(update, relayedBy: message.senderId, antiEntropy: fromAntiEntropy, now: now)
        }
        handle(message, now: now)
        return drain()
    }

    /// Graceful leave: announces `left` directly to λ·⌈log10(N+1)⌉ random members and keeps
    /// gossiping it while the shell keeps ticking (a few gossip rounds are enough); the node
    /// stops probing and refuting.
    public mutating func leave(now: Int64) -> [GossipEffect] {
        guard !leaving else { return [] }
        leaving = true
        probe = nil
        nextProbeAt = .max
        suspicions.removeAll()
        let update = GossipMessage.Update.left(id: id, incarnation: incarnation)
        broadcasts.removeAll()
        broadcasts.enqueue(update)
        // Told directly to as many members as one update is retransmitted, then gossiped on as
        // long as the shell keeps ticking.
        let targets = randomMembers(configuration.retransmitLimit(members: liveCount), now: now) { $0.state != .dead && $0.state != .left }
        for target in targets {
            send(to: target.address, .gossip, updates: [update])
        }
        return drain()
    }

    /// Optional hint: a send to `address` could not be delivered at all (connection refused).
    /// If that member is being probed, the indirect probe starts at once.
    public mutating func sendFailed(to address: String, now: Int64) -> [GossipEffect] {
        // A refused connection is as good as a timed-out ping: go indirect at once.
        if let memberId = addressIndex[address], var p = probe, p.target == memberId, !p.acked, !p.indirectSent {
            p.indirectAt = now
            probe = p
            advanceProbe(now: now)
        }
        return drain()
    }

    /// Adds members without events or broadcasts, as if a join had completed long ago; for
    /// simulations that start from a converged mesh.
    mutating func assumeMembers(_ list: [(id: String, address: String, region: String)], now: Int64) {
        for m in list where m.id != id && others[m.id] == nil {
            insertMember(
                MemberView(id: m.id, address: m.address, region: m.region, state: .alive, incarnation: 0, stateChangedAtMs: now),
                joinProbeRound: false)
        }
        probeList = order
        probeList.shuffle(using: &rng)
        probeCursor = 0
    }

    // MARK: plumbing

    mutating func drain() -> [GossipEffect] {
        defer { output = [] }
        return output
    }

    mutating func emit(_ event: GossipEvent) { output.append(.event(event)) }

    var aliveUpdateOfSelf: GossipMessage.Update {
        .alive(id: id, address: address, region: region, incarnation: incarnation)
    }

    /// Sends `body` with `updates`, then fills what is left of the message budget with queued
    /// broadcasts (anti-entropy messages carry no piggyback: they are already large).
    mutating func send(to target: String, _ body: GossipMessage.Body, updates: [GossipMessage.Update] = [], piggyback: Bool = true) {
        var message = GossipMessage(senderId: id, senderAddress: address, body: body, updates: updates)
        if piggyback {
            var header = ByteWriter()
            GossipCodec.encodeHeader(message, into: &header)
            let used = header.bytes.count + 3 + updates.reduce(0) { $0 + GossipCodec.encodedSize($1) }
            let extra = broadcasts.take(
                budget: configuration.maxMessageBytes - used, limit: configuration.retransmitLimit(members: liveCount))
            message.updates.append(contentsOf: extra)
        }
        output.append(.send(to: target, bytes: GossipCodec.encode(message)))
    }

    mutating func insertMember(_ view: MemberView, joinProbeRound: Bool = true) {
        others[view.id] = view
        order.append(view.id)
        addressIndex[view.address] = view.id
        if view.state == .alive || view.state == .suspect { liveCount += 1 } else { reapable += 1 }
        guard joinProbeRound else { return }
        // A newcomer joins the probe round at a random place (memberlist does the same).
        let position = probeList.isEmpty ? 0 : rng.below(probeList.count + 1)
        probeList.insert(view.id, at: position)
        if position < probeCursor { probeCursor += 1 }
    }

    /// Up to `count` distinct random members passing `filter`.
    mutating func randomMembers(_ count: Int, now: Int64, excluding: Set<String> = [], filter: (MemberView) -> Bool)
        -> [MemberView]
    {
        guard count > 0, !order.isEmpty else { return [] }
        var chosen: [MemberView] = []
        var seen: Set<String> = excluding
        if order.count <= 4 * count {
            var candidates = order.filter { !seen.contains($0) }
            candidates.shuffle(using: &rng)
            for memberId in candidates where chosen.count < count {
                if let m = others[memberId], filter(m) { chosen.append(m) }
            }
            return chosen
        }
        var attempts = 0
        while chosen.count < count, attempts < 8 * count + 16 {
            attempts += 1
            let memberId = order[rng.below(order.count)]
            guard seen.insert(memberId).inserted, let m = others[memberId], filter(m) else { continue }
            chosen.append(m)
        }
        return chosen
    }
}
