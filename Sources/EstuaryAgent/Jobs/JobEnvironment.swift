import EstuaryModel

/// The environment every driver gives a job: a driver's base (PATH …), then the job's own
/// variables, then Estuary's `ESTUARY_*` (which win, so a job cannot misstate who it is).
enum JobEnvironment {
    static func make(_ record: JobRecord, siteID: SiteID, base: [String: String]) -> [String: String] {
        var environment = base
        for (key, value) in record.spec.env { environment[key] = value }
        environment["ESTUARY_JOB_ID"] = record.jobID.rawValue
        environment["ESTUARY_SITE_ID"] = siteID.rawValue
        environment["ESTUARY_ATTEMPT"] = String(record.attempt)
        environment["ESTUARY_ACCELERATOR_CLASS"] = record.acceleratorClass
        environment["ESTUARY_UNITS"] = String(record.units)
        environment["ESTUARY_TASKS"] = String(max(record.spec.tasks, 1))
        return environment
    }
}
