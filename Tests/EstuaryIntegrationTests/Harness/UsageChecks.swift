import EstuaryModel
import Testing

/// The metering invariants every test that runs jobs checks: one usage record per job attempt,
/// with the units asked for and a duration that covers what the job measured itself.
struct UsageExpectations {
    /// How much longer than the job's own measurement its usage record may be: the shim's
    /// fork/exec before the job's first `date`, and its reaping after the last one.
    static let slackMs: Int64 = 1500

    var jobs: [JobView]
    var marks: JobMarks
    var usage: [UsageRecord]

    /// Checks every job and returns the jobs' total unit-milliseconds as metered.
    @discardableResult
    func check(sourceLocation: SourceLocation = #_sourceLocation) -> Int64 {
        let wanted = Set(jobs.map(\.id))
        let mine = usage.filter { wanted.contains($0.jobID) }
        let byJob = Dictionary(grouping: mine, by: \.jobID)
        #expect(mine.count == jobs.count, "one usage record per job: \(mine.count) records for \(jobs.count) jobs", sourceLocation: sourceLocation)
        #expect(Set(mine.map(\.id)).count == mine.count, "usage record ids are unique", sourceLocation: sourceLocation)
        var ownTotal: Int64 = 0
        for job in jobs {
            #expect(marks.starts[job.id.rawValue]?.count == 1,
                    "job \(job.id) started once (started \(marks.starts[job.id.rawValue]?.count ?? 0) times)", sourceLocation: sourceLocation)
            guard let records = byJob[job.id], records.count == 1, let record = records.first else {
                Issue.record("job \(job.id) has \(byJob[job.id]?.count ?? 0) usage records, expected 1", sourceLocation: sourceLocation)
                continue
            }
            let units = job.spec.resources.count * job.spec.resources.tasks
            #expect(record.id.rawValue == "u-\(job.id.rawValue)-\(job.attempt)", sourceLocation: sourceLocation)
            #expect(record.units == units, "usage of \(job.id) has count × tasks = \(units) units", sourceLocation: sourceLocation)
            #expect(record.acceleratorClass == job.placedClass, sourceLocation: sourceLocation)
            #expect(record.siteID == job.siteID, sourceLocation: sourceLocation)
            guard let interval = marks.interval(of: job.id.rawValue) else {
                Issue.record("job \(job.id) did not mark exactly one start and one end", sourceLocation: sourceLocation)
                continue
            }
            let own = interval.upperBound - interval.lowerBound
            ownTotal += own * Int64(units)
            #expect(record.startedAtMs <= interval.lowerBound && record.endedAtMs >= interval.upperBound,
                    "usage of \(job.id) [\(record.startedAtMs), \(record.endedAtMs)] covers what the job measured \(interval)",
                    sourceLocation: sourceLocation)
            #expect(record.durationMs <= own + Self.slackMs,
                    "usage of \(job.id) lasted \(record.durationMs) ms; the job measured \(own) ms (+\(Self.slackMs) ms allowed)",
                    sourceLocation: sourceLocation)
        }
        let total = mine.reduce(Int64(0)) { $0 + $1.unitMilliseconds }
        let allowed = ownTotal...(ownTotal + jobs.reduce(Int64(0)) { $0 + Self.slackMs * Int64($1.spec.resources.totalUnits) })
        #expect(allowed.contains(total),
                "total unit-ms \(total) is what the jobs measured (\(ownTotal)) plus at most the per-job slack", sourceLocation: sourceLocation)
        return total
    }
}
