import EstuaryModel
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension IntegrationTests {
    @Suite("Cancel")
    struct Cancel {
        @Test("a running job cancelled with estuaryctl ends cancelled within seconds and its process group is gone",
              .timeLimit(.minutes(1)))
        func cancelledJobEndsAndLeavesNoProcess() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator()
                let agent = try await bed.startAgent(.cpu, coordinator: coordinator)
                // A background child too: cancel must take the whole process group.
                let file = try bed.write(TestJob(name: "to-cancel", script: "sleep 60 & sleep 60; wait", acceleratorClass: TestSite.cpu.acceleratorClass))
                let id = try #require(try await bed.submitAll([file], coordinator: coordinator).first)
                try await coordinator.api.waitForJob(id, toBe: .running)
                let shim = try await waitFor("the agent to record the shim of \(id)") {
                    ProcessInspection.shimInfo(agentDataDirectory: agent.dataDirectory, job: id.rawValue)
                }
                try await waitUntil("the job's sh and both sleeps to run") {
                    ProcessInspection.liveProcesses(inGroup: shim.jobPGID).count >= 3
                }

                let result = try await bed.estuaryctl(["job", "cancel", id.rawValue], coordinator: coordinator)
                #expect(result.status == 0, "\(result)")
                // The wait is an upper bound (a 60 s job, kill grace 1 s), not a timing check.
                let job = try await coordinator.api.waitForJob(id, toBe: .cancelled, timeout: .seconds(30))
                #expect(job.cancelRequested)
                try await waitUntil("process group \(shim.jobPGID) of \(id) to be gone", timeout: .seconds(5)) {
                    ProcessInspection.liveProcesses(inGroup: shim.jobPGID).isEmpty
                }
                #expect(kill(shim.shimPID, 0) != 0 || ProcessInspection.liveProcesses(inGroup: shim.shimPID).isEmpty, "the shim exited")
                let usage = try await waitFor("the cancelled attempt's usage record") {
                    let records = try await coordinator.api.usage(job: id)
                    return records.isEmpty ? nil : records
                }
                #expect(usage.count == 1, "the attempt that ran until cancelled is metered once: \(usage)")
            }
        }
    }
}
