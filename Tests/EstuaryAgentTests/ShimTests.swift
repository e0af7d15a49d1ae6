import Foundation
import Testing

@testable import EstuaryAgent

#if canImport(Glibc)
import Glibc
#endif

/// The shim, as a real process started from the built `estuary-agent` binary.
@Suite("Shim")
struct ShimTests {
    /// Writes launch.json in `directory` and starts a shim for it; returns the shim's pid.
    private func startShim(_ directory: String, command: [String], walltime: Int = 30, graceMs: Int = 300) throws -> Int32 {
        let launch = ShimLaunch(
            command: command, environment: ["PATH": "/usr/bin:/bin", "HOME": directory],
            walltimeSeconds: walltime, killGraceMilliseconds: graceMs
        )
        try JobDirectoryIO.writeAtomically(launch, directory: directory, file: ShimFiles.launch)
        return try Spawner.spawn(
            SpawnRequest(
                arguments: [agentExecutable(), "shim", "--job-dir", directory], environment: ["PATH=/usr/bin:/bin"],
                newSession: true, stderrPath: directory + "/" + ShimFiles.shimLog
            )
        )
    }

    /// Waits (bounded) for the shim to exit and returns the status it wrote.
    private func awaitStatus(_ directory: String, shim: Int32, timeout: Duration = .seconds(10)) async throws -> ShimStatus? {
        let ended = await eventually(timeout: timeout) {
            var status: Int32 = 0
            return waitpid(shim, &status, WNOHANG) == shim
        }
        guard ended else {
            kill(shim, SIGKILL)
            return nil
        }
        return ProcessDriver.readStatus(directory)
    }

    @Test("a job's exit code and both output streams are recorded")
    func exitCodeAndOutput() async throws {
        try await withTemporaryDirectory { directory in
            let shim = try startShim(directory, command: ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
            let status = try #require(try await awaitStatus(directory, shim: shim))
            #expect(status.exitCode == 3)
            #expect(status.signal == nil)
            #expect(!status.cancelled && !status.walltimeExceeded)
            #expect(status.endedAtMs >= status.startedAtMs)
            #expect(try String(contentsOfFile: directory + "/stdout", encoding: .utf8) == "out\n")
            #expect(try String(contentsOfFile: directory + "/stderr", encoding: .utf8) == "err\n")
            let info = try #require(ProcessDriver.readShimInfo(directory))
            #expect(info.shimPID == shim)
            #expect(info.jobPGID == info.jobPID)
        }
    }

    @Test("a program that cannot be started is reported as a spawn error")
    func spawnFailure() async throws {
        try await withTemporaryDirectory { directory in
            let shim = try startShim(directory, command: ["/nonexistent/program"])
            let status = try #require(try await awaitStatus(directory, shim: shim))
            #expect(status.spawnError?.contains("/nonexistent/program") == true)
            #expect(JobReports.outcome(of: status, walltimeSeconds: 30).state == .rejected)
        }
    }

    @Test("walltime sends SIGTERM at the deadline and the job ends within the grace")
    func walltimeKills() async throws {
        try await withTemporaryDirectory { directory in
            let shim = try startShim(directory, command: ["sleep", "30"], walltime: 1, graceMs: 500)
            let status = try #require(try await awaitStatus(directory, shim: shim, timeout: .seconds(60)))
            #expect(status.walltimeExceeded)
            #expect(status.signal == SIGTERM)
            // Not a timing check: the shim's own record shows the 30 s sleep was cut short
            // rather than left to finish, however long a loaded machine took to say so.
            let ran = status.endedAtMs - status.startedAtMs
            #expect(ran < 30_000, "walltime 1 s + grace 0.5 s, but the job ran \(ran) ms")
            let outcome = JobReports.outcome(of: status, walltimeSeconds: 1)
            #expect(outcome.state == .failed)
            #expect(outcome.message == "walltime of 1 s exceeded")
        }
    }

    @Test("a job that ignores SIGTERM is killed after the grace")
    func graceEscalatesToKill() async throws {
        try await withTemporaryDirectory { directory in
            let shim = try startShim(directory, command: ["/bin/sh", "-c", "trap '' TERM; sleep 30 & wait; sleep 30"], walltime: 1, graceMs: 300)
            let status = try #require(try await awaitStatus(directory, shim: shim, timeout: .seconds(25)))
            #expect(status.walltimeExceeded)
            #expect(status.signal == SIGKILL)
        }
    }

    @Test("cancel kills the job's whole process group, background children included")
    func cancelKillsProcessGroup() async throws {
        try await withTemporaryDirectory { directory in
            let shim = try startShim(directory, command: ["/bin/sh", "-c", "sleep 60 & sleep 60"])
            #expect(await eventually { ProcessDriver.readShimInfo(directory) != nil })
            let info = try #require(ProcessDriver.readShimInfo(directory))
            #expect(await eventually { processes(inGroup: info.jobPGID).count >= 3 }, "sh and two sleeps")
            #expect(ProcessDriver.isShimAlive(pid: shim, directory: directory))

            kill(shim, SIGTERM)
            let status = try #require(try await awaitStatus(directory, shim: shim))
            #expect(status.cancelled)
            #expect(JobReports.outcome(of: status, walltimeSeconds: 30).state == .cancelled)
            #expect(await eventually(timeout: .seconds(3)) { processes(inGroup: info.jobPGID).isEmpty })
        }
    }
}
