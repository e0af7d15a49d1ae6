import GRDB
import Synchronization

/// Leader-based group commit: concurrent writers queue their work; the caller that finds no
/// commit in progress becomes the leader and runs everything queued in ONE SQLite transaction
/// (each unit of work in its own savepoint, so one failure does not undo the others), and
/// repeats until the queue is empty. With `synchronous = FULL` every caller still resumes only
/// after a durable commit, but many callers share one fsync. The leader runs in its caller's
/// task: there is no background task to own or cancel.
final class GroupCommitter: Sendable {
    private struct State {
        var queue: [any PendingWrite] = []
        var leaderActive = false
    }

    private let writer: DatabasePool
    private let state = Mutex(State())
    /// Upper bound of units of work per transaction, so one commit stays short.
    let maxBatch: Int

    init(writer: DatabasePool, maxBatch: Int = 4096) {
        self.writer = writer
        self.maxBatch = maxBatch
    }

    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await enqueue(work).wait()
    }

    /// Queues `work` synchronously, so that work enqueued one after another by one owner (an
    /// actor) commits in that order. Await the ticket for the outcome.
    func enqueue<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) -> WriteTicket<T> {
        let pending = Pending(work: work)
        let lead = state.withLock { state -> Bool in
            state.queue.append(pending)
            if state.leaderActive { return false }
            state.leaderActive = true
            return true
        }
        return WriteTicket(committer: self, pending: pending, leads: lead)
    }

    fileprivate func runTicket<T>(_ pending: Pending<T>, leads: Bool) async throws -> T {
        if leads { await commitQueued() }
        return try await pending.value()
    }

    private func commitQueued() async {
        while true {
            let batch: [any PendingWrite] = state.withLock { state in
                if state.queue.isEmpty {
                    state.leaderActive = false
                    return []
                }
                let count = min(state.queue.count, maxBatch)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            do {
                // The batch carries other callers' work, so the leader's cancellation must not
                // abort it: run the commit in a task of its own, awaited here.
                let writer = self.writer
                try await Task {
                    try await writer.write { db in
                        for pending in batch { pending.execute(db) }
                    }
                }.value
                for pending in batch { pending.complete(commitError: nil) }
            } catch {
                for pending in batch { pending.complete(commitError: error) }
            }
        }
    }
}

/// The outcome of queued work: awaiting it waits for the durable commit. Await it exactly once.
public struct WriteTicket<T: Sendable>: Sendable {
    fileprivate let committer: GroupCommitter
    fileprivate let pending: Pending<T>
    fileprivate let leads: Bool

    public func wait() async throws -> T {
        try await committer.runTicket(pending, leads: leads)
    }
}

private protocol PendingWrite: Sendable {
    func execute(_ db: Database)
    func complete(commitError: (any Error)?)
}

/// One unit of work and its one-shot outcome.
fileprivate final class Pending<T: Sendable>: PendingWrite {
    private enum Slot {
        case running(Result<T, any Error>?)
        case waiting(CheckedContinuation<T, any Error>, Result<T, any Error>?)
        case done(Result<T, any Error>)
    }

    let work: @Sendable (Database) throws -> T
    private let slot = Mutex<Slot>(.running(nil))

    init(work: @escaping @Sendable (Database) throws -> T) { self.work = work }

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
        slot.withLock { slot in
            switch slot {
            case .running: slot = .running(result)
            case .waiting(let continuation, _): slot = .waiting(continuation, result)
            case .done: break
            }
        }
    }

    func complete(commitError: (any Error)?) {
        let resume: (CheckedContinuation<T, any Error>, Result<T, any Error>)? = slot.withLock { slot in
            let executed: Result<T, any Error>?
            let continuation: CheckedContinuation<T, any Error>?
            switch slot {
            case .running(let r): (executed, continuation) = (r, nil)
            case .waiting(let c, let r): (executed, continuation) = (r, c)
            case .done: return nil
            }
            let final: Result<T, any Error> =
                commitError.map { .failure($0) } ?? executed
                ?? .failure(StoreError.internalInconsistency("write was never executed"))
            slot = .done(final)
            return continuation.map { ($0, final) }
        }
        if let (continuation, result) = resume { continuation.resume(with: result) }
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = slot.withLock { slot in
                switch slot {
                case .done(let result):
                    return result
                case .running(let r):
                    slot = .waiting(continuation, r)
                    return nil
                case .waiting:
                    return .failure(StoreError.internalInconsistency("outcome awaited twice"))
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
