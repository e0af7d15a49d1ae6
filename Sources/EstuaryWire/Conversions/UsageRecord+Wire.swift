import EstuaryModel

extension Estuary_V1_UsageRecord {
    /// The wire form of a usage record. The site is implied by the session, so it is not sent.
    public init(_ record: UsageRecord) {
        self.init()
        recordID = record.id.rawValue
        jobID = record.jobID.rawValue
        acceleratorClass = record.acceleratorClass.rawValue
        units = UInt32(clamping: record.units)
        startedAtMs = record.startedAtMs
        endedAtMs = record.endedAtMs
    }
}

extension UsageRecord {
    /// A usage record received from the session of `siteID`.
    ///
    /// - Throws: `ValidationError` when an id or the class is ill-formed, `units` is 0 or the
    ///   record ends before it starts or lasts longer than `UsageRecord.maxDurationMs`.
    public init(wire: Estuary_V1_UsageRecord, siteID: SiteID) throws(ValidationError) {
        self.init(
            id: UsageRecordID(rawValue: wire.recordID),
            jobID: JobID(rawValue: wire.jobID),
            siteID: siteID,
            acceleratorClass: AcceleratorClass(rawValue: wire.acceleratorClass),
            units: Int(wire.units),
            startedAtMs: wire.startedAtMs,
            endedAtMs: wire.endedAtMs
        )
        var problems: [FieldError] = []
        if !id.isWellFormed { problems.append(FieldError(field: "record_id", message: "is not a well-formed id")) }
        if !jobID.isWellFormed { problems.append(FieldError(field: "job_id", message: "is not a well-formed id")) }
        if !acceleratorClass.isWellFormedClassName {
            problems.append(FieldError(field: "accelerator_class", message: "must be a catalog class name"))
        }
        if units < 1 { problems.append(FieldError(field: "units", message: "must be at least 1")) }
        if units > UsageRecord.maxUnits {
            problems.append(FieldError(field: "units", message: "must be at most \(UsageRecord.maxUnits), the largest job"))
        }
        if startedAtMs < 0 {
            problems.append(FieldError(field: "started_at_ms", message: "must not be before 1970"))
        }
        // Hostile values must not trap: the difference of two arbitrary Int64s can overflow.
        let (duration, overflow) = endedAtMs.subtractingReportingOverflow(startedAtMs)
        if endedAtMs < startedAtMs {
            problems.append(FieldError(field: "ended_at_ms", message: "is before started_at_ms"))
        } else if overflow || duration > UsageRecord.maxDurationMs {
            // Bounded so that units × duration can never overflow, whatever a peer sends.
            problems.append(FieldError(field: "ended_at_ms", message: "the record lasts longer than any job may run"))
        }
        if !problems.isEmpty { throw ValidationError(problems) }
    }
}
