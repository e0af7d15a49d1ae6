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
        migrator.registerMigration("v4: money (tenants, prices, voucher programmes, ledger, holds, periods)") { db in
            try db.execute(sql: moneyTables)
        }
        migrator.registerMigration("v5: closed periods checked once per journal INSERT, not by a per-row trigger") { db in
            // The trigger ran a sub-program for every journal row (1.4 µs of each posting);
            // `StoreTransaction.insertJournal`, the one way rows are added, checks each distinct
            // period of a statement once instead.
            try db.execute(sql: "DROP TRIGGER ledger_transactions_open_period")
        }
        migrator.registerMigration("v6: federation (forwarded jobs, their origin, the mesh outbox)") { db in
            // `mesh_outbox` holds messages to peer coordinators (forwards, cancels, job updates,
            // usage, charges), written in the same transaction as the change they report and
            // deleted once the peer acknowledged them: delivery survives restarts of either side.
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN forwarded_to TEXT;
                    ALTER TABLE jobs ADD COLUMN origin TEXT;
                    CREATE TABLE mesh_outbox (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        peer TEXT NOT NULL,
                        body TEXT NOT NULL,
                        created_at_ms INTEGER NOT NULL
                    );
                    CREATE INDEX mesh_outbox_by_peer ON mesh_outbox(peer, seq);
                    """)
        }
        return migrator
    }

    /// The ledger's tables. `ledger_transactions` is the journal: one row per balanced transaction,
    /// its postings in `LedgerCodec`'s compact form, and for a usage charge the rated lines
    /// (`charge`). Postings are immutable: triggers refuse every UPDATE and DELETE. An INSERT
    /// into a closed period was refused by a third trigger until v5; `insertJournal` refuses it
    /// now, so a closed period's totals never move.
    /// `tenant` and `site` name the wallet and the site receivable a transaction touches (or its
    /// charge's), so that one tenant's bill or one site's statement decodes only its own rows.
    /// `ledger_balances` is the running balance per account, written in the same transaction as
    /// the postings that change it; on start it must sum to zero, or the coordinator refuses to run.
    static let moneyTables = """
        CREATE TABLE tenants (
            id TEXT PRIMARY KEY NOT NULL,
            organisation TEXT NOT NULL,
            affiliates TEXT NOT NULL,
            category TEXT,
            credit_limit_fen INTEGER,
            voucher_program TEXT,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        );
        CREATE TABLE price_versions (
            site_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            effective_from_ms INTEGER NOT NULL,
            book TEXT NOT NULL,
            services TEXT NOT NULL,
            source TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            PRIMARY KEY (site_id, version)
        );
        CREATE TABLE voucher_programs (
            id TEXT PRIMARY KEY NOT NULL,
            program TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL
        );
        CREATE TABLE billing_periods (
            period TEXT PRIMARY KEY NOT NULL,
            closed_at_ms INTEGER NOT NULL,
            report TEXT NOT NULL
        );
        CREATE TABLE ledger_transactions (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            period TEXT NOT NULL,
            at_ms INTEGER NOT NULL,
            postings TEXT NOT NULL,
            memo TEXT NOT NULL,
            reverses TEXT,
            charge TEXT,
            tenant TEXT,
            site TEXT
        );
        CREATE INDEX ledger_transactions_by_period ON ledger_transactions(period, seq);
        CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
        BEGIN
            SELECT RAISE(ABORT, 'ledger postings are immutable; post a reversal');
        END;
        CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions
        BEGIN
            SELECT RAISE(ABORT, 'ledger postings are immutable; post a reversal');
        END;
        CREATE TRIGGER ledger_transactions_open_period BEFORE INSERT ON ledger_transactions
        WHEN EXISTS (SELECT 1 FROM billing_periods WHERE period = NEW.period)
        BEGIN
            SELECT RAISE(ABORT, 'the period is closed');
        END;
        CREATE TABLE ledger_balances (
            account TEXT PRIMARY KEY NOT NULL,
            balance INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE ledger_holds (
            job_id TEXT PRIMARY KEY NOT NULL,
            tenant TEXT NOT NULL,
            reserved INTEGER NOT NULL,
            amount INTEGER NOT NULL,
            expires_at_ms INTEGER NOT NULL
        );
        ALTER TABLE usage_records ADD COLUMN period TEXT;
        ALTER TABLE usage_records ADD COLUMN unrated TEXT;
        CREATE INDEX usage_by_period ON usage_records(period);
        """

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
