import EstuaryModel
import Foundation

/// The Markdown section of `forward`, and the checks that make the benchmark exit 1.
struct ForwardReport {
    let result: ForwardBenchmark.Result
    let jobs: Int
    let concurrency: Int
    let filesystem: String

    /// A phase's figures, all in ms except `wall` (s) and `rate` (jobs/s).
    struct Figures {
        var succeeded: Int
        var wall: Double
        var rate: Double
        var assigned: LatencySummary
        var finished: LatencySummary
        var api: LatencySummary
        /// Per job: submit → created at home, created at home → created at c2 (forwarded only),
        /// created where it ran → succeeded there, succeeded at c2 → succeeded at home (forwarded only).
        var legs: [(String, LatencySummary)]

        init(_ phase: ForwardPhase.Result) {
            let ok = phase.submissions.filter { $0.jobID != nil }
            let firstStart = phase.submissions.map(\.start).min().map(phase.wallMs) ?? .nan
            let done = phase.home.values.filter { $0.state == .succeeded }
            succeeded = done.count
            wall = ((done.map(\.updatedAtMs).max().map(Double.init) ?? .nan) - firstStart) / 1000
            rate = Double(done.count) / wall
            assigned = LatencySummary(
                milliseconds: ok.compactMap { submission in
                    submission.jobID.flatMap(phase.siteJobID).flatMap { phase.assignedAt[$0] }.map { ($0 - submission.start).milliseconds }
                })
            finished = LatencySummary(
                milliseconds: ok.compactMap { submission in
                    guard let job = submission.jobID.flatMap({ phase.home[$0] }), job.state == .succeeded else { return nil }
                    return Double(job.updatedAtMs) - phase.wallMs(submission.start)
                })
            api = LatencySummary(milliseconds: ok.map { ($0.answered - $0.start).milliseconds })
            func leg(_ name: String, _ value: (JobsBenchmark.Submission, JobView, JobView?) -> Double?) -> (String, LatencySummary) {
                (name, LatencySummary(milliseconds: ok.compactMap { submission in
                    guard let id = submission.jobID, let job = phase.home[id] else { return nil }
                    return value(submission, job, phase.copies[id]?.first)
                }))
            }
            legs = [leg("submit → created at home") { submission, job, _ in Double(job.createdAtMs) - phase.wallMs(submission.start) }]
            if phase.kind == .local {
                legs.append(leg("created → succeeded at c2") { _, job, _ in Double(job.updatedAtMs - job.createdAtMs) })
            } else {
                legs += [
                    leg("created at c1 → copy created at c2") { _, job, copy in copy.map { Double($0.createdAtMs - job.createdAtMs) } },
                    leg("copy created → copy succeeded at c2") { _, _, copy in copy.map { Double($0.updatedAtMs - $0.createdAtMs) } },
                    leg("copy succeeded at c2 → succeeded at c1") { _, job, copy in copy.map { Double(job.updatedAtMs - $0.updatedAtMs) } },
                ]
            }
        }
    }

    /// The loaded phases (the main table) and the one-by-one phases (nil when skipped).
    var loaded: (local: ForwardPhase.Result, forwarded: ForwardPhase.Result)? { pair { $0 != .oneByOne } }
    var oneByOne: (local: ForwardPhase.Result, forwarded: ForwardPhase.Result)? { pair { $0 == .oneByOne } }

    private func pair(_ pace: (ForwardPhase.Pace) -> Bool) -> (local: ForwardPhase.Result, forwarded: ForwardPhase.Result)? {
        let phases = result.phases.filter { pace($0.pace) }
        guard let local = phases.first(where: { $0.kind == .local }), let forwarded = phases.first(where: { $0.kind == .forwarded })
        else { return nil }
        return (local, forwarded)
    }

    static func name(_ phase: ForwardPhase.Result) -> String {
        phase.pace == .oneByOne ? "\(phase.kind.rawValue), one by one" : phase.kind.rawValue
    }

    /// What must hold, per phase; each entry is (held, text).
    var checks: [(Bool, String)] {
        var out: [(Bool, String)] = []
        let count = { (value: Int) in Format.grouped(Double(value)) }
        for phase in result.phases {
            let name = Self.name(phase)
            let jobs = phase.expected
            let ids = phase.submissions.compactMap(\.jobID)
            let home = phase.kind == .local ? "c2" : "c1"
            let succeeded = ids.filter { phase.home[$0]?.state == .succeeded && phase.home[$0]?.attempt == 1 }.count
            out.append((
                ids.count == jobs && succeeded == jobs,
                "\(name): \(count(ids.count)) of \(count(jobs)) submits answered 201 at \(home); \(count(succeeded)) jobs read `succeeded` there, on their first attempt"
            ))
            if phase.kind == .forwarded {
                let toC2 = ids.filter { phase.home[$0]?.forwardedTo?.rawValue == "c2" }.count
                let single = ids.filter { phase.copies[$0]?.count == 1 && phase.copies[$0]?.first?.state == .succeeded }.count
                out.append((
                    toC2 == jobs && single == jobs,
                    "\(name): \(count(toC2)) jobs say `forwarded_to: c2` at c1; c2 holds exactly one copy, succeeded, of \(count(single))"
                ))
            } else {
                let notForwarded = ids.filter { phase.home[$0]?.forwardedTo == nil }.count
                out.append((notForwarded == jobs, "\(name): \(count(notForwarded)) jobs not forwarded"))
            }
            let seen = Set(ids.compactMap(phase.siteJobID)).filter { phase.assignedAt[$0] != nil }.count
            out.append((
                phase.assignments == jobs && phase.duplicateAssignments == 0 && seen == jobs,
                "\(name): the site received \(count(phase.assignments)) JobAssigns, for \(count(seen)) distinct job ids of the phase (\(phase.kind == .local ? "the jobs' own" : "c2's copies")), \(phase.duplicateAssignments) repeated: each job ran once"
            ))
            out.append((
                phase.usageRecords == jobs && phase.chargedRecords == jobs,
                "\(name): \(home)'s `GET /v1/usage` holds \(count(phase.usageRecords)) usage records for the phase's jobs, \(count(phase.chargedRecords)) charged (\(Format.grouped(Double(phase.chargedFen))) fen in all)"
            ))
        }
        return out
    }

    var failures: [String] { checks.filter { !$0.0 }.map(\.1) }

    var markdown: String {
        var out = SectionHeader.text("Forwarding: jobs run at a peer coordinator's site, against the same jobs run locally")
        func line(_ text: String = "") { out += text + "\n" }
        let count = { (value: Int) in Format.grouped(Double(value)) }
        line(
            "Two real coordinators in one gossip mesh on loopback (`--insecure-dev`: h2c, peers trusted by the id they send): c1 (region r1) with no site, c2 (region r2, seeded with c1). One simulated site connects to c2 only (its own HTTP/2 session, one pool of \(count(ForwardBenchmark.poolUnits)) × `\(ForwardBenchmark.acceleratorClass)`, list price \(Format.grouped(Double(ForwardBenchmark.price.flat))) fen per unit-hour); it answers each JobAssign at once with RUNNING, SUCCEEDED (exit 0) and a usage record of \(Format.fixed(Double(ForwardBenchmark.usageSpanMs) / 1000, 0)) s, so each job is charged. Once c1's `GET /v1/mesh/capacity` lists the site and one warm-up job each way has succeeded, two phases of \(count(jobs)) jobs of 1 unit, POSTed to `/v1/jobs` over HTTP/1.1 (\(concurrency) in flight, one `Idempotency-Key` each): **local**, submitted at c2; then **forwarded**, submitted at c1, which places each on c2's site and forwards it through its mesh outbox; c2 files a copy, places it on its site, and sends status and usage back through its own outbox. A phase ends when every job reads `succeeded` at the coordinator it was submitted to.\(oneByOne.map { " Before them, \(count($0.local.expected)) jobs each way one at a time, each once the previous one succeeded." } ?? "") Stores on \(filesystem) (SQLite WAL, synchronous=FULL). Everything shares the machine's \(BenchMachine.current().cores) cores."
        )
        line()
        func ratio(_ a: Double, _ b: Double) -> String { "× " + Format.fixed(a / b, 2) }
        if case let (localPhase, forwardedPhase)? = loaded {
            let (local, forwarded) = (Figures(localPhase), Figures(forwardedPhase))
            line("| phase | submitted at | jobs | wall s | jobs/s | submit→succeeded p50 ms | p99 ms | submit→assigned p50 ms | p99 ms | c1 CPU % | c2 CPU % | generator CPU % | machine busy % | other processes CPU % |")
            line("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for (phase, figures) in [(localPhase, local), (forwardedPhase, forwarded)] {
                let (c1, c2, generator) = (phase.cpu["c1"] ?? .nan, phase.cpu["c2"] ?? .nan, phase.cpu["generator"] ?? .nan)
                let other = OtherLoad.percent(machineBusy: phase.machineBusy, coordinator: c1 + c2, generator: generator)
                line(
                    "| \(phase.kind.rawValue) | \(phase.kind == .local ? "c2" : "c1") | \(count(figures.succeeded)) | \(Format.fixed(figures.wall, 2)) | \(Format.grouped(figures.rate)) | \(Format.ms(figures.finished.p50)) | \(Format.ms(figures.finished.p99)) | \(Format.ms(figures.assigned.p50)) | \(Format.ms(figures.assigned.p99)) | \(Format.fixed(c1, 0)) | \(Format.fixed(c2, 0)) | \(Format.fixed(generator, 0)) | \(Format.fixed(phase.machineBusy, 0)) | \(Format.fixed(other, 0)) |"
                )
            }
            line(
                "| forwarded ÷ local | | | \(ratio(forwarded.wall, local.wall)) | \(ratio(forwarded.rate, local.rate)) | \(ratio(forwarded.finished.p50, local.finished.p50)) | \(ratio(forwarded.finished.p99, local.finished.p99)) | \(ratio(forwarded.assigned.p50, local.assigned.p50)) | \(ratio(forwarded.assigned.p99, local.assigned.p99)) | | | | | |"
            )
            line()
        }
        if case let (localPhase, forwardedPhase)? = oneByOne {
            let (local, forwarded) = (Figures(localPhase), Figures(forwardedPhase))
            line(
                "One job alone (\(count(localPhase.expected)) jobs per phase, each submitted once the previous one read `succeeded`, before the loaded phases): what forwarding adds when no queue is waiting."
            )
            line()
            line("| phase | submitted at | jobs | submit→succeeded p50 ms | p99 ms | max ms | submit→assigned p50 ms | p99 ms |")
            line("|---|---|---:|---:|---:|---:|---:|---:|")
            for (phase, figures) in [(localPhase, local), (forwardedPhase, forwarded)] {
                line(
                    "| \(phase.kind.rawValue) | \(phase.kind == .local ? "c2" : "c1") | \(count(figures.succeeded)) | \(Format.ms(figures.finished.p50)) | \(Format.ms(figures.finished.p99)) | \(Format.ms(figures.finished.max)) | \(Format.ms(figures.assigned.p50)) | \(Format.ms(figures.assigned.p99)) |"
                )
            }
            line(
                "| forwarded ÷ local | | | \(ratio(forwarded.finished.p50, local.finished.p50)) | \(ratio(forwarded.finished.p99, local.finished.p99)) | | \(ratio(forwarded.assigned.p50, local.assigned.p50)) | \(ratio(forwarded.assigned.p99, local.assigned.p99)) |"
            )
            line()
        }
        line(
            "*submit→succeeded* = request start → the submitting coordinator's record of SUCCEEDED (the job's `updated_at_ms`, stamped by that coordinator's wall clock as it applies the transition, before the commit; request starts are put on the same clock, to within 1 ms). For a forwarded job it includes c1's API and placement, the `forward` through c1's outbox, c2 filing and placing the copy, the JobAssign, the site's answers and c2's `update` back through c2's outbox to c1. *submit→assigned* = request start → JobAssign received at the site, as in `jobs` (a forwarded job is matched through c2's copy). *wall* = first request start → last job succeeded at its home; *jobs/s* = jobs ÷ wall. CPU % is of one core over the phase (submits to the end being noticed); *generator* is this process (HTTP client and site); *machine busy* = all cores; *other processes* = machine busy (as % of one core) minus c1, c2 and generator: anything else that ran."
        )
        line()
        for phase in result.phases {
            let figures = Figures(phase)
            let legs = figures.legs.map { "\($0.0) \(Format.ms($0.1.p50)) / \(Format.ms($0.1.p99))" }.joined(separator: "; ")
            line(
                "- Where a job's time goes (\(Self.name(phase))), p50 / p99 ms (coordinators' `created_at_ms` and `updated_at_ms`): \(legs). API answer (durable submit): \(Format.ms(figures.api.p50)) / \(Format.ms(figures.api.p99))."
            )
        }
        line(
            "- Set-up (coordinators started, the mesh formed, c1 hearing of the site, the warm-up jobs): \(Format.fixed(result.setupSeconds, 1)) s."
        )
        for (held, text) in checks { line(held ? "- ✓ \(text)" : "- **✗ FAILED: \(text)**") }
        if let failure = result.sessionFailure { line("- Site session failed: \(failure)") }
        for (name, problems) in result.logProblems.sorted(by: { $0.key < $1.key }) where !problems.isEmpty {
            line(
                "- \(name)'s log: "
                    + problems.sorted { $0.value > $1.value }.prefix(4).map { "\($0.value) × `\($0.key)`" }.joined(separator: "; "))
        }
        return out
    }
}
