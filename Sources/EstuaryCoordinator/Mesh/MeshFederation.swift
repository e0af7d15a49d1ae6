import EstuaryModel
import EstuaryStore
import EstuaryTransport
import Foundation
import Logging

/// A peer coordinator as gossip sees it, for the federation loops.
struct MeshPeerEntry: Sendable, Hashable {
    var id: CoordinatorID
    var address: String
    /// Alive or suspected: worth talking to.
    var reachable: Bool
    /// Changes whenever the peer's gossiped capacity changes: its sites are fetched again.
    var capacityStamp: String
}

/// Jobs across coordinators (docs/FEDERATION.md): learns peers' sites for the scheduler, sends
/// the mesh outbox (forwards, cancels, job updates, usage, charges) to peers in order, and
/// answers peers' requests (`/estuary.v1/mesh/*`, PROTOCOL.md §16).
actor MeshFederation {
    static let sitesPath = "/estuary.v1/mesh/sites"
    static let deliverPath = "/estuary.v1/mesh/deliver"
    static let logsPath = "/estuary.v1/mesh/logs"
    static let paths: Set<String> = [sitesPath, deliverPath, logsPath]

    /// Messages per delivery request.
    static let batchLimit = 128
    /// A peer's sites are fetched again at least this often, even when gossip shows no change.
    static let siteRefreshMs: Int64 = 10_000

    let id: CoordinatorID
    private let gossip: MeshGossip
    private let peers: MeshPeers
    private let core: CoordinatorCore
    private let store: CoordinatorStore
    private let logs: LogStore
    private let logger: Logger
    private var fetched: [CoordinatorID: (stamp: String, atMs: Int64)] = [:]
    private var outboxPending = true
    /// Per peer, when a failed delivery may be tried again.
    private var retryAt: [CoordinatorID: ContinuousClock.Instant] = [:]

    init(
        id: CoordinatorID, gossip: MeshGossip, peers: MeshPeers, core: CoordinatorCore, store: CoordinatorStore, logs: LogStore,
        logger: Logger
    ) {
        self.id = id
        self.gossip = gossip
        self.peers = peers
        self.core = core
        self.store = store
        self.logs = logs
        self.logger = logger
    }

    // MARK: running

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.runSiteLoop() }
            group.addTask { await self.runOutboxLoop() }
            group.addTask {
                for await _ in self.core.outboxRequests { await self.noteOutbox() }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// The outbox loop, while it waits for a signal or its retry timer.
    private var waiting: CheckedContinuation<Void, Never>?

    private func noteOutbox() {
        outboxPending = true
        wake()
    }

    private func wake() {
        waiting?.resume()
        waiting = nil
    }

    /// Returns at the next outbox signal, or after `seconds` (retries of peers that failed).
    private func waitForOutbox(seconds: Int) async {
        guard !outboxPending, !Task.isCancelled else { return }
        let timer = Task {
            try? await Task.sleep(for: .seconds(seconds))
            self.wake()
        }
        await withCheckedContinuation { waiting = $0 }
        timer.cancel()
    }

    private func runSiteLoop() async {
        var known: Set<CoordinatorID> = []
        while !Task.isCancelled {
            let directory = await gossip.peerDirectory()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for peer in directory where peer.reachable {
                if let last = fetched[peer.id], last.stamp == peer.capacityStamp, now - last.atMs < Self.siteRefreshMs { continue }
                do {
                    let reply = try await fetchSites(peer)
                    fetched[peer.id] = (peer.capacityStamp, now)
                    known.insert(peer.id)
                    await core.updateRemoteSites(peer: peer.id, offers: reply.sites)
                } catch {
                    logger.debug("fetching a peer's sites failed", metadata: ["peer": "\(peer.id)", "error": "\(error)"])
                }
            }
            let reachable = Set(directory.filter(\.reachable).map(\.id))
            for gone in known.subtracting(reachable) {
                known.remove(gone)
                fetched[gone] = nil
                await core.removeRemoteSites(peer: gone)
                logger.notice("peer's sites withdrawn from scheduling", metadata: ["peer": "\(gone)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    private func fetchSites(_ peer: MeshPeerEntry) async throws -> MeshSitesReply {
        let body = try await request(peer.address, path: Self.sitesPath, body: [])
        let reply = try MeshJSON.decode(MeshSitesReply.self, body)
        guard reply.coordinator == peer.id else {
            throw FederationError.wrongPeer(expected: peer.id, found: reply.coordinator)
        }
        return reply
    }

    private func runOutboxLoop() async {
        while !Task.isCancelled {
            outboxPending = false
            await drainOutbox()
            // New messages (a signal) go at once; what is left for a peer that failed or is
            // down waits a second (and its back-off).
            await waitForOutbox(seconds: 1)
        }
    }

    /// Sends what the outbox holds to every peer it can reach; true when something is left.
    @discardableResult
    private func drainOutbox() async -> Bool {
        guard let backlog = try? await store.read({ tx in try tx.meshOutboxBacklog() }), !backlog.isEmpty else { return false }
        let directory = Dictionary(await gossip.peerDirectory().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var left = false
        for peer in backlog.keys.sorted() {
            if let retry = retryAt[peer], ContinuousClock.now < retry {
                left = true
                continue
            }
            guard let entry = directory[peer], entry.reachable else {
                left = true
                continue
            }
            do {
                while try await deliverBatch(to: entry) {}
                retryAt[peer] = nil
            } catch {
                left = true
                retryAt[peer] = .now + .seconds(1)
                logger.info("mesh delivery failed; will retry", metadata: ["peer": "\(peer)", "error": "\(error)"])
            }
        }
        return left
    }

    /// Sends the oldest batch for `peer`; true when a full batch went (there may be more).
    private func deliverBatch(to peer: MeshPeerEntry) async throws -> Bool {
        let peerID = peer.id
        let rows = try await store.read { tx in try tx.meshOutbox(peer: peerID, limit: Self.batchLimit) }
        guard let last = rows.last else { return false }
        var items: [MeshDelivery.Item] = []
        for row in rows {
            guard let message = try? MeshMessage.decode(row.body) else {
                logger.error("unreadable mesh outbox row dropped", metadata: ["peer": "\(peerID)", "seq": "\(row.seq)"])
                continue
            }
            items.append(MeshDelivery.Item(seq: row.seq, message: message))
        }
        let body = Array(try MeshJSON.encoder.encode(MeshDelivery(from: id, items: items)))
        let answer = try MeshJSON.decode(MeshDeliveryAck.self, try await request(peer.address, path: Self.deliverPath, body: body))
        let through = min(answer.through, last.seq)
        if through >= rows[0].seq || items.isEmpty {
            let upTo = items.isEmpty ? last.seq : through
            try await store.write { tx in try tx.deleteMeshOutbox(peer: peerID, through: upTo) }
        }
        guard through >= last.seq || items.isEmpty else {
            throw FederationError.partial(appliedThrough: through, sentThrough: last.seq)
        }
        return rows.count == Self.batchLimit
    }

    private func request(_ address: String, path: String, body: [UInt8]) async throws -> [UInt8] {
        let (response, _) = try await peers.post(
            to: address, path: path, headers: [("content-type", "application/json")], body: body)
        guard response.status == 200 else {
            throw FederationError.refused(status: response.status, message: String(decoding: response.body, as: UTF8.self))
        }
        return response.body
    }

    // MARK: reads through peers

    /// A slice of the output of a job forwarded to `peer`, read there.
    func logs(of job: JobRecord, peer: CoordinatorID, stream: LogStreamKind, offset: Int64, limit: Int) async throws -> MeshLogReply {
        guard let entry = await gossip.peerDirectory().first(where: { $0.id == peer }) else {
            throw FederationError.unknownPeer(peer)
        }
        let request = MeshLogRequest(
            from: id, job: job.id, attempt: job.attempt, tenant: job.spec.tenant, stream: stream, offset: offset, limit: limit)
        let body = try await self.request(entry.address, path: Self.logsPath, body: Array(try MeshJSON.encoder.encode(request)))
        return try MeshJSON.decode(MeshLogReply.self, body)
    }

    // MARK: requests from peers

    /// Answers one request from the peer coordinator `sender` (nil without TLS: a dev mesh).
    func answer(path: String, body: [UInt8], sender: CoordinatorID?) async -> (status: Int, body: [UInt8]) {
        do {
            switch path {
            case Self.sitesPath:
                return (200, Array(try MeshJSON.encoder.encode(await core.meshSiteOffers())))
            case Self.deliverPath:
                let delivery = try MeshJSON.decode(MeshDelivery.self, body)
                if let sender, sender != delivery.from {
                    return (403, Array("certificate names \(sender), delivery claims \(delivery.from)\n".utf8))
                }
                return (200, Array(try MeshJSON.encoder.encode(await apply(delivery))))
            case Self.logsPath:
                let request = try MeshJSON.decode(MeshLogRequest.self, body)
                if let sender, sender != request.from {
                    return (403, Array("certificate names \(sender), request claims \(request.from)\n".utf8))
                }
                return try await logSlice(request, for: request.from)
            default:
                return (404, Array("unknown path \(path)\n".utf8))
            }
        } catch let error as DecodingError {
            return (400, Array("malformed mesh request: \(error.fieldError)\n".utf8))
        } catch {
            logger.error("mesh request failed", metadata: ["path": "\(path)", "error": "\(error)"])
            return (500, Array("mesh request failed\n".utf8))
        }
    }

    /// Applies a delivery in order and says how far it got. Updates, usage and charges are
    /// staged (decided, their writes queued) one after another and their commits awaited
    /// together, so a batch costs a few group commits rather than one disk sync per message;
    /// a forward or a cancel first waits for what is staged, since it reads the store. A
    /// message this coordinator refuses for good (malformed, or a conflict) is logged and
    /// passed over, so one bad message cannot block the messages behind it; a failure that may
    /// pass (the store) stops the batch at the last message known to be applied.
    private func apply(_ delivery: MeshDelivery) async -> MeshDeliveryAck {
        var progress = DeliveryProgress()
        let from = delivery.from
        for item in delivery.items {
            guard let message = item.message, message.isWellFormed else {
                logger.warning("unreadable mesh message skipped", metadata: ["from": "\(delivery.from)", "seq": "\(item.seq)"])
                guard await progress.settle(logger: logger, from: from) else { return MeshDeliveryAck(through: progress.through) }
                progress.through = item.seq
                continue
            }
            do {
                if let completion = try await core.stageMesh(message, from: delivery.from) {
                    progress.staged.append((item.seq, completion))
                    continue
                }
                guard await progress.settle(logger: logger, from: from) else { return MeshDeliveryAck(through: progress.through) }
                try await core.applyMesh(message, from: delivery.from)
            } catch let error as BackendError where error.isRefusal {
                guard await progress.settle(logger: logger, from: from) else { return MeshDeliveryAck(through: progress.through) }
                logger.warning(
                    "mesh message refused", metadata: ["from": "\(delivery.from)", "seq": "\(item.seq)", "error": "\(error)"])
            } catch {
                _ = await progress.settle(logger: logger, from: from)
                logger.warning("mesh message not applied yet", metadata: ["from": "\(delivery.from)", "error": "\(error)"])
                return MeshDeliveryAck(through: progress.through)
            }
            progress.through = item.seq
        }
        _ = await progress.settle(logger: logger, from: from)
        return MeshDeliveryAck(through: progress.through)
    }

    private func logSlice(_ request: MeshLogRequest, for peer: CoordinatorID) async throws -> (status: Int, body: [UInt8]) {
        let key = JobOrigin(coordinator: peer, job: request.job, attempt: request.attempt).idempotencyKey
        let tenant = request.tenant
        guard let local = try await store.read({ tx in try tx.job(tenant: tenant, idempotencyKey: key) }) else {
            return (404, Array("no job forwarded as \(key)\n".utf8))
        }
        let (data, size) = logs.read(
            job: local.id, stream: request.stream, offset: max(0, request.offset), limit: max(0, min(request.limit, 1 << 20)))
        return (200, Array(try MeshJSON.encoder.encode(MeshLogReply(data: Data(data), size: size))))
    }
}

/// How far a delivery got: what is applied for sure, and what is staged (written, not yet
/// known to be committed).
private struct DeliveryProgress {
    var through: Int64 = 0
    var staged: [(seq: Int64, completion: MeshCompletion)] = []

    /// Awaits the staged commits in order; false when one failed (the batch stops there).
    mutating func settle(logger: Logger, from peer: CoordinatorID) async -> Bool {
        defer { staged.removeAll() }
        for (seq, completion) in staged {
            do {
                try await completion()
            } catch let error as BackendError where error.isRefusal {
                logger.warning("mesh message refused", metadata: ["from": "\(peer)", "seq": "\(seq)", "error": "\(error)"])
            } catch {
                logger.warning("mesh message not applied yet", metadata: ["from": "\(peer)", "error": "\(error)"])
                return false
            }
            through = seq
        }
        return true
    }
}

extension BackendError {
    /// Whether the receiver refuses the message for good (it is malformed, conflicts with what
    /// is recorded, or names nothing here), rather than failing to apply it for now.
    var isRefusal: Bool {
        switch self {
        case .invalid, .conflict, .notFound: true
        default: false
        }
    }
}

enum FederationError: Error, CustomStringConvertible {
    case refused(status: Int, message: String)
    case wrongPeer(expected: CoordinatorID, found: CoordinatorID)
    case partial(appliedThrough: Int64, sentThrough: Int64)
    case unknownPeer(CoordinatorID)

    var description: String {
        switch self {
        case .refused(let status, let message): "peer answered \(status): \(message)"
        case .wrongPeer(let expected, let found): "asked \(expected), answered by \(found)"
        case .partial(let applied, let sent): "peer applied through \(applied) of \(sent)"
        case .unknownPeer(let peer): "\(peer) is not a member of the mesh"
        }
    }
}
