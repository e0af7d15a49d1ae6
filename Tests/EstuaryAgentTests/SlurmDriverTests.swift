import EstuaryConfig
import EstuaryModel
import EstuaryWire
import Foundation
import Logging
import Testing

@testable import EstuaryAgent

/// The one-host Slurm of `scripts/slurm-one-host.sh` (which `.ci/run` starts). Outside CI,
/// tests that need it are skipped when it does not answer; in CI they run, and fail, without it.
enum LocalSlurm {
    static let isAnswering: Bool = {
        guard let result = try? CommandRunner.runBlocking(
            ["sinfo", "-h", "-p", "cpu", "-o", "%T"], environment: ["PATH": "/usr/bin:/bin"], timeout: .seconds(10))
        else { return false }
        return result.succeeded && !result.stdout.isEmpty
    }()

    static let required = ProcessInfo.processInfo.environment["CI"] != nil

    /// Run when Slurm answers, and always in CI (where its absence is a failure).
    static var shouldRun: Bool { required || isAnswering }

    static func command(_ arguments: [String]) throws -> CommandResult {
        try CommandRunner.runBlocking(arguments, environment: ["PATH": "/usr/bin:/bin", "SLURM_TIME_FORMAT": "%s"], timeout: .seconds(30))
    }
}

@Suite("Slurm driver against the local Slurm", .enabled(if: LocalSlurm.shouldRun, "no Slurm answers here; run scripts/slurm-one-host.sh (CI does)"))
struct SlurmDriverTests {
    private func assignment(_ job: String, command: [String], acceleratorClass: String = "cpu-x86-64") -> Estuary_V1_JobAssign {
        testAssignment(job, command: command, units: 1, walltime: 120, acceleratorClass: acceleratorClass)
    }

    private func profile(
        gres: String? = nil, partition: String = "cpu", acceleratorClass: AcceleratorClass = "cpu-x86-64", binDirectory: String? = nil
    ) -> SiteProfile {
        var settings = SlurmDriverSettings()
        settings.binDirectory = binDirectory
        settings.accounting = .jobcomp
        settings.pollInterval = .milliseconds(200)
        settings.accountingGrace = .seconds(20)
        return SiteProfile(
            site: SiteDescriptor(id: "slurm-test", displayName: "Slurm test", region: "guangzhou", zones: ["gba"], driver: "slurm"),
            coordinator: CoordinatorSettings(address: CoordinatorAddress(host: "127.0.0.1", port: 7401), insecureDev: true),
            agent: AgentSettings(dataDir: "unused"),
            pools: [PoolDefinition(acceleratorClass: acceleratorClass, count: gres == nil ? 0 : 4, simulated: false, partition: partition, gres: gres)],
            slurmDriver: settings)
    }

    private func unique(_ name: String) -> String { "\(name)-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test("pools left to sinfo get the partition's cores; free units follow what sinfo says is idle; a missing partition stops the agent")
    func poolsFromSinfo() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try JobSupervisor(profile: profile(), dataDirectory: directory, driver: driverConfiguration(), logger: Logger(label: "test"))
            try await agent.prepare()
            let expected = try LocalSlurm.command(["sinfo", "-h", "-N", "-p", "cpu", "-o", "%c"]).stdout
                .split(whereSeparator: \.isNewline).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.reduce(0, +)
            #expect(expected > 0)
            #expect(await agent.currentPools().map(\.count) == [expected])
            // Someone else's job holding every core: the agent reports nothing free.
            let hog = try LocalSlurm.command(["sbatch", "--parsable", "-c", String(expected), "-o", "/dev/null", "--wrap", "sleep 5"])
            let hogID = try #require(SlurmText.submittedJobID(hog.stdout), "\(hog)")
            defer { _ = try? LocalSlurm.command(["scancel", hogID]) }
            let running = await eventually(timeout: .seconds(60)) {
                (try? LocalSlurm.command(["squeue", "-h", "-j", hogID, "-o", "%T"]).stdout) == "RUNNING\n"
            }
            try #require(running, "the whole-node job started")
            let busy = try JobSupervisor(profile: profile(), dataDirectory: directory + "/c", driver: driverConfiguration(), logger: Logger(label: "test"))
            try await busy.prepare()
            #expect(await busy.capacityReport().pools.first?.free == 0)
            var queueing = profile()
            queueing.slurmDriver.capacity = .pool
            let pool = try JobSupervisor(profile: queueing, dataDirectory: directory + "/d", driver: driverConfiguration(), logger: Logger(label: "test"))
            try await pool.prepare()
            #expect(await pool.capacityReport().pools.first?.free == UInt32(expected), "capacity = \"pool\": jobs may wait in Slurm's queue")
            #expect(await busy.currentPools().first?.count == expected, "the pool's size does not shrink")

            let missing = try JobSupervisor(
                profile: profile(partition: "no-such-partition"), dataDirectory: directory + "/b", driver: driverConfiguration(), logger: Logger(label: "test"))
            await #expect(throws: SlurmCommandError.self) { try await missing.prepare() }
        }
    }

    @Test("a job runs on Slurm: RUNNING, then SUCCEEDED with usage equal to sacct's start and end; output lands in the job directory")
    func runsAJob() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try JobSupervisor(profile: profile(), dataDirectory: directory, driver: driverConfiguration(), logger: Logger(label: "test"))
            try await agent.prepare()
            let job = unique("ok")
            try await agent.assign(assignment(job, command: ["/bin/sh", "-c", "echo \"hello from $ESTUARY_JOB_ID\"; sleep 1"]))
            let done = try await eventually(timeout: .seconds(60)) {
                try await agent.poll()
                return await agent.activeJobs().isEmpty
            }
            #expect(done)
            let states = try outboxUpdates(agent.outbox, job: job).map(\.state)
            #expect(states == [.starting, .running, .succeeded])
            let record = try #require(try agent.outbox.job(JobID(rawValue: job), attempt: 1))
            let slurmID = try #require(record.slurmJobID)
            // Ours by id and name (ids restart when a test cluster is set up anew).
            let name = SlurmText.jobName(JobID(rawValue: job), attempt: 1)
            let sacct = try LocalSlurm.command(["sacct", "-c", "-P", "-n", "-X", "--format=JobID,Start,End,JobName", "-j", slurmID]).stdout
            let fields = try #require(sacct.split(whereSeparator: \.isNewline).map { $0.split(separator: "|") }.last { $0.last.map(String.init) == name })
            let records = try outboxUsage(agent.outbox, job: job)
            #expect(records.count == 1)
            #expect(records.first?.startedAtMs == Int64(fields[1])! * 1000)
            #expect(records.first?.endedAtMs == Int64(fields[2])! * 1000)
            let output = try String(contentsOfFile: "\(try #require(record.jobDirectory))/stdout", encoding: .utf8)
            #expect(output == "hello from \(job)\n")
        }
    }

    @Test("sbatch's refusal (a GRES the cluster does not have) rejects the job with Slurm's own words")
    func refusedSubmission() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try JobSupervisor(
                profile: profile(gres: "gpu:nosuch", acceleratorClass: "nvidia-a100"), dataDirectory: directory, driver: driverConfiguration(),
                logger: Logger(label: "test"))
            let job = unique("bad-gres")
            try await agent.assign(assignment(job, command: ["/bin/true"], acceleratorClass: "nvidia-a100"))
            try await agent.poll()
            let last = try #require(try outboxUpdates(agent.outbox, job: job).last)
            #expect(last.state == .rejected)
            #expect(last.message.contains("Slurm refused the job"), "\(last.message)")
            #expect(last.message.lowercased().contains("gres"), "\(last.message)")
        }
    }

    @Test("a job submitted before the agent could record its Slurm id is found by name after a restart, not submitted again")
    func readoptsAnUnrecordedSubmission() async throws {
        try await withTemporaryDirectory { directory in
            let job = unique("orphan")
            let first = try JobSupervisor(profile: profile(), dataDirectory: directory, driver: driverConfiguration(), logger: Logger(label: "test"))
            // Accepted (durable), then the "agent" stops before its watcher submits; stand in
            // for an sbatch that ran but whose id was never saved by submitting it by hand.
            try await first.prepare()
            try await first.assign(assignment(job, command: ["/bin/sh", "-c", "sleep 2"]))
            let name = SlurmText.jobName(JobID(rawValue: job), attempt: 1)
            let submitted = try LocalSlurm.command(["sbatch", "--parsable", "--job-name=\(name)", "--output=/dev/null", "--wrap", "sleep 2"])
            #expect(submitted.succeeded, "\(submitted)")
            let handID = try #require(SlurmText.submittedJobID(submitted.stdout))

            let second = try JobSupervisor(profile: profile(), dataDirectory: directory, driver: driverConfiguration(), logger: Logger(label: "test"))
            try await second.prepare()
            try await second.recover()
            let done = try await eventually(timeout: .seconds(60)) {
                try await second.poll()
                return await second.activeJobs().isEmpty
            }
            #expect(done)
            let record = try #require(try second.outbox.job(JobID(rawValue: job), attempt: 1))
            #expect(record.slurmJobID == handID)
            #expect(record.state == .succeeded)
            // sacct -c does not filter by --name: filter here.
            let named = try LocalSlurm.command(["sacct", "-c", "-P", "-n", "-X", "--format=JobID,JobName"]).stdout
                .split(whereSeparator: \.isNewline).filter { $0.hasSuffix("|" + name) }
            #expect(named.count == 1, "one Slurm job with the name: \(named)")
            #expect(try outboxUsage(second.outbox, job: job).count == 1)
        }
    }

    @Test("sbatch that times out after Slurm took the job: the agent finds the job by name instead of submitting it again")
    func submissionWithALostReply() async throws {
        try await withTemporaryDirectory { directory in
            // The real Slurm commands, except that the first sbatch submits and then reports a
            // timeout, as when the controller's reply is lost.
            let bin = directory + "/bin"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            for command in ["squeue", "sacct", "scancel", "sinfo"] {
                try FileManager.default.createSymbolicLink(atPath: "\(bin)/\(command)", withDestinationPath: "/usr/bin/\(command)")
            }
            let marker = directory + "/sbatch-failed-once"
            try """
                #!/bin/sh
                if [ ! -e \(marker) ]; then
                    touch \(marker)
                    /usr/bin/sbatch "$@" >/dev/null
                    echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2
                    exit 1
                fi
                exec /usr/bin/sbatch "$@"
                """.write(toFile: bin + "/sbatch", atomically: true, encoding: .utf8)
            chmod(bin + "/sbatch", 0o755)

            let agent = try JobSupervisor(
                profile: profile(binDirectory: bin), dataDirectory: directory + "/data", driver: driverConfiguration(), logger: Logger(label: "test"))
            try await agent.prepare()
            let job = unique("lost-reply")
            try await agent.assign(assignment(job, command: ["/bin/sh", "-c", "sleep 1"]))
            try await agent.poll()
            #expect(FileManager.default.fileExists(atPath: marker), "the failing sbatch ran")
            #expect(try agent.outbox.job(JobID(rawValue: job), attempt: 1)?.state == .starting, "not rejected: the controller may have the job")
            let done = try await eventually(timeout: .seconds(60)) {
                try await agent.poll()
                return await agent.activeJobs().isEmpty
            }
            #expect(done)
            #expect(try agent.outbox.job(JobID(rawValue: job), attempt: 1)?.state == .succeeded)
            let name = SlurmText.jobName(JobID(rawValue: job), attempt: 1)
            let named = try LocalSlurm.command(["sacct", "-c", "-P", "-n", "-X", "--format=JobID,JobName"]).stdout
                .split(whereSeparator: \.isNewline).filter { $0.hasSuffix("|" + name) }
            #expect(named.count == 1, "one Slurm job, not two: \(named)")
        }
    }
}
