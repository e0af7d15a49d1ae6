import EstuaryModel
import Foundation
import Testing

extension IntegrationTests {
    @Suite("End to end")
    struct EndToEnd {
        @Test("200 jobs submitted with estuaryctl across three sites all succeed, each metered once", .timeLimit(.minutes(2)))
        func twoHundredJobsSucceedAndAreMeteredOnce() async throws {
            try await TestBed.run { bed in
                let (coordinator, _) = try await bed.startMesh()
                let marks = bed.path("marks.log")
                let shapes = [(1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (4, 2)]
                let jobs = (0..<200).map { index in
                    let (count, tasks) = shapes[(index / 3) % shapes.count]
                    return TestJob(
                        name: "e2e-\(index)", script: JobMarks.wrap(#"echo "hello from $ESTUARY_JOB_ID"; sleep 0.3"#),
                        acceleratorClass: TestSite.all[index % 3].acceleratorClass, count: count, tasks: tasks,
                        environment: ["MARKS": marks])
                }
                let files = try jobs.map { try bed.write($0) }

                let ids = try await bed.submitAll(files, coordinator: coordinator, parallel: 8)
                #expect(Set(ids).count == 200, "every submit created its own job")
                let finished = try await coordinator.api.waitForJobs(ids, toBe: .succeeded, timeout: .seconds(75))

                // Each job ran on the site that has its class, exited 0, and was metered once.
                let siteOfClass = Dictionary(uniqueKeysWithValues: TestSite.all.map { ($0.acceleratorClass, $0.id) })
                for job in finished {
                    #expect(job.siteID?.rawValue == siteOfClass[job.spec.resources.classExpression], "job \(job.id) ran at the site of its class")
                    #expect(job.exitCode == 0)
                }
                let usage = try await coordinator.api.usage()
                UsageExpectations(jobs: finished, marks: JobMarks.read(marks), usage: usage).check()

                // estuaryctl job logs prints what a job wrote.
                for id in stride(from: 0, to: ids.count, by: 40).map({ ids[$0] }) {
                    let logs = try await bed.estuaryctl(["job", "logs", id.rawValue], coordinator: coordinator)
                    #expect(logs.status == 0, "\(logs)")
                    #expect(logs.stdout.contains("hello from \(id.rawValue)"), "\(logs)")
                }
            }
        }
    }
}
