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
        return migrator
    }
}
