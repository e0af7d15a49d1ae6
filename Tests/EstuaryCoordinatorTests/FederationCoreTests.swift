import EstuaryLedger
import EstuaryModel
import EstuaryStore
import EstuaryWire
import Testing

@testable import EstuaryCoordinator

/// Jobs across coordinators, with two real cores and stores and no sockets: the test carries
/// each outbox to its peer by hand, and delivers every message twice, as a lost
/// acknowledgement would (docs/FEDERATION.md).
@Suite("Federation between two cores")
struct FederationCoreTests {
    typealias Fixture = CoreTests.Fixture

    /// Home "h" knows runner "r"'s site "sg" (1 fen per unit-second of cpu).
    static func pair() async throws -> (home: Fixture, runner: Fixture, link: SiteLink) {
        let home = try await Fixture(coordinatorID: "h")
        let runner = try await Fixture(coordinatorID: "r")
        let book = PriceBook(prices: ["cpu-x86-64": ClassPrice(flat: 3_600)])
        let (link, _) = try await runner.connect("sg", count: 8, priceBook: book)
        await home.core.updateRemoteSites(peer: "r", offers: await runner.core.meshSiteOffers().sites)
        return (home, runner, link)
    }

    /// Applies `from`'s outbox for `to` at `to`, each message twice, and empties it. Returns the
    /// kinds delivered, in order.
    @discardableResult
    static func deliver(_ from: Fixture, _ fromID: CoordinatorID, to: Fixture, _ toID: CoordinatorID) async throws -> [MeshMessage.Kind] {
        let rows = try await from.store.read { tx in try tx.meshOutbox(peer: toID, limit: 1000) }
        var kinds: [MeshMessage.Kind] = []
        for row in rows {
            let message = try MeshMessage.decode(row.body)
            #expect(message.isWellFormed)
            kinds.append(message.kind)
            try await to.core.applyMesh(message, from: fromID)
            try await to.core.applyMesh(message, from: fromID)
        }
        if let last = rows.last { try await from.store.write { tx in try tx.deleteMeshOutbox(peer: toID, through: last.seq) } }
        return kinds
    }

    static func usage(_ job: JobID, seq: UInt64, ms: Int64) -> Estuary_V1_Envelope {
        Estuary_V1_Envelope(seq: seq, body: .usage(.with {
            $0.records = [.with {
                $0.recordID = UsageRecordID.forJob(job, attempt: 1).rawValue
                $0.jobID = job.rawValue
                $0.acceleratorClass = "cpu-x86-64"
                $0.units = 1
                $0.startedAtMs = 0
                $0.endedAtMs = ms
            }]
        }))
    }

    @Test("a job placed on a peer's site is forwarded, runs there once, reports home and is charged once; both ledgers mirror")
    func forwardedOnceAndBilledOnce() async throws {
        let (home, runner, link) = try await Self.pair()
        let id = try await home.submit("train")
        await home.core.placeQueued()
        let placed = try #require(try await home.store.read { tx in try tx.job(id) })
        #expect(placed.state == .placed && placed.siteID == "sg" && placed.forwardedTo == "r")

        #expect(try await Self.deliver(home, "h", to: runner, "r") == [.forward])
        let copies = try await runner.store.read { tx in try tx.jobs(state: nil, site: nil, tenant: nil, after: nil, limit: 10) }
        #expect(copies.count == 1, "a forward delivered twice is one job")
        let copy = try #require(copies.first)
        #expect(copy.origin == JobOrigin(coordinator: "h", job: id, attempt: 1))
        #expect(copy.spec.constraints.allowSites == ["sg"])
        await runner.core.placeQueued()
        guard case .jobAssign(let assign)? = await CoreTests.next(link)?.body else {
            Issue.record("the runner did not assign the forwarded job to its site")
            return
        }
        #expect(assign.jobID == copy.id.rawValue)

        // The site runs it for an hour: 3,600 fen.
        _ = try await runner.core.applyUpstream(
            site: "sg", link: link,
            envelopes: [
                CoreTests.update(copy.id, .running, seq: 1), CoreTests.update(copy.id, .succeeded, seq: 2),
                Self.usage(copy.id, seq: 3, ms: 3_600_000),
            ])
        #expect(try await runner.state(copy.id) == .succeeded)
        let notRated = try await runner.store.read { tx in try tx.usage(job: nil) }
        #expect(notRated.isEmpty, "the runner never rates forwarded usage")
        #expect(try await Self.deliver(runner, "r", to: home, "h") == [.update, .update, .usage])
        #expect(try await home.state(id) == .succeeded)
        let charged = try await home.store.read { tx in try tx.usage(job: id) }
        #expect(charged.count == 1 && charged.first?.id == .forJob(id, attempt: 1))

        #expect(try await Self.deliver(home, "h", to: runner, "r") == [.charge])
        let gross: Fen = 3_600
        #expect(home.core.meter.balance(.wallet("t")) == -gross, "the tenant paid once, at home")
        let owed = home.core.meter.balance(.peerCoordinator("r"))
        #expect(owed > 0 && owed <= gross)
        #expect(home.core.meter.balance(.siteReceivable("sg")) == 0, "home owes the site nothing itself")
        #expect(runner.core.meter.balance(.peerCoordinator("h")) == -owed, "the runner's books mirror home's")
        #expect(runner.core.meter.balance(.siteReceivable("sg")) == owed, "the site is owed its share where it runs")
        #expect(home.core.meter.balance(.platformFee) == gross - owed)
    }

    @Test("a site that rejects a forwarded job sends it home, which places it again as a new attempt, never two at once")
    func rejectionReturnsHome() async throws {
        let (home, runner, link) = try await Self.pair()
        let id = try await home.submit("train")
        await home.core.placeQueued()
        try await Self.deliver(home, "h", to: runner, "r")
        await runner.core.placeQueued()
        let copy = try #require(try await runner.store.read { tx in try tx.jobs(state: nil, site: nil, tenant: nil, after: nil, limit: 1) }.first)
        _ = try await runner.core.applyUpstream(site: "sg", link: link, envelopes: [CoreTests.update(copy.id, .rejected, seq: 1)])
        #expect(try await runner.state(copy.id) == .failed, "the runner's copy ends; home decides what next")
        #expect(try await Self.deliver(runner, "r", to: home, "h") == [.update])
        let back = try #require(try await home.store.read { tx in try tx.job(id) })
        #expect(back.state == .queued && back.forwardedTo == nil && back.excludedSites == ["sg"])
        // Attempt 2: the scheduler forgets a rejection when no other site fits (the attempt
        // limit bounds it), so it goes to the same site, as a new job there.
        await home.core.placeQueued()
        let again = try #require(try await home.store.read { tx in try tx.job(id) })
        #expect(again.state == .placed && again.attempt == 2 && again.forwardedTo == "r")
        #expect(try await Self.deliver(home, "h", to: runner, "r") == [.forward])
        let copies = try await runner.store.read { tx in try tx.jobs(state: nil, site: nil, tenant: nil, after: nil, limit: 10) }
        #expect(copies.map(\.origin?.attempt).sorted { ($0 ?? 0) < ($1 ?? 0) } == [1, 2])
        #expect(copies.filter { !$0.state.isTerminal }.count == 1, "never two live copies at once")
    }

    @Test("a cancel at home reaches the runner after the forward, and the cancellation comes home")
    func cancelTravels() async throws {
        let (home, runner, link) = try await Self.pair()
        let id = try await home.submit("train")
        await home.core.placeQueued()
        _ = try await home.core.cancel(id, reason: "changed my mind")
        #expect(try await Self.deliver(home, "h", to: runner, "r") == [.forward, .cancel])
        let copy = try #require(try await runner.store.read { tx in try tx.jobs(state: nil, site: nil, tenant: nil, after: nil, limit: 1) }.first)
        #expect(copy.cancelRequested || copy.state == .cancelled)
        if copy.state != .cancelled {
            await runner.core.placeQueued()
            _ = try await runner.core.applyUpstream(site: "sg", link: link, envelopes: [CoreTests.update(copy.id, .cancelled, seq: 1)])
        }
        #expect(try await runner.state(copy.id) == .cancelled)
        try await Self.deliver(runner, "r", to: home, "h")
        #expect(try await home.state(id) == .cancelled)
    }

    @Test("a message this coordinator cannot read is passed over, not the batch: it cannot block the messages behind it")
    func unreadableMessagesDoNotBlock() throws {
        let text = """
            {"from":"r","items":[
              {"seq":4,"message":{"kind":"teleport","teleport":{}}},
              {"seq":5,"message":{"kind":"cancel","cancel":{"job":"j1","attempt":1,"tenant":"t","reason":"x"}}},
              {"seq":6,"message":{"kind":"cancel","update":{"job":"j1"}}}
            ]}
            """
        let delivery = try MeshJSON.decode(MeshDelivery.self, Array(text.utf8))
        #expect(delivery.items.map(\.seq) == [4, 5, 6])
        #expect(delivery.items[0].message == nil)
        #expect(delivery.items[1].message?.isWellFormed == true)
        #expect(delivery.items[2].message == nil || delivery.items[2].message?.isWellFormed == false)
        #expect(throws: (any Error).self) { try MeshJSON.decode(MeshDelivery.self, Array("{\"from\":\"r\"}".utf8)) }
    }

    @Test("a user's idempotency key may not use the forwarded jobs' namespace")
    func meshKeysAreReserved() async throws {
        let fixture = try await Fixture()
        await #expect(throws: BackendError.self) { _ = try await fixture.submit("a", key: "mesh:h:j1:1") }
    }
}
