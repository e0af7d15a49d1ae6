import EstuaryModel
import EstuaryWire

/// Pure construction of the upstream bodies that report a job attempt: JobUpdates, and the
/// usage record of a finished attempt. No I/O; time comes in as arguments.
enum JobReports {
    /// How a finished shim status reads as a terminal state.
    struct Outcome: Equatable {
        var state: LocalJobState
        var message: String
        var exitCode: Int32?
        var signal: Int32?
        /// Whether the attempt ran (and so produced usage).
        var ran: Bool
    }

    static func outcome(of status: ShimStatus, walltimeSeconds: Int) -> Outcome {
        if let spawnError = status.spawnError {
            return Outcome(state: .rejected, message: "cannot start the job: \(spawnError)", ran: false)
        }
        let how: String
        if let code = status.exitCode {
            how = "exit code \(code)"
        } else if let signal = status.signal {
            how = "killed by signal \(signal)"
        } else {
            how = "ended"
        }
        let state: LocalJobState
        let message: String
        if status.cancelled {
            state = .cancelled
            message = "cancelled (\(how))"
        } else if status.walltimeExceeded {
            state = .failed
            message = "walltime of \(walltimeSeconds) s exceeded"
        } else if status.exitCode == 0 {
            state = .succeeded
            message = how
        } else {
            state = .failed
            message = how
        }
        return Outcome(state: state, message: message, exitCode: status.exitCode, signal: status.signal, ran: true)
    }

    static func update(_ record: JobRecord, state: LocalJobState, atMs: Int64, message: String = "") -> Estuary_V1_Envelope.OneOf_Body {
        var update = Estuary_V1_JobUpdate()
        update.jobID = record.jobID.rawValue
        update.attempt = UInt32(clamping: record.attempt)
        update.state = state.wire
        update.atMs = atMs
        if let code = record.exitCode {
            update.hasExitCode_p = true
            update.exitCode = code
        }
        update.signal = record.signal ?? 0
        update.message = message
        return .jobUpdate(update)
    }

    /// The usage of one finished attempt: `u-<job>-<attempt>`, units = count × tasks.
    static func usage(_ record: JobRecord, startedAtMs: Int64, endedAtMs: Int64) -> Estuary_V1_Envelope.OneOf_Body {
        var usage = Estuary_V1_UsageRecord()
        usage.recordID = UsageRecordID.forJob(record.jobID, attempt: record.attempt).rawValue
        usage.jobID = record.jobID.rawValue
        usage.acceleratorClass = record.acceleratorClass
        usage.units = UInt32(clamping: record.units)
        usage.startedAtMs = startedAtMs
        usage.endedAtMs = max(startedAtMs, endedAtMs)
        var batch = Estuary_V1_UsageBatch()
        batch.records = [usage]
        return .usage(batch)
    }
}
