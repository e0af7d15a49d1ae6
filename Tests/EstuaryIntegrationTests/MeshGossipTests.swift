import EstuaryModel
import EstuaryTransport
import Foundation
import Testing

/// Issue #7: coordinators gossip over their mesh ports (mutual TLS, coordinator certificates),
/// as real processes on loopback.
extension IntegrationTests {
    @Suite("Coordinator mesh")
    struct CoordinatorMesh {
        /// Generous for five members with the default settings: a probe round (1 s), the
        /// suspicion timeout with few confirmations (at most β × α × probe interval = 24 s) and
        /// dissemination.
        static let detectionBound: Duration = .seconds(40)

        @Test("five coordinators join through one seed; kill -9 of one is seen by all others; a graceful leave is announced",
              .timeLimit(.minutes(3)))
        func fiveCoordinators() async throws {
            try await TestBed.run { bed in
                let mesh = try await bed.startCoordinatorMesh(count: 5)
                try await bed.waitForMembers(mesh, toSee: Set(mesh.map(\.id)), as: "alive")

                // The members table from the CLI, as an operator reads it.
                let listed = try await bed.estuaryctl(["mesh", "members"], coordinator: mesh[0].process)
                #expect(listed.status == 0, "\(listed)")
                for member in mesh { #expect(listed.stdout.contains(member.id), "\(listed)") }
                #expect(listed.stdout.contains("alive"))
                let json = try await mesh[2].process.api.get("/v1/mesh/members", as: MeshMembersView.self)
                #expect(json.members.count == 5)
                #expect(json.members.filter { $0.isSelf }.map(\.id) == ["c3"])
                // Every other member has been probed, so it has a measured round-trip time.
                try await waitUntil("c3 to have measured an RTT to every other member", timeout: .seconds(20)) {
                    let view = try await mesh[2].process.api.get("/v1/mesh/members", as: MeshMembersView.self)
                    return view.members.allSatisfy { $0.isSelf || ($0.rttMs ?? -1) >= 0 }
                }
                // The scheduler's latency between c3's region and every other one is measured
                // now; pairs of other regions come from network coordinates.
                try await waitUntil("c3 to use measured latency to r1, r2, r4, r5 and estimates elsewhere", timeout: .seconds(20)) {
                    let view = try await mesh[2].process.api.get("/v1/mesh/members", as: MeshMembersView.self)
                    let measured = view.latency.filter { $0.source == "measured" }
                    let estimated = view.latency.filter { $0.source == "estimated" }
                    return measured.count == 4 && measured.allSatisfy { $0.from == "r3" || $0.to == "r3" }
                        && estimated.count == 6 && view.latency.allSatisfy { $0.ms >= 1 }
                }

                // A crash: every other member declares c5 dead.
                try await mesh[4].process.process.killHard()
                let crashedAt = ContinuousClock.now
                try await bed.waitForMembers(Array(mesh[0..<4]), toSee: ["c5"], as: "dead", timeout: Self.detectionBound)
                let detection = ContinuousClock.now - crashedAt
                print("kill -9 of c5 seen as dead by all four others after \(detection)")

                // A graceful leave: SIGTERM, the coordinator announces it, and exits 0.
                try await mesh[3].process.process.stop()
                #expect(mesh[3].process.process.terminationStatus == 0)
                try await bed.waitForMembers(Array(mesh[0..<3]), toSee: ["c4"], as: "left", timeout: .seconds(10))
            }
        }

        @Test("a site's capacity at one coordinator reaches every coordinator; estuaryctl capacity --mesh lists it",
              .timeLimit(.minutes(3)))
        func capacitySpreads() async throws {
            try await TestBed.run { bed in
                let mesh = try await bed.startCoordinatorMesh(count: 3)
                try await bed.waitForMembers(mesh, toSee: Set(mesh.map(\.id)), as: "alive")
                let site = TestSite.ascend
                _ = try await bed.startAgent(site, coordinator: mesh[1].process)

                for member in mesh {
                    let seen = try await waitFor("\(member.id) to hear of \(site.id) with its units", timeout: .seconds(20)) {
                        () -> MeshSiteCapacityView? in
                        let view = try await member.process.api.get("/v1/mesh/capacity", as: MeshCapacityView.self)
                        return view.sites.first { $0.site == site.id && $0.totalUnits[site.acceleratorClass] == site.count }
                    }
                    #expect(seen.origin == "c2")
                    #expect(seen.reachable)
                    #expect(seen.freeUnits[site.acceleratorClass] == site.count)
                }
                let listed = try await bed.estuaryctl(["capacity", "--mesh"], coordinator: mesh[2].process)
                #expect(listed.status == 0, "\(listed)")
                #expect(listed.stdout.contains(site.id) && listed.stdout.contains("c2"), "\(listed)")
            }
        }

        @Test("only a coordinator certificate may gossip; a coordinator without --region has no mesh",
              .timeLimit(.minutes(2)))
        func gossipNeedsCoordinatorCertificate() async throws {
            try await TestBed.run { bed in
                let mesh = try await bed.startCoordinatorMesh(count: 1)
                let coordinator = mesh[0].process
                // A site's certificate, from a real enrollment, is refused on the gossip path.
                let enrolled = try await IntegrationTests.Trust.enroll(site: "gossip-intruder", bed: bed, coordinator: coordinator)
                var client = MeshClientConfiguration(host: "127.0.0.1", port: coordinator.meshPort)
                client.tls = MeshClientTLS(
                    trustedCAPEM: try String(contentsOfFile: coordinator.caPath, encoding: .utf8),
                    certificateChainPEM: enrolled.certificatePEM, privateKeyPEM: enrolled.keyPEM)
                let refused = try await MeshClient.request(
                    configuration: client, path: "/estuary.v1/gossip", headers: [("estuary-gossip-from", "127.0.0.1:1")],
                    body: [1, 2, 3])
                #expect(refused.status == 403, "\(refused)")
                #expect(String(decoding: refused.body, as: UTF8.self).contains("only coordinator certificates may gossip"))
                let members = try await coordinator.api.get("/v1/mesh/members", as: MeshMembersView.self)
                #expect(members.members.map(\.id) == ["c1"])

                // Without --region a coordinator is on its own: the API and the CLI say so.
                var plain = CoordinatorOptions()
                plain.tls = true
                let alone = try await bed.startCoordinator(dataDirectory: "alone", options: plain)
                let reply = try await alone.api.request(.get, "/v1/mesh/members")
                #expect(reply.status == 404, "\(reply)")
                let ctl = try await bed.estuaryctl(["mesh", "members"], coordinator: alone)
                #expect(ctl.status != 0 && ctl.stderr.contains("does not gossip"), "\(ctl)")
            }
        }
    }
}

/// One coordinator of a test mesh.
struct MeshMember: Sendable {
    let id: String
    let region: String
    let process: CoordinatorProcess
}

extension TestBed {
    /// Starts `count` coordinators `c1…cN` with mutual TLS on one shared CA (created by c1,
    /// imported by the others), regions `r1…rN`, all joining through c1's mesh port.
    func startCoordinatorMesh(count: Int, extraArguments: [String] = []) async throws -> [MeshMember] {
        var members: [MeshMember] = []
        for index in 1...count {
            var options = CoordinatorOptions()
            options.tls = true
            options.extraArguments = ["--coordinator-id", "c\(index)", "--region", "r\(index)"] + extraArguments
            if let first = members.first {
                options.extraArguments += [
                    "--gossip-seed", first.process.meshAddress,
                    "--ca-cert", first.process.caPath, "--ca-key", "\(first.process.dataDirectory)/tls/ca.key",
                ]
            }
            let process = try await startCoordinator(dataDirectory: "c\(index)", options: options)
            members.append(MeshMember(id: "c\(index)", region: "r\(index)", process: process))
        }
        return members
    }

    /// Waits until every coordinator in `observers` sees every member in `ids` in `state`.
    func waitForMembers(
        _ observers: [MeshMember], toSee ids: Set<String>, as state: String, timeout: Duration = .seconds(30)
    ) async throws {
        for observer in observers {
            try await waitUntil("\(observer.id) to see \(ids.sorted()) \(state)", timeout: timeout) {
                let view = try await observer.process.api.get("/v1/mesh/members", as: MeshMembersView.self)
                let matching = Set(view.members.filter { $0.state == state }.map(\.id))
                return ids.isSubset(of: matching)
            }
        }
    }
}
