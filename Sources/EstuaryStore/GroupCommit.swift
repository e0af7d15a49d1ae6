import GRDB
import Synchronization

/// Group commit drained on the writer's own queue: concurrent writers queue their work, and
/// everything queued (up to `maxBatch`) is committed in ONE SQLite transaction, each unit of work
/// in its own savepoint so one failure does not undo the others. With `synchronous = FULL` every
/// caller resumes only after a durable commit, but many callers share one fsync.
///
/// Whoever queues work while nothing drains starts a drain: one block on the writer connection's
/// queue that commits transaction after transaction until the queue is empty, then stops. The
/// next transaction starts right after the previous commit, on the same thread, without waiting
/// for any caller's task to be scheduled; and since the drain is a task of its own, no caller's
/// cancellation can abort other callers' work. The drain runs at a raised thread priority
/// (`ThreadPriority`) when the process may raise it: every writer waits for this one thread.
final class GroupCommitter: Sendable {
    private struct State {
        var queue: [any PendingWrite] = []
        var draining = false
    }

    private let writer: DatabasePool
    private let state = Mutex(State())
    private let beforeCommit = Mutex<[@Sendable (Database, RollbackActions) throws -> Void]>([])
    /// Upper bound of units of work per transaction, so one commit stays short.
    let maxBatch: Int

    /// Called after each successful commit, outside every lock (the store asks for a checkpoint).
    private let afterCommit: @Sendable () -> Void

    init(writer: DatabasePool, maxBatch: Int = 4096, afterCommit: @escaping @Sendable () -> Void = {}) {
        self.writer = writer
        self.maxBatch = maxBatch
        self.afterCommit = afterCommit
    }

    /// Adds work run at the end of every transaction, after all its units of work and outside
    /// their savepoints: if it throws, the whole transaction rolls back and every unit fails.
    /// Its rollback actions run if the transaction does not commit.
    func addBeforeCommit(_ work: @escaping @Sendable (Database, RollbackActions) throws -> Void) {
        beforeCommit.withLock { $0.append(work) }
    }

    func write<T: Sendable>(_ work: @escaping @Sendable (Database, RollbackActions) throws -> T) async throws -> T {
        try await enqueue(work).wait()
    }

    /// Queues `work` synchronously, so that work enqueued one after another by one owner (an
    /// actor) commits in that order. Await the ticket (exactly once) for the outcome.
    func enqueue<T: Sendable>(_ work: @escaping @Sendable (Database, RollbackActions) throws -> T) -> WriteTicket<T> {
        let pending = Pending(work: work)
        let start = state.withLock { state -> Bool in
            state.queue.append(pending)
            if state.draining { return false }
            state.draining = true
            return true
        }
        if start { startDrain() }
        return WriteTicket(pending: pending)
    }

    private func startDrain() {
        let writer = self.writer
        Task {
            do {
                try await writer.writeWithoutTransaction { db in ThreadPriority.raised { self.drain(db) } }
            } catch {
                // The writer connection could not be had at all: nothing queued can commit.
                let queued = self.state.withLock { state -> [any PendingWrite] in
                    defer {
                        state.queue.removeAll()
                        state.draining = false
                    }
                    return state.queue
                }
                for pending in queued { pending.complete(commitError: error) }
            }
        }
    }

    /// Commits batches until the queue is empty; stops draining in the same step that finds it
    /// empty, so work queued later starts a new drain.
    private func drain(_ db: Database) {
        while true {
            let batch = state.withLock { state -> [any PendingWrite] in
                let count = min(state.queue.count, maxBatch)
                if count == 0 { state.draining = false }
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            let hooks = beforeCommit.withLock { $0 }
            let atCommit = RollbackActions()
            do {
                try db.inTransaction {
                    for pending in batch { pending.execute(db) }
                    for hook in hooks { try hook(db, atCommit) }
                    return .commit
                }
                afterCommit()
                for pending in batch { pending.complete(commitError: nil) }
            } catch {
                // Nothing of this transaction is on disk: every unit's work is undone, including
                // what the units that succeeded changed.
                for pending in batch { pending.rollback.run() }
                atCommit.run()
                for pending in batch { pending.complete(commitError: error) }
            }
        }
    }
}

/// The outcome of queued work: awaiting it waits for the durable commit. Await it exactly once.
public struct WriteTicket<T: Sendable>: Sendable {
    fileprivate let pending: Pending<T>

    public func wait() async throws -> T {
        try await pending.result().get()
    }
}

private protocol PendingWrite: Sendable {
    /// What to run if the work's changes do not reach disk.
    var rollback: RollbackActions { get }
    func execute(_ db: Database)
    func complete(commitError: (any Error)?)
}

/// Actions to run when a unit of work's changes are undone (`StoreTransaction.onRollback`):
/// each runs once, in the order added.
final class RollbackActions: Sendable {
    private let actions = Mutex<[@Sendable () -> Void]>([])

    func add(_ action: @escaping @Sendable () -> Void) {
        actions.withLock { $0.append(action) }
    }

    func run() {
        for action in actions.withLock({ actions in defer { actions.removeAll() }; return actions }) { action() }
    }
}

/// One unit of work and its result once committed, kept until its owner waits for it.
private final class Pending<T: Sendable>: PendingWrite {
    private struct Slot {
        var executed: Result<T, any Error>?
        var done: Result<T, any Error>?
        var waiter: CheckedContinuation<Result<T, any Error>, Never>?
    }

    let work: @Sendable (Database, RollbackActions) throws -> T
    let rollback = RollbackActions()
    private let slot = Mutex(Slot())

    init(work: @escaping @Sendable (Database, RollbackActions) throws -> T) { self.work = work }

    func execute(_ db: Database) {
        var result: Result<T, any Error>
        do {
            var value: T?
            try db.inSavepoint {
                value = try work(db, rollback)
                return .commit
            }
            result = value.map { .success($0) } ?? .failure(StoreError.internalInconsistency("write produced no value"))
        } catch {
            // The savepoint was rolled back (or could not be released): nothing of it remains.
            rollback.run()
            result = .failure(error)
        }
        slot.withLock { $0.executed = result }
    }

    func complete(commitError: (any Error)?) {
        let resume: (CheckedContinuation<Result<T, any Error>, Never>, Result<T, any Error>)? = slot.withLock { slot in
            let done =
                commitError.map { .failure($0) } ?? slot.executed
                ?? .failure(StoreError.internalInconsistency("write was never executed"))
            slot.done = done
            guard let waiter = slot.waiter else { return nil }
            slot.waiter = nil
            return (waiter, done)
        }
        if let (waiter, done) = resume { waiter.resume(returning: done) }
    }

    /// The outcome, once the work's transaction committed or failed.
    func result() async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            let ready: Result<T, any Error>? = slot.withLock { slot in
                if let done = slot.done { return done }
                slot.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
