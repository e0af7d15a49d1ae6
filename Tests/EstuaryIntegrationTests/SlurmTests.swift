import EstuaryModel
import Foundation
import Testing

/// The one-host Slurm that `.ci/run` starts (`scripts/slurm-one-host.sh`).
enum ClusterCommands {
    /// Runs a Slurm client command with `SLURM_TIME_FORMAT=%s`; its stdout, or nil if it failed.
    static func run(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SLURM_TIME_FORMAT"] = "%s"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    static let isAnswering: Bool = run(["sinfo", "-h", "-p", "cpu", "-o", "%T"]).map { !$0.isEmpty } ?? false
    /// In CI Slurm must be there: the tests run and fail without it.
    static var shouldRun: Bool { ProcessInfo.processInfo.environment["CI"] != nil || isAnswering }

    /// `JobID|Start|End|State|ExitCode` of the Slurm jobs named `estuary-<job>-<attempt>`, from the
    /// job-completion log (`sacct -c` ignores `--name`, so the name is matched here).
    static func accounting(job: JobID, attempt: Int = 1) -> [[String]] {
        let name = "estuary-\(job.rawValue)-\(attempt)"
        let text = run(["sacct", "-c", "-P", "-n", "-X", "--format=JobID,Start,End,State,ExitCode,JobName"]) ?? ""
        return text.split(whereSeparator: \.isNewline).map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
            .filter { $0.count == 6 && $0[5] == name }
    }
}

extension TestSite {
    /// A site whose agent runs its jobs on the local Slurm's `partition`, its CPU count from sinfo.
    static func slurm(_ id: String, partition: String = "cpu", accounting: String = "jobcomp", accountingGrace: String = "60s") -> TestSite {
        TestSite(
            id: id, acceleratorClass: "cpu-x86-64", count: 0, driver: "slurm", poolKeys: "partition = \"\(partition)\"",
            driverTable: """
                [driver.slurm]
                accounting = "\(accounting)"
                poll_interval = "300ms"
                unrunnable_grace = "2s"
                accounting_grace = "\(accountingGrace)"
                """)
    }
}

extension IntegrationTests {
    @Suite("Slurm sites", .enabled(if: ClusterCommands.shouldRun, "no Slurm answers here; run scripts/slurm-one-host.sh (CI does)"))
    struct SlurmSites {
        @Test("jobs on a real Slurm through estuary-agent: success, exit code, cancel, walltime kill; usage equals sacct's",
              .timeLimit(.minutes(4)))
        func lifecycle() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator()
                let site = TestSite.slurm("it-slurm-guangzhou")
                let agent = try await bed.startAgent(site, coordinator: coordinator)
                let cpu = site.acceleratorClass
                let ok = try bed.write(TestJob(name: "slurm-ok", script: "echo \"on slurm as $SLURM_JOB_ID\"; sleep 2", acceleratorClass: cpu))
                let failing = try bed.write(TestJob(name: "slurm-exit3", script: "sleep 1; exit 3", acceleratorClass: cpu))
                let toCancel = try bed.write(TestJob(name: "slurm-cancel", script: "sleep 300", acceleratorClass: cpu))
                // Slurm limits are whole minutes and enforced by a periodic check: killed after 60–100 s.
                let overrun = try bed.write(TestJob(name: "slurm-walltime", script: "sleep 600", acceleratorClass: cpu, walltime: "1m"))
                let ids = try await bed.submitAll([ok, failing, toCancel, overrun], coordinator: coordinator)
                let (okID, failID, cancelID, overrunID) = (ids[0], ids[1], ids[2], ids[3])

                let succeeded = try await coordinator.api.waitForJob(okID, toBe: .succeeded, timeout: .seconds(60))
                #expect(succeeded.exitCode == 0)
                let output = try String(contentsOfFile: "\(agent.dataDirectory)/jobs/\(okID.rawValue)-1/stdout", encoding: .utf8)
                #expect(output.hasPrefix("on slurm as "), "the job ran as a Slurm job: \(output)")
                let failed = try await coordinator.api.waitForJob(failID, toBe: .failed, timeout: .seconds(60))
                #expect(failed.exitCode == 3)

                try await coordinator.api.waitForJob(cancelID, toBe: .running, timeout: .seconds(60))
                let result = try await bed.estuaryctl(["job", "cancel", cancelID.rawValue], coordinator: coordinator)
                #expect(result.status == 0, "\(result)")
                try await coordinator.api.waitForJob(cancelID, toBe: .cancelled, timeout: .seconds(30))

                let overran = try await coordinator.api.waitForJob(overrunID, toBe: .failed, timeout: .seconds(180))
                let cause = overran.events?.last(where: { $0.state == .failed })?.cause ?? ""
                #expect(cause.contains("walltime"), "ended by its walltime: \(cause)")

                // Every job ran as exactly one Slurm job, and its usage is sacct's start and end.
                let usage = try await waitFor("usage of the four jobs") {
                    let records = try await coordinator.api.usage()
                    return records.count >= 4 ? records : nil
                }
                for id in ids {
                    let slurmJobs = ClusterCommands.accounting(job: id)
                    #expect(slurmJobs.count == 1, "job \(id) is one Slurm job: \(slurmJobs)")
                    let records = usage.filter { $0.jobID == id }
                    #expect(records.count == 1, "job \(id) is metered once")
                    guard let slurm = slurmJobs.first, let record = records.first else { continue }
                    #expect(record.startedAtMs == (Int64(slurm[1]) ?? -1) * 1000, "start of \(id): usage \(record.startedAtMs), sacct \(slurm[1])")
                    #expect(record.endedAtMs == (Int64(slurm[2]) ?? -1) * 1000, "end of \(id): usage \(record.endedAtMs), sacct \(slurm[2])")
                    #expect(record.units == 1)
                }
                #expect(ClusterCommands.accounting(job: overrunID).first?[3] == "TIMEOUT")
                #expect(ClusterCommands.accounting(job: failID).first?[4] == "3:0")
            }
        }

        @Test("an agent killed -9 while its Slurm job runs re-adopts it on restart: it runs once and is metered once",
              .timeLimit(.minutes(2)))
        func agentRestartWithARunningJob() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator()
                let site = TestSite.slurm("it-slurm-restart")
                let agent = try await bed.startAgent(site, coordinator: coordinator)
                let file = try bed.write(TestJob(name: "slurm-survivor", script: "sleep 6", acceleratorClass: site.acceleratorClass))
                let id = try #require(try await bed.submitAll([file], coordinator: coordinator).first)
                try await coordinator.api.waitForJob(id, toBe: .running, timeout: .seconds(60))
                try await agent.process.killHard()
                #expect(ClusterCommands.accounting(job: id).isEmpty, "the job was still running in Slurm when the agent died")
                _ = try await bed.startAgent(site, coordinator: coordinator)
                try await coordinator.api.waitForJob(id, toBe: .succeeded, timeout: .seconds(60))
                #expect(ClusterCommands.accounting(job: id).count == 1, "one Slurm job")
                let usage = try await waitFor("the job's usage") {
                    let records = try await coordinator.api.usage(job: id)
                    return records.isEmpty ? nil : records
                }
                #expect(usage.count == 1)
            }
        }

        @Test("a job on a down partition is given back (REJECTED, so queued again); without accounting a job ends LOST, saying why",
              .timeLimit(.minutes(2)))
        func slurmTroubles() async throws {
            try await TestBed.run { bed in
                let downCoordinator = try await bed.startCoordinator()
                let down = TestSite.slurm("it-slurm-down", partition: "down")
                _ = try await bed.startAgent(down, coordinator: downCoordinator)
                let stuck = try bed.write(TestJob(name: "slurm-stuck", script: "true", acceleratorClass: down.acceleratorClass))
                let stuckID = try #require(try await bed.submitAll([stuck], coordinator: downCoordinator).first)

                let blindCoordinator = try await bed.startCoordinator()
                let blind = TestSite.slurm("it-slurm-no-accounting", accounting: "slurmdbd", accountingGrace: "2s")
                _ = try await bed.startAgent(blind, coordinator: blindCoordinator)
                let unaccounted = try bed.write(TestJob(name: "slurm-unaccounted", script: "true", acceleratorClass: blind.acceleratorClass))
                let unaccountedID = try #require(try await bed.submitAll([unaccounted], coordinator: blindCoordinator).first)

                let requeued = try await waitFor("the job on the down partition to be given back", timeout: .seconds(60)) { () -> JobView? in
                    let job = try await downCoordinator.api.job(stuckID)
                    return job.events?.contains { $0.cause.contains("PartitionDown") } == true ? job : nil
                }
                // Back to the queue; as the only site it may get the job again, up to the attempt limit.
                #expect(requeued.events?.contains { $0.state == .queued && $0.cause.contains("rejected by it-slurm-down") } == true,
                        "\(requeued.events ?? [])")
                #expect(ClusterCommands.run(["squeue", "-h", "-n", "estuary-\(stuckID.rawValue)-1", "-t", "PENDING", "-o", "%i"]) == "",
                        "the stuck Slurm job was cancelled")

                let lost = try await blindCoordinator.api.waitForJob(unaccountedID, toBe: .lost, timeout: .seconds(60))
                let cause = lost.events?.last(where: { $0.state == .lost })?.cause ?? ""
                #expect(cause.contains("accounting is unavailable"), "\(cause)")
                // Later attempts of the stuck job wait on the down partition after the agent is gone.
                _ = ClusterCommands.run(["scancel", "--partition=down"])
            }
        }
    }
}
