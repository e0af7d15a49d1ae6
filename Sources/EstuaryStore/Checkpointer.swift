import Dispatch
import GRDB
import Logging
import Synchronization

/// Copies committed WAL frames into the database file on a connection and thread of its own, so
/// that the writer (the one connection every write waits for) does not spend its time doing it.
///
/// SQLite's automatic checkpoint runs inside the writer's COMMIT once the WAL passes a threshold;
/// under a steady stream of usage that was a tenth of the writer's time. Here each commit asks
/// for a PASSIVE checkpoint, which never blocks the writer or readers; requests made while one
/// runs are folded into one more run. The writer keeps a high automatic threshold as a backstop
/// (and it is what lets the WAL restart from its beginning), so the WAL stays bounded even if
/// this connection falls behind or fails.
final class Checkpointer: Sendable {
    private struct State {
        var running = false
        var again = false
    }

    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "estuary.store.checkpoint")
    private let state = Mutex(State())
    private let logger: Logger

    init(path: String, logger: Logger) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "estuary.store.checkpoint"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.logger = logger
    }

    /// Asks for a checkpoint soon; returns at once.
    func request() {
        let start = state.withLock { state -> Bool in
            if state.running {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        if start { queue.async { self.run() } }
    }

    private func run() {
        while true {
            do {
                try connection.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
            } catch {
                // The writer's own automatic checkpoint still bounds the WAL.
                logger.debug("background checkpoint failed", metadata: ["error": "\(error)"])
            }
            let more = state.withLock { state -> Bool in
                if state.again {
                    state.again = false
                    return true
                }
                state.running = false
                return false
            }
            if !more { return }
        }
    }
}
