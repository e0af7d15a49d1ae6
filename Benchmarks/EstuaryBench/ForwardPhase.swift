import EstuaryLedger
import EstuaryModel
import Foundation

/// One phase of `forward`: jobs submitted at one coordinator and run by the simulated site at
/// c2, waited for until each reads `succeeded` at the coordinator it was submitted to (its
/// home); then what both coordinators recorded, for the figures and the checks.
struct ForwardPhase {
    enum Kind: String {
        /// Submitted at c2, whose own site runs them.
        case local
        /// Submitted at c1, which has no site: each is forwarded to c2.
        case forwarded
    }

    /// How the jobs are submitted.
    enum Pace: Equatable {
        /// As fast as the API answers, this many requests in flight: queues build up.
        case inFlight(Int)
        /// Each job submitted once the previous one reads `succeeded`: every queue is empty,
        /// so the latency is that of one job alone.
        case oneByOne
    }

    let site: JobsSiteState
    let assigns: AssignLog
    let c1: CoordinatorProcess
    let c2: CoordinatorProcess
    /// c2's API: the site's coordinator, where forwarded jobs have their copies.
    let runner: APISubmitter

    struct Result {
        var kind: Kind
        var pace: Pace
        /// Jobs submitted.
        var expected: Int
        var submissions: [JobsBenchmark.Submission]
        /// A `ContinuousClock` instant and the Unix time in ms read together: puts request
        /// starts on the coordinators' clock, which stamps `created_at_ms` and `updated_at_ms`.
        var reference: (instant: ContinuousClock.Instant, wallMs: Double)
        /// The phase's jobs as their home records them, by id.
        var home: [String: JobView]
        /// Forwarded phase: c2's copies of each home job (one, if it ran once).
        var copies: [String: [JobView]]
        /// JobAssigns the site received during the phase, and those for a job it had already had.
        var assignments: Int
        var duplicateAssignments: Int
        var assignedAt: [String: ContinuousClock.Instant]
        /// Usage records of the phase's jobs at their home (where they are charged), and how
        /// many of those carry a charge.
        var usageRecords: Int
        var chargedRecords: Int
        var chargedFen: Int64
        /// Over the phase, in % of one core: "c1", "c2" and "generator" (this process).
        var cpu: [String: Double]
        var machineBusy: Double

        func wallMs(_ instant: ContinuousClock.Instant) -> Double { reference.wallMs + (instant - reference.instant).milliseconds }

        /// The id under which the site got a home job: the job itself, or its copy at c2.
        func siteJobID(_ id: String) -> String? { kind == .local ? id : copies[id]?.first?.id.rawValue }
    }

    func run(_ kind: Kind, _ pace: Pace, submitTo home: APISubmitter, indices: Range<Int>) async throws -> Result {
        let homeProcess = kind == .local ? c2 : c1
        let assignedBefore = assigns.total
        let duplicatesBefore = assigns.duplicates
        let before = (c1: ProcessSample.read(c1.pid), c2: ProcessSample.read(c2.pid), generator: ProcessSample.read())
        let machineBefore = SystemCPUSample.read()
        let reference = (instant: ContinuousClock.now, wallMs: WallClock.preciseMilliseconds())

        var submissions: [JobsBenchmark.Submission] = []
        switch pace {
        case .inFlight(let concurrency):
            submissions = try await home.submitAll(range: indices, concurrency: concurrency)
        case .oneByOne:
            for index in indices {
                let one = try await home.submitAll(range: index..<(index + 1), concurrency: 1)
                submissions += one
                if let id = one.first?.jobID { try await Self.waitUntilSucceeded(id, at: home, coordinator: homeProcess) }
            }
        }
        let ids = submissions.compactMap(\.jobID)
        let timeout = Duration.seconds(max(120, indices.count / 10))
        try await waitUntilAssigned(ids.count, since: assignedBefore, timeout: timeout)
        try await JobsBenchmark.waitUntilAnswered([site], timeout: timeout)
        try await waitUntilFinished(at: home, coordinator: homeProcess, timeout: timeout)

        let after = (c1: ProcessSample.read(c1.pid), c2: ProcessSample.read(c2.pid), generator: ProcessSample.read())
        let machineAfter = SystemCPUSample.read()
        let wanted = Set(ids)
        let homeJobs = Dictionary(
            try await home.allJobs().filter { wanted.contains($0.id.rawValue) }.map { ($0.id.rawValue, $0) },
            uniquingKeysWith: { first, _ in first })
        var copies: [String: [JobView]] = [:]
        if kind == .forwarded {
            for copy in try await runner.allJobs() {
                guard let origin = copy.origin, origin.coordinator.rawValue == "c1", wanted.contains(origin.job.rawValue) else { continue }
                copies[origin.job.rawValue, default: []].append(copy)
            }
        }
        let usage = try await chargedUsage(of: wanted, at: home)
        return Result(
            kind: kind, pace: pace, expected: indices.count, submissions: submissions, reference: reference, home: homeJobs, copies: copies,
            assignments: assigns.total - assignedBefore, duplicateAssignments: assigns.duplicates - duplicatesBefore,
            assignedAt: assigns.times(), usageRecords: usage.count, chargedRecords: usage.compactMap(\.charge).count,
            chargedFen: usage.compactMap(\.charge).reduce(0) { $0 + $1.grossFen },
            cpu: [
                "c1": SessionsRun.cpu(before.c1, after.c1), "c2": SessionsRun.cpu(before.c2, after.c2),
                "generator": SessionsRun.cpu(before.generator, after.generator),
            ],
            machineBusy: machineBefore.flatMap { start in machineAfter.map { SystemCPUSample.busyPercent(from: start, to: $0) } } ?? .nan)
    }

    /// Until job `id` reads `succeeded` at `home`; polled every 5 ms (its own timestamps give
    /// the figures). Fails when it ends otherwise or takes over 60 s.
    static func waitUntilSucceeded(_ id: String, at home: APISubmitter, coordinator: CoordinatorProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var state = "?"
        while ContinuousClock.now < deadline {
            if coordinator.process.hasExited { throw BenchError.failed("a coordinator exited:\n\(coordinator.process.logTail())") }
            state = try await home.jobState(id)
            if state == JobState.succeeded.rawValue { return }
            if let ended = JobState(rawValue: state), ended.isTerminal { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError.failed("job \(id) at \(home.baseURL) reads \(state), not succeeded (waited up to 60 s)")
    }

    /// Until the site has received `count` JobAssigns more than `before`.
    private func waitUntilAssigned(_ count: Int, since before: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if assigns.total - before >= count { return }
            if site.phase == .failed { throw BenchError.failed("the simulated site failed: \(site.failure ?? "?")") }
            for coordinator in [c1, c2] where coordinator.process.hasExited {
                throw BenchError.failed("a coordinator exited:\n\(coordinator.process.logTail())")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError.failed("the site received \(assigns.total - before) of \(count) JobAssigns within \(timeout)")
    }

    /// Until no job at `home` is in a state before its end. Polled only once the site has
    /// answered everything (so only while c2's updates travel to c1); the figures come from
    /// the jobs' own timestamps, not from when this loop notices.
    private func waitUntilFinished(at home: APISubmitter, coordinator: CoordinatorProcess, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await !home.hasUnfinishedJobs() { return }
            if coordinator.process.hasExited { throw BenchError.failed("a coordinator exited:\n\(coordinator.process.logTail())") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError.failed("jobs at \(home.baseURL) were still unfinished after \(timeout)")
    }

    /// The usage records of `ids` at `home`, once each is charged or 30 s have passed (a
    /// forwarded job's usage comes home after its status, through c2's outbox).
    private func chargedUsage(of ids: Set<String>, at home: APISubmitter) async throws -> [MeteredUsage] {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let usage = try await home.meteredUsage().filter { ids.contains($0.record.jobID.rawValue) }
            if usage.filter({ $0.charge != nil }).count >= ids.count || ContinuousClock.now > deadline { return usage }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}
