import EstuaryLedger
import EstuaryModel
import GRDB
import GRDBSQLite

/// One journal row as stored: a transaction's postings in `LedgerCodec` form and, for a usage
/// charge, its rated lines; with the tenant and site it concerns (a bill or a statement of an
/// open period reads only its own rows).
public struct JournalRow: Sendable {
    public var id: String
    public var kind: TransactionKind
    public var period: String
    public var atMs: Int64
    public var postings: String
    public var memo: String
    public var reverses: String?
    public var charge: String?
    public var tenant: String?
    public var site: String?

    /// The row of `transaction`; the tenant and site come from the charge, else from the first
    /// wallet and site receivable posted to. `lines` are the charge's lines already encoded.
    public init(
        _ transaction: LedgerTransaction, period: BillingPeriod, atMs: Int64, charge: PostedCharge?,
        lines: EncodedChargeLines? = nil
    ) {
        var tenant = charge?.tenant
        var site = charge?.site
        for posting in transaction.postings {
            switch posting.account {
            case .wallet(let owner): tenant = tenant ?? owner
            case .siteReceivable(let receiver): site = site ?? receiver
            default: break
            }
        }
        self.id = transaction.id
        self.kind = transaction.kind
        self.period = period.description
        self.atMs = atMs
        self.postings = LedgerCodec.encode(transaction.postings)
        self.memo = transaction.memo
        self.reverses = transaction.reverses
        self.charge = charge.map { charge in lines.map { LedgerCodec.encode(charge, lines: $0) } ?? LedgerCodec.encode(charge) }
        self.tenant = tenant?.rawValue
        self.site = site?.rawValue
    }
}

/// A usage record to store, with why it could not be rated (nil: it is charged).
public struct UsageRow: Sendable {
    public var record: UsageRecord
    public var unrated: String?

    public init(_ record: UsageRecord, unrated: String?) {
        self.record = record
        self.unrated = unrated
    }
}

// Many rows per statement, bound straight through SQLite's C API: on the usage hot path GRDB's
// per-statement work (the cached statement's lookup by SQL text, an existential per argument)
// cost more than SQLite's own inserts. `ledger` in Benchmarks/ measures it.
extension StoreTransaction {
    /// Rows per multi-row INSERT (11 columns × 64 = 704 parameters; SQLite allows 32,766).
    static let rowsPerStatement = 64

    /// Stores those of `rows` not stored yet (`INSERT OR IGNORE`), recorded at `recordedAtMs` in
    /// `period`, and says for each row whether it was stored now. A row whose id is already
    /// stored, or that repeats an earlier row of `rows`, is not.
    public func insertUsage(_ rows: [UsageRow], recordedAtMs: Int64, period: String?) throws -> [Bool] {
        var stored = [Bool](repeating: false, count: rows.count)
        var firstIndex: [String: Int] = [:]
        firstIndex.reserveCapacity(rows.count)
        for (index, row) in rows.enumerated() where firstIndex[row.record.id.rawValue] == nil {
            firstIndex[row.record.id.rawValue] = index
        }
        for start in stride(from: 0, to: rows.count, by: Self.rowsPerStatement) {
            let chunk = rows[start..<min(rows.count, start + Self.rowsPerStatement)]
            let statement = try db.cachedStatement(sql: Self.usageInsertSQL[chunk.count])
            var binder = RawBinder(statement)
            for row in chunk {
                let record = row.record
                binder.text(record.id.rawValue)
                binder.text(record.jobID.rawValue)
                binder.text(record.siteID.rawValue)
                binder.text(record.acceleratorClass.rawValue)
                binder.integer(Int64(record.units))
                binder.integer(record.startedAtMs)
                binder.integer(record.endedAtMs)
                binder.integer(record.unitMilliseconds)
                binder.integer(recordedAtMs)
                binder.optionalText(period)
                binder.optionalText(row.unrated)
            }
            // RETURNING yields the rows actually inserted; an ignored one yields nothing.
            try binder.step(db) { id in
                if let index = firstIndex[id] { stored[index] = true }
            }
        }
        return stored
    }

    /// Appends `rows` to the journal in order. Refused (a thrown error, nothing of the statement
    /// stored) when an id was used before or a period is closed (`periodClosed`; each distinct
    /// period is looked up once). This is the only way journal rows are added.
    public func insertJournal(_ rows: [JournalRow]) throws {
        var checked: Set<String> = []
        for row in rows where checked.insert(row.period).inserted {
            let closed = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM billing_periods WHERE period = ?", arguments: [row.period]) ?? false
            if closed { throw StoreError.periodClosed(row.period) }
        }
        for start in stride(from: 0, to: rows.count, by: Self.rowsPerStatement) {
            let chunk = rows[start..<min(rows.count, start + Self.rowsPerStatement)]
            let statement = try db.cachedStatement(sql: Self.journalInsertSQL[chunk.count])
            var binder = RawBinder(statement)
            for row in chunk {
                binder.text(row.id)
                binder.text(row.kind.rawValue)
                binder.text(row.period)
                binder.integer(row.atMs)
                binder.text(row.postings)
                binder.text(row.memo)
                binder.optionalText(row.reverses)
                binder.optionalText(row.charge)
                binder.optionalText(row.tenant)
                binder.optionalText(row.site)
            }
            try binder.step(db)
        }
    }

    /// The statements for 0…`rowsPerStatement` rows, built once (by row count, as the
    /// statement cache is keyed by their text).
    static let usageInsertSQL = (0...rowsPerStatement).map { rows in
        """
        INSERT OR IGNORE INTO usage_records
            (id, job_id, site_id, class, units, started_at_ms, ended_at_ms, unit_ms, recorded_at_ms, period, unrated)
        VALUES \(repeatElement("(?,?,?,?,?,?,?,?,?,?,?)", count: rows).joined(separator: ","))
        RETURNING id
        """
    }

    static let journalInsertSQL = (0...rowsPerStatement).map { rows in
        """
        INSERT INTO ledger_transactions (id, kind, period, at_ms, postings, memo, reverses, charge, tenant, site)
        VALUES \(repeatElement("(?,?,?,?,?,?,?,?,?,?)", count: rows).joined(separator: ","))
        """
    }

    static let balanceUpsertSQL = (0...rowsPerStatement).map { rows in
        """
        INSERT INTO ledger_balances (account, balance) VALUES \(repeatElement("(?,?)", count: rows).joined(separator: ","))
        ON CONFLICT(account) DO UPDATE SET balance = excluded.balance
        """
    }

    static let holdDeleteSQL = (0...rowsPerStatement).map { rows in
        "DELETE FROM ledger_holds WHERE job_id IN (\(repeatElement("?", count: rows).joined(separator: ",")))"
    }
}

/// Binds parameters in order to a statement GRDB prepared and cached, then runs it, through
/// SQLite's C API. Every parameter is bound each time, so old bindings need no clearing; the
/// statement is left reset (GRDB resets and rebinds before each of its own uses anyway).
struct RawBinder {
    private let handle: OpaquePointer
    private var next: Int32 = 1
    /// SQLite copies the bytes before the bind call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    private static let empty: StaticString = ""

    init(_ statement: Statement) {
        handle = statement.sqliteStatement
        sqlite3_reset(handle)
    }

    mutating func text(_ value: String) {
        var value = value
        value.withUTF8 { bytes in
            // An empty buffer may have no address, which SQLite would bind as NULL.
            let base = bytes.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(Self.empty.utf8Start)
            _ = sqlite3_bind_text(handle, next, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), Self.transient)
        }
        next += 1
    }

    mutating func optionalText(_ value: String?) {
        if let value { text(value) } else { sqlite3_bind_null(handle, next); next += 1 }
    }

    mutating func integer(_ value: Int64) {
        sqlite3_bind_int64(handle, next, value)
        next += 1
    }

    /// Runs the statement to completion, passing the first column of each row it yields (text) to
    /// `row`. A failure is thrown as GRDB's `DatabaseError`, with SQLite's message.
    func step(_ db: Database, row: ((String) -> Void)? = nil) throws {
        defer { sqlite3_reset(handle) }
        while true {
            let code = sqlite3_step(handle)
            switch code {
            case SQLITE_DONE:
                return
            case SQLITE_ROW:
                if let row, let text = sqlite3_column_text(handle, 0) { row(String(cString: text)) }
            default:
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage,
                    sql: String(cString: sqlite3_sql(handle)))
            }
        }
    }
}
