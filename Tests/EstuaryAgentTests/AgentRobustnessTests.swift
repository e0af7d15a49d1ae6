import EstuaryConfig
import EstuaryModel
import EstuaryWire
import Foundation
import Logging
import Testing

@testable import EstuaryAgent

#if canImport(Glibc)
import Glibc
#endif

/// Reaping, the REJECTED/LOST line, store failures after launch, and bounded log shipping.
@Suite("Agent robustness")
struct AgentRobustnessTests {
    private func assignment(_ job: String, command: [String]) -> Estuary_V1_JobAssign {
        testAssignment(job, command: command, units: 1)
    }

    private func supervisor(_ directory: String, shim: String = agentExecutable()) throws -> JobSupervisor {
        try JobSupervisor(
            profile: testProfile(), dataDirectory: directory,
            driver: ProcessDriverConfiguration(shimExecutable: shim, killGrace: .milliseconds(300)), logger: Logger(label: "test"))
    }

    /// Whether `pid` is a zombie child of this process.
    private func isZombieChild(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")")
        else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && fields[0] == "Z" && Int32(fields[1]) == getpid()
    }

    /// A fake shim: a shell script run as `<script> shim --job-dir DIR`.
    private func fakeShim(_ directory: String, _ body: String) throws -> String {
        let path = directory + "/fake-shim.sh"
        try Data("#!/bin/sh\n\(body)\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
        return path
    }

    @Test("shims that exit are reaped: no zombie children remain")
    func reapsShims() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try supervisor(directory + "/data")
            var pids: [Int32] = []
            for index in 0..<3 {
                try await agent.assign(assignment("job-z\(index)", command: ["/bin/true"]))
            }
            pids = await agent.activeJobs().compactMap(\.shimPID)
            #expect(pids.count == 3)
            #expect(try await eventually {
                try await agent.poll()
                return await agent.activeJobs().isEmpty
            })
            // The shims exit just after writing status.json; the next ticks reap them.
            #expect(try await eventually {
                try await agent.poll()
                return pids.allSatisfy { !isZombieChild($0) && waitpid($0, nil, WNOHANG) == -1 }
            })
            for pid in pids {
                #expect(!isZombieChild(pid))
                #expect(waitpid(pid, nil, WNOHANG) == -1 && errno == ECHILD, "shim \(pid) was not reaped")
            }
        }
    }

    @Test("a shim that exits with its never-started code is REJECTED; any other disappearance is LOST",
          arguments: [
            ("exit \(ShimRunner.exitNeverStartedJob)", LocalJobState.rejected, "before starting the job"),
            ("kill -KILL $$", LocalJobState.lost, "killed by signal 9"),
            ("exit 1", LocalJobState.lost, "exited with code 1"),
          ])
    func shimDisappearance(script: String, expected: LocalJobState, message: String) async throws {
        try await withTemporaryDirectory { directory in
            let agent = try supervisor(directory + "/data", shim: try fakeShim(directory, script))
            try await agent.assign(assignment("job-d", command: ["/bin/true"]))
            #expect(try await eventually {
                try await agent.poll()
                return await agent.activeJobs().isEmpty
            })
            let last = try #require(try outboxUpdates(agent.outbox, job: "job-d").last)
            #expect(LocalJobState.fromWire(last.state) == expected, "\(last)")
            #expect(last.message.contains(message), "\(last.message)")
            if expected == .lost { #expect(last.message.contains("may have run")) }
        }
    }

    @Test("a store failure after the shim started neither rejects the job nor starts it twice")
    func storeFailureAfterLaunch() async throws {
        try await withTemporaryDirectory { directory in
            let release = directory + "/release"
            let agent = try supervisor(directory + "/data")
            // Every write of a job row that records a shim pid fails.
            try agent.outbox.executeForTesting("""
                CREATE TRIGGER fail_started BEFORE INSERT ON jobs WHEN NEW.shim_pid IS NOT NULL
                BEGIN SELECT RAISE(ABORT, 'injected failure'); END
                """)
            try await agent.assign(assignment("job-s", command: ["/bin/sh", "-c", "while [ ! -e \(release) ]; do sleep 0.05; done"]))
            let started = try #require(await agent.activeJobs().first)
            let pid = try #require(started.shimPID)
            #expect(started.jobDirectory != nil)
            #expect(try agent.outbox.job("job-s", attempt: 1)?.shimPID == nil, "the save failed")
            for _ in 0..<5 { try? await agent.poll() }
            let states = try outboxUpdates(agent.outbox, job: "job-s").map(\.state)
            #expect(!states.contains(.rejected), "states: \(states)")
            #expect(await agent.activeJobs().first?.shimPID == pid, "still the first shim")
            #expect(await eventually { ProcessDriver.readShimInfo(started.jobDirectory!) != nil })
            #expect(ProcessDriver.readShimInfo(started.jobDirectory!)?.shimPID == pid, "no second shim in the directory")

            try agent.outbox.executeForTesting("DROP TRIGGER fail_started")
            try await agent.poll()
            #expect(try agent.outbox.job("job-s", attempt: 1)?.shimPID == pid, "the save was retried")
            _ = FileManager.default.createFile(atPath: release, contents: nil)
            #expect(try await eventually {
                try await agent.poll()
                return await agent.activeJobs().isEmpty
            })
            let final = try outboxUpdates(agent.outbox, job: "job-s").map(\.state)
            #expect(final.filter { LocalJobState.fromWire($0)?.isTerminal == true } == [.succeeded], "states: \(final)")
        }
    }

    @Test("the final log flush comes in bounded slices, and output is followed only until its terminal update is acknowledged")
    func boundedFinalFlush() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try supervisor(directory + "/data")
            // 5 MiB of stdout = 80 chunks of 64 KiB.
            try await agent.assign(assignment("job-big", command: ["/bin/sh", "-c", "head -c 5242880 /dev/zero"]))
            #expect(try await eventually {
                try await agent.poll()
                return await agent.activeJobs().isEmpty
            })
            #expect(await agent.followedLogCount() == 1, "followed until its terminal update is acknowledged")
            let jobUpdates = try outboxUpdates(agent.outbox, job: "job-big")
            try await agent.beginFinalLogs(for: jobUpdates)
            var sizes: [Int] = []
            var bytes = 0
            while true {
                let slice = await agent.finalLogChunks(for: jobUpdates)
                if slice.isEmpty { break }
                sizes.append(slice.count)
                bytes += slice.reduce(0) { $0 + $1.logChunk.data.count }
                #expect(slice.allSatisfy { $0.logChunk.data.count <= LogShipper.maxChunkBytes })
            }
            #expect(sizes == [64, 16])
            #expect(bytes == 5 << 20)

            let terminal = try #require(try agent.outbox.outbox(after: 0).last { $0.envelope.jobUpdate.state == .succeeded })
            try await agent.acknowledge(upTo: terminal.seq - 1)
            #expect(await agent.followedLogCount() == 1)
            try await agent.acknowledge(upTo: terminal.seq)
            #expect(await agent.followedLogCount() == 0)
        }
    }

    @Test("no stream is shipped beyond 64 MiB")
    func capsStream() async throws {
        try await withTemporaryDirectory { directory in
            let fd = open(directory + "/" + ShimFiles.stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            #expect(fd >= 0)
            #expect(ftruncate(fd, off_t(LogShipper.maxBytesPerStream) + 100_000) == 0)  // sparse
            close(fd)
            var shipper = LogShipper()
            let key = LogShipper.Key(jobID: "job-cap", attempt: 1)
            shipper.follow(key, directory: directory)
            var shipped: UInt64 = 0
            var end: UInt64 = 0
            while true {
                let slice = shipper.chunks(for: key, maxChunksPerStream: .max, maxChunks: 64)
                if slice.isEmpty { break }
                #expect(slice.count <= 64)
                for envelope in slice {
                    shipped += UInt64(envelope.logChunk.data.count)
                    end = max(end, envelope.logChunk.offset + UInt64(envelope.logChunk.data.count))
                }
            }
            #expect(shipped == LogShipper.maxBytesPerStream)
            #expect(end == LogShipper.maxBytesPerStream)
        }
    }
}
