import EstuaryModel
import EstuaryWire

/// A job attempt's state as the agent reports it (the wire's `JobState`, without the
/// coordinator-only states).
public enum LocalJobState: String, Sendable, Hashable, CaseIterable {
    case starting, running, succeeded, failed, cancelled, rejected, lost

    public var isTerminal: Bool {
        switch self {
        case .starting, .running: false
        default: true
        }
    }

    /// Whether the attempt holds pool units.
    public var holdsCapacity: Bool { !isTerminal }

    var wire: Estuary_V1_JobState {
        switch self {
        case .starting: .starting
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        case .cancelled: .cancelled
        case .rejected: .rejected
        case .lost: .lost
        }
    }
}

/// One row of the agent's `jobs` table: a job attempt the agent accepted (or rejected) and has
/// not yet forgotten. Kept until its terminal update is acknowledged and the retention passed.
public struct JobRecord: Sendable, Hashable {
    public var jobID: JobID
    public var attempt: Int
    /// The spec as it arrived (wire form), so that the record survives model changes.
    public var spec: Estuary_V1_JobSpec
    public var state: LocalJobState
    /// `<data_dir>/jobs/<job_id>-<attempt>`; nil until the agent prepared it.
    public var jobDirectory: String?
    public var shimPID: Int32?
    /// `slurm` driver: the Slurm job id, once `sbatch` returned it.
    public var slurmJobID: String?
    public var startedAtMs: Int64?
    public var endedAtMs: Int64?
    public var exitCode: Int32?
    public var signal: Int32?
    public var message: String?
    /// A JobCancel arrived; the shim has been (or must again be) told.
    public var cancelRequested: Bool
    public var acceptedAtMs: Int64
    /// Outbox seq of the terminal JobUpdate, once written.
    public var terminalSeq: UInt64?
    /// The coordinator acknowledged the terminal update.
    public var terminalReported: Bool
    public var reportedAtMs: Int64?

    public init(jobID: JobID, attempt: Int, spec: Estuary_V1_JobSpec, state: LocalJobState, acceptedAtMs: Int64) {
        self.jobID = jobID
        self.attempt = attempt
        self.spec = spec
        self.state = state
        self.cancelRequested = false
        self.acceptedAtMs = acceptedAtMs
        self.terminalReported = false
    }

    /// Pool class and units held while the attempt is active.
    var acceleratorClass: String { spec.acceleratorClass }
    var units: Int { Int(spec.count) * Int(max(spec.tasks, 1)) }

    var logTag: String { "\(jobID.rawValue)#\(attempt)" }
}
