import EstuaryGossip
import EstuaryModel
import EstuaryScheduler
import EstuaryTransport
import EstuaryTrust
import Foundation
import Logging

/// Settings of a coordinator that gossips with others (DESIGN.md §7).
public struct MeshGossipSettings: Sendable {
    /// This coordinator's region (city or hub); measured latency is per region pair.
    public var region: String
    /// Mesh addresses (`host:port`) of coordinators to join through; empty starts a new mesh.
    public var seeds: [String] = []
    /// The address other coordinators dial to reach this one; nil: the mesh host and port.
    public var advertise: String?
    /// SWIM and Lifeguard parameters.
    public var parameters = GossipConfiguration()
    /// How often local capacity is offered to gossip (only changed summaries are sent): one
    /// gossip round, so that a change waits at most that long before it spreads.
    public var publishIntervalMs: Int64 = 200
    /// A site's summary changes at most this often in gossip, unless the change is urgent (the
    /// site became reachable or unreachable, its pools changed, or a class ran out of free
    /// units or got some back). Every change costs each member about 2 KB at 200 members
    /// (docs/GOSSIP.md), and agents report every few seconds.
    public var capacityMinIntervalMs: Int64 = 5000
    /// How often measured latency is handed to the scheduler.
    public var latencyIntervalMs: Int64 = 5000
    /// How long a leaving coordinator waits for its goodbye to be sent.
    public var leaveTimeoutMs: Int64 = 2000

    public init(region: String) { self.region = region }

    func validate() -> [String] {
        var problems: [String] = []
        if !Self.isName(region) { problems.append("--region \(region) must be 1–64 characters of [A-Za-z0-9._-]") }
        for seed in seeds where MeshPeers.split(address: seed) == nil {
            problems.append("--gossip-seed \(seed) is not host:port")
        }
        if let advertise, MeshPeers.split(address: advertise) == nil {
            problems.append("--gossip-advertise \(advertise) is not host:port")
        }
        return problems
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64
            && text.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) }
    }
}

/// The gossip shell: drives the pure `GossipNode` with the clock, carries its messages over
/// the mesh port (HTTP/2, mutual TLS with coordinator certificates) and hands what it learns
/// to the rest of the coordinator: measured latency to the scheduler, the mesh's capacity to
/// the API, membership changes to the log.
///
/// Each message is one POST to `/estuary.v1/gossip` on a long-lived connection to the peer.
/// An answer the node produces for the sender at once (an ack to a ping) rides back in the
/// response body, so a probe costs one request.
actor MeshGossip {
    static let path = "/estuary.v1/gossip"
    /// Header naming the sender's mesh address (where answers go).
    static let fromHeader = "estuary-gossip-from"

    let id: String
    let region: String
    let address: String
    let settings: MeshGossipSettings
    private var node: GossipNode
    private let peers: MeshPeers
    private let core: CoordinatorCore
    private let logger: Logger
    /// Monotonic milliseconds, offset to read like Unix ms at start (NTP steps don't bend RTTs).
    private let clock: @Sendable () -> Int64
    private var stopped = false
    /// When this coordinator started gossiping (its own "alive since").
    private let startedAtMs: Int64
    private var lastPublishMs: Int64 = 0
    private var lastLatencyMs: Int64 = 0

    init(
        id: String, address: String, settings: MeshGossipSettings, peers: MeshPeers, core: CoordinatorCore, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = MeshGossip.monotonicEpochMs(), seed: UInt64 = UInt64.random(in: .min ... .max)
    ) {
        self.id = id
        self.region = settings.region
        self.address = address
        self.settings = settings
        self.peers = peers
        self.core = core
        self.logger = logger
        self.clock = clock
        self.startedAtMs = clock()
        self.node = GossipNode(
            id: id, address: address, region: settings.region, configuration: settings.parameters, seed: seed, now: clock())
    }

    /// A clock that reads like Unix milliseconds but never steps.
    static func monotonicEpochMs() -> @Sendable () -> Int64 {
        let start = ContinuousClock.now
        let epoch = Int64(Date().timeIntervalSince1970 * 1000)
        return {
            let elapsed = ContinuousClock.now - start
            return epoch + elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        }
    }

    // MARK: running

    /// Joins through the seeds, then ticks the node until cancelled.
    func run() async {
        let now = clock()
        let seeds = settings.seeds.filter { $0 != address }
        await publishCapacity(now: now)
        perform(node.join(seeds: seeds, now: now))
        logger.info(
            "mesh gossip started",
            metadata: ["member": "\(id)", "address": "\(address)", "region": "\(region)", "seeds": "\(seeds)"])
        while !Task.isCancelled && !stopped {
            let now = clock()
            if now >= node.nextWakeupMs { perform(node.tick(now: now)) }
            if now - lastPublishMs >= settings.publishIntervalMs { await publishCapacity(now: now) }
            if now - lastLatencyMs >= settings.latencyIntervalMs { await refreshLatency(now: now) }
            let wait = max(1, min(node.nextWakeupMs - clock(), 100))
            try? await Task.sleep(for: .milliseconds(wait))
        }
    }

    /// Announces that this coordinator leaves, waits (bounded) for the goodbye to go out, and
    /// stops ticking.
    func leave() async {
        guard !stopped else { return }
        let effects = node.leave(now: clock())
        stopped = true
        logger.info("mesh gossip: leaving", metadata: ["member": "\(id)"])
        var sends: [Task<Void, Never>] = []
        for effect in effects {
            switch effect {
            case .send(let to, let bytes): sends.append(send(bytes, to: to))
            case .event(let event): note(event)
            }
        }
        let deadline = ContinuousClock.now + .milliseconds(settings.leaveTimeoutMs)
        for task in sends {
            // Each send is bounded by the peers' request timeout; the leave as a whole by ours.
            if ContinuousClock.now >= deadline { break }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await task.value }
                group.addTask { try? await Task.sleep(until: deadline) }
                await group.next()
                group.cancelAll()
            }
        }
        await peers.closeAll()
    }

    // MARK: messages in

    /// Handles one gossip message from a peer; returns what to put in the response body (an
    /// answer for the sender, or nothing), or the refusal.
    func receive(_ bytes: [UInt8], from senderAddress: String, sender: String?) -> Result<[UInt8], GossipError> {
        guard !stopped else { return .success([]) }
        do {
            let effects = try node.receive(bytes, from: senderAddress, sender: sender, now: clock())
            var reply: [UInt8]?
            var rest: [GossipEffect] = []
            for effect in effects {
                if reply == nil, case .send(let to, let body) = effect, to == senderAddress {
                    reply = body
                } else {
                    rest.append(effect)
                }
            }
            perform(rest)
            return .success(reply ?? [])
        } catch {
            logger.warning(
                "mesh gossip message refused",
                metadata: ["from": "\(senderAddress)", "sender": "\(sender ?? "-")", "error": "\(error)"])
            return .failure(error)
        }
    }

    /// An answer that came back in a response body.
    private func receiveReply(_ bytes: [UInt8], from address: String, sender: String?) {
        guard !stopped, !bytes.isEmpty else { return }
        do {
            let effects = try node.receive(bytes, from: address, sender: sender, now: clock())
            perform(effects)
        } catch {
            logger.warning("mesh gossip reply refused", metadata: ["from": "\(address)", "error": "\(error)"])
        }
    }

    private func sendFailed(_ address: String, error: any Error) {
        logger.debug("mesh gossip send failed", metadata: ["to": "\(address)", "error": "\(error)"])
        guard !stopped else { return }
        perform(node.sendFailed(to: address, now: clock()))
    }

    // MARK: effects

    private func perform(_ effects: [GossipEffect]) {
        for effect in effects {
            switch effect {
            case .send(let to, let bytes): _ = send(bytes, to: to)
            case .event(let event): note(event)
            }
        }
    }

    @discardableResult
    private func send(_ bytes: [UInt8], to address: String) -> Task<Void, Never> {
        let peers = self.peers
        let headers = [(Self.fromHeader, self.address)]
        return Task {
            do {
                let (response, server) = try await peers.post(to: address, path: Self.path, headers: headers, body: bytes)
                guard (200..<300).contains(response.status) else {
                    self.sendFailed(
                        address,
                        error: TransportError.refused(
                            status: response.status, message: response.headers["estuary-error"] ?? "", retryAfterSeconds: nil))
                    return
                }
                self.receiveReply(response.body, from: address, sender: server?.identity.id)
            } catch {
                self.sendFailed(address, error: error)
            }
        }
    }

    private func note(_ event: GossipEvent) {
        let at = "\(clock())"
        switch event {
        case .memberJoined(let member):
            logger.info(
                "mesh member joined",
                metadata: ["member": "\(member.id)", "address": "\(member.address)", "region": "\(member.region)", "at_ms": "\(at)"])
        case .memberSuspected(let member):
            logger.info("mesh member suspected", metadata: ["member": "\(member)", "at_ms": "\(at)"])
        case .memberAlive(let member):
            logger.info(
                "mesh member alive", metadata: ["member": "\(member.id)", "incarnation": "\(member.incarnation)", "at_ms": "\(at)"])
        case .memberFailed(let member):
            logger.notice("mesh member failed", metadata: ["member": "\(member)", "at_ms": "\(at)"])
        case .memberLeft(let member):
            logger.notice("mesh member left", metadata: ["member": "\(member)", "at_ms": "\(at)"])
        case .memberReaped(let member):
            logger.info("mesh member reaped", metadata: ["member": "\(member)", "at_ms": "\(at)"])
            if let address = node.members.first(where: { $0.id == member })?.address {
                Task { await peers.disconnect(address) }
            }
        case .capacityChanged(let summary):
            logger.debug(
                "mesh capacity changed",
                metadata: [
                    "site": "\(summary.site)", "origin": "\(summary.origin)", "version": "\(summary.version)", "at_ms": "\(at)",
                ])
        case .capacityRemoved(let site):
            logger.debug("mesh capacity removed", metadata: ["site": "\(site)", "at_ms": "\(at)"])
        }
    }

    // MARK: capacity and latency

    private func publishCapacity(now: Int64) async {
        lastPublishMs = now
        let summaries = coalesce(await core.capacitySummaries(origin: id), now: clock())
        perform(node.publish(summaries, now: clock()))
    }

    /// Per site, the summary last offered to gossip and since when.
    private var offered: [String: (summary: EstuaryGossip.CapacitySummary, sinceMs: Int64)] = [:]

    /// Holds back a site's non-urgent change until `capacityMinIntervalMs` after its last one
    /// (the previous summary is offered again meanwhile, which the node ignores as unchanged).
    func coalesce(_ fresh: [EstuaryGossip.CapacitySummary], now: Int64) -> [EstuaryGossip.CapacitySummary] {
        var next: [String: (summary: EstuaryGossip.CapacitySummary, sinceMs: Int64)] = [:]
        let result = fresh.map { summary in
            guard let last = offered[summary.site] else {
                next[summary.site] = (summary, now)
                return summary
            }
            if last.summary == summary || (!Self.isUrgent(last.summary, summary) && now - last.sinceMs < settings.capacityMinIntervalMs) {
                next[summary.site] = last
                return last.summary
            }
            next[summary.site] = (summary, now)
            return summary
        }
        offered = next
        return result
    }

    /// Changes the scheduler elsewhere must hear of at once.
    static func isUrgent(_ old: EstuaryGossip.CapacitySummary, _ new: EstuaryGossip.CapacitySummary) -> Bool {
        func available(_ units: [String: Int]) -> Set<String> { Set(units.filter { $0.value > 0 }.keys) }
        return old.reachable != new.reachable || old.totalUnits != new.totalUnits || old.region != new.region
            || available(old.freeUnits) != available(new.freeUnits)
    }

    private func refreshLatency(now: Int64) async {
        lastLatencyMs = now
        let pairs = regionLatency().mapValues(\.ms)
        await core.applyMeshLatency(pairs)
    }

    /// Latency per region pair: this coordinator's own measurements to others' regions, and
    /// coordinate estimates for pairs of other regions. Several coordinators in one pair of
    /// regions: the lowest figure (the best path a job could take).
    func regionLatency() -> [RegionPair: (ms: Int, source: String)] {
        let alive = node.members.filter { $0.state == .alive || $0.state == .suspect }
        var pairs: [RegionPair: (ms: Int, source: String)] = [:]
        func offer(_ pair: RegionPair, _ rtt: Double, _ source: String) {
            let ms = max(1, Int(rtt.rounded(.up)))
            // A measurement beats an estimate; among equals, the lower figure wins.
            if let known = pairs[pair] {
                if known.source == "measured" && source != "measured" { return }
                if known.source == source && known.ms <= ms { return }
            }
            pairs[pair] = (ms, source)
        }
        for member in alive where member.id != id {
            if let rtt = member.rttMs { offer(RegionPair(region, member.region), rtt, "measured") }
        }
        for (i, a) in alive.enumerated() where a.id != id {
            for b in alive[(i + 1)...] where b.id != id && a.region != b.region {
                if let rtt = node.estimatedRTTMs(between: a.id, and: b.id) { offer(RegionPair(a.region, b.region), rtt, "estimated") }
            }
        }
        return pairs
    }

    /// Every other member, with what the federation needs of it.
    func peerDirectory() -> [MeshPeerEntry] {
        var stamps: [String: (count: Int, version: UInt64)] = [:]
        for summary in node.capacity {
            let known = stamps[summary.origin] ?? (0, 0)
            stamps[summary.origin] = (known.count + 1, max(known.version, summary.version))
        }
        return node.members.filter { $0.id != id }.map { member in
            let stamp = stamps[member.id] ?? (0, 0)
            return MeshPeerEntry(
                id: CoordinatorID(rawValue: member.id), address: member.address,
                reachable: member.state == .alive || member.state == .suspect, capacityStamp: "\(stamp.count):\(stamp.version)")
        }
    }

    // MARK: views

    func membersView(configured: LatencyMatrix) -> MeshMembersView {
        let ownCoordinate = node.coordinate
        let members = node.members.sorted { $0.id < $1.id }.map { member in
            MeshMemberView(
                id: member.id, address: member.address, region: member.region, state: member.state.rawValue,
                incarnation: member.incarnation, stateSinceMs: member.id == id ? startedAtMs : member.stateChangedAtMs,
                rttMs: member.rttMs,
                estimatedRTTMs: member.id == id ? nil : member.coordinate.map { ownCoordinate.estimatedRTTMs(to: $0) },
                isSelf: member.id == id)
        }
        let mesh = regionLatency()
        let regions = Set(node.members.map(\.region))
        var latency: [RegionLatencyView] = []
        for a in regions.sorted() {
            for b in regions.sorted() where a < b {
                if let known = mesh[RegionPair(a, b)] {
                    latency.append(RegionLatencyView(from: a, to: b, ms: known.ms, source: known.source))
                } else if let ms = configured.ms(from: a, to: b) {
                    latency.append(RegionLatencyView(from: a, to: b, ms: ms, source: "configured"))
                }
            }
        }
        return MeshMembersView(coordinator: id, region: region, localHealth: node.localHealth, members: members, latency: latency)
    }

    func capacityView() -> MeshCapacityView {
        MeshCapacityView(
            coordinator: id,
            sites: node.capacity.sorted { $0.site < $1.site }.map { summary in
                MeshSiteCapacityView(
                    site: summary.site, origin: summary.origin, region: summary.region, version: summary.version,
                    reachable: summary.reachable, freeUnits: summary.freeUnits, totalUnits: summary.totalUnits,
                    priceIndexFen: summary.priceIndexMinor, greenShareBP: summary.greenShareBP)
            })
    }
}
