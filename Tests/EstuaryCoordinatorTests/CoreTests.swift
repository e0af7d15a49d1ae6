import EstuaryModel
import EstuaryStore
import EstuaryWire
import Foundation
import Logging
import Testing

@testable import EstuaryCoordinator

/// The coordinator core driven directly (no sockets) over a real SQLite store in a temp dir.
@Suite("Coordinator core")
struct CoreTests {
    final class Fixture: Sendable {
        let directory: String
        let store: CoordinatorStore
        let core: CoordinatorCore

        init(maxAttempts: Int = 3, coordinatorID: String = "coordinator") async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-core-\(UUID().uuidString)").path
            store = try CoordinatorStore(directory: directory, logger: Logger(label: "test"))
            var configuration = CoordinatorConfiguration(dataDirectory: directory)
            configuration.maxAttempts = maxAttempts
            configuration.coordinatorID = coordinatorID
            core = CoordinatorCore(
                store: store, configuration: configuration, logger: Logger(label: "test"), clock: { 1_000 },
                onFatal: { error in Issue.record("fatal store error: \(error)") })
            try await core.bootstrap()
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }

        /// Connects a site with one pool, as a Hello would, and returns its link.
        func connect(
            _ site: String, pool: String = "cpu-x86-64", count: Int = 8, known: [Estuary_V1_JobRef] = [], epoch: String = "e1",
            priceBook: PriceBook = PriceBook()
        ) async throws -> (SiteLink, AttachResult) {
            let link = SiteLink(sessionID: "s-\(site)")
            var hello = Estuary_V1_Hello()
            hello.site = .with { $0.id = site; $0.region = "test"; $0.driver = "process" }
            hello.knownJobs = known
            hello.outboxEpoch = epoch
            let descriptor = SiteDescriptor(
                id: SiteID(rawValue: site), displayName: site, region: "test", zones: [], driver: "process", priceBook: priceBook)
            let result = try await core.attach(hello: hello, descriptor: descriptor, link: link)
            await core.capacity(site: SiteID(rawValue: site), link: link, report: .with {
                $0.full = true
                $0.pools = [.with { $0.acceleratorClass = pool; $0.count = UInt32(count); $0.free = UInt32(count) }]
            })
            return (link, result)
        }

        func submit(_ name: String, units: Int = 1, key: String? = nil) async throws -> JobID {
            let spec = JobSpec(
                name: name, tenant: "t", command: ["/bin/true"],
                resources: ResourceRequest(acceleratorClass: "cpu-x86-64", count: units), walltimeSeconds: 60,
                idempotencyKey: key)
            return try await core.submit(spec).job.id
        }

        func state(_ id: JobID) async throws -> JobState? {
            try await store.read { tx in try tx.job(id)?.state }
        }
    }

    /// The next envelope a site link would send, without waiting forever.
    static func next(_ link: SiteLink) async -> Estuary_V1_Envelope? {
        await withTaskGroup(of: Estuary_V1_Envelope?.self) { group in
            group.addTask {
                var iterator = link.outgoing.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    static func update(_ job: JobID, _ state: Estuary_V1_JobState, attempt: UInt32 = 1, seq: UInt64) -> Estuary_V1_Envelope {
        Estuary_V1_Envelope(seq: seq, body: .jobUpdate(.with {
            $0.jobID = job.rawValue
            $0.attempt = attempt
            $0.state = state
            if state == .succeeded { $0.hasExitCode_p = true }
        }))
    }

    @Test("a submitted job is placed on a site with free units and assigned after the commit")
    func placement() async throws {
        let fixture = try await Fixture()
        let (link, _) = try await fixture.connect("gz", count: 4)
        let id = try await fixture.submit("a", units: 4)
        await fixture.core.placeQueued()
        #expect(try await fixture.state(id) == .placed)
        guard case .jobAssign(let assign)? = await Self.next(link)?.body else {
            Issue.record("no JobAssign sent")
            return
        }
        #expect(assign.jobID == id.rawValue)
        #expect(assign.attempt == 1)
        // The pool is now full: a second job waits.
        let second = try await fixture.submit("b", units: 1)
        await fixture.core.placeQueued()
        #expect(try await fixture.state(second) == .queued)
    }

    @Test("a deferrable job waits for the valley price, says so once in its history, and the coordinator wakes then")
    func deferral() async throws {
        let fixture = try await Fixture()
        // The clock stands at 08:00:01 China time; the valley runs 23:00–07:00 at half price.
        let book = PriceBook(
            prices: ["cpu-x86-64": ClassPrice(flat: 100, peak: 150, valley: 50)],
            periods: [TariffPeriod(kind: .valley, startMinute: 23 * 60, endMinute: 7 * 60)])
        _ = try await fixture.connect("gz", priceBook: book)
        let spec = JobSpec(
            name: "nightly", tenant: "t", command: ["/bin/true"], resources: ResourceRequest(acceleratorClass: "cpu-x86-64", count: 2),
            walltimeSeconds: 3600, deferral: Deferral(deadlineMs: 2 * 86_400_000, deferrable: true))
        let id = try await fixture.core.submit(spec).job.id
        await fixture.core.placeQueued()
        await fixture.core.placeQueued()
        #expect(try await fixture.state(id) == .queued)
        let events = try await fixture.store.read { tx in try tx.events(job: id) }
        let deferrals = events.filter { $0.cause.hasPrefix("deferred to") }
        #expect(deferrals.count == 1, "one event for one plan: \(events.map(\.cause))")
        #expect(deferrals.first?.cause == "deferred to 23:00 local for valley price (2.00 → 1.00 CNY)")
        #expect(await fixture.core.nextDeferralWakeMs == 15 * 3_600_000)
    }

    @Test("an idempotency key returns the same job; a different spec with that key is a conflict")
    func idempotency() async throws {
        let fixture = try await Fixture()
        let first = try await fixture.submit("a", key: "k")
        let again = try await fixture.submit("a", key: "k")
        #expect(first == again)
        await #expect(throws: BackendError.self) { _ = try await fixture.submit("b", key: "k") }
    }

    @Test("resent upstream envelopes are acked but applied once")
    func duplicatesAppliedOnce() async throws {
        let fixture = try await Fixture()
        let (link, _) = try await fixture.connect("gz")
        let id = try await fixture.submit("a")
        await fixture.core.placeQueued()
        let usage = Estuary_V1_Envelope(seq: 3, body: .usage(.with {
            $0.records = [.with {
                $0.recordID = "u-\(id)-1"
                $0.jobID = id.rawValue
                $0.acceleratorClass = "cpu-x86-64"
                $0.units = 1
                $0.startedAtMs = 100
                $0.endedAtMs = 1_100
            }]
        }))
        let batch = [Self.update(id, .running, seq: 1), Self.update(id, .succeeded, seq: 2), usage]
        let ack1 = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: batch)
        let ack2 = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: batch)
        #expect(ack1 == 3)
        #expect(ack2 == 3)
        #expect(try await fixture.state(id) == .succeeded)
        let records = try await fixture.store.read { tx in try tx.usage(job: nil) }
        #expect(records.count == 1)
        #expect(records.first?.unitMilliseconds == 1_000)
        let events = try await fixture.store.read { tx in try tx.events(job: id).map(\.state) }
        #expect(events == [.submitted, .queued, .placed, .running, .succeeded])
    }

    @Test("updates for another attempt or from another site are ignored")
    func staleUpdates() async throws {
        let fixture = try await Fixture()
        let (gz, _) = try await fixture.connect("gz")
        let (sz, _) = try await fixture.connect("sz", count: 0)
        let id = try await fixture.submit("a")
        await fixture.core.placeQueued()
        _ = try await fixture.core.applyUpstream(site: "gz", link: gz, envelopes: [Self.update(id, .succeeded, attempt: 7, seq: 1)])
        _ = try await fixture.core.applyUpstream(site: "sz", link: sz, envelopes: [Self.update(id, .succeeded, seq: 1)])
        #expect(try await fixture.state(id) == .placed)
    }

    @Test("a rejected job is placed again, and fails after the attempt limit")
    func rejections() async throws {
        let fixture = try await Fixture(maxAttempts: 2)
        let (link, _) = try await fixture.connect("gz")
        let id = try await fixture.submit("a")
        await fixture.core.placeQueued()
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [Self.update(id, .rejected, attempt: 1, seq: 1)])
        #expect(try await fixture.state(id) == .queued)
        await fixture.core.placeQueued()
        #expect(try await fixture.state(id) == .placed)
        _ = try await fixture.core.applyUpstream(site: "gz", link: link, envelopes: [Self.update(id, .rejected, attempt: 2, seq: 2)])
        #expect(try await fixture.state(id) == .failed)
    }

    @Test("on reconnect, placed jobs the agent lacks are resent and running jobs it forgot are lost")
    func reconciliation() async throws {
        let fixture = try await Fixture()
        let (link, _) = try await fixture.connect("gz")
        let placed = try await fixture.submit("placed")
        let running = try await fixture.submit("running")
        let kept = try await fixture.submit("kept")
        await fixture.core.placeQueued()
        _ = try await fixture.core.applyUpstream(
            site: "gz", link: link, envelopes: [Self.update(running, .running, seq: 1), Self.update(kept, .running, seq: 2)])
        let known = [Estuary_V1_JobRef.with { $0.jobID = kept.rawValue; $0.state = .running; $0.attempt = 1 }]
        let (relink, result) = try await fixture.connect("gz", known: known)
        #expect(result.resumeFrom == 2)
        guard case .jobAssign(let assign)? = await Self.next(relink)?.body else {
            Issue.record("no JobAssign resent")
            return
        }
        #expect(assign.jobID == placed.rawValue)
        #expect(try await fixture.state(running) == .lost)
        #expect(try await fixture.state(kept) == .running)
    }

    @Test("cancelling a queued job ends it; cancelling a running one asks its site")
    func cancel() async throws {
        let fixture = try await Fixture()
        let queued = try await fixture.submit("q", units: 100)
        _ = try await fixture.core.cancel(queued, reason: "")
        #expect(try await fixture.state(queued) == .cancelled)

        let (link, _) = try await fixture.connect("gz")
        let running = try await fixture.submit("r")
        await fixture.core.placeQueued()
        _ = await Self.next(link)  // the JobAssign
        let view = try await fixture.core.cancel(running, reason: "enough")
        #expect(view.cancelRequested)
        guard case .jobCancel(let cancel)? = await Self.next(link)?.body else {
            Issue.record("no JobCancel sent")
            return
        }
        #expect(cancel.jobID == running.rawValue)
        await #expect(throws: BackendError.self) { _ = try await fixture.core.cancel(queued, reason: "") }
    }

    @Test("a restarted core restores queued jobs and allocations from the store")
    func bootstrapRestores() async throws {
        let fixture = try await Fixture()
        _ = try await fixture.connect("gz", count: 2)
        let placed = try await fixture.submit("p", units: 2)
        await fixture.core.placeQueued()
        let waiting = try await fixture.submit("w", units: 1)
        let restarted = CoordinatorCore(
            store: fixture.store, configuration: CoordinatorConfiguration(dataDirectory: fixture.directory),
            logger: Logger(label: "test"), clock: { 2_000 }, onFatal: { _ in })
        try await restarted.bootstrap()
        #expect(await restarted.queuedCount() == 1)
        let site = await restarted.siteViews().first
        #expect(site?.allocated["cpu-x86-64"] == 2)
        #expect(site?.state == .unreachable)
        _ = placed
        _ = waiting
    }
}

extension CoreTests {
    @Test("a gap in upstream seq applies what came before it, then ends the session")
    func gapEndsSession() async throws {
        let fixture = try await Fixture()
        let (link, _) = try await fixture.connect("gz")
        let id = try await fixture.submit("a")
        await fixture.core.placeQueued()
        await #expect(throws: SessionFailure.self) {
            _ = try await fixture.core.applyUpstream(
                site: "gz", link: link, envelopes: [Self.update(id, .running, seq: 1), Self.update(id, .succeeded, seq: 3)])
        }
        #expect(try await fixture.state(id) == .running)
        let (_, result) = try await fixture.connect(
            "gz", known: [.with { $0.jobID = id.rawValue; $0.state = .running; $0.attempt = 1 }])
        #expect(result.resumeFrom == 1)
    }
}

extension CoreTests {
    @Test("a cancel that arrives during a reconnect is not overtaken by the resent assign")
    func cancelDuringReconnect() async throws {
        let fixture = try await Fixture()
        _ = try await fixture.connect("gz")
        let id = try await fixture.submit("a")
        await fixture.core.placeQueued()
        _ = try await fixture.core.cancel(id, reason: "changed my mind")
        let (relink, _) = try await fixture.connect("gz", known: [])
        var bodies: [String] = []
        while bodies.count < 2, let envelope = await Self.next(relink) {
            switch envelope.body {
            case .jobAssign: bodies.append("assign")
            case .jobCancel: bodies.append("cancel")
            default: continue
            }
        }
        #expect(bodies == ["assign", "cancel"])
    }

    @Test("usage that does not match the job's units, class or attempt is not recorded")
    func usageMustMatchJob() async throws {
        let fixture = try await Fixture()
        let (link, _) = try await fixture.connect("gz")
        let id = try await fixture.submit("a", units: 2)
        await fixture.core.placeQueued()
        func usage(_ recordID: String, units: UInt32, seq: UInt64) -> Estuary_V1_Envelope {
            Estuary_V1_Envelope(seq: seq, body: .usage(.with {
                $0.records = [.with {
                    $0.recordID = recordID
                    $0.jobID = id.rawValue
                    $0.acceleratorClass = "cpu-x86-64"
                    $0.units = units
                    $0.startedAtMs = 0
                    $0.endedAtMs = 1_000
                }]
            }))
        }
        _ = try await fixture.core.applyUpstream(
            site: "gz", link: link,
            envelopes: [usage("u-\(id)-1", units: 999, seq: 1), usage("u-other-1", units: 2, seq: 2), usage("u-\(id)-1", units: 2, seq: 3)])
        let records = try await fixture.store.read { tx in try tx.usage(job: nil) }
        #expect(records.map(\.units) == [2])
    }
}
