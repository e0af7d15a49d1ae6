import EstuaryModel
import GRDB

/// The operations the coordinator performs inside one transaction. Keeping SQL here means the
/// coordinator never sees GRDB, and a PostgreSQL store can offer the same surface.
public struct StoreTransaction {
    let db: Database
    /// Where `onRollback` actions go: the unit of group-committed work this transaction runs,
    /// or nil for a read.
    let rollback: RollbackActions?

    init(db: Database, rollback: RollbackActions? = nil) {
        self.db = db
        self.rollback = rollback
    }

    /// Runs `action` if what this write changed never reaches disk: its unit of work threw (so
    /// its savepoint was rolled back), or the transaction it is part of failed to commit. State
    /// kept in memory alongside the store (the ledger) uses it to notice that memory is ahead.
    /// Ignored in a read.
    public func onRollback(_ action: @escaping @Sendable () -> Void) {
        rollback?.add(action)
    }

    /// Runs a statement through SQLite's prepared-statement cache: the hot writes are compiled
    /// once per connection, not on every call.
    func run(_ sql: String, arguments: StatementArguments) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    // MARK: jobs

    public func insertJob(_ job: JobRecord) throws {
        try run(
            """
                INSERT INTO jobs (id, tenant, spec, state, site_id, attempt, exit_code, signal, cancel_requested,
                                  cancel_reason, idempotency_key, created_at_ms, updated_at_ms, placed_class, excluded_sites,
                                  forwarded_to, origin)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                job.id.rawValue, job.spec.tenant.rawValue, try encodeJSON(job.spec), job.state.rawValue,
                job.siteID?.rawValue, job.attempt, job.exitCode, job.signal, job.cancelRequested, job.cancelReason,
                job.spec.idempotencyKey.map { "\(job.spec.tenant.rawValue)/\($0)" }, job.createdAtMs, job.updatedAtMs,
                job.placedClass?.rawValue, try encodeJSON(job.excludedSites.sorted()), job.forwardedTo?.rawValue,
                try job.origin.map(encodeJSON),
            ])
    }

    /// Writes the mutable fields of a job.
    public func updateJob(_ job: JobRecord) throws {
        try run(
            """
                UPDATE jobs SET state = ?, site_id = ?, attempt = ?, exit_code = ?, signal = ?, cancel_requested = ?,
                                cancel_reason = ?, updated_at_ms = ?, placed_class = ?, excluded_sites = ?, forwarded_to = ?
                WHERE id = ?
                """,
            arguments: [
                job.state.rawValue, job.siteID?.rawValue, job.attempt, job.exitCode, job.signal, job.cancelRequested,
                job.cancelReason, job.updatedAtMs, job.placedClass?.rawValue, try encodeJSON(job.excludedSites.sorted()),
                job.forwardedTo?.rawValue, job.id.rawValue,
            ])
    }

    public func job(_ id: JobID) throws -> JobRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE id = ?"), arguments: [id.rawValue]).map(Self.job(from:))
    }

    /// The job created earlier by `tenant` with this idempotency key.
    public func job(tenant: TenantID, idempotencyKey: String) throws -> JobRecord? {
        try Row.fetchOne(
            db, sql: "SELECT * FROM jobs WHERE idempotency_key = ?",
            arguments: ["\(tenant.rawValue)/\(idempotencyKey)"]
        ).map(Self.job(from:))
    }

    public func jobs(state: JobState?, site: SiteID?, tenant: TenantID?, after: JobID?, limit: Int) throws -> [JobRecord] {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let state {
            clauses.append("state = ?")
            arguments += [state.rawValue]
        }
        if let site {
            clauses.append("site_id = ?")
            arguments += [site.rawValue]
        }
        if let tenant {
            clauses.append("tenant = ?")
            arguments += [tenant.rawValue]
        }
        if let after {
            clauses.append("id > ?")
            arguments += [after.rawValue]
        }
        let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        arguments += [limit]
        return try Row.fetchAll(db, sql: "SELECT * FROM jobs \(whereClause) ORDER BY id LIMIT ?", arguments: arguments)
            .map(Self.job(from:))
    }

    /// Every job that is not yet terminal.
    public func activeJobs() throws -> [JobRecord] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM jobs WHERE state NOT IN ('succeeded', 'failed', 'cancelled', 'lost') ORDER BY id"
        ).map(Self.job(from:))
    }

    public func activeJobs(site: SiteID) throws -> [JobRecord] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT * FROM jobs WHERE site_id = ? AND state IN ('placed', 'starting', 'running') ORDER BY id
                """,
            arguments: [site.rawValue]
        ).map(Self.job(from:))
    }

    public func countJobs() throws -> [JobState: Int] {
        var counts: [JobState: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
            if let state = JobState(rawValue: row["state"]) { counts[state] = row["n"] }
        }
        return counts
    }

    static func job(from row: Row) throws -> JobRecord {
        let id: String = row["id"]
        guard let state = JobState(rawValue: row["state"]) else {
            throw StoreError.corruptRow(table: "jobs", key: id, reason: "unknown state \(row["state"] as String? ?? "nil")")
        }
        return JobRecord(
            id: JobID(rawValue: id),
            spec: try decodeJSON(JobSpec.self, row["spec"], table: "jobs", key: id),
            state: state,
            siteID: (row["site_id"] as String?).map(SiteID.init(rawValue:)),
            attempt: row["attempt"],
            exitCode: row["exit_code"],
            signal: row["signal"],
            cancelRequested: row["cancel_requested"],
            cancelReason: row["cancel_reason"],
            createdAtMs: row["created_at_ms"],
            updatedAtMs: row["updated_at_ms"],
            placedClass: (row["placed_class"] as String?).map(AcceleratorClass.init(rawValue:)),
            excludedSites: Set(try decodeJSON([SiteID].self, row["excluded_sites"], table: "jobs", key: id)),
            forwardedTo: (row["forwarded_to"] as String?).map(CoordinatorID.init(rawValue:)),
            origin: try (row["origin"] as String?).map { try decodeJSON(JobOrigin.self, $0, table: "jobs", key: id) }
        )
    }

    // MARK: events

    public func appendEvent(_ event: JobEventRecord) throws {
        try run(
            """
                INSERT INTO job_events (job_id, state, at_ms, site_at_ms, cause, source, site_id, attempt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                event.jobID.rawValue, event.state.rawValue, event.atMs, event.siteAtMs, event.cause, event.source,
                event.siteID?.rawValue, event.attempt,
            ])
    }

    public func events(job: JobID) throws -> [JobEventRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM job_events WHERE job_id = ? ORDER BY seq", arguments: [job.rawValue])
            .map { row in
                JobEventRecord(
                    jobID: job,
                    state: JobState(rawValue: row["state"]) ?? .lost,
                    atMs: row["at_ms"],
                    siteAtMs: row["site_at_ms"],
                    cause: row["cause"],
                    source: row["source"],
                    siteID: (row["site_id"] as String?).map(SiteID.init(rawValue:)),
                    attempt: row["attempt"]
                )
            }
    }

    // MARK: usage

    /// Stores a usage record unless one with the same id exists, with the billing period it is
    /// recorded in (`YYYY-MM`, nil for none). Returns whether it was new.
    @discardableResult
    public func insertUsage(_ record: UsageRecord, recordedAtMs: Int64, period: String? = nil) throws -> Bool {
        try insertUsage([UsageRow(record, unrated: nil)], recordedAtMs: recordedAtMs, period: period)[0]
    }

    public func usage(job: JobID?) throws -> [UsageRecord] {
        try usage(job: job, site: nil, tenant: nil)
    }

    /// Usage records, optionally only one job's, one site's, or those of one tenant's jobs.
    public func usage(job: JobID?, site: SiteID?, tenant: TenantID?) throws -> [UsageRecord] {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let job {
            clauses.append("u.job_id = ?")
            arguments += [job.rawValue]
        }
        if let site {
            clauses.append("u.site_id = ?")
            arguments += [site.rawValue]
        }
        if let tenant {
            clauses.append("u.job_id IN (SELECT id FROM jobs WHERE tenant = ?)")
            arguments += [tenant.rawValue]
        }
        let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let rows = try Row.fetchAll(db, sql: "SELECT u.* FROM usage_records u \(whereClause) ORDER BY u.id", arguments: arguments)
        return rows.map { row in
            UsageRecord(
                id: UsageRecordID(rawValue: row["id"]), jobID: JobID(rawValue: row["job_id"]),
                siteID: SiteID(rawValue: row["site_id"]), acceleratorClass: AcceleratorClass(rawValue: row["class"]),
                units: row["units"], startedAtMs: row["started_at_ms"], endedAtMs: row["ended_at_ms"]
            )
        }
    }

    // MARK: sites and cursors

    public func upsertSite(_ site: SiteRecord) throws {
        try run(
            """
                INSERT INTO sites (id, descriptor, pools, agent_version, first_seen_ms, last_seen_ms, draining)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET descriptor = excluded.descriptor, pools = excluded.pools,
                    agent_version = excluded.agent_version, last_seen_ms = excluded.last_seen_ms,
                    draining = excluded.draining
                """,
            arguments: [
                site.descriptor.id.rawValue, try encodeJSON(site.descriptor), try encodeJSON(site.pools),
                site.agentVersion, site.firstSeenMs, site.lastSeenMs, site.draining,
            ])
    }

    public func sites() throws -> [SiteRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM sites ORDER BY id").map { row in
            let id: String = row["id"]
            return SiteRecord(
                descriptor: try decodeJSON(SiteDescriptor.self, row["descriptor"], table: "sites", key: id),
                pools: try decodeJSON([PoolCapacity].self, row["pools"], table: "sites", key: id),
                agentVersion: row["agent_version"],
                firstSeenMs: row["first_seen_ms"],
                lastSeenMs: row["last_seen_ms"],
                draining: row["draining"]
            )
        }
    }

    /// Highest upstream seq applied for a site's outbox epoch (0 if none).
    public func cursor(site: SiteID, epoch: String) throws -> UInt64 {
        let value = try Int64.fetchOne(
            db, sql: "SELECT upstream_seq FROM site_cursors WHERE site_id = ? AND epoch = ?",
            arguments: [site.rawValue, epoch])
        return UInt64(value ?? 0)
    }

    public func setCursor(site: SiteID, epoch: String, seq: UInt64) throws {
        try run(
            """
                INSERT INTO site_cursors (site_id, epoch, upstream_seq) VALUES (?, ?, ?)
                ON CONFLICT(site_id, epoch) DO UPDATE SET upstream_seq = excluded.upstream_seq
                """,
            arguments: [site.rawValue, epoch, Int64(seq)])
    }
}
