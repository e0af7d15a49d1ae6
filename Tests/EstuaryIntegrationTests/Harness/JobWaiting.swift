import EstuaryModel

struct UnexpectedJobOutcome: Error, CustomStringConvertible {
    var jobs: [JobView]
    var expected: JobState
    var description: String {
        "expected every job to end \(expected), but: "
            + jobs.prefix(10).map { "\($0.id) \($0.state) at \($0.siteID?.rawValue ?? "-") exit \($0.exitCode.map(String.init) ?? "-") signal \($0.signal.map(String.init) ?? "-")" }
                .joined(separator: "; ")
    }
}

extension APIClient {
    /// Waits until every job in `ids` is `state`; fails at once if one ends in another terminal state.
    @discardableResult
    func waitForJobs(_ ids: [JobID], toBe state: JobState, timeout: Duration = .seconds(90)) async throws -> [JobView] {
        let wanted = Set(ids)
        return try await waitFor("\(ids.count) jobs to be \(state)", timeout: timeout, interval: .milliseconds(250)) { () -> [JobView]? in
            let jobs = try await allJobs().filter { wanted.contains($0.id) }
            let wrong = jobs.filter { $0.state.isTerminal && $0.state != state }
            if !wrong.isEmpty { throw Fatal(UnexpectedJobOutcome(jobs: wrong, expected: state)) }
            let done = jobs.filter { $0.state == state }
            if done.count == wanted.count { return done }
            throw Progress("\(done.count) of \(wanted.count) \(state); others: "
                + Dictionary(grouping: jobs.filter { $0.state != state }, by: \.state).map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", "))
        }
    }

    /// Waits until job `id` is in `state`.
    @discardableResult
    func waitForJob(_ id: JobID, toBe state: JobState, timeout: Duration = .seconds(30)) async throws -> JobView {
        try await waitFor("job \(id) to be \(state)", timeout: timeout, interval: .milliseconds(100)) { () -> JobView? in
            let job = try await self.job(id)
            if job.state == state { return job }
            if job.state.isTerminal { throw Fatal(UnexpectedJobOutcome(jobs: [job], expected: state)) }
            throw Progress("\(job.state)")
        }
    }
}

/// Thrown by a probe to say how far a wait has got (reported if the wait times out).
struct Progress: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Thrown by a probe to end a wait at once: waiting longer cannot help.
struct Fatal: Error, CustomStringConvertible {
    var underlying: any Error
    init(_ underlying: any Error) { self.underlying = underlying }
    var description: String { "\(underlying)" }
}
