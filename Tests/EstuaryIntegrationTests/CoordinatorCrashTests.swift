import EstuaryModel
import Foundation
import Testing

extension IntegrationTests {
    @Suite("Coordinator crash")
    struct CoordinatorCrash {
        @Test("a coordinator killed -9 and restarted on its data and ports loses no job and meters each once",
              .timeLimit(.minutes(2)))
        func jobsSurviveACoordinatorKill() async throws {
            try await TestBed.run { bed in
                var options = CoordinatorOptions()
                options.meshPort = try freeLoopbackPort()
                options.apiPort = try freeLoopbackPort()
                let (coordinator, agents) = try await bed.startMesh(options: options)
                let marks = bed.path("marks.log")
                // 7 four-unit jobs per 16-unit site: 4 run at once, 3 wait.
                let files = try (0..<21).map { index in
                    try bed.write(TestJob(
                        name: "crash-coordinator-\(index)", script: JobMarks.wrap("sleep 5"),
                        acceleratorClass: TestSite.all[index % 3].acceleratorClass, count: 4, environment: ["MARKS": marks]))
                }
                let ids = try await bed.submitAll(files, coordinator: coordinator)
                try await waitUntil("9 jobs to have started", timeout: .seconds(30)) { JobMarks.read(marks).starts.count >= 9 }

                try await coordinator.process.killHard()
                let runningAtKill = JobMarks.read(marks).running
                try #require(runningAtKill.count >= 5, "the coordinator was killed while jobs ran (\(runningAtKill.count) running)")
                let restarted = try await bed.startCoordinator(options: options)
                #expect(restarted.meshPort == options.meshPort && restarted.apiPort == options.apiPort)
                for agent in agents {
                    try await bed.waitForConnected(agent, coordinator: restarted, timeout: .seconds(30))
                }

                let jobs = try await restarted.api.waitForJobs(ids, toBe: .succeeded, timeout: .seconds(60))
                let measured = JobMarks.read(marks)
                for id in ids {
                    #expect(measured.starts[id.rawValue]?.count == 1, "job \(id) started exactly once")
                }
                let usage = try await restarted.api.usage()
                UsageExpectations(jobs: jobs, marks: measured, usage: usage).check()
                for agent in agents { #expect(agent.process.isRunning, "\(agent.site.id) kept running through the outage") }
            }
        }
    }
}
