import EstuaryModel
import EstuaryScheduler
import EstuaryStore
import EstuaryWire

/// What is left to do of a staged mesh message once its write is queued: await the commit
/// (and log what it decided).
typealias MeshCompletion = @Sendable () async throws -> Void

/// A site of a peer coordinator, as its last offer described it. The scheduler places jobs on
/// it like on a local site; the job is then forwarded to the peer (docs/FEDERATION.md).
struct RemoteSite: Sendable {
    var peer: CoordinatorID
    var offer: MeshSiteOffer

    var schedulerSite: SchedulerSite {
        let descriptor = offer.descriptor
        return SchedulerSite(
            id: descriptor.id, region: descriptor.region, zones: Set(descriptor.zones), energy: descriptor.energy,
            priceBook: offer.priceBook, status: offer.state == .connected ? .available : .unreachable,
            pools: LiveSite.schedulerPools(offer.pools))
    }
}

// Cross-coordinator jobs (issue #7, part 3). At the coordinator a job is submitted to ("home"),
// the scheduler considers peers' sites too; a placement on one is written together with a
// `forward` message in the mesh outbox (one transaction), which `MeshFederation` delivers. The
// peer ("runner") files the job under an idempotency key made of the home coordinator, job id
// and attempt, so a forward delivered twice is one job, pins it to the chosen site, and reports
// each transition and each usage record back through its own outbox. Usage is rated once, at
// home, at the site's prices; the site's share becomes an inter-region transfer to the runner,
// which posts the mirror image when the home coordinator's `charge` message arrives.
extension CoordinatorCore {
    /// Source of the event that ends a forwarded job at its runner when it cannot run there:
    /// the home coordinator hears `rejected` and places the job again.
    static let returnedSource = "mesh"

    // MARK: sites across the mesh

    /// This coordinator's own sites, as offered to peers.
    func meshSiteOffers() -> MeshSitesReply {
        let now = clock()
        let offers = sites.values.sorted { $0.descriptor.id < $1.descriptor.id }.map { site in
            var pools = site.pools.values.sorted { $0.acceleratorClass < $1.acceleratorClass }
            for index in pools.indices { pools[index].free = unpromised(pools[index], at: site.descriptor.id) }
            return MeshSiteOffer(
                descriptor: site.descriptor, pools: pools, state: site.state,
                priceBook: meter.bookInForce(site: site.descriptor.id, nowMs: now) ?? site.descriptor.priceBook)
        }
        return MeshSitesReply(coordinator: CoordinatorID(rawValue: configuration.coordinatorID), sites: offers)
    }

    /// Replaces what is known of `peer`'s sites. A site id that is also a local site stays
    /// local (ids are per coordinator; the mesh does not rename). The site's prices become a
    /// price version here, so that a hold and the rating of its usage use them.
    func updateRemoteSites(peer: CoordinatorID, offers: [MeshSiteOffer]) async {
        let now = clock()
        var fresh: [SiteID: RemoteSite] = [:]
        for offer in offers where sites[offer.descriptor.id] == nil && offer.descriptor.id.isWellFormed {
            if let other = remoteSites[offer.descriptor.id], other.peer != peer { continue }
            fresh[offer.descriptor.id] = RemoteSite(peer: peer, offer: offer)
        }
        for (id, site) in remoteSites where site.peer == peer && fresh[id] == nil {
            remoteSites[id] = nil
            scheduler.removeSite(id)
        }
        let books = fresh.values.filter { remoteSites[$0.offer.descriptor.id]?.offer.priceBook != $0.offer.priceBook }
            .map { ($0.offer.descriptor.id, $0.offer.priceBook) }
        if !books.isEmpty {
            let source = "mesh:\(peer)"
            _ = try? await commit(store.enqueueWrite { tx in
                for (site, book) in books {
                    _ = try self.meter.observeAgentPrices(site: site, book: book, nowMs: now, tx: tx, source: source)
                }
            })
        }
        var changed = false
        for (id, site) in fresh {
            // Unchanged offers (most fetches) leave the scheduler's indexes alone; a local site
            // that attached while we wrote wins.
            guard sites[id] == nil, remoteSites[id]?.offer != site.offer else { continue }
            changed = true
            remoteSites[id] = site
            var view = site.schedulerSite
            if let book = meter.bookInForce(site: id, nowMs: now) { view.priceBook = book }
            scheduler.upsertSite(view)
        }
        if changed { requestPlacement() }
    }

    /// Forgets a peer's sites (it failed or left the mesh). Its forwarded jobs stay as they
    /// are: the peer's outbox reports them when it returns.
    func removeRemoteSites(peer: CoordinatorID) {
        for (id, site) in remoteSites where site.peer == peer {
            remoteSites[id] = nil
            scheduler.removeSite(id)
        }
    }

    // MARK: messages from peers

    /// Applies one message from `peer`'s outbox. Every kind is idempotent: a message applied
    /// before (its acknowledgement was lost) changes nothing.
    /// (A delivery stages what it can with `stageMesh` and awaits the commits together; this
    /// applies one message and waits for it.)
    func applyMesh(_ message: MeshMessage, from peer: CoordinatorID) async throws {
        if let completion = try await stageMesh(message, from: peer) {
            try await completion()
        } else if let cancel = message.cancel {
            try await acceptCancel(cancel, from: peer)
        }
    }

    /// Runner: files a forwarded attempt as a local job pinned to its site, once.
    func stageForward(_ forward: MeshForward, from peer: CoordinatorID) async throws -> MeshCompletion {
        let origin = JobOrigin(coordinator: peer, job: forward.job, attempt: forward.attempt)
        var spec = forward.spec
        spec.idempotencyKey = origin.idempotencyKey
        // Where and when were decided at home; here it only has to run at that site.
        spec.constraints = PlacementConstraints(allowSites: [forward.site])
        spec.preference = nil
        spec.deferral = nil
        spec.resources = spec.resources.assigned(to: forward.cls)
        let problems = spec.validate()
        guard problems.isEmpty, sites[forward.site] != nil else {
            let cause =
                problems.isEmpty
                ? "site \(forward.site) is not a site of \(configuration.coordinatorID)"
                : "refused by \(configuration.coordinatorID): \(problems.map(\.description).joined(separator: "; "))"
            logger.warning("forwarded job refused", metadata: ["job": "\(forward.job)", "from": "\(peer)", "cause": "\(cause)"])
            let update = MeshJobUpdate(
                job: forward.job, attempt: forward.attempt, state: .queued, rejected: true, cause: cause, siteAtMs: nil,
                exitCode: nil, signal: nil)
            let body = try MeshMessage.update(update).encoded()
            let now = clock()
            let ticket = store.enqueueWrite { tx in try tx.appendMeshOutbox(peer: peer, body: body, atMs: now) }
            return {
                try await self.commit(ticket)
                await self.signalOutbox()
            }
        }
        let submitted = try stageSubmit(spec, origin: origin)
        let logger = self.logger
        return {
            let view = try await submitted()
            if view.created {
                logger.info(
                    "forwarded job accepted",
                    metadata: ["job": "\(view.job.id)", "origin": "\(peer)/\(forward.job)#\(forward.attempt)", "site": "\(forward.site)"])
            }
        }
    }

    /// Runner: the home coordinator cancels an attempt it forwarded here.
    func acceptCancel(_ cancel: MeshCancel, from peer: CoordinatorID) async throws {
        let key = JobOrigin(coordinator: peer, job: cancel.job, attempt: cancel.attempt).idempotencyKey
        guard let local = try await store.read({ tx in try tx.job(tenant: cancel.tenant, idempotencyKey: key) }) else {
            return  // never arrived (the forward and the cancel travel in order, so: refused)
        }
        guard !local.state.isTerminal else { return }
        _ = try await self.cancel(local.id, reason: cancel.reason)
    }

    /// Applies a message whose decision needs nothing uncommitted from the store (a forward, an
    /// update, a usage batch, a charge) and queues its write without waiting for it; the caller awaits
    /// the returned completion, after queueing the messages behind it, so that a delivery's
    /// writes share group commits instead of waiting for one disk sync each. Nil: `message` is
    /// a cancel, which `applyMesh` must apply (it reads the job its forward wrote).
    func stageMesh(_ message: MeshMessage, from peer: CoordinatorID) async throws -> MeshCompletion? {
        let nothing: MeshCompletion = {}
        switch message.kind {
        case .update:
            guard let update = message.update else { return nothing }
            return stageUpdate(update, from: peer) ?? nothing
        case .usage:
            guard let usage = message.usage else { return nothing }
            return try await stageUsage(usage, from: peer) ?? nothing
        case .charge:
            guard let charge = message.charge else { return nothing }
            return stageCharge(charge, from: peer)
        case .forward:
            guard let forward = message.forward else { return nothing }
            return try await stageForward(forward, from: peer)
        case .cancel:
            return nil
        }
    }

    /// Home: a transition of a job this coordinator forwarded, applied as if its site had sent
    /// it (and ignored, like a site's, when stale).
    func stageUpdate(_ update: MeshJobUpdate, from peer: CoordinatorID) -> MeshCompletion? {
        guard let job = active[update.job], job.forwardedTo == peer, job.attempt == update.attempt, let site = job.siteID
        else {
            logger.debug("stale mesh job update ignored", metadata: ["job": "\(update.job)", "from": "\(peer)"])
            return nil
        }
        var wire = Estuary_V1_JobUpdate()
        wire.jobID = update.job.rawValue
        wire.attempt = UInt32(update.attempt)
        wire.message = update.cause
        if let at = update.siteAtMs { wire.atMs = at }
        if let code = update.exitCode { wire.exitCode = Int32(clamping: code) }
        if let signal = update.signal { wire.signal = Int32(clamping: signal) }
        wire.state = update.rejected ? .rejected : Self.wireState(update.state)
        guard var change = apply(wire, from: site) else { return nil }
        change.1.source = "mesh:\(peer)/site:\(site)"
        let records = [change]
        let ticket = store.enqueueWrite { tx in try self.record(records, tx) }
        // Placement may run before the commit: its own writes queue behind this one.
        if !change.0.state.holdsCapacity { requestPlacement() }
        return { try await self.commit(ticket) }
    }

    /// Home: usage of jobs this coordinator forwarded to `peer`, rated and posted once here;
    /// the site's share goes to the peer (`Meter.postUsage` writes the `charge` message).
    func stageUsage(_ records: [UsageRecord], from peer: CoordinatorID) async throws -> MeshCompletion? {
        let missing = Set(records.map(\.jobID).filter { active[$0] == nil && recentlyEnded[$0] == nil })
        let stored = try await store.read { tx in
            var found: [JobID: JobRecord] = [:]
            for id in missing { if let job = try tx.job(id) { found[id] = job } }
            return found
        }
        var bySite: [SiteID: [UsageRecord]] = [:]
        var jobs: [JobID: JobRecord] = [:]
        var refused = 0
        for record in records {
            guard let job = active[record.jobID] ?? recentlyEnded[record.jobID] ?? stored[record.jobID],
                job.forwardedTo == peer
            else {
                refused += 1
                continue
            }
            jobs[job.id] = job
            bySite[record.siteID, default: []].append(record)
        }
        if refused > 0 {
            logger.warning("refused mesh usage for jobs not forwarded there", metadata: ["from": "\(peer)", "records": "\(refused)"])
        }
        let now = clock()
        let meter = self.meter
        let prepared = bySite.map { site, records in
            meter.prepareUsage(
                records, site: site, jobs: jobs, energy: remoteSites[site]?.offer.descriptor.energy ?? .unstated, nowMs: now,
                peer: peer)
        }
        guard !prepared.isEmpty else { return nil }
        let ticket = store.enqueueWrite { tx in
            var skipped = 0
            for batch in prepared { skipped += try meter.postUsage(batch, tx: tx).skipped }
            return skipped
        }
        return {
            let skipped = try await self.commit(ticket)
            if skipped > 0 {
                self.logger.warning(
                    "mesh usage records did not match their jobs", metadata: ["from": "\(peer)", "records": "\(skipped)"])
            }
            await self.signalOutbox()
        }
    }

    /// Runner: the home coordinator charged a forwarded job's usage; the site's share is owed
    /// to the site here and by the home coordinator to this one.
    func stageCharge(_ charge: MeshCharge, from peer: CoordinatorID) -> MeshCompletion {
        let key = JobOrigin(coordinator: peer, job: charge.job, attempt: charge.attempt).idempotencyKey
        let now = clock()
        let meter = self.meter
        // Decided inside the write: the job's forward may be an earlier write of this delivery.
        let ticket = store.enqueueWrite { tx -> Bool in
            guard let local = try tx.job(tenant: charge.tenant, idempotencyKey: key), local.siteID == charge.site else {
                return false
            }
            return try meter.postPeerShare(charge, from: peer, nowMs: now, tx: tx)
        }
        return {
            if try await self.commit(ticket) == false {
                self.logger.debug(
                    "mesh charge not posted (already posted, or not for a job run here)", metadata: ["record": "\(charge.record)"])
            }
        }
    }

    // MARK: reports to peers

    /// Outbox messages for the transitions of forwarded jobs (runner side), written by
    /// `record` in the transitions' transaction.
    nonisolated func meshReports(_ changes: [(JobRecord, JobEventRecord)], _ tx: StoreTransaction) throws {
        for (job, event) in changes {
            guard let origin = job.origin, event.state != .placed, event.state != .queued else { continue }
            let rejected = event.source == Self.returnedSource
            let update = MeshJobUpdate(
                job: origin.job, attempt: origin.attempt, state: event.state, rejected: rejected, cause: event.cause,
                siteAtMs: event.siteAtMs, exitCode: job.exitCode, signal: job.signal)
            try tx.appendMeshOutbox(peer: origin.coordinator, body: try MeshMessage.update(update).encoded(), atMs: event.atMs)
        }
    }

    /// Usage a site reported for forwarded jobs (runner side): relayed, under the home
    /// coordinator's job id and attempt, in the transaction that advances the site's cursor.
    /// Records that do not match their job are dropped here, as a site's would be.
    func relayedUsage(_ usage: inout [UsageRecord], site: SiteID, jobs: [JobID: JobRecord]) -> [CoordinatorID: [UsageRecord]] {
        var relay: [CoordinatorID: [UsageRecord]] = [:]
        usage.removeAll { record in
            guard let job = jobs[record.jobID], let origin = job.origin else { return false }
            if record.siteID == site, job.siteID == site, record.units == job.spec.resources.totalUnits,
                record.id == .forJob(job.id, attempt: max(1, job.attempt))
            {
                var relayed = record
                relayed.jobID = origin.job
                relayed.id = .forJob(origin.job, attempt: origin.attempt)
                relay[origin.coordinator, default: []].append(relayed)
            } else {
                logger.warning("usage for a forwarded job did not match it", metadata: ["site": "\(site)", "record": "\(record.id)"])
            }
            return true
        }
        return relay
    }

    func signalOutbox() { outboxSignal.yield() }

    static func wireState(_ state: JobState) -> Estuary_V1_JobState {
        switch state {
        case .starting: .starting
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        case .cancelled: .cancelled
        case .lost: .lost
        case .submitted, .queued, .placed: .unspecified
        }
    }
}
