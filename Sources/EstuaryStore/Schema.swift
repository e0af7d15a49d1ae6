import GRDB

/// Versioned migrations of the coordinator's SQLite store. Never edit a shipped migration:
/// add the next one.
enum Schema {
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: sites, jobs, events, usage, cursors") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sites (
                        id TEXT PRIMARY KEY NOT NULL,
                        descriptor TEXT NOT NULL,
                        pools TEXT NOT NULL,
                        agent_version TEXT,
                        first_seen_ms INTEGER NOT NULL,
                        last_seen_ms INTEGER NOT NULL,
                        draining INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE TABLE site_cursors (
                        site_id TEXT NOT NULL,
                        epoch TEXT NOT NULL,
                        upstream_seq INTEGER NOT NULL,
                        PRIMARY KEY (site_id, epoch)
                    );
                    CREATE TABLE jobs (
                        id TEXT PRIMARY KEY NOT NULL,
                        tenant TEXT NOT NULL,
                        spec TEXT NOT NULL,
                        state TEXT NOT NULL,
                        site_id TEXT,
                        attempt INTEGER NOT NULL DEFAULT 0,
                        exit_code INTEGER,
                        signal INTEGER,
                        cancel_requested INTEGER NOT NULL DEFAULT 0,
                        cancel_reason TEXT,
                        idempotency_key TEXT UNIQUE,
                        created_at_ms INTEGER NOT NULL,
                        updated_at_ms INTEGER NOT NULL
                    );
                    CREATE INDEX jobs_by_state ON jobs(state, id);
                    CREATE INDEX jobs_by_site ON jobs(site_id, state);
                    CREATE INDEX jobs_by_tenant ON jobs(tenant, id);
                    CREATE TABLE job_events (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        job_id TEXT NOT NULL,
                        state TEXT NOT NULL,
                        at_ms INTEGER NOT NULL,
                        site_at_ms INTEGER,
                        cause TEXT NOT NULL,
                        source TEXT NOT NULL,
                        site_id TEXT,
                        attempt INTEGER NOT NULL
                    );
                    CREATE INDEX job_events_by_job ON job_events(job_id, seq);
                    CREATE TABLE usage_records (
                        id TEXT PRIMARY KEY NOT NULL,
                        job_id TEXT NOT NULL,
                        site_id TEXT NOT NULL,
                        class TEXT NOT NULL,
                        units INTEGER NOT NULL,
                        started_at_ms INTEGER NOT NULL,
                        ended_at_ms INTEGER NOT NULL,
                        unit_ms INTEGER NOT NULL,
                        recorded_at_ms INTEGER NOT NULL
                    );
                    CREATE INDEX usage_by_job ON usage_records(job_id);
                    """)
        }
        migrator.registerMigration("v2: trust (API tokens, join tokens, enrollments, certificates, audit log)") { db in
            try db.execute(sql: trustTables)
        }
        migrator.registerMigration("v3: scheduler (placed class, sites a job must avoid)") { db in
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN placed_class TEXT;
                    ALTER TABLE jobs ADD COLUMN excluded_sites TEXT NOT NULL DEFAULT '[]';
                    """)
        }
        return migrator
    }

    /// Secrets are stored only as SHA-256 of the secret part (`secret_hash`); the id is public.
    /// `audit_log` is append-only: triggers refuse every UPDATE and DELETE, so a bug (or a
    /// careless maintenance query) cannot rewrite history through this database connection.
    static let trustTables = """
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY NOT NULL,
            secret_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            subject TEXT,
            name TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            expires_at_ms INTEGER,
            revoked_at_ms INTEGER
        );
        CREATE TABLE join_tokens (
            id TEXT PRIMARY KEY NOT NULL,
            secret_hash TEXT NOT NULL,
            site_id TEXT NOT NULL,
            org TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            expires_at_ms INTEGER NOT NULL,
            used_at_ms INTEGER,
            used_from TEXT
        );
        CREATE INDEX join_tokens_by_site ON join_tokens(site_id);
        CREATE TABLE site_enrollments (
            site_id TEXT PRIMARY KEY NOT NULL,
            org TEXT NOT NULL,
            added_at_ms INTEGER NOT NULL,
            revoked_at_ms INTEGER
        );
        CREATE TABLE certificates (
            serial TEXT PRIMARY KEY NOT NULL,
            role TEXT NOT NULL,
            subject TEXT NOT NULL,
            not_before_ms INTEGER NOT NULL,
            not_after_ms INTEGER NOT NULL,
            issued_at_ms INTEGER NOT NULL,
            revoked_at_ms INTEGER
        );
        CREATE INDEX certificates_by_subject ON certificates(role, subject);
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at_ms INTEGER NOT NULL,
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            source TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        CREATE INDEX audit_log_by_actor ON audit_log(actor, seq);
        CREATE INDEX audit_log_by_action ON audit_log(action, seq);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only');
        END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only');
        END;
        """
}
