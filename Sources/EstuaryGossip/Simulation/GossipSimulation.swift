import EstuaryModel

/// A seeded discrete-event simulation of a mesh of `GossipNode`s over an unreliable network:
/// per-link delays (members sit at random points of a plane, so latencies are consistent with a
/// metric space and Vivaldi has something to learn), loss, partitions, crashes, pauses (messages
/// are buffered and handled at resume) and stalled members (every event handled late). Virtual
/// time only; the same seed gives the same run.
public struct GossipSimulation: Sendable {
    /// The network between members.
    public struct Network: Sendable, Hashable, CustomStringConvertible {
        /// Members are placed uniformly in a square of this side; the one-way delay of a link is
        /// half the distance between its ends, plus jitter.
        public var spreadMs: Double = 10
        /// Extra one-way delay, uniform in 0..<jitterMs, per message.
        public var jitterMs: Double = 1
        /// Probability that any one message is lost.
        public var loss: Double = 0

        public init(spreadMs: Double = 10, jitterMs: Double = 1, loss: Double = 0) {
            self.spreadMs = spreadMs
            self.jitterMs = jitterMs
            self.loss = loss
        }

        public var description: String { "spread \(spreadMs) ms, jitter \(jitterMs) ms, loss \(loss)" }
    }

    /// What a member is doing.
    public enum Condition: Sendable, Hashable {
        case running
        case crashed
        /// Handles nothing until the time given; messages wait in its socket buffer.
        case paused(untilMs: Int64)
        /// Handles every message and timer late by 0.5–1.5 × the delay (a CPU-starved process).
        case stalled(delayMs: Int64)
    }

    /// One event as a member reported it.
    public struct RecordedEvent: Sendable, Hashable {
        public var timeMs: Int64
        public var observer: Int
        public var event: GossipEvent
    }

    enum Action: Sendable {
        case deliver(to: Int, from: Int, bytes: [UInt8], late: Bool)
        case wake(Int, late: Bool)
        case resume(Int)
    }

    public let configuration: GossipConfiguration
    public let network: Network
    public let seed: UInt64
    public private(set) var nowMs: Int64
    public private(set) var nodes: [GossipNode]
    public private(set) var conditions: [Condition]
    public private(set) var bytesSent: [Int]
    public private(set) var bytesReceived: [Int]
    public private(set) var messagesSent = 0
    public private(set) var decodeErrors = 0
    /// Every event reported, when `recordEvents` is on.
    public private(set) var events: [RecordedEvent] = []
    public var recordEvents = true

    private var positions: [(Double, Double)]
    private var addressIndex: [String: Int] = [:]
    private var queue = EventHeap<Action>()
    private var scheduledWake: [Int64]
    private var buffered: [[(from: Int, bytes: [UInt8])]]
    /// Partition group of each member; members in different groups cannot reach each other.
    private var group: [Int]
    private var rng: SplitMix64
    private var restarts: [Int]

    public static func memberId(_ i: Int) -> String { "m\(i)" }
    public static func memberAddress(_ i: Int) -> String { "10.\(i / 250).\(i % 250).1:7946" }

    /// A mesh of `members` that already know each other (as after a completed join), with
    /// regions "r0"…"r3".
    public init(
        members: Int, seed: UInt64, configuration: GossipConfiguration = GossipConfiguration(), network: Network = Network(),
        startMs: Int64 = 1_000_000
    ) {
        self.configuration = configuration
        self.network = network
        self.seed = seed
        self.nowMs = startMs
        var rng = SplitMix64(seed: seed)
        positions = (0..<members).map { _ in (rng.unit() * network.spreadMs, rng.unit() * network.spreadMs) }
        let list = (0..<members).map { (id: Self.memberId($0), address: Self.memberAddress($0), region: "r\($0 % 4)") }
        nodes = []
        nodes.reserveCapacity(members)
        for i in 0..<members {
            var node = GossipNode(
                id: list[i].id, address: list[i].address, region: list[i].region, configuration: configuration,
                seed: rng.next(), now: startMs)
            node.assumeMembers(list, now: startMs)
            nodes.append(node)
            addressIndex[list[i].address] = i
        }
        conditions = Array(repeating: .running, count: members)
        bytesSent = Array(repeating: 0, count: members)
        bytesReceived = Array(repeating: 0, count: members)
        scheduledWake = Array(repeating: .max, count: members)
        buffered = Array(repeating: [], count: members)
        group = Array(repeating: 0, count: members)
        restarts = Array(repeating: 0, count: members)
        self.rng = rng
        for i in 0..<members { scheduleWake(i) }
    }

    public var count: Int { nodes.count }

    /// Human-readable parameters, printed by failing tests so that the run can be replayed.
    public var parameters: String {
        "members=\(count) seed=\(seed) network=(\(network)) lifeguard=\(configuration.lifeguard) suspicionMinMs=\(configuration.suspicionMinMs)"
    }

    public func isRunning(_ i: Int) -> Bool {
        if case .crashed = conditions[i] { return false }
        return true
    }

    /// What member `i` believes about member `j`.
    public func view(of i: Int, about j: Int) -> MemberView? { nodes[i].member(Self.memberId(j)) }

    // MARK: faults

    public mutating func crash(_ i: Int) {
        conditions[i] = .crashed
        buffered[i] = []
    }

    public mutating func pause(_ i: Int, forMs duration: Int64) {
        conditions[i] = .paused(untilMs: nowMs + duration)
        queue.push(nowMs + duration, .resume(i))
    }

    public mutating func stall(_ i: Int, delayMs: Int64) {
        conditions[i] = delayMs > 0 ? .stalled(delayMs: delayMs) : .running
    }

    /// Splits the mesh: each listed set becomes its own island; unlisted members form another.
    public mutating func partition(_ groups: [[Int]]) {
        group = Array(repeating: 0, count: count)
        for (g, members) in groups.enumerated() { for i in members { group[i] = g + 1 } }
    }

    public mutating func heal() { group = Array(repeating: 0, count: count) }

    /// Restarts a crashed member as a new process (incarnation 0, nothing known) that joins
    /// through `seeds`.
    public mutating func restart(_ i: Int, seeds: [Int]) {
        restarts[i] += 1
        var node = GossipNode(
            id: Self.memberId(i), address: Self.memberAddress(i), region: "r\(i % 4)", configuration: configuration,
            seed: rng.next(), now: nowMs)
        conditions[i] = .running
        let effects = node.join(seeds: seeds.map(Self.memberAddress), now: nowMs)
        nodes[i] = node
        carryOut(effects, from: i)
        scheduledWake[i] = .max
        scheduleWake(i)
    }

    // MARK: driving members

    public mutating func publish(_ i: Int, _ summaries: [CapacitySummary]) {
        let effects = nodes[i].publish(summaries, now: nowMs)
        carryOut(effects, from: i)
        scheduleWake(i)
    }

    public mutating func leave(_ i: Int) {
        let effects = nodes[i].leave(now: nowMs)
        carryOut(effects, from: i)
        scheduleWake(i)
    }

    /// Runs every event up to and including `time`.
    public mutating func run(untilMs time: Int64) {
        while let next = queue.nextTime, next <= time {
            let entry = queue.pop()!
            nowMs = max(nowMs, entry.time)
            perform(entry.payload)
        }
        nowMs = max(nowMs, time)
    }

    public mutating func run(forMs duration: Int64) { run(untilMs: nowMs + duration) }

    /// Runs until `predicate` holds (checked every `stepMs` of virtual time) or `limitMs` has
    /// passed; returns whether it held.
    public mutating func run(stepMs: Int64 = 100, limitMs: Int64, until predicate: (GossipSimulation) -> Bool) -> Bool {
        let end = nowMs + limitMs
        while nowMs < end {
            if predicate(self) { return true }
            run(untilMs: min(end, nowMs + stepMs))
        }
        return predicate(self)
    }

    // MARK: internals

    private mutating func perform(_ action: Action) {
        switch action {
        case .deliver(let to, let from, let bytes, let late):
            switch conditions[to] {
            case .crashed:
                return
            case .paused:
                buffered[to].append((from, bytes))
            case .stalled(let delay) where !late:
                queue.push(nowMs + lateness(delay), .deliver(to: to, from: from, bytes: bytes, late: true))
            case .stalled, .running:
                handle(to: to, from: from, bytes: bytes)
            }
        case .wake(let i, let late):
            if !late {
                guard scheduledWake[i] == nowMs else { return }
                scheduledWake[i] = .max
            }
            switch conditions[i] {
            case .crashed, .paused:
                return
            case .stalled(let delay) where !late:
                queue.push(nowMs + lateness(delay), .wake(i, late: true))
            case .stalled, .running:
                let effects = nodes[i].tick(now: nowMs)
                carryOut(effects, from: i)
                scheduleWake(i)
            }
        case .resume(let i):
            guard case .paused(let until) = conditions[i], until <= nowMs else { return }
            conditions[i] = .running
            let pending = buffered[i]
            buffered[i] = []
            for message in pending { handle(to: i, from: message.from, bytes: message.bytes) }
            let effects = nodes[i].tick(now: nowMs)
            carryOut(effects, from: i)
            scheduledWake[i] = .max
            scheduleWake(i)
        }
    }

    private mutating func lateness(_ delay: Int64) -> Int64 {
        Int64(Double(delay) * (0.5 + rng.unit()))
    }

    private mutating func handle(to i: Int, from: Int, bytes: [UInt8]) {
        bytesReceived[i] += bytes.count
        do {
            let effects = try nodes[i].receive(bytes, from: Self.memberAddress(from), sender: Self.memberId(from), now: nowMs)
            carryOut(effects, from: i)
        } catch {
            decodeErrors += 1
        }
        scheduleWake(i)
    }

    private mutating func carryOut(_ effects: [GossipEffect], from i: Int) {
        for effect in effects {
            switch effect {
            case .send(let address, let bytes):
                bytesSent[i] += bytes.count
                messagesSent += 1
                guard let j = addressIndex[address], j != i, group[i] == group[j] else { continue }
                if network.loss > 0, rng.chance(network.loss) { continue }
                queue.push(nowMs + delay(i, j), .deliver(to: j, from: i, bytes: bytes, late: false))
            case .event(let event):
                if recordEvents { events.append(RecordedEvent(timeMs: nowMs, observer: i, event: event)) }
            }
        }
    }

    private mutating func delay(_ i: Int, _ j: Int) -> Int64 {
        let dx = positions[i].0 - positions[j].0
        let dy = positions[i].1 - positions[j].1
        let oneWay = (dx * dx + dy * dy).squareRoot() / 2 + rng.unit() * network.jitterMs
        return max(1, Int64(oneWay.rounded()))
    }

    /// The base RTT of a link in the simulated network (without jitter), for Vivaldi checks.
    public func baseRTTMs(_ i: Int, _ j: Int) -> Double {
        let dx = positions[i].0 - positions[j].0
        let dy = positions[i].1 - positions[j].1
        return (dx * dx + dy * dy).squareRoot()
    }

    private mutating func scheduleWake(_ i: Int) {
        guard isRunning(i) else { return }
        let next = max(nodes[i].nextWakeupMs, nowMs)
        if next < scheduledWake[i] || scheduledWake[i] < nowMs {
            scheduledWake[i] = next
            queue.push(next, .wake(i, late: false))
        }
    }
}
