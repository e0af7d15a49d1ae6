import EstuaryModel
import EstuaryWire
import Foundation
import GRDB

/// The agent's durable state: one SQLite file (`<data_dir>/agent.sqlite`, WAL) holding the
/// upstream outbox, its epoch and counter, and the jobs the agent still has a record of.
///
/// Invariant: a JobUpdate or UsageBatch is in the outbox, with its seq, in the same transaction
/// as the job-row change it reports, and before it is ever sent.
public final class AgentStore: Sendable {
    /// One reliable upstream envelope waiting for its ack.
    public struct OutboxEntry: Sendable {
        public var seq: UInt64
        public var envelope: Estuary_V1_Envelope
    }

    public static let fileName = "agent.sqlite"

    private let database: DatabasePool
    /// Random id of this outbox, created with the database (Hello.outbox_epoch).
    public let epoch: String

    /// Opens (creating if needed) the store in `directory`.
    public init(directory: String) throws {
        try JobDirectoryIO.makeDirectories(directory)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        database = try DatabasePool(path: directory + "/" + Self.fileName, configuration: configuration)
        try Self.migrator.migrate(database)
        epoch = try database.write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'outbox_epoch'") {
                return existing
            }
            let fresh = UUID().uuidString.lowercased()
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('outbox_epoch', ?), ('next_seq', '1')", arguments: [fresh])
            return fresh
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body BLOB NOT NULL, created_at INTEGER NOT NULL);
                    CREATE TABLE jobs (
                        job_id TEXT NOT NULL, attempt INTEGER NOT NULL, spec BLOB NOT NULL, state TEXT NOT NULL,
                        job_dir TEXT, shim_pid INTEGER, started_at_ms INTEGER, ended_at_ms INTEGER,
                        exit_code INTEGER, signal INTEGER, message TEXT,
                        cancel_requested INTEGER NOT NULL DEFAULT 0, accepted_at_ms INTEGER NOT NULL,
                        terminal_seq INTEGER, terminal_reported INTEGER NOT NULL DEFAULT 0, reported_at_ms INTEGER,
                        PRIMARY KEY (job_id, attempt)
                    );
                    """
            )
        }
        migrator.registerMigration("v2: slurm job id") { db in
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN slurm_job_id TEXT")
        }
        return migrator
    }

    // MARK: outbox

    /// Runs raw SQL against the store: for tests that inject failures (e.g. a trigger that
    /// aborts writes), never for the agent itself.
    func executeForTesting(_ sql: String) throws {
        try database.write { db in try db.execute(sql: sql) }
    }

    /// The seq the next reliable envelope will get (Hello.next_seq).
    public func nextSeq() throws -> UInt64 {
        try database.read { db in try Self.nextSeq(db) }
    }

    private static func nextSeq(_ db: Database) throws -> UInt64 {
        let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'next_seq'") ?? "1"
        return UInt64(text) ?? 1
    }

    /// Appends reliable bodies to the outbox, each with the next seq; returns their seqs.
    @discardableResult
    public func enqueue(_ bodies: [Estuary_V1_Envelope.OneOf_Body], nowMs: Int64) throws -> [UInt64] {
        try database.write { db in try Self.enqueue(db, bodies, nowMs: nowMs) }
    }

    private static func enqueue(_ db: Database, _ bodies: [Estuary_V1_Envelope.OneOf_Body], nowMs: Int64) throws -> [UInt64] {
        var seq = try nextSeq(db)
        var assigned: [UInt64] = []
        for body in bodies {
            var envelope = Estuary_V1_Envelope()
            envelope.seq = seq
            envelope.body = body
            try db.execute(
                sql: "INSERT INTO outbox (seq, body, created_at) VALUES (?, ?, ?)",
                arguments: [Int64(seq), try envelope.serializedBytes() as Data, nowMs]
            )
            assigned.append(seq)
            seq += 1
        }
        try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'next_seq'", arguments: [String(seq)])
        return assigned
    }

    /// Outbox entries with seq > `after`, in order.
    public func outbox(after: UInt64, limit: Int = 512) throws -> [OutboxEntry] {
        try database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [Int64(clamping: after), limit]
            ).map { row in
                let data: Data = row["body"]
                return OutboxEntry(seq: UInt64(row["seq"] as Int64), envelope: try Estuary_V1_Envelope(serializedBytes: data))
            }
        }
    }

    /// The coordinator durably applied everything up to `ack`: drop those entries and mark the
    /// jobs whose terminal update they carried as reported.
    public func acknowledge(upTo ack: UInt64, nowMs: Int64) throws {
        guard ack > 0 else { return }
        let bound = Int64(clamping: ack)
        try database.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE seq <= ?", arguments: [bound])
            try db.execute(
                sql: """
                    UPDATE jobs SET terminal_reported = 1, reported_at_ms = ?
                    WHERE terminal_reported = 0 AND terminal_seq IS NOT NULL AND terminal_seq <= ?
                    """,
                arguments: [nowMs, bound]
            )
        }
    }

    public func outboxCount() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0 }
    }

    // MARK: jobs

    /// Inserts `record` and enqueues `bodies` in one transaction, unless a row for the same
    /// (job, attempt) exists. Returns false (and changes nothing) when it does.
    public func insert(_ record: JobRecord, emitting bodies: [Estuary_V1_Envelope.OneOf_Body], nowMs: Int64) throws -> Bool {
        try database.write { db in
            let exists = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM jobs WHERE job_id = ? AND attempt = ?",
                arguments: [record.jobID.rawValue, record.attempt]
            ) ?? false
            if exists { return false }
            _ = try Self.save(db, record, emitting: bodies, nowMs: nowMs)
            return true
        }
    }

    /// Writes `record` and enqueues `bodies` in one transaction; returns the record as stored
    /// (with `terminalSeq` set when a terminal update was among the bodies).
    @discardableResult
    public func save(_ record: JobRecord, emitting bodies: [Estuary_V1_Envelope.OneOf_Body], nowMs: Int64) throws -> JobRecord {
        try database.write { db in try Self.save(db, record, emitting: bodies, nowMs: nowMs) }
    }

    private static func save(_ db: Database, _ record: JobRecord, emitting bodies: [Estuary_V1_Envelope.OneOf_Body], nowMs: Int64) throws -> JobRecord {
        var record = record
        let seqs = try enqueue(db, bodies, nowMs: nowMs)
        for (body, seq) in zip(bodies, seqs) {
            if case .jobUpdate(let update) = body, update.jobID == record.jobID.rawValue,
                LocalJobState.fromWire(update.state)?.isTerminal == true
            {
                record.terminalSeq = seq
            }
        }
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO jobs (job_id, attempt, spec, state, job_dir, shim_pid, started_at_ms, ended_at_ms,
                    exit_code, signal, message, cancel_requested, accepted_at_ms, terminal_seq, terminal_reported, reported_at_ms,
                    slurm_job_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                record.jobID.rawValue, record.attempt, try record.spec.serializedBytes() as Data, record.state.rawValue,
                record.jobDirectory, record.shimPID, record.startedAtMs, record.endedAtMs, record.exitCode, record.signal,
                record.message, record.cancelRequested, record.acceptedAtMs, record.terminalSeq.map { Int64(clamping: $0) },
                record.terminalReported, record.reportedAtMs, record.slurmJobID,
            ]
        )
        return record
    }

    /// Every job the agent has a record of (Hello.known_jobs), oldest first.
    public func allJobs() throws -> [JobRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY accepted_at_ms, job_id, attempt").map(Self.record)
        }
    }

    /// Jobs not yet in a terminal state.
    public func activeJobs() throws -> [JobRecord] {
        try allJobs().filter { !$0.state.isTerminal }
    }

    public func job(_ id: JobID, attempt: Int) throws -> JobRecord? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE job_id = ? AND attempt = ?", arguments: [id.rawValue, attempt])
                .map(Self.record)
        }
    }

    /// Forgets reported terminal jobs whose report was acknowledged before `cutoffMs`; returns
    /// their job directories so that the caller can remove them.
    public func pruneReported(before cutoffMs: Int64) throws -> [String] {
        try database.write { db in
            let directories = try String.fetchAll(
                db, sql: "SELECT job_dir FROM jobs WHERE terminal_reported = 1 AND reported_at_ms < ? AND job_dir IS NOT NULL",
                arguments: [cutoffMs]
            )
            try db.execute(sql: "DELETE FROM jobs WHERE terminal_reported = 1 AND reported_at_ms < ?", arguments: [cutoffMs])
            return directories
        }
    }

    private static func record(_ row: Row) throws -> JobRecord {
        let specData: Data = row["spec"]
        var record = JobRecord(
            jobID: JobID(rawValue: row["job_id"]), attempt: row["attempt"],
            spec: try Estuary_V1_JobSpec(serializedBytes: specData),
            state: LocalJobState(rawValue: row["state"]) ?? .lost, acceptedAtMs: row["accepted_at_ms"]
        )
        record.jobDirectory = row["job_dir"]
        record.shimPID = row["shim_pid"]
        record.startedAtMs = row["started_at_ms"]
        record.endedAtMs = row["ended_at_ms"]
        record.exitCode = row["exit_code"]
        record.signal = row["signal"]
        record.message = row["message"]
        record.cancelRequested = row["cancel_requested"]
        record.terminalSeq = (row["terminal_seq"] as Int64?).map { UInt64($0) }
        record.terminalReported = row["terminal_reported"]
        record.reportedAtMs = row["reported_at_ms"]
        record.slurmJobID = row["slurm_job_id"]
        return record
    }
}

extension LocalJobState {
    static func fromWire(_ state: Estuary_V1_JobState) -> LocalJobState? {
        switch state {
        case .starting: .starting
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        case .cancelled: .cancelled
        case .rejected: .rejected
        case .lost: .lost
        default: nil
        }
    }
}
