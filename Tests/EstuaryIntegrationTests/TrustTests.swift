import EstuaryModel
import EstuaryTransport
import EstuaryTrust
import EstuaryWire
import Foundation
import Testing

/// Issue #3: the CA, enrollment, mutual TLS, peers that speak only for themselves, tokens and
/// roles, against real processes over real TLS.
extension IntegrationTests {
    @Suite("Trust")
    struct Trust {
        static var tls: CoordinatorOptions {
            var options = CoordinatorOptions()
            options.tls = true
            return options
        }

        @Test("a TLS mesh enrolls its agents and runs a job end to end; keys and tokens are 0600", .timeLimit(.minutes(2)))
        func tlsMeshEndToEnd() async throws {
            try await TestBed.run { bed in
                let (coordinator, agents) = try await bed.startMesh(options: Self.tls)
                let file = try bed.write(TestJob(name: "tls-hello", script: "echo hello over mTLS", acceleratorClass: TestSite.ascend.acceleratorClass))
                let submit = try await bed.estuaryctl(["job", "submit", file, "--wait"], coordinator: coordinator)
                #expect(submit.status == 0, "\(submit)")
                let id = JobID(rawValue: submit.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                #expect(try await coordinator.api.job(id).state == .succeeded)
                #expect(try await coordinator.api.usage(job: id).count == 1)

                for agent in agents {
                    #expect(try Self.mode(of: "\(agent.dataDirectory)/tls/site.pem") == 0o600)
                }
                #expect(try Self.mode(of: "\(coordinator.dataDirectory)/tls/ca.key") == 0o600)
                #expect(try Self.mode(of: coordinator.adminTokenPath) == 0o600)
                // Plain HTTP to the API port of a TLS coordinator gets nowhere.
                let plain = APIClient(baseURL: "http://127.0.0.1:\(coordinator.apiPort)", token: coordinator.adminToken)
                #expect(await plain.isReady() == false)
            }
        }

        @Test("openssl s_client: no certificate, TLS 1.2, another CA, an expired and a revoked certificate are refused",
              .enabled(if: OpenSSLClient.isAvailable), .timeLimit(.minutes(2)))
        func handshakeRefusals() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator(options: Self.tls)
                let port = coordinator.meshPort
                let ca = coordinator.caPath
                let authority = try #require(try CertificateAuthority.load(directory: "\(coordinator.dataDirectory)/tls"))

                // A certificate enrolled the normal way works, and is the one revoked below.
                let enrolled = try await Self.enroll(site: "probe-revoked", bed: bed, coordinator: coordinator)
                let good = try Self.writePair(enrolled.keyPEM, enrolled.certificatePEM, named: "good", bed: bed)
                let accepted = try await OpenSSLClient.connect(port: port, caFile: ca, certificate: good.cert, key: good.key)
                #expect(accepted.established, "\(accepted)")

                let noCertificate = try await OpenSSLClient.connect(port: port, caFile: ca)
                #expect(!noCertificate.established, "\(noCertificate)")

                let tls12 = try await OpenSSLClient.connect(port: port, caFile: ca, certificate: good.cert, key: good.key, tls12: true)
                #expect(!tls12.established, "\(tls12)")

                let stranger = try CertificateAuthority.create(name: "some other CA")
                let strangerKey = CredentialKey.generate()
                let strangerCert = try stranger.issue(
                    csrPEM: try strangerKey.makeCSRPEM(commonName: "probe-other"), identity: try #require(PeerIdentity(role: .site, id: "probe-other")),
                    validFor: .seconds(3600))
                let other = try Self.writePair(strangerKey.pem, strangerCert.certificatePEM, named: "other-ca", bed: bed)
                let otherCA = try await OpenSSLClient.connect(port: port, caFile: ca, certificate: other.cert, key: other.key)
                #expect(!otherCA.established, "\(otherCA)")

                let expiredKey = CredentialKey.generate()
                let expiredCert = try authority.issue(
                    csrPEM: try expiredKey.makeCSRPEM(commonName: "probe-expired"), identity: try #require(PeerIdentity(role: .site, id: "probe-expired")),
                    validFor: .seconds(3600), now: Date().addingTimeInterval(-3 * 86_400))
                let expired = try Self.writePair(expiredKey.pem, expiredCert.certificatePEM, named: "expired", bed: bed)
                let expiredResult = try await OpenSSLClient.connect(port: port, caFile: ca, certificate: expired.cert, key: expired.key)
                #expect(!expiredResult.established, "\(expiredResult)")

                let revoke = try await bed.estuaryctl(["site", "revoke", "probe-revoked"], coordinator: coordinator)
                #expect(revoke.status == 0, "\(revoke)")
                let revoked = try await OpenSSLClient.connect(port: port, caFile: ca, certificate: good.cert, key: good.key)
                #expect(!revoked.established, "\(revoked)")
            }
        }

        @Test("a site's certificate cannot speak for another site: sessions, job updates and usage are refused and counted",
              .timeLimit(.minutes(2)))
        func peerSpeaksOnlyForItself() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator(options: Self.tls)
                _ = try await bed.startAgent(.cpu, coordinator: coordinator)
                let file = try bed.write(TestJob(name: "victim", script: "echo victim", acceleratorClass: TestSite.cpu.acceleratorClass))
                let submit = try await bed.estuaryctl(["job", "submit", file, "--wait"], coordinator: coordinator)
                #expect(submit.status == 0, "\(submit)")
                let victim = JobID(rawValue: submit.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                let before = try await coordinator.api.usage(job: victim)
                #expect(before.count == 1)

                let mallory = try await Self.enroll(site: "mallory", bed: bed, coordinator: coordinator)
                let tls = MeshClientTLS(
                    trustedCAPEM: try String(contentsOfFile: coordinator.caPath, encoding: .utf8),
                    certificateChainPEM: mallory.certificatePEM, privateKeyPEM: mallory.keyPEM, requiredServerRole: .coordinator,
                    serverName: nil)

                // Claiming the victim's site in the header: refused before the stream starts.
                await #expect {
                    _ = try await HostileSession.run(meshPort: coordinator.meshPort, site: TestSite.cpu.id, tls: tls) { _, writer, _ in
                        try await writer.send(HostileSession.hello(site: TestSite.cpu.id))
                    }
                } throws: { error in
                    if case TransportError.refused(let status, _, _) = error { return status == 403 }
                    return false
                }

                // Its own header, the victim's site in Hello: UNAUTHORIZED.
                let lying = try await HostileSession.run(meshPort: coordinator.meshPort, site: "mallory", tls: tls) { _, writer, _ in
                    try await writer.send(HostileSession.hello(site: TestSite.cpu.id))
                }
                #expect(lying.firstError?.code == .unauthorized, "\(lying.received)")

                // As itself, reporting on the victim's job: a false completion and usage. Both refused.
                let forged = try await HostileSession.run(meshPort: coordinator.meshPort, site: "mallory", tls: tls, timeout: .seconds(5)) {
                    reader, writer, outcome in
                    try await writer.send(HostileSession.hello(site: "mallory"))
                    if let welcome = try await reader.next() { outcome.received.append(welcome) }
                    try await writer.send(Estuary_V1_Envelope(seq: 1, body: .jobUpdate(.with {
                        $0.jobID = victim.rawValue
                        $0.attempt = 1
                        $0.state = .failed
                        $0.exitCode = 1
                        $0.hasExitCode_p = true
                    })))
                    try await writer.send(Estuary_V1_Envelope(seq: 2, body: .usage(.with {
                        $0.records = [.with {
                            $0.recordID = UsageRecordID.forJob(victim, attempt: 1).rawValue
                            $0.jobID = victim.rawValue
                            $0.acceleratorClass = TestSite.cpu.acceleratorClass
                            $0.units = 1
                            $0.startedAtMs = 1
                            $0.endedAtMs = 3_600_000
                        }]
                    })))
                    // Wait for the ack of both, so the coordinator has applied (and refused) them,
                    // then leave politely so that the stream ends.
                    while let envelope = try await reader.next() {
                        outcome.received.append(envelope)
                        if envelope.ack >= 2 { break }
                    }
                    try await writer.send(Estuary_V1_Envelope(body: .drain(.with { $0.reason = "done" })))
                }
                #expect(forged.gotWelcome, "\(forged.received)")
                #expect(try await coordinator.api.job(victim).state == .succeeded)
                let after = try await coordinator.api.usage(job: victim)
                #expect(after.count == 1 && after.first?.siteID.rawValue == TestSite.cpu.id, "\(after)")
                let sites = try await coordinator.api.sites()
                let refused = sites.first { $0.site.id.rawValue == "mallory" }?.refusedMessages
                #expect(refused == 2, "\(sites)")
            }
        }

        @Test("join tokens: reused, expired and forged tokens fail; two agents racing with one token: exactly one wins",
              .timeLimit(.minutes(2)))
        func joinTokens() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator(options: Self.tls)
                let anonymous = coordinator.api(token: nil)

                let token = try await bed.addSite("racer", coordinator: coordinator)
                let attempts = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<2 {
                        group.addTask { try await Self.enrollRequest(token: token, site: "racer", api: anonymous).status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(attempts.sorted() == [201, 401], "\(attempts)")

                let reused = try await Self.enrollRequest(token: token, site: "racer", api: anonymous)
                #expect(reused.status == 401 && reused.text.contains("token_used"), "\(reused.text)")

                let parsed = try #require(SecretToken.parse(token, as: .join))
                let forgedText = "estj_\(parsed.id)_\(String(repeating: "b", count: 32))"
                let forged = try await Self.enrollRequest(token: forgedText, site: "racer", api: anonymous)
                #expect(forged.status == 401 && forged.text.contains("token_invalid"), "\(forged.text)")

                let garbage = try await Self.enrollRequest(token: "not a token", site: "racer", api: anonymous)
                #expect(garbage.status == 401, "\(garbage.text)")

                let added = try await bed.estuaryctl(["site", "add", "late", "--org", "test-org", "--ttl", "1s", "--json"], coordinator: coordinator)
                #expect(added.status == 0, "\(added)")
                struct Added: Decodable { var join_token: String }
                let short = try JSONDecoder().decode(Added.self, from: Data(added.stdout.utf8)).join_token
                try await Task.sleep(for: .milliseconds(2200))
                let expired = try await Self.enrollRequest(token: short, site: "late", api: anonymous)
                #expect(expired.status == 401 && expired.text.contains("token_expired"), "\(expired.text)")

                let audit = try await bed.estuaryctl(["audit", "--action", "site.enroll", "--json"], coordinator: coordinator)
                #expect(audit.status == 0, "\(audit)")
                #expect(audit.stdout.contains("\"ok\""), "\(audit.stdout)")
            }
        }

        @Test("an agent renews its certificate before expiry without dropping its job; revoking the site cuts it off",
              .timeLimit(.minutes(3)))
        func renewalAndRevocation() async throws {
            try await TestBed.run { bed in
                var options = Self.tls
                options.certValidity = "30s"
                let coordinator = try await bed.startCoordinator(options: options)
                let agent = try await bed.startAgent(.gpu, coordinator: coordinator)
                let firstSerial = try Self.serial(agentDirectory: agent.dataDirectory)

                let file = try bed.write(TestJob(name: "long", script: "sleep 28; echo survived", acceleratorClass: TestSite.gpu.acceleratorClass))
                let submit = try await bed.estuaryctl(["job", "submit", file], coordinator: coordinator)
                #expect(submit.status == 0, "\(submit)")
                let id = JobID(rawValue: submit.stdout.trimmingCharacters(in: .whitespacesAndNewlines))

                try await waitUntil("the agent to renew its certificate", timeout: .seconds(40)) {
                    try Self.serial(agentDirectory: agent.dataDirectory) != firstSerial
                }
                try await waitUntil("the job to succeed across the renewal", timeout: .seconds(60)) {
                    let state = try await coordinator.api.job(id).state
                    if state.isTerminal && state != .succeeded { throw UnexpectedState(state: state) }
                    return state == .succeeded
                }
                try await bed.waitForConnected(agent, coordinator: coordinator)
                // Once per two thirds of the lifetime, not in a loop.
                let renewals = try await bed.estuaryctl(["audit", "--action", "site.renew", "--json"], coordinator: coordinator)
                let count = renewals.stdout.components(separatedBy: "\"site.renew\"").count - 1
                #expect((1...3).contains(count), "\(count) renewals in about 40 s of a 30 s certificate: \(renewals.stdout)")

                let revoke = try await bed.estuaryctl(["site", "revoke", TestSite.gpu.id], coordinator: coordinator)
                #expect(revoke.status == 0, "\(revoke)")
                try await waitUntil("the revoked site to be cut off", timeout: .seconds(10)) {
                    let sites = try await coordinator.api.sites()
                    return sites.first { $0.site.id.rawValue == TestSite.gpu.id }?.state != .connected
                }
                // It keeps trying, and keeps being refused.
                try await Task.sleep(for: .seconds(4))
                let sites = try await coordinator.api.sites()
                #expect(sites.first { $0.site.id.rawValue == TestSite.gpu.id }?.state != .connected)
                let audit = try await bed.estuaryctl(["audit", "--action", "site.revoke", "--json"], coordinator: coordinator)
                #expect(audit.stdout.contains(TestSite.gpu.id), "\(audit)")
            }
        }

        @Test("tenants and site operators see only their own; every refusal is audited", .timeLimit(.minutes(2)))
        func rolesAreEnforced() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator(options: Self.tls)
                _ = try await bed.startAgent(.cpu, coordinator: coordinator)

                func token(_ arguments: [String]) async throws -> String {
                    let created = try await bed.estuaryctl(["token", "create"] + arguments, coordinator: coordinator)
                    #expect(created.status == 0, "\(created)")
                    let text = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    let name = arguments[arguments.firstIndex(of: "--name")! + 1]
                    return try bed.write(text + "\n", to: "tokens/\(name)")
                }
                let alice = try await token(["--role", "tenant", "--subject", "tenant-a", "--name", "alice"])
                let bob = try await token(["--role", "tenant", "--subject", "tenant-b", "--name", "bob"])
                let operatorOther = try await token(["--role", "site-operator", "--subject", TestSite.gpu.id, "--name", "gpu-operator"])
                func asUser(_ file: String, _ arguments: [String]) async throws -> CommandResult {
                    try await bed.estuaryctl(arguments, coordinator: coordinator, environment: ["ESTUARY_TOKEN_FILE": file])
                }

                var job = TestJob(name: "alices-job", script: "echo alice", acceleratorClass: TestSite.cpu.acceleratorClass)
                job.tenant = "tenant-a"
                let submitted = try await asUser(alice, ["job", "submit", try bed.write(job), "--wait"])
                #expect(submitted.status == 0, "\(submitted)")
                let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

                // Bob may not pose as tenant-a, nor read, cancel or bill-query Alice's job.
                let posing = try await asUser(bob, ["job", "submit", try bed.write(job)])
                #expect(posing.status != 0, "\(posing)")
                for arguments in [["job", "status", id], ["job", "cancel", id], ["job", "logs", id], ["usage", "--job", id]] {
                    let result = try await asUser(bob, arguments)
                    #expect(result.status != 0, "\(result)")
                }
                let bobsList = try await asUser(bob, ["job", "list", "--json"])
                #expect(bobsList.status == 0 && !bobsList.stdout.contains(id), "\(bobsList)")
                let alicesView = try await asUser(alice, ["job", "status", id])
                #expect(alicesView.status == 0, "\(alicesView)")

                // The operator of another site sees neither this site nor its jobs.
                let operatorSites = try await asUser(operatorOther, ["site", "list", "--json"])
                #expect(operatorSites.status == 0 && !operatorSites.stdout.contains(TestSite.cpu.id), "\(operatorSites)")
                let operatorJob = try await asUser(operatorOther, ["job", "status", id])
                #expect(operatorJob.status != 0, "\(operatorJob)")
                let operatorAdd = try await asUser(operatorOther, ["site", "add", "sneaky", "--org", "x"])
                #expect(operatorAdd.status != 0, "\(operatorAdd)")

                let audit = try await bed.estuaryctl(["audit", "--action", "auth.denied", "--limit", "100", "--json"], coordinator: coordinator)
                #expect(audit.status == 0, "\(audit)")
                let denials = audit.stdout.components(separatedBy: "\"auth.denied\"").count - 1
                #expect(denials >= 7, "expected every refusal audited: \(audit.stdout)")
            }
        }

        // MARK: helpers

        struct UnexpectedState: Error { var state: JobState }

        struct Enrolled {
            var keyPEM: String
            var certificatePEM: String
        }

        static func enrollRequest(token: String, site: String, api: APIClient) async throws -> APIClient.Reply {
            let key = CredentialKey.generate()
            let body = try JSONSerialization.data(withJSONObject: ["token": token, "csr": try key.makeCSRPEM(commonName: site)])
            return try await api.request(.post, "/v1/enroll", body: body)
        }

        /// Adds `site` and enrolls a fresh key for it through the API, as an agent would.
        static func enroll(site: String, bed: TestBed, coordinator: CoordinatorProcess) async throws -> Enrolled {
            let token = try await bed.addSite(site, coordinator: coordinator)
            let key = CredentialKey.generate()
            let body = try JSONSerialization.data(withJSONObject: ["token": token, "csr": try key.makeCSRPEM(commonName: site)])
            let reply = try await coordinator.api(token: nil).request(.post, "/v1/enroll", body: body)
            guard reply.status == 201 else {
                throw APIClient.UnexpectedStatus(method: "POST", path: "/v1/enroll", status: reply.status, body: reply.text)
            }
            struct Answer: Decodable { var certificate: String }
            let answer = try JSONDecoder().decode(Answer.self, from: reply.body)
            return Enrolled(keyPEM: key.pem, certificatePEM: answer.certificate)
        }

        static func writePair(_ key: String, _ certificate: String, named name: String, bed: TestBed) throws -> (cert: String, key: String) {
            (try bed.write(certificate, to: "pki/\(name).pem"), try bed.write(key, to: "pki/\(name).key"))
        }

        static func mode(of path: String) throws -> Int {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            return (attributes[.posixPermissions] as? Int ?? -1) & 0o777
        }

        static func serial(agentDirectory: String) throws -> String {
            let text = try String(contentsOfFile: "\(agentDirectory)/tls/site.pem", encoding: .utf8)
            let start = try #require(text.range(of: "-----BEGIN CERTIFICATE-----"))
            return try PeerCertificate(pem: String(text[start.lowerBound...])).serial
        }
    }
}
