import EstuaryModel
import Foundation
import Testing

extension IntegrationTests {
    @Suite("Interoperability with nghttp")
    struct Interop {
        @Test("nghttp reads /readyz and /v1/sites over h2c and is refused on the mesh port with the wrong content type",
              .timeLimit(.minutes(1)))
        func nghttpTalksToTheCoordinator() async throws {
            try await TestBed.run { bed in
                let nghttp = try Nghttp.locate()
                let coordinator = try await bed.startCoordinator()
                _ = try await bed.startAgent(.cpu, coordinator: coordinator)

                let ready = try await nghttp.request("\(coordinator.apiURL)/readyz", in: bed)
                #expect(ready.status == 200, "\(ready)")
                #expect(ready.headers["content-type"]?.hasPrefix("application/json") == true)
                let health = try JSONDecoder().decode(HealthView.self, from: Data(ready.body.utf8))
                #expect(health.status == "ok")
                #expect(health.checks["mesh_listener"] == "ok" && health.checks["store"] == "ok", "\(health)")

                let anonymous = try await nghttp.request("\(coordinator.apiURL)/v1/sites", in: bed)
                #expect(anonymous.status == 401, "\(anonymous)")
                let sites = try await nghttp.request(
                    "\(coordinator.apiURL)/v1/sites", headers: ["authorization: Bearer \(coordinator.adminToken)"], in: bed)
                #expect(sites.status == 200, "\(sites)")
                let list = try JSONDecoder().decode(SiteListView.self, from: Data(sites.body.utf8))
                let cpu = try #require(list.sites.first { $0.site.id.rawValue == TestSite.cpu.id }, "\(sites.body)")
                #expect(cpu.state == .connected)
                #expect(cpu.pools.map(\.acceleratorClass.rawValue) == [TestSite.cpu.acceleratorClass])
                #expect(cpu.pools.first?.count == TestSite.cpu.count && cpu.pools.first?.simulated == true)

                let body = try bed.write("not estuary frames", to: "body.txt")
                let meshURL = "http://127.0.0.1:\(coordinator.meshPort)/estuary.v1/session"
                let wrongType = try await nghttp.request(
                    meshURL, headers: ["content-type: text/plain", "estuary-protocol: 1", "estuary-site: nghttp"], dataFile: body, in: bed)
                #expect(wrongType.status == 415, "\(wrongType)")

                let noSite = try await nghttp.request(
                    meshURL, headers: ["content-type: application/estuary-frames", "estuary-protocol: 1"], dataFile: body, in: bed)
                #expect(noSite.status == 400, "\(noSite)")
                #expect(noSite.headers["estuary-error"]?.isEmpty == false, "a 400 says why in estuary-error: \(noSite.headers)")
            }
        }
    }
}
