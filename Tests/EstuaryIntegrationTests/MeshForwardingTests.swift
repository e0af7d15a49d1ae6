import EstuaryLedger
import EstuaryModel
import EstuaryTransport
import EstuaryTrust
import Foundation
import Testing

/// Issue #7 part 3: a job submitted at a coordinator that has no site for it is forwarded to a
/// peer coordinator whose site can run it. It runs there exactly once, its state and output are
/// seen at the coordinator it was submitted to, the tenant is charged there once, and the two
/// coordinators settle the transfer between them.
///
/// The mesh is the smallest that shows it: c1 (region r1) has the tenant and no sites at all; c2
/// (region r2) has the one site and does not know the tenant. Forwarding adds fields that the
/// model types do not have yet (`forwarded_to`, `origin`, the settlement's `peers`), so they are
/// read from the raw JSON with the private structs at the end of this file.
extension IntegrationTests {
    @Suite("Mesh forwarding")
    struct MeshForwarding {
        /// c2's only site, priced at 360,000 fen per unit-hour (a unit-second costs 100 fen) so
        /// that a run of a second is charged enough for the 3 % fee to be more than a fen.
        static let site = TestSite(
            id: "it-fwd-gpu", acceleratorClass: "nvidia-a100", region: "r2", extraTables: "[prices.nvidia-a100]\nflat = 360000")
        static let tenant: TenantID = "acme"
        static let topUp: Fen = 100_000
        /// 3 %, so that what c1 owes c2 (gross − fee) differs from the gross.
        static let platformFeeBP = 300

        @Test("a job submitted where no site fits runs once at a peer's site, is charged once at its origin and settled between the two",
              .timeLimit(.minutes(3)))
        func forwardedJobRunsOnceAndSettles() async throws {
            try await TestBed.run { bed in
                let (c1, c2) = try await Self.startForwardingMesh(bed)
                let marker = bed.path("forwarded/marker")
                let spec = Self.spec(
                    name: "fwd-hello", script: "echo ran >> '\(marker)'; echo hello-from-forwarded-job; sleep 1", walltimeSeconds: 300)

                let submitted = try await Self.submit(spec, key: "fwd-hello-0001", to: c1)
                #expect(submitted.created)
                let id = submitted.job.id

                // c1 cannot place the job itself, so reaching `succeeded` means it ran at c2's site.
                let finished = try await c1.api.waitForJob(id, toBe: .succeeded, timeout: .seconds(60))
                #expect(finished.siteID?.rawValue == Self.site.id, "the job ran at c2's site")
                let atOrigin = try await c1.api.forwardingJob(id)
                #expect(atOrigin.fields.forwardedTo == "c2", "c1's job says where it was forwarded")

                // Ran exactly once: one line in the marker, and still one after a quiet spell.
                #expect(Self.lines(of: marker) == ["ran"])
                // Not a wait for an event: a second run (a retried forward, a replayed assignment)
                // would show up only as something that should *not* happen, so give it time to.
                try await Task.sleep(for: .seconds(2))
                #expect(Self.lines(of: marker) == ["ran"], "the forwarded job ran once")

                // The origin remembers the idempotency key: the same submit again is the same job.
                let again = try await Self.submit(spec, key: "fwd-hello-0001", to: c1, expect: 200)
                #expect(again.job.id == id && !again.created)

                // c2 holds one local copy of the job, which names where it came from.
                let copies = try await waitFor("c2 to hold a succeeded copy of \(id)", timeout: .seconds(20)) {
                    () -> [ForwardingJob]? in
                    let copies = try await c2.api.copies(of: id)
                    guard !copies.isEmpty, copies.allSatisfy({ $0.view.state == .succeeded }) else {
                        throw Progress("copies at c2: \(copies.map { "\($0.view.id) \($0.view.state)" })")
                    }
                    return copies
                }
                #expect(copies.count == 1, "one copy at c2: \(copies.map(\.view.id))")
                let copy = try #require(copies.first)
                #expect(copy.fields.origin == ForwardingOrigin(coordinator: "c1", job: id.rawValue, attempt: 1))
                #expect(copy.view.siteID?.rawValue == Self.site.id)

                // The job's output, read where it was submitted.
                try await waitUntil("c1 to serve the output of \(id)", timeout: .seconds(20)) {
                    let logs = try await c1.api.request(.get, "/v1/jobs/\(id.rawValue)/logs")
                    guard logs.status == 200 else { throw Progress("HTTP \(logs.status): \(logs.text)") }
                    return logs.text.contains("hello-from-forwarded-job")
                }

                // The tenant is c1's: c1 rates the usage and charges the wallet, once.
                let metered = try await Self.meteredUsage(of: id, at: c1)
                #expect(metered.count == 1, "one usage record for the job at c1: \(metered.map(\.record.id))")
                let entry = try #require(metered.first)
                let charge = try #require(entry.charge, "the usage at c1 is rated (unrated: \(entry.unrated ?? "-"))")
                #expect(charge.tenant == Self.tenant && charge.job == id && charge.site.rawValue == Self.site.id)
                #expect(charge.grossFen > 0)
                let wallet: TenantView = try await c1.api.get("/v1/tenants/\(Self.tenant.rawValue)")
                #expect(wallet.balanceFen == Self.topUp - charge.grossFen, "the wallet paid the gross once")
                #expect(wallet.heldFen == 0, "no hold outlives the job")

                // Settlement between the coordinators: c1 owes c2 what c2's site earned, gross − fee.
                let owed = charge.grossFen - charge.feeFen
                #expect(owed > 0)
                let period = try BillingPeriod.containing(ms: entry.record.endedAtMs, utcOffsetMinutes: 480)
                for (coordinator, name, peer, net) in [(c1, "c1", "c2", owed), (c2, "c2", "c1", -owed)] {
                    let line = try await Self.peerLine(peer, at: coordinator, named: name, period: period)
                    #expect(line.transfers == 1, "\(name) records one transfer with \(peer): \(line)")
                    #expect(line.netFen == net, "\(name)'s net with \(peer) is \(net) fen: \(line)")
                    let settlement: SettlementView = try await coordinator.api.get("/v1/settlements/\(period)")
                    #expect(settlement.report.reconciliation.ok, "\(name): \(settlement.report.reconciliation)")
                }

                // What a user sees with estuaryctl, at each coordinator.
                let status = try await bed.estuaryctl(["job", "status", id.rawValue], coordinator: c1)
                #expect(status.status == 0 && status.stdout.contains("coordinator c2"), "\(status)")
                let logs = try await bed.estuaryctl(["job", "logs", id.rawValue], coordinator: c1)
                #expect(logs.status == 0 && logs.stdout.contains("hello-from-forwarded-job"), "\(logs)")
                let shown = try await bed.estuaryctl(["settlement", "show", "\(period)"], coordinator: c2)
                #expect(shown.status == 0 && shown.stdout.contains("PEER COORDINATOR") && shown.stdout.contains("c1"), "\(shown)")

                // Still once, after everything above has had time to arrive twice.
                #expect(Self.lines(of: marker) == ["ran"])
                #expect(try await Self.meteredUsage(of: id, at: c1).count == 1)
            }
        }

        @Test("home weighs a peer's site against its own: the cheaper peer site wins, and a job kept off it runs at home",
              .timeLimit(.minutes(2)))
        func peerSitesCompeteWithLocalOnes() async throws {
            try await TestBed.run { bed in
                let (c1, _) = try await Self.startForwardingMesh(bed)
                // c1's own site: the same class at twice the price.
                let local = TestSite(
                    id: "it-fwd-local", acceleratorClass: Self.site.acceleratorClass, region: "r1",
                    extraTables: "[prices.nvidia-a100]\nflat = 720000")
                let localAgent = try await bed.startAgent(local, coordinator: c1)
                #expect(localAgent.process.isRunning)

                var cheap = Self.spec(name: "fwd-cheapest", script: "sleep 1", walltimeSeconds: 60)
                cheap.preference = .cheapest
                let remote = try await Self.submit(cheap, key: "fwd-cheapest-0001", to: c1).job.id
                let ran = try await c1.api.waitForJob(remote, toBe: .succeeded, timeout: .seconds(60))
                #expect(ran.siteID?.rawValue == Self.site.id, "the cheaper site is c2's")
                #expect(try await c1.api.forwardingJob(remote).fields.forwardedTo == "c2")

                var kept = cheap
                kept.name = "fwd-kept-home"
                kept.constraints.denySites = [SiteID(rawValue: Self.site.id)]
                let home = try await Self.submit(kept, key: "fwd-kept-0001", to: c1).job.id
                let ranHome = try await c1.api.waitForJob(home, toBe: .succeeded, timeout: .seconds(60))
                #expect(ranHome.siteID?.rawValue == local.id)
                #expect(try await c1.api.forwardingJob(home).fields.forwardedTo == nil, "a job at a local site is not forwarded")
            }
        }

        @Test("peers speak only for themselves: a site certificate, a delivery in another's name and an update for a job not forwarded to the sender change nothing",
              .timeLimit(.minutes(2)))
        func federationRefusesImpostors() async throws {
            try await TestBed.run { bed in
                let (c1, c2) = try await Self.startForwardingMesh(bed)
                let id = try await Self.submit(
                    Self.spec(name: "fwd-target", script: "sleep 300", walltimeSeconds: 600), key: "fwd-target-0001", to: c1
                ).job.id
                try await c1.api.waitForJob(id, toBe: .running, timeout: .seconds(60))
                let ca = try String(contentsOfFile: c1.caPath, encoding: .utf8)
                func client(chain: String, key: String) -> MeshClientConfiguration {
                    var client = MeshClientConfiguration(host: "127.0.0.1", port: c1.meshPort)
                    client.tls = MeshClientTLS(trustedCAPEM: ca, certificateChainPEM: chain, privateKeyPEM: key)
                    return client
                }
                func update(from sender: String, state: String) -> [UInt8] {
                    let text = """
                        {"from":"\(sender)","items":[{"seq":7,"message":{"kind":"update","update":\
                        {"job":"\(id.rawValue)","attempt":1,"state":"\(state)","rejected":false,"cause":"forged"}}}]}
                        """
                    return Array(text.utf8)
                }

                // A site's certificate may not use the federation paths at all.
                let site = try await IntegrationTests.Trust.enroll(site: "fwd-intruder", bed: bed, coordinator: c1)
                let asSite = try await MeshClient.request(
                    configuration: client(chain: site.certificatePEM, key: site.keyPEM), path: "/estuary.v1/mesh/deliver",
                    body: update(from: "c2", state: "failed"))
                #expect(asSite.status == 403, "\(asSite)")

                // A coordinator of the mesh CA that is not c2 may not speak in c2's name, nor move
                // a job that c1 forwarded to c2.
                let authority = try CertificateAuthority(
                    certificatePEM: ca, privateKeyPEM: try String(contentsOfFile: "\(c1.dataDirectory)/tls/ca.key", encoding: .utf8))
                let key = CredentialKey.generate()
                let rogue = try authority.issue(
                    csrPEM: try key.makeCSRPEM(commonName: "c9"), identity: try #require(PeerIdentity(role: .coordinator, id: "c9")),
                    validFor: .seconds(3600))
                let asRogue = client(chain: rogue.certificatePEM, key: key.pem)
                let impersonating = try await MeshClient.request(
                    configuration: asRogue, path: "/estuary.v1/mesh/deliver", body: update(from: "c2", state: "failed"))
                #expect(impersonating.status == 403, "\(impersonating)")
                let foreign = try await MeshClient.request(
                    configuration: asRogue, path: "/estuary.v1/mesh/deliver", body: update(from: "c9", state: "failed"))
                #expect(foreign.status == 200, "the delivery is acknowledged (and ignored): \(foreign)")
                let malformed = try await MeshClient.request(
                    configuration: asRogue, path: "/estuary.v1/mesh/deliver", body: Array("{\"from\":".utf8))
                #expect(malformed.status == 400, "\(malformed)")

                let job = try await c1.api.forwardingJob(id)
                #expect(job.view.state == .running, "the forged update changed nothing")
                let copies = try await c2.api.copies(of: id)
                #expect(copies.count == 1 && copies[0].view.state == .running)
                _ = try await c1.api.request(.post, "/v1/jobs/\(id.rawValue)/cancel", body: Data("{}".utf8))
                try await c1.api.waitForJob(id, toBe: .cancelled, timeout: .seconds(30))
            }
        }

        @Test("a forwarded job cancelled at its origin ends cancelled there and at the peer", .timeLimit(.minutes(2)))
        func cancelAtOriginReachesThePeer() async throws {
            try await TestBed.run { bed in
                let (c1, c2) = try await Self.startForwardingMesh(bed)
                let submitted = try await Self.submit(
                    Self.spec(name: "fwd-sleep", script: "sleep 300", walltimeSeconds: 600), key: "fwd-sleep-0001", to: c1)
                let id = submitted.job.id

                try await c1.api.waitForJob(id, toBe: .running, timeout: .seconds(60))
                let reply = try await c1.api.request(
                    .post, "/v1/jobs/\(id.rawValue)/cancel",
                    body: try JSONEncoder().encode(["reason": "forwarding test cancels at the origin"]))
                #expect(reply.status == 200, "\(reply.text)")

                let cancelled = try await c1.api.waitForJob(id, toBe: .cancelled, timeout: .seconds(30))
                #expect(cancelled.cancelRequested)
                let copy = try await waitFor("c2's copy of \(id) to be cancelled", timeout: .seconds(30)) { () -> ForwardingJob? in
                    let copies = try await c2.api.copies(of: id)
                    guard copies.count == 1, let copy = copies.first else { throw Progress("\(copies.count) copies at c2") }
                    if copy.view.state == .cancelled { return copy }
                    if copy.view.state.isTerminal { throw Fatal(UnexpectedJobOutcome(jobs: [copy.view], expected: .cancelled)) }
                    throw Progress("c2's copy \(copy.view.id) is \(copy.view.state)")
                }
                #expect(copy.fields.origin?.coordinator == "c1")
            }
        }

        @Test("the runner and then the home coordinator killed -9 and restarted mid-job: each forwarded job runs once and is charged once",
              .timeLimit(.minutes(4)))
        func forwardingSurvivesCoordinatorKills() async throws {
            try await TestBed.run { bed in
                // Fixed ports, so that a restart is the same coordinator to its peer and its agent.
                var options = [CoordinatorOptions(), CoordinatorOptions()]
                for index in options.indices {
                    options[index].tls = true
                    options[index].meshPort = try freeLoopbackPort()
                    options[index].apiPort = try freeLoopbackPort()
                }
                let caDirectory = try bed.directory("c1")
                for index in options.indices {
                    // Each names the other as a seed: whichever restarts finds the mesh again.
                    let other = options[1 - index]
                    options[index].extraArguments = [
                        "--coordinator-id", "c\(index + 1)", "--region", "r\(index + 1)",
                        "--platform-fee-bp", String(Self.platformFeeBP), "--gossip-seed", "127.0.0.1:\(other.meshPort)",
                    ]
                }
                options[1].extraArguments += ["--ca-cert", "\(caDirectory)/tls/ca.pem", "--ca-key", "\(caDirectory)/tls/ca.key"]
                var c1 = try await bed.startCoordinator(dataDirectory: "c1", options: options[0])
                var c2 = try await bed.startCoordinator(dataDirectory: "c2", options: options[1])
                let members = [MeshMember(id: "c1", region: "r1", process: c1), MeshMember(id: "c2", region: "r2", process: c2)]
                try await bed.waitForMembers(members, toSee: ["c1", "c2"], as: "alive")
                let agent = try await bed.startAgent(Self.site, coordinator: c2)
                try await Self.fund(c1)
                try await Self.waitForRemoteSite(at: c1)

                let marker = bed.path("forwarded/starts")
                var ids: [JobID] = []
                for index in 0..<3 {
                    let spec = Self.spec(
                        name: "fwd-crash-\(index)", script: "echo fwd-crash-\(index) >> '\(marker)'; sleep 6", walltimeSeconds: 60)
                    ids.append(try await Self.submit(spec, key: "fwd-crash-\(index)", to: c1).job.id)
                }
                _ = try await c1.api.waitForJobs(ids, toBe: .running, timeout: .seconds(60))

                // The runner dies while its site runs the jobs; the agent keeps them running.
                try await c2.process.killHard()
                c2 = try await bed.startCoordinator(dataDirectory: "c2", options: options[1])
                try await bed.waitForConnected(agent, coordinator: c2, timeout: .seconds(30))
                // Then home dies, and stays down while the jobs finish: the runner's reports and
                // usage wait in its outbox for home to return.
                try await c1.process.killHard()
                let runner = c2
                try await waitUntil("the runner's copies to finish while home is down", timeout: .seconds(60)) {
                    let copies = try await runner.api.allJobs()
                    return copies.count == 3 && copies.allSatisfy { $0.state == .succeeded }
                }
                c1 = try await bed.startCoordinator(dataDirectory: "c1", options: options[0])

                let finished = try await c1.api.waitForJobs(ids, toBe: .succeeded, timeout: .seconds(90))
                #expect(finished.allSatisfy { $0.siteID?.rawValue == Self.site.id && $0.attempt == 1 })
                let starts = Self.lines(of: marker)
                #expect(starts.sorted() == ["fwd-crash-0", "fwd-crash-1", "fwd-crash-2"], "each job started once: \(starts)")

                var gross: Fen = 0
                var owed: Fen = 0
                for id in ids {
                    let metered = try await Self.meteredUsage(of: id, at: c1)
                    #expect(metered.count == 1, "one usage record for \(id) at c1")
                    let charge = try #require(metered.first?.charge, "\(id)'s usage is rated at c1")
                    gross += charge.grossFen
                    owed += charge.grossFen - charge.feeFen
                }
                let wallet: TenantView = try await c1.api.get("/v1/tenants/\(Self.tenant.rawValue)")
                #expect(wallet.balanceFen == Self.topUp - gross, "the wallet paid each job once")
                #expect(wallet.heldFen == 0)
                let period = try BillingPeriod.containing(ms: Int64(Date().timeIntervalSince1970 * 1000), utcOffsetMinutes: 480)
                for (coordinator, name, peer, net) in [(c1, "c1", "c2", owed), (c2, "c2", "c1", -owed)] {
                    try await waitUntil("\(name)'s net with \(peer) to be \(net) fen over 3 transfers", timeout: .seconds(30)) {
                        let line = try await Self.peerLine(peer, at: coordinator, named: name, period: period)
                        return line.transfers == 3 && line.netFen == net
                    }
                }
            }
        }

        // MARK: - Set-up and reads

        /// c1 and c2 in one TLS mesh, each seeing the other alive; the priced site enrolled at c2
        /// only; the tenant registered and funded at c1 only; and c1 knowing of c2's site through
        /// gossip, which is what forwarding decides on.
        static func startForwardingMesh(_ bed: TestBed) async throws -> (c1: CoordinatorProcess, c2: CoordinatorProcess) {
            let mesh = try await bed.startCoordinatorMesh(count: 2, extraArguments: ["--platform-fee-bp", String(platformFeeBP)])
            try await bed.waitForMembers(mesh, toSee: ["c1", "c2"], as: "alive")
            let (c1, c2) = (mesh[0].process, mesh[1].process)
            _ = try await bed.startAgent(site, coordinator: c2)
            #expect(try await c1.api.sites().isEmpty, "c1 has no site of its own")

            try await fund(c1)
            try await waitForRemoteSite(at: c1)
            return (c1, c2)
        }

        /// Registers the tenant at `home` only, with `topUp` in its wallet.
        static func fund(_ home: CoordinatorProcess) async throws {
            let _: TenantView = try await home.api.send(
                "/v1/tenants", TenantRequest(tenant: tenant, organisation: "acme-ai", creditLimitFen: 0), expect: 201)
            let funded: TenantView = try await home.api.send(
                "/v1/tenants/\(tenant.rawValue)/top-up", TopUpRequest(amountFen: topUp, reference: "fwd-pay-0001"))
            #expect(funded.balanceFen == topUp)
        }

        /// Waits until `home` knows the site at c2 through gossip, which is what forwarding decides on.
        static func waitForRemoteSite(at home: CoordinatorProcess) async throws {
            _ = try await waitFor("c1 to hear of \(site.id) at c2 with its units", timeout: .seconds(30)) {
                () -> MeshSiteCapacityView? in
                let view = try await home.api.get("/v1/mesh/capacity", as: MeshCapacityView.self)
                return view.sites.first {
                    $0.site == site.id && $0.origin == "c2" && $0.reachable && $0.totalUnits[site.acceleratorClass] == site.count
                }
            }
        }

        /// A one-unit job of acme on the site's class.
        static func spec(name: String, script: String, walltimeSeconds: Int) -> JobSpec {
            JobSpec(
                name: name, tenant: tenant, command: ["/bin/sh", "-c", script],
                resources: ResourceRequest(acceleratorClass: AcceleratorClass(rawValue: site.acceleratorClass)),
                walltimeSeconds: walltimeSeconds)
        }

        /// `POST /v1/jobs` with an `Idempotency-Key`, as `estuaryctl job submit --idempotency-key` sends it.
        static func submit(_ spec: JobSpec, key: String, to coordinator: CoordinatorProcess, expect: Int = 201) async throws -> SubmitView {
            let reply = try await coordinator.api.request(
                .post, "/v1/jobs", body: try JSONEncoder().encode(spec), headers: [("Idempotency-Key", key)])
            guard reply.status == expect else {
                throw APIClient.UnexpectedStatus(method: "POST", path: "/v1/jobs", status: reply.status, body: reply.text)
            }
            return try JSONDecoder().decode(SubmitView.self, from: reply.body)
        }

        /// The job's usage at `coordinator` once every record of it is rated (or said to be unrated).
        static func meteredUsage(of id: JobID, at coordinator: CoordinatorProcess) async throws -> [MeteredUsage] {
            try await waitFor("\(id)'s usage to be rated", timeout: .seconds(20)) { () -> [MeteredUsage]? in
                let view: MeteredUsageView = try await coordinator.api.get("/v1/usage?job=\(id.rawValue)")
                let metered = view.metered ?? []
                guard !metered.isEmpty, metered.allSatisfy({ $0.charge != nil || $0.unrated != nil }) else {
                    throw Progress("\(metered.count) records, \(metered.filter { $0.charge != nil }.count) rated")
                }
                return metered
            }
        }

        /// The line for `peer` in the open period's provisional settlement (`GET
        /// /v1/settlements/{period}`), once it records a transfer: the transfer reaches c2 after
        /// the job has ended, asynchronously.
        fileprivate static func peerLine(
            _ peer: String, at coordinator: CoordinatorProcess, named name: String, period: BillingPeriod
        ) async throws -> PeerSettlementLine {
            try await waitFor("\(name)'s settlement of \(period) to record a transfer with \(peer)", timeout: .seconds(30)) {
                () -> PeerSettlementLine? in
                let reply = try await coordinator.api.request(.get, "/v1/settlements/\(period)")
                guard reply.status == 200 else { throw Progress("HTTP \(reply.status): \(reply.text)") }
                let peers = try JSONDecoder().decode(PeerSettlementFields.self, from: reply.body).peers
                guard let line = peers?.first(where: { $0.peer == peer }), line.transfers > 0 else {
                    throw Progress("peers: \(peers.map { "\($0)" } ?? "absent")")
                }
                return line
            }
        }

        /// The marker file's lines (none if it does not exist yet).
        static func lines(of path: String) -> [String] {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").map(String.init)
        }
    }
}

// MARK: - Fields forwarding adds, read from the raw JSON

/// Where a forwarded job came from, on the peer's local copy (`origin`).
private struct ForwardingOrigin: Decodable, Equatable, CustomStringConvertible {
    var coordinator: String
    var job: String
    var attempt: Int

    var description: String { "\(coordinator)/\(job)#\(attempt)" }
}

/// A job's forwarding fields: `forwarded_to` at the origin, `origin` at the peer.
private struct ForwardingFields: Decodable {
    var forwardedTo: String?
    var origin: ForwardingOrigin?

    enum CodingKeys: String, CodingKey {
        case forwardedTo = "forwarded_to"
        case origin
    }
}

/// One job as `GET /v1/jobs/{id}` returns it, decoded twice: the model's view and the new fields.
private struct ForwardingJob {
    var view: JobView
    var fields: ForwardingFields
}

/// One peer coordinator's line in a settlement report: transfers in the period and what this
/// coordinator owes it (positive) or is owed by it (negative).
private struct PeerSettlementLine: Decodable, CustomStringConvertible {
    var peer: String
    var transfers: Int
    var netFen: Fen

    enum CodingKeys: String, CodingKey {
        case peer, transfers
        case netFen = "net_fen"
    }

    var description: String { "\(peer): \(transfers) transfers, net \(netFen) fen" }
}

/// The `peers` array of a `SettlementView`'s report.
private struct PeerSettlementFields: Decodable {
    struct Report: Decodable {
        var peers: [PeerSettlementLine]?
    }

    var report: Report
    var peers: [PeerSettlementLine]? { report.peers }
}

extension APIClient {
    /// `GET /v1/jobs/{id}` with the forwarding fields.
    fileprivate func forwardingJob(_ id: JobID) async throws -> ForwardingJob {
        let reply = try await request(.get, "/v1/jobs/\(id.rawValue)")
        guard reply.status == 200 else {
            throw UnexpectedStatus(method: "GET", path: "/v1/jobs/\(id.rawValue)", status: reply.status, body: reply.text)
        }
        let decoder = JSONDecoder()
        return ForwardingJob(
            view: try decoder.decode(JobView.self, from: reply.body), fields: try decoder.decode(ForwardingFields.self, from: reply.body))
    }

    /// This coordinator's local copies of job `id` of another coordinator: its jobs whose
    /// `origin.job` is `id`. Lists omit per-job detail, so each job is read on its own.
    fileprivate func copies(of id: JobID) async throws -> [ForwardingJob] {
        var copies: [ForwardingJob] = []
        for job in try await allJobs() {
            let full = try await forwardingJob(job.id)
            if full.fields.origin?.job == id.rawValue { copies.append(full) }
        }
        return copies
    }
}
