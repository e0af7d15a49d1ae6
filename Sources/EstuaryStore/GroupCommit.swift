import GRDB
import Synchronization

/// Group commit with a passed baton: concurrent writers queue their work; one of them at a time
/// is the leader and commits everything queued (up to `maxBatch`) in ONE SQLite transaction,
/// each unit of work in its own savepoint so one failure does not undo the others. With
/// `synchronous = FULL` every caller resumes only after a durable commit, but many callers share
/// one fsync.
///
/// A leader commits batches only until its own work is done, then hands the baton to the caller
/// whose work is next in the queue. No leader is stuck serving others under steady load, and
/// there is no background task to own: the leader is always a caller that is waiting anyway.
final class GroupCommitter: Sendable {
    private struct State {
        var queue: [any PendingWrite] = []
        var leaderActive = false
    }

    private let writer: DatabasePool
    private let state = Mutex(State())
    private let beforeCommit = Mutex<[@Sendable (Database) throws -> Void]>([])
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
    func addBeforeCommit(_ work: @escaping @Sendable (Database) throws -> Void) {
        beforeCommit.withLock { $0.append(work) }
    }

    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await enqueue(work).wait()
    }

    /// Queues `work` synchronously, so that work enqueued one after another by one owner (an
    /// actor) commits in that order. Await the ticket (exactly once) for the outcome.
    func enqueue<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) -> WriteTicket<T> {
        let pending = Pending(work: work)
        let lead = state.withLock { state -> Bool in
            state.queue.append(pending)
            if state.leaderActive { return false }
            state.leaderActive = true
            return true
        }
        if lead { pending.passBaton() }
        return WriteTicket(committer: self, pending: pending)
    }

    fileprivate func run<T>(_ pending: Pending<T>) async throws -> T {
        while true {
            switch await pending.next() {
            case .done(let result):
                return try result.get()
            case .lead:
                await commitOneBatch()
                if pending.isDone { handOff() }
                // Not done yet (our work was beyond this batch): keep the baton, go again.
                else { pending.passBaton() }
            }
        }
    }

    private func commitOneBatch() async {
        let batch: [any PendingWrite] = state.withLock { state in
            let count = min(state.queue.count, maxBatch)
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            return batch
        }
        guard !batch.isEmpty else { return }
        do {
            // The batch carries other callers' work, so the leader's cancellation must not abort
            // it: the commit runs in a task of its own, awaited here.
            let writer = self.writer
            let hooks = beforeCommit.withLock { $0 }
            try await Task {
                try await writer.write { db in
                    for pending in batch { pending.execute(db) }
                    for hook in hooks { try hook(db) }
                }
            }.value
            afterCommit()
            for pending in batch { pending.complete(commitError: nil) }
        } catch {
            for pending in batch { pending.complete(commitError: error) }
        }
    }

    /// Gives the baton to the owner of the next queued work, or lets it lapse if there is none.
    private func handOff() {
        let next: (any PendingWrite)? = state.withLock { state in
            guard let first = state.queue.first else {
                state.leaderActive = false
                return nil
            }
            return first
        }
        next?.passBaton()
    }
}

/// The outcome of queued work: awaiting it waits for the durable commit. Await it exactly once.
public struct WriteTicket<T: Sendable>: Sendable {
    fileprivate let committer: GroupCommitter
    fileprivate let pending: Pending<T>

    public func wait() async throws -> T {
        try await committer.run(pending)
    }
}

private protocol PendingWrite: Sendable {
    func execute(_ db: Database)
    func complete(commitError: (any Error)?)
    func passBaton()
}

/// One unit of work: its result once committed, and the baton when it is its owner's turn to
/// lead. Each event is delivered to the waiting owner, or kept until the owner waits.
private final class Pending<T: Sendable>: PendingWrite {
    enum Event {
        case done(Result<T, any Error>)
        case lead
    }

    private struct Slot {
        var executed: Result<T, any Error>?
        var done: Result<T, any Error>?
        var baton = false
        var waiter: CheckedContinuation<Event, Never>?
    }

    let work: @Sendable (Database) throws -> T
    private let slot = Mutex(Slot())

    init(work: @escaping @Sendable (Database) throws -> T) { self.work = work }

    var isDone: Bool { slot.withLock { $0.done != nil } }

    func execute(_ db: Database) {
        var result: Result<T, any Error>
        do {
            var value: T?
            try db.inSavepoint {
                value = try work(db)
                return .commit
            }
            result = value.map { .success($0) } ?? .failure(StoreError.internalInconsistency("write produced no value"))
        } catch {
            result = .failure(error)
        }
        slot.withLock { $0.executed = result }
    }

    func complete(commitError: (any Error)?) {
        deliver { slot in
            slot.done =
                commitError.map { .failure($0) } ?? slot.executed
                ?? .failure(StoreError.internalInconsistency("write was never executed"))
        }
    }

    func passBaton() {
        deliver { $0.baton = true }
    }

    /// The next event for the owner: its result, or the baton.
    func next() async -> Event {
        await withCheckedContinuation { continuation in
            let ready: Event? = slot.withLock { slot in
                if let event = Self.take(&slot) { return event }
                slot.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func deliver(_ change: (inout Slot) -> Void) {
        let resume: (CheckedContinuation<Event, Never>, Event)? = slot.withLock { slot in
            change(&slot)
            guard let waiter = slot.waiter, let event = Self.take(&slot) else { return nil }
            slot.waiter = nil
            return (waiter, event)
        }
        if let (waiter, event) = resume { waiter.resume(returning: event) }
    }

    /// A finished result wins over the baton: a caller whose work is committed returns, and
    /// passes the baton on (the caller does that in `run`).
    private static func take(_ slot: inout Slot) -> Event? {
        if let done = slot.done { return .done(done) }
        if slot.baton {
            slot.baton = false
            return .lead
        }
        return nil
    }
}
