import EstuaryModel
import Foundation
import GRDB
import Logging

/// The coordinator's durable state in one SQLite file (WAL, `synchronous = FULL`) inside the
/// data directory. Writes go through group commit; reads use WAL snapshots and never wait for
/// writers.
public final class CoordinatorStore: Sendable {
    let pool: DatabasePool
    let committer: GroupCommitter
    private let checkpointer: Checkpointer
    public let path: String

    /// Opens (creating if needed) `directory/estuary.sqlite` and migrates it.
    public init(directory: String, logger: Logger) throws {
        let path = (directory as NSString).appendingPathComponent("estuary.sqlite")
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.prepareDatabase { db in
                // FULL: a commit is on disk before a caller is told it happened. Group commit
                // amortises the fsync.
                // 8 KiB pages for a new database (an existing one keeps its own: SQLite ignores
                // this once the file exists in WAL mode). Usage and journal rows are appended in
                // thousands per commit; with 4 KiB pages the ledger benchmark spent about 5 %
                // more CPU per record (more pages, B-tree splits and WAL frames for the same rows).
                try db.execute(sql: "PRAGMA page_size = 8192")
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // 32 MiB of page cache (default 2 MiB): a group commit of thousands of usage
                // records and their postings otherwise spills dirty pages to the WAL mid-transaction.
                try db.execute(sql: "PRAGMA cache_size = -32768")
                // Each unit of group-committed work runs in a savepoint, whose undo copies of
                // the pages it changes go to a statement journal: in memory, not a temp file
                // written (and thrown away) on every commit.
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
                // Checkpoints run on a connection of their own after each commit (Checkpointer);
                // the writer's automatic one is only a backstop that bounds the WAL (64 MiB).
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
            }
            pool = try DatabasePool(path: path, configuration: configuration)
            try Schema.migrator().migrate(pool)
            checkpointer = try Checkpointer(path: path, logger: logger)
        } catch {
            throw StoreError.cannotOpen(path: path, reason: "\(error)")
        }
        let checkpointer = self.checkpointer
        committer = GroupCommitter(writer: pool, afterCommit: { checkpointer.request() })
        logger.info("store open", metadata: ["path": "\(path)"])
    }

    /// Runs `work` in a durable transaction shared with other concurrent writers. The work runs
    /// in its own savepoint: if it throws, only its changes are undone.
    public func write<T: Sendable>(_ work: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        try await committer.write { db, rollback in try work(StoreTransaction(db: db, rollback: rollback)) }
    }

    /// Queues a transaction without suspending, so that an owner which enqueues A then B gets
    /// A committed before B. A ticket whose caller would lead the group commit must be awaited.
    public func enqueueWrite<T: Sendable>(_ work: @escaping @Sendable (StoreTransaction) throws -> T) -> WriteTicket<T> {
        committer.enqueue { db, rollback in try work(StoreTransaction(db: db, rollback: rollback)) }
    }

    /// Runs `work` at the end of every write transaction, after all the writes it groups: state
    /// that many writes change (the ledger's balances) is written once per commit. If it throws,
    /// the transaction rolls back and every write in it fails (and the `onRollback` actions of
    /// every write in it run, the hook's own included).
    public func beforeEachCommit(_ work: @escaping @Sendable (StoreTransaction) throws -> Void) {
        committer.addBeforeCommit { db, rollback in try work(StoreTransaction(db: db, rollback: rollback)) }
    }

    public func read<T: Sendable>(_ work: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        try await pool.read { db in try work(StoreTransaction(db: db)) }
    }

    /// True when the database answers a trivial query.
    public func isHealthy() async -> Bool {
        (try? await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }
}

let jsonEncoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return encoder
}()

func encodeJSON<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try jsonEncoder.encode(value), as: UTF8.self)
}

func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String, table: String, key: String) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: Data(text.utf8))
    } catch {
        throw StoreError.corruptRow(table: table, key: key, reason: "\(error)")
    }
}
