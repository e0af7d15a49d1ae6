import EstuaryModel
import Foundation
import Testing

extension IntegrationTests {
    @Suite("Agent crash")
    struct AgentCrash {
        @Test("jobs running when their agent is killed -9 are re-adopted after restart and each runs and is metered once",
              .timeLimit(.minutes(2)))
        func runningJobsSurviveAnAgentKill() async throws {
            try await TestBed.run { bed in
                let (coordinator, agents) = try await bed.startMesh()
                let cpu = try #require(agents.first { $0.site.id == TestSite.cpu.id })
                let marks = bed.path("marks.log")
                // 20 one-unit jobs on a 16-unit pool: 16 run at once, 4 wait for a free unit.
                let files = try (0..<20).map { index in
                    try bed.write(TestJob(
                        name: "crash-agent-\(index)", script: JobMarks.wrap("sleep 5"),
                        acceleratorClass: TestSite.cpu.acceleratorClass, environment: ["MARKS": marks]))
                }
                let ids = try await bed.submitAll(files, coordinator: coordinator)
                try await waitUntil("10 jobs to have started", timeout: .seconds(30)) { JobMarks.read(marks).starts.count >= 10 }

                try await cpu.process.killHard()
                let runningAtKill = JobMarks.read(marks).running
                try #require(runningAtKill.count >= 5, "the agent was killed while its jobs ran (\(runningAtKill.count) running)")
                let restarted = try await bed.startAgent(TestSite.cpu, coordinator: coordinator)
                #expect(restarted.dataDirectory == cpu.dataDirectory)

                let jobs = try await coordinator.api.waitForJobs(ids, toBe: .succeeded, timeout: .seconds(60))
                let measured = JobMarks.read(marks)
                for id in ids {
                    #expect(measured.starts[id.rawValue]?.count == 1, "job \(id) started exactly once")
                    #expect(measured.ends[id.rawValue]?.count == 1, "job \(id) ended exactly once")
                }
                let usage = try await coordinator.api.usage()
                UsageExpectations(jobs: jobs, marks: measured, usage: usage).check()
            }
        }
    }
}
