import EstuaryConfig
import EstuaryModel
import EstuaryWire
import Foundation
import Logging
import Testing

@testable import EstuaryAgent

@Suite("Job supervisor")
struct JobSupervisorTests {
    private func supervisor(_ directory: String) throws -> JobSupervisor {
        try JobSupervisor(profile: testProfile(), dataDirectory: directory, driver: driverConfiguration(), logger: Logger(label: "test"))
    }

    @Test("an assigned job runs and its result and usage reach the outbox, usage first")
    func runsJobToCompletion() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try supervisor(directory)
            try await agent.assign(testAssignment("job-ok", command: ["/bin/sh", "-c", "echo hello; test \"$ESTUARY_SIMULATED_ACCELERATORS\" = ascend-910b:2"]))
            try await agent.assign(testAssignment("job-ok", command: ["/bin/false"]))  // duplicate: ignored
            #expect(await agent.capacityReport().pools.first?.free == 6)

            let done = try await eventually {
                try await agent.poll()
                return await agent.activeJobs().isEmpty
            }
            #expect(done)
            let states = try outboxUpdates(agent.outbox, job: "job-ok").map(\.state)
            #expect(states.first == .starting)
            #expect(states.last == .succeeded, "states: \(states)")
            let records = try outboxUsage(agent.outbox, job: "job-ok")
            #expect(records.count == 1)
            #expect(records.first?.recordID == "u-job-ok-1")
            #expect(records.first?.units == 2)
            let entries = try agent.outbox.outbox(after: 0)
            let usageSeq = entries.first { if case .usage = $0.envelope.body { true } else { false } }?.seq
            let terminalSeq = entries.last { $0.envelope.jobUpdate.state == .succeeded }?.seq
            #expect(usageSeq! < terminalSeq!)
            #expect(await agent.capacityReport().pools.first?.free == 8)

            try await agent.beginFinalLogs(for: try outboxUpdates(agent.outbox, job: "job-ok"))
            let logs = await agent.finalLogChunks(for: try outboxUpdates(agent.outbox, job: "job-ok"))
            #expect(logs.contains { $0.logChunk.data == Data("hello\n".utf8) && $0.logChunk.offset == 0 })
        }
    }

    @Test("assignments the site cannot run are rejected with the reason", arguments: [
        ("gpu-unknown", UInt32(1), "has no pool of class"),
        ("ascend-910b", UInt32(9), "is full"),
    ])
    func rejects(acceleratorClass: String, units: UInt32, reason: String) async throws {
        try await withTemporaryDirectory { directory in
            let agent = try supervisor(directory)
            try await agent.assign(testAssignment("job-r", command: ["/bin/true"], units: units, acceleratorClass: acceleratorClass))
            let update = try #require(try outboxUpdates(agent.outbox, job: "job-r").first)
            #expect(update.state == .rejected)
            #expect(update.message.contains(reason), "\(update.message)")
            #expect(await agent.activeJobs().isEmpty)
        }
    }

    @Test("a cancelled job is reported CANCELLED once its shim has killed it")
    func cancel() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try supervisor(directory)
            try await agent.assign(testAssignment("job-c", command: ["sleep", "60"]))
            #expect(try await eventually {
                try await agent.poll()
                return try outboxUpdates(agent.outbox, job: "job-c").contains { $0.state == .running }
            })
            var cancel = Estuary_V1_JobCancel()
            cancel.jobID = "job-c"
            try await agent.cancel(cancel)
            try await agent.cancel(cancel)  // idempotent
            #expect(try await eventually {
                try await agent.poll()
                return await agent.activeJobs().isEmpty
            })
            #expect(try outboxUpdates(agent.outbox, job: "job-c").last?.state == .cancelled)
            cancel.jobID = "never-heard-of-it"
            try await agent.cancel(cancel)
        }
    }

    @Test("a new agent instance re-adopts a running job and reports its completion once")
    func readoptsRunningJob() async throws {
        try await withTemporaryDirectory { directory in
            let release = directory + "/release"
            let command = ["/bin/sh", "-c", "while [ ! -e \(release) ]; do sleep 0.05; done; echo finished"]
            do {
                let first = try supervisor(directory)
                try await first.assign(testAssignment("job-a", command: command))
                #expect(try await eventually {
                    try await first.poll()
                    return try outboxUpdates(first.outbox, job: "job-a").contains { $0.state == .running }
                })
            }
            // The first instance is gone (as after a crash); a new one opens the same data dir.
            let second = try supervisor(directory)
            try await second.recover()
            let adopted = await second.activeJobs()
            #expect(adopted.map(\.jobID) == ["job-a"])
            #expect(adopted.first?.state == .running)
            #expect(await second.capacityReport().pools.first?.free == 6)

            _ = FileManager.default.createFile(atPath: release, contents: nil)
            #expect(try await eventually {
                try await second.poll()
                return await second.activeJobs().isEmpty
            })
            for _ in 0..<3 { try await second.poll() }
            let third = try supervisor(directory)
            try await third.recover()
            let terminal = try outboxUpdates(third.outbox, job: "job-a").filter { LocalJobState.fromWire($0.state)?.isTerminal == true }
            #expect(terminal.map(\.state) == [.succeeded])
            #expect(try outboxUsage(third.outbox, job: "job-a").count == 1)
        }
    }

    @Test("a job whose agent stopped after writing launch.json but before spawning its shim is started, not lost")
    func launchWrittenShimNeverSpawned() async throws {
        try await withTemporaryDirectory { directory in
            // What the first agent left: the job accepted and saved, its launch.json written, no
            // shim (killed between the two), so no shim.log either.
            let first = try supervisor(directory)
            let assign = testAssignment("job-s", command: ["/bin/echo", "ran"])
            let record = JobRecord(jobID: "job-s", attempt: 1, spec: assign.spec, state: .starting, acceptedAtMs: 1)
            _ = try first.outbox.save(record, emitting: [], nowMs: 1)
            let driver = ProcessDriver(configuration: driverConfiguration(), jobsDirectory: directory + "/jobs")
            let jobDirectory = driver.jobDirectory(for: "job-s", attempt: 1)
            try JobDirectoryIO.makeDirectories(jobDirectory)
            try JobDirectoryIO.writeAtomically(
                ShimLaunch(command: ["/bin/echo", "ran"], environment: [:], walltimeSeconds: 60, killGraceMilliseconds: 100),
                directory: jobDirectory, file: ShimFiles.launch)

            let second = try supervisor(directory)
            try await second.recover()
            #expect(try await eventually {
                try await second.poll()
                return await second.activeJobs().isEmpty
            })
            let states = try outboxUpdates(second.outbox, job: "job-s").map(\.state)
            #expect(states.last == .succeeded, "\(states)")
            #expect(!states.contains(.lost))
        }
    }

    @Test("a job whose shim vanished while the agent was down is reported LOST")
    func reportsLostJob() async throws {
        try await withTemporaryDirectory { directory in
            let first = try supervisor(directory)
            try await first.assign(testAssignment("job-l", command: ["sleep", "60"]))
            #expect(try await eventually {
                try await first.poll()
                return await first.activeJobs().first?.state == .running
            })
            let record = try #require(await first.activeJobs().first)
            let info = try #require(ProcessDriver.readShimInfo(record.jobDirectory!))
            kill(record.shimPID!, SIGKILL)
            #expect(await eventually { !ProcessDriver.isShimAlive(pid: record.shimPID!, directory: record.jobDirectory!) })

            let second = try supervisor(directory)
            try await second.recover()
            let update = try #require(try outboxUpdates(second.outbox, job: "job-l").last)
            #expect(update.state == .lost)
            #expect(update.message.contains("while the agent was down"))
            #expect(await eventually(timeout: .seconds(3)) { processes(inGroup: info.jobPGID).isEmpty }, "orphaned job killed")
        }
    }
}
