import EstuaryLedger
import EstuaryModel
import GRDB

/// A tenant as an administrator registered it: who it is (for voucher eligibility), its credit
/// line and its voucher programme.
public struct TenantRecord: Sendable, Hashable {
    public var profile: TenantProfile
    /// nil: postpaid without limit.
    public var creditLimitFen: Fen?
    public var voucherProgram: VoucherProgramID?
    public var createdAtMs: Int64
    public var updatedAtMs: Int64

    public init(
        profile: TenantProfile, creditLimitFen: Fen?, voucherProgram: VoucherProgramID?, createdAtMs: Int64,
        updatedAtMs: Int64
    ) {
        self.profile = profile
        self.creditLimitFen = creditLimitFen
        self.voucherProgram = voucherProgram
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
    }
}

/// One stored journal row, as settlement reads it back.
public struct StoredTransaction: Sendable {
    public var transaction: LedgerTransaction
    public var period: BillingPeriod
    public var atMs: Int64
    public var charge: PostedCharge?
}

extension StoreTransaction {
    // MARK: journal and balances

    /// Appends one transaction to the journal. Refused by the store (a thrown error) when its id
    /// was used before or its period is closed.
    public func insertLedgerTransaction(
        _ transaction: LedgerTransaction, period: BillingPeriod, atMs: Int64, charge: PostedCharge?
    ) throws {
        try insertJournal([JournalRow(transaction, period: period, atMs: atMs, charge: charge)])
    }

    /// Writes the current balance of each account given.
    public func setBalances(_ balances: [(AccountID, Fen)]) throws {
        for start in stride(from: 0, to: balances.count, by: Self.rowsPerStatement) {
            let chunk = balances[start..<min(balances.count, start + Self.rowsPerStatement)]
            var binder = RawBinder(try db.cachedStatement(sql: Self.balanceUpsertSQL[chunk.count]))
            for (account, balance) in chunk {
                binder.text(account.text)
                binder.integer(balance)
            }
            try binder.step(db)
        }
    }

    public func ledgerBalances() throws -> [AccountID: Fen] {
        var balances: [AccountID: Fen] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT account, balance FROM ledger_balances") {
            let text: String = row["account"]
            do {
                balances[try AccountID(parsing: text)] = row["balance"]
            } catch {
                throw StoreError.corruptRow(table: "ledger_balances", key: text, reason: "\(error)")
            }
        }
        return balances
    }

    /// Streams the journal of one period in posting order, without holding it in memory; with
    /// `tenant` or `site`, only the transactions of that wallet or site receivable (the rest of
    /// the period's rows are skipped without being decoded).
    public func forEachLedgerTransaction(
        period: BillingPeriod, tenant: TenantID? = nil, site: SiteID? = nil, _ body: (StoredTransaction) throws -> Void
    ) throws {
        var sql = "SELECT * FROM ledger_transactions WHERE period = ?"
        var arguments: StatementArguments = [period.description]
        if let tenant {
            sql += " AND tenant = ?"
            arguments += [tenant.rawValue]
        }
        if let site {
            sql += " AND site = ?"
            arguments += [site.rawValue]
        }
        let cursor = try Row.fetchCursor(db, sql: sql + " ORDER BY seq", arguments: arguments)
        while let row = try cursor.next() { try body(try Self.storedTransaction(row)) }
    }

    /// The charge posted for each of these usage records, by record (absent: not rated).
    public func charges(for records: [UsageRecordID]) throws -> [UsageRecordID: PostedCharge] {
        var charges: [UsageRecordID: PostedCharge] = [:]
        let statement = try db.cachedStatement(sql: "SELECT * FROM ledger_transactions WHERE id = ?")
        for record in records {
            guard let row = try Row.fetchOne(statement, arguments: ["usage:\(record.rawValue)"]),
                let charge = try Self.storedTransaction(row).charge
            else { continue }
            charges[record] = charge
        }
        return charges
    }

    static func storedTransaction(_ row: Row) throws -> StoredTransaction {
        let id: String = row["id"]
        func corrupt(_ reason: String) -> StoreError { .corruptRow(table: "ledger_transactions", key: id, reason: reason) }
        guard let kind = TransactionKind(rawValue: row["kind"]) else { throw corrupt("unknown kind") }
        do {
            let postings = try LedgerCodec.decodePostings(row["postings"])
            let charge = try (row["charge"] as String?).map { try LedgerCodec.decodeCharge($0) }
            return StoredTransaction(
                transaction: LedgerTransaction(
                    id: id, kind: kind, postings: postings, memo: row["memo"], reverses: row["reverses"]),
                period: try BillingPeriod(parsing: row["period"]), atMs: row["at_ms"], charge: charge)
        } catch {
            throw corrupt("\(error)")
        }
    }

    // MARK: usage rating state

    /// Why each of these records is unrated, for those that are.
    public func unratedReasons(for records: [UsageRecordID]) throws -> [UsageRecordID: String] {
        var reasons: [UsageRecordID: String] = [:]
        let statement = try db.cachedStatement(sql: "SELECT unrated FROM usage_records WHERE id = ?")
        for record in records {
            if let reason = try String.fetchOne(statement, arguments: [record.rawValue]) { reasons[record] = reason }
        }
        return reasons
    }

    /// Usage records of the period that are neither charged nor explained as unrated: a
    /// reconciliation finding (always empty unless something is broken).
    public func usageWithoutCharge(period: BillingPeriod) throws -> [UsageRecordID] {
        try String.fetchAll(
            db,
            sql: """
                SELECT u.id FROM usage_records u
                WHERE u.period = ? AND u.unrated IS NULL
                  AND NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.id = 'usage:' || u.id)
                ORDER BY u.id LIMIT 1000
                """,
            arguments: [period.description]
        ).map(UsageRecordID.init(rawValue:))
    }

    /// Charges of the period whose usage record is missing.
    public func chargesWithoutUsage(period: BillingPeriod) throws -> [UsageRecordID] {
        try String.fetchAll(
            db,
            sql: """
                SELECT substr(t.id, 7) FROM ledger_transactions t
                WHERE t.period = ? AND t.kind = 'charge' AND t.id LIKE 'usage:%'
                  AND NOT EXISTS (SELECT 1 FROM usage_records u WHERE u.id = substr(t.id, 7))
                ORDER BY t.seq LIMIT 1000
                """,
            arguments: [period.description]
        ).map(UsageRecordID.init(rawValue:))
    }

    /// Usage records of the period that could not be rated, with the reason.
    public func unratedUsage(period: BillingPeriod) throws -> [(UsageRecordID, String)] {
        try Row.fetchAll(
            db, sql: "SELECT id, unrated FROM usage_records WHERE period = ? AND unrated IS NOT NULL ORDER BY id LIMIT 1000",
            arguments: [period.description]
        ).map { (UsageRecordID(rawValue: $0["id"]), $0["unrated"]) }
    }

    // MARK: holds

    public func upsertHold(_ hold: Hold) throws {
        try run(
            """
                INSERT INTO ledger_holds (job_id, tenant, reserved, amount, expires_at_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(job_id) DO UPDATE SET tenant = excluded.tenant, reserved = excluded.reserved,
                    amount = excluded.amount, expires_at_ms = excluded.expires_at_ms
                """,
            arguments: [hold.job.rawValue, hold.tenant.rawValue, hold.reserved, hold.amount, hold.expiresAtMs])
    }

    public func deleteHold(job: JobID) throws {
        try run("DELETE FROM ledger_holds WHERE job_id = ?", arguments: [job.rawValue])
    }

    /// Deletes the holds of `jobs` (those that have one), many per statement.
    public func deleteHolds(jobs: [JobID]) throws {
        for start in stride(from: 0, to: jobs.count, by: Self.rowsPerStatement) {
            let chunk = jobs[start..<min(jobs.count, start + Self.rowsPerStatement)]
            let statement = try db.cachedStatement(sql: Self.holdDeleteSQL[chunk.count])
            var binder = RawBinder(statement)
            for job in chunk { binder.text(job.rawValue) }
            try binder.step(db)
        }
    }

    public func holds() throws -> [Hold] {
        try Row.fetchAll(db, sql: "SELECT * FROM ledger_holds ORDER BY job_id").map { row in
            Hold(
                job: JobID(rawValue: row["job_id"]), tenant: TenantID(rawValue: row["tenant"]), reserved: row["reserved"],
                amount: row["amount"], expiresAtMs: row["expires_at_ms"])
        }
    }

    // MARK: tenants

    public func upsertTenant(_ tenant: TenantRecord) throws {
        try run(
            """
                INSERT INTO tenants (id, organisation, affiliates, category, credit_limit_fen, voucher_program,
                                     created_at_ms, updated_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET organisation = excluded.organisation, affiliates = excluded.affiliates,
                    category = excluded.category, credit_limit_fen = excluded.credit_limit_fen,
                    voucher_program = excluded.voucher_program, updated_at_ms = excluded.updated_at_ms
                """,
            arguments: [
                tenant.profile.tenant.rawValue, tenant.profile.organisation,
                try encodeJSON(tenant.profile.affiliates.sorted()), tenant.profile.category, tenant.creditLimitFen,
                tenant.voucherProgram?.rawValue, tenant.createdAtMs, tenant.updatedAtMs,
            ])
    }

    public func tenants() throws -> [TenantRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM tenants ORDER BY id").map { row in
            let id: String = row["id"]
            return TenantRecord(
                profile: TenantProfile(
                    tenant: TenantID(rawValue: id), organisation: row["organisation"],
                    affiliates: Set(try decodeJSON([String].self, row["affiliates"], table: "tenants", key: id)),
                    category: row["category"]),
                creditLimitFen: row["credit_limit_fen"],
                voucherProgram: (row["voucher_program"] as String?).map(VoucherProgramID.init(rawValue:)),
                createdAtMs: row["created_at_ms"], updatedAtMs: row["updated_at_ms"])
        }
    }

    // MARK: prices

    public func insertPriceVersion(site: SiteID, _ version: PriceVersion, source: String, atMs: Int64) throws {
        try run(
            """
                INSERT INTO price_versions (site_id, version, effective_from_ms, book, services, source, created_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                site.rawValue, version.version, version.effectiveFromMs, try encodeJSON(version.book),
                try encodeJSON(version.services), source, atMs,
            ])
    }

    /// Every site's price versions, oldest first.
    public func priceVersions() throws -> [SiteID: [PriceVersion]] {
        var versions: [SiteID: [PriceVersion]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM price_versions ORDER BY site_id, version") {
            let site: String = row["site_id"]
            let key = "\(site)#\(row["version"] as Int)"
            versions[SiteID(rawValue: site), default: []].append(
                PriceVersion(
                    version: row["version"], effectiveFromMs: row["effective_from_ms"],
                    book: try decodeJSON(PriceBook.self, row["book"], table: "price_versions", key: key),
                    services: try decodeJSON([ServiceID: ServicePrice].self, row["services"], table: "price_versions", key: key)))
        }
        return versions
    }

    /// Sites with a price version an administrator set (source `admin`).
    public func adminPricedSites() throws -> Set<SiteID> {
        Set(try String.fetchAll(db, sql: "SELECT DISTINCT site_id FROM price_versions WHERE source = 'admin'").map(SiteID.init(rawValue:)))
    }

    /// The stored transaction with this id, if any.
    public func ledgerTransaction(id: String) throws -> StoredTransaction? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM ledger_transactions WHERE id = ?"), arguments: [id])
            .map(Self.storedTransaction)
    }

    // MARK: voucher programmes

    public func upsertVoucherProgram(_ program: VoucherProgram, atMs: Int64) throws {
        try run(
            """
                INSERT INTO voucher_programs (id, program, created_at_ms) VALUES (?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET program = excluded.program
                """,
            arguments: [program.id.rawValue, try encodeJSON(program), atMs])
    }

    public func voucherPrograms() throws -> [VoucherProgram] {
        try Row.fetchAll(db, sql: "SELECT * FROM voucher_programs ORDER BY id").map { row in
            try decodeJSON(VoucherProgram.self, row["program"], table: "voucher_programs", key: row["id"])
        }
    }

    // MARK: periods

    /// How many transactions the journal holds for `period`.
    public func ledgerTransactionCount(period: BillingPeriod) throws -> Int {
        try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM ledger_transactions WHERE period = ?", arguments: [period.description]) ?? 0
    }

    /// Rated charges of one site in a period, in posting order (streamed).
    public func forEachCharge(period: BillingPeriod, site: SiteID, _ body: (PostedCharge) throws -> Void) throws {
        try forEachLedgerTransaction(period: period, site: site) { stored in
            if let charge = stored.charge { try body(charge) }
        }
    }

    public func closePeriod(_ period: BillingPeriod, atMs: Int64, report: String) throws {
        try run(
            "INSERT INTO billing_periods (period, closed_at_ms, report) VALUES (?, ?, ?)",
            arguments: [period.description, atMs, report])
    }

    /// Closed periods with when they were closed, oldest first.
    public func closedPeriods() throws -> [(BillingPeriod, Int64)] {
        try Row.fetchAll(db, sql: "SELECT period, closed_at_ms FROM billing_periods ORDER BY period").map { row in
            (try BillingPeriod(parsing: row["period"]), row["closed_at_ms"])
        }
    }

    /// The report stored when `period` was closed (JSON) and when it was closed, if it is closed.
    public func periodReport(_ period: BillingPeriod) throws -> (report: String, closedAtMs: Int64)? {
        try Row.fetchOne(
            db, sql: "SELECT report, closed_at_ms FROM billing_periods WHERE period = ?", arguments: [period.description]
        ).map { ($0["report"], $0["closed_at_ms"]) }
    }
}
