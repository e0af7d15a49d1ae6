import EstuaryLedger
import EstuaryModel
import Foundation

/// Reads that check what a coordinator recorded after a run, through its API like any client.
extension APISubmitter {
    /// The API's page size limit for `GET /v1/jobs` (CoordinatorBackend's `JobQuery.maxLimit`).
    static let jobPageLimit = 1000

    /// Every job, page by page (ids sort by creation), or only those in `state`.
    func allJobs(state: JobState? = nil) async throws -> [JobView] {
        var jobs: [JobView] = []
        var after: String?
        repeat {
            let path =
                "/v1/jobs?limit=\(Self.jobPageLimit)" + (state.map { "&state=\($0.rawValue)" } ?? "")
                + (after.map { "&after=\($0)" } ?? "")
            let page = try JSONDecoder().decode(JobListView.self, from: try await get(path))
            jobs += page.jobs
            after = page.nextAfter?.rawValue
        } while after != nil
        return jobs
    }

    /// Whether any job is in a state before its end. One small query per state, in the order a
    /// job goes through them, so a job that moves on between two queries is seen by a later one.
    func hasUnfinishedJobs() async throws -> Bool {
        for state in [JobState.submitted, .queued, .placed, .starting, .running] {
            let page = try JSONDecoder().decode(JobListView.self, from: try await get("/v1/jobs?limit=1&state=\(state.rawValue)"))
            if !page.jobs.isEmpty { return true }
        }
        return false
    }

    /// `GET /v1/usage`: every usage record the coordinator stored, with what it was charged
    /// (`metered`, present when the coordinator keeps a ledger).
    func meteredUsage() async throws -> [MeteredUsage] {
        try JSONDecoder().decode(MeteredUsageView.self, from: try await get("/v1/usage")).metered ?? []
    }
}
