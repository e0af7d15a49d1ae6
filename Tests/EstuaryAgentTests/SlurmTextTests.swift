import EstuaryConfig
import EstuaryModel
import Foundation
import Testing

@testable import EstuaryAgent

/// The pure half of the slurm driver, on outputs recorded from Slurm 22.05.8 (Debian 12's
/// slurm-wlm, the one-host cluster of scripts/slurm-one-host.sh) with SLURM_TIME_FORMAT=%s.
@Suite("Slurm text")
struct SlurmTextTests {
    @Test("squeue rows: pending reasons, start times, a job name holding '|'")
    func queueRows() {
        let recorded = """
            22|PENDING|N/A|Resources|with|pipe
            20|RUNNING|1796491852|None|estuary-j-rec-1
            21|PENDING|N/A|PartitionDown|estuary-j-rec2-1
            garbage line

            """
        let rows = SlurmText.queueRows(recorded)
        #expect(rows == [
            .init(slurmJobID: "22", state: "PENDING", startedAt: nil, reason: "Resources", name: "with|pipe"),
            .init(slurmJobID: "20", state: "RUNNING", startedAt: 1_796_491_852, reason: "None", name: "estuary-j-rec-1"),
            .init(slurmJobID: "21", state: "PENDING", startedAt: nil, reason: "PartitionDown", name: "estuary-j-rec2-1"),
        ])
        #expect(!SlurmText.isUnrunnable(rows[0]), "waiting for resources resolves by itself")
        #expect(!SlurmText.isUnrunnable(rows[1]))
        #expect(SlurmText.isUnrunnable(rows[2]))
        let maintenance = SlurmText.QueueRow(slurmJobID: "5", state: "PENDING", startedAt: nil, reason: "ReqNodeNotAvail, UnavailableNodes:vm", name: "x")
        #expect(SlurmText.isUnrunnable(maintenance))
    }

    @Test("sacct rows: states with 'by uid', exit code and signal, reused ids, steps skipped")
    func accountingRows() {
        let recorded = """
            20|CANCELLED|0:0|1796489126|1796489126|wrap
            21|CANCELLED by 0|0:15|1796491853|1796491853|estuary-j-rec2-1
            22|COMPLETED|0:0|1796491853|1796491854|with|pipe
            53|FAILED|3:0|1796491010|1796491012|estuary-j1-1
            53.batch|FAILED|3:0|1796491010|1796491012|batch
            54|PENDING|0:0|Unknown|Unknown|estuary-j2-1
            """
        let rows = SlurmText.accountingRows(recorded)
        #expect(rows.map(\.slurmJobID) == ["20", "21", "22", "53", "54"])
        #expect(rows[1] == .init(slurmJobID: "21", state: "CANCELLED", exitCode: 0, signal: 15, startedAt: 1_796_491_853, endedAt: 1_796_491_853, name: "estuary-j-rec2-1"))
        #expect(rows[2].name == "with|pipe")
        #expect(rows[3].exitCode == 3 && rows[3].signal == 0)
        #expect(rows[4].startedAt == nil && rows[4].endedAt == nil)
    }

    private func row(_ state: String, exit: Int32 = 0, signal: Int32 = 0, start: Int64? = 100, end: Int64? = 160) -> SlurmText.AccountingRow {
        .init(slurmJobID: "7", state: state, exitCode: exit, signal: signal, startedAt: start, endedAt: end, name: "estuary-j-1")
    }

    private func outcome(_ row: SlurmText.AccountingRow, cancel: Bool = false, rejection: String? = nil, seen: Bool = true) -> JobReports.Outcome? {
        SlurmText.outcome(of: row, walltimeSeconds: 90, cancelRequested: cancel, rejection: rejection, seenRunning: seen)
    }

    @Test("how each ended state reads: who cancelled, walltime, node failure, a give-back that never ran")
    func outcomes() {
        #expect(outcome(row("COMPLETED")) == .init(state: .succeeded, message: "exit code 0", exitCode: 0, ran: true))
        #expect(outcome(row("FAILED", exit: 3))?.state == .failed)
        #expect(outcome(row("FAILED", exit: 3))?.exitCode == 3)
        #expect(outcome(row("FAILED", signal: 9))?.message == "killed by signal 9")
        #expect(outcome(row("CANCELLED", signal: 15), cancel: true)?.state == .cancelled)
        #expect(outcome(row("CANCELLED", signal: 15), cancel: false)?.state == .failed, "an operator's scancel is not the user's cancel")
        let timeout = outcome(row("TIMEOUT", signal: 15))
        #expect(timeout?.state == .failed)
        #expect(timeout?.message.contains("walltime of 90 s exceeded") == true)
        #expect(timeout?.message.contains("limit 2 min") == true, "Slurm limits are whole minutes, rounded up")
        #expect(outcome(row("NODE_FAIL"))?.state == .lost)
        #expect(outcome(row("NODE_FAIL"))?.ran == true, "it ran: usage counts")
        #expect(outcome(row("BOOT_FAIL", start: nil, end: nil))?.state == .rejected)
        #expect(outcome(row("PENDING")) == nil)
        #expect(outcome(row("RUNNING")) == nil)

        // Given back while pending: start = end = cancel time in the job-completion log.
        let givenBack = row("CANCELLED", start: 200, end: 200)
        #expect(outcome(givenBack, rejection: "partition down", seen: false) == .init(state: .rejected, message: "partition down", ran: false))
        #expect(outcome(givenBack, cancel: true, seen: false)?.ran == false)
        #expect(outcome(givenBack, cancel: true, seen: false)?.message == "cancelled before it started")
        // Seen running, then cancelled within its first second: it ran.
        #expect(outcome(givenBack, cancel: true, seen: true)?.ran == true)
    }

    @Test("sbatch arguments for CPU and GRES pools, memory, walltime in whole minutes, account and QOS")
    func sbatchArguments() {
        var request = SlurmText.Request(
            partition: "cpu", tasks: 4, unitsPerTask: 8, gres: nil, memoryMiBPerTask: 1000, walltimeSeconds: 61, account: nil, qos: nil)
        let cpu = SlurmText.sbatchArguments(request, name: "estuary-j-1", directory: "/jobs/j-1")
        #expect(cpu == [
            "--parsable", "--job-name=estuary-j-1", "--partition=cpu", "--chdir=/jobs/j-1", "--output=/jobs/j-1/stdout",
            "--error=/jobs/j-1/stderr", "--export=NONE", "--no-requeue", "--ntasks=4", "--cpus-per-task=8", "--mem-per-cpu=125M", "--time=2",
        ])
        request.gres = "gpu:a100"
        request.account = "ai-lab"
        request.qos = "normal"
        request.walltimeSeconds = 0
        let gpu = SlurmText.sbatchArguments(request, name: "estuary-j-1", directory: "/jobs/j-1")
        #expect(Array(gpu.suffix(6)) == ["--nodes=4", "--ntasks-per-node=1", "--gres=gpu:a100:8", "--mem=1000M", "--account=ai-lab", "--qos=normal"])
        #expect(!gpu.contains { $0.hasPrefix("--time") }, "no walltime: the partition's default")
    }

    @Test("the batch script quotes every argument and value and drops names the shell cannot export")
    func batchScript() {
        let script = SlurmText.batchScript(
            command: ["/bin/echo", "it's", "$HOME", "a b"], environment: ["B": "x'y", "A": "$(rm -rf /)", "not-a-name": "z"],
            header: "Estuary job j, attempt 1\nsecond line")
        #expect(script == """
            #!/bin/sh
            # Estuary job j, attempt 1second line
            # Generated by estuary-agent; the agent tracks this job by its name.
            export A='$(rm -rf /)'
            export B='x'\\''y'
            exec '/bin/echo' 'it'\\''s' '$HOME' 'a b'

            """)
    }

    @Test("sbatch --parsable output and failures that mean 'try again' rather than 'refused'")
    func submissionReplies() {
        #expect(SlurmText.submittedJobID("23\n") == "23")
        #expect(SlurmText.submittedJobID("4711;cluster-a\n") == "4711")
        #expect(SlurmText.submittedJobID("sbatch: error: x\n") == nil)
        #expect(SlurmText.isTransientSubmitFailure("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"))
        #expect(!SlurmText.isTransientSubmitFailure("sbatch: error: Invalid generic resource (gres) specification"))
        #expect(!SlurmText.isTransientSubmitFailure("sbatch: error: Batch job submission failed: Invalid partition name specified"))
    }

    @Test("pool units from sinfo: cores of usable nodes, or GRES units of the wanted name and type")
    func poolUnits() {
        // First row recorded here; the GRES forms are those of sinfo's %G in the Slurm gres.conf docs.
        let rows = SlurmText.nodeRows("""
            vm|8|(null)|idle
            gpu01|64|gpu:a100:8(S:0-1)|mixed
            gpu02|64|gpu:a100:4(S:0),gpu:h100:4(S:1)|allocated
            gpu03|64|gpu:a100:8(S:0-1)|drained
            gpu04|64|gpu:a100:8|idle*
            npu01|192|npu:910b:8,gpu:2|idle
            """)
        #expect(rows.count == 6)
        #expect(rows.map(\.isUsable) == [true, true, true, false, false, true])
        #expect(SlurmText.poolUnits(rows, gres: nil) == 8 + 64 + 64 + 192)
        #expect(SlurmText.poolUnits(rows, gres: "gpu:a100") == 12)
        #expect(SlurmText.poolUnits(rows, gres: "gpu") == 8 + 8 + 2)
        #expect(SlurmText.poolUnits(rows, gres: "npu") == 8)
        #expect(SlurmText.gresUnits("gpu:a100:4(S:0,1),gpu:h100:2", matching: "gpu:h100") == 2, "commas inside the socket list")
    }

    @Test("what a partition has free: idle cores, GRES units not in use, on usable nodes only")
    func idleUnits() {
        // First row recorded here with a 3-core job running; GRES rows in sinfo's GresUsed form.
        let nodes = SlurmText.nodeUsage("""
            vm|3/5/0/8|(null)|(null)|mixed|
            gpu01|16/48/0/64|gpu:a100:8(S:0-1)|gpu:a100:3(IDX:0-2)|mixed|
            gpu02|0/64/0/64|gpu:a100:8(S:0-1)|gpu:a100:0(IDX:N/A)|idle|
            gpu03|0/64/0/64|gpu:a100:8(S:0-1)|gpu:a100:0(IDX:N/A)|drained|
            short|1/2
            """)
        #expect(nodes.count == 4)
        #expect(nodes[0] == .init(name: "vm", idleCPUs: 5, gres: "(null)", gresUsed: "(null)", state: "mixed"))
        #expect(SlurmText.idleUnits(nodes, gres: nil) == 5 + 48 + 64, "the drained node's cores do not count")
        #expect(SlurmText.idleUnits(nodes, gres: "gpu:a100") == 5 + 8)
        #expect(SlurmText.idleUnits(nodes, gres: "gpu:h100") == 0)
    }

    @Test("a command that outlives its time limit is killed with its process group; a missing program is a typed error")
    func commandTimeout() async throws {
        try await withTemporaryDirectory { directory in
            // The shell records its pid (the group's leader) before starting two sleeps.
            let pidFile = directory + "/pid"
            let result = try await CommandRunner.run(
                ["/bin/sh", "-c", "echo $$ > \(pidFile); sleep 30 & sleep 30"], environment: ["PATH": "/usr/bin:/bin"],
                timeout: .milliseconds(300))
            #expect(result.ending == .timedOut(.milliseconds(300)))
            let group = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            let gone = await eventually(timeout: .seconds(5)) { processes(inGroup: group).isEmpty }
            #expect(gone, "the shell and both sleeps were killed: \(processes(inGroup: group))")
        }
        let missing = await #expect(throws: CommandError.self) {
            _ = try await CommandRunner.run(["/nonexistent/sbatch"], environment: [:], timeout: .seconds(1))
        }
        #expect(missing?.description.contains("No such file") == true)
        let output = try await CommandRunner.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 4"], environment: [:], timeout: .seconds(10))
        #expect(output == CommandResult(ending: .exited(4), stdout: "out\n", stderr: "err\n"))
    }
}
