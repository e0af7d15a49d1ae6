import EstuaryModel
import EstuaryScheduler

extension ExplanationView {
    /// The API's form of the scheduler's explanation of one job.
    init(_ explanation: Explanation, state: JobState) {
        var verdict: String
        var deferredUntil: Int64?
        switch explanation.verdict {
        case .placeable: verdict = "placeable"
        case .held: verdict = "placed"
        case .waitingForCapacity: verdict = "waiting"
        case .deferred(let until, _):
            verdict = "deferred"
            deferredUntil = until
        case .waitingForQuota: verdict = "quota"
        case .unplaceable: verdict = "unplaceable"
        }
        self.init(
            jobID: explanation.job, state: state, verdict: verdict, summary: explanation.verdict.description,
            deferredUntilMs: deferredUntil,
            sites: explanation.sites.map {
                SiteExplanationView(site: $0.site, placedClass: $0.cls, reasons: $0.ruledOut.map(\.description), score: $0.score)
            })
    }
}
