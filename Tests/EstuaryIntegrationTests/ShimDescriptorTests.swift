import EstuaryModel
import Foundation
import Testing

extension IntegrationTests {
    @Suite("Job shims")
    struct JobShims {
        @Test("a job's shim holds none of the agent's sockets, event loops or database files", .timeLimit(.minutes(1)))
        func shimsHoldNothingOfTheAgent() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator()
                let agent = try await bed.startAgent(.cpu, coordinator: coordinator)
                let file = try bed.write(TestJob(name: "shim-fds", script: "sleep 30", acceleratorClass: TestSite.cpu.acceleratorClass))
                let id = try #require(try await bed.submitAll([file], coordinator: coordinator).first)
                try await coordinator.api.waitForJob(id, toBe: .running)
                let shim = try await waitFor("the agent to record the shim of \(id)") {
                    ProcessInspection.shimInfo(agentDataDirectory: agent.dataDirectory, job: id.rawValue)
                }
                let descriptors = ProcessInspection.openDescriptors(of: shim.shimPID)
                let inherited = descriptors.filter { fd, target in
                    fd > 2 && (target.hasPrefix("socket:") || target.hasPrefix("anon_inode:") || target.contains(agent.dataDirectory + "/agent"))
                }
                // A shim outlives a killed agent; whatever it inherited stays open as long as the job
                // runs: the agent's mesh connection (so the coordinator never sees it close) and its
                // database files.
                #expect(inherited.isEmpty, "shim \(shim.shimPID) inherited \(inherited.sorted { $0.key < $1.key })")
            }
        }
    }
}
