/// Waiting on events with a deadline, never on a fixed sleep: poll a probe until it yields a
/// value, and fail with a message that says what was awaited (and the last thing seen).

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var after: Duration
    var lastSeen: String?

    var description: String {
        "timed out after \(after) waiting for \(what)" + (lastSeen.map { "; last seen: \($0)" } ?? "")
    }
}

/// Polls `probe` every `interval` until it returns a value, or throws `TimedOut` after `timeout`.
/// A probe that throws is treated as "not yet"; its error is reported if the wait times out.
/// A probe that throws `Fatal` ends the wait with the underlying error at once.
func waitFor<Value>(
    _ what: String,
    timeout: Duration = .seconds(30),
    interval: Duration = .milliseconds(100),
    _ probe: () async throws -> Value?
) async throws -> Value {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var lastSeen: String?
    while true {
        do {
            if let value = try await probe() { return value }
        } catch let fatal as Fatal {
            throw fatal.underlying
        } catch {
            lastSeen = "\(error)"
        }
        if clock.now >= deadline { throw TimedOut(what: what, after: timeout, lastSeen: lastSeen) }
        try await Task.sleep(for: interval)
    }
}

/// Polls `condition` until it is true; see ``waitFor(_:timeout:interval:_:)``.
func waitUntil(
    _ what: String,
    timeout: Duration = .seconds(30),
    interval: Duration = .milliseconds(100),
    _ condition: () async throws -> Bool
) async throws {
    _ = try await waitFor(what, timeout: timeout, interval: interval) { try await condition() ? true : nil }
}

/// Runs `body`, throwing `TimedOut` if it has not finished within `timeout` (the body is cancelled).
func withDeadline<Value: Sendable>(
    _ what: String,
    _ timeout: Duration,
    _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    try await withThrowingTaskGroup(of: Value?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TimedOut(what: what, after: timeout, lastSeen: nil)
        }
        return value
    }
}
