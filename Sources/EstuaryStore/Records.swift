import EstuaryModel

/// A job as stored: its spec and where it is in its life.
public struct JobRecord: Sendable, Hashable {
    public var id: JobID
    public var spec: JobSpec
    public var state: JobState
    public var siteID: SiteID?
    public var attempt: Int
    public var exitCode: Int?
    public var signal: Int?
    public var cancelRequested: Bool
    public var cancelReason: String?
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    /// The class the job was placed on (its request may allow several); nil until placed.
    public var placedClass: AcceleratorClass?
    /// Sites that rejected the job or never confirmed it: it is placed elsewhere.
    public var excludedSites: Set<SiteID>
    /// At the coordinator it was submitted to: the peer coordinator whose site it was placed on
    /// (set with the placement, cleared when the job goes back to the queue).
    public var forwardedTo: CoordinatorID?
    /// At the coordinator that runs a forwarded job: where it came from.
    public var origin: JobOrigin?

    public init(
        id: JobID, spec: JobSpec, state: JobState, siteID: SiteID? = nil, attempt: Int = 0, exitCode: Int? = nil,
        signal: Int? = nil, cancelRequested: Bool = false, cancelReason: String? = nil, createdAtMs: Int64,
        updatedAtMs: Int64, placedClass: AcceleratorClass? = nil, excludedSites: Set<SiteID> = [],
        forwardedTo: CoordinatorID? = nil, origin: JobOrigin? = nil
    ) {
        self.forwardedTo = forwardedTo
        self.origin = origin
        self.placedClass = placedClass
        self.excludedSites = excludedSites
        self.id = id
        self.spec = spec
        self.state = state
        self.siteID = siteID
        self.attempt = attempt
        self.exitCode = exitCode
        self.signal = signal
        self.cancelRequested = cancelRequested
        self.cancelReason = cancelReason
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
    }

    public func view(events: [JobEventView]? = nil) -> JobView {
        JobView(
            id: id, spec: spec, state: state, siteID: siteID, attempt: attempt, exitCode: exitCode, signal: signal,
            cancelRequested: cancelRequested, createdAtMs: createdAtMs, updatedAtMs: updatedAtMs, events: events,
            placedClass: placedClass, forwardedTo: forwardedTo, origin: origin
        )
    }
}

/// One recorded transition of a job.
public struct JobEventRecord: Sendable, Hashable {
    public var jobID: JobID
    public var state: JobState
    public var atMs: Int64
    /// The site's clock, when the transition was reported by a site.
    public var siteAtMs: Int64?
    public var cause: String
    public var source: String
    public var siteID: SiteID?
    public var attempt: Int

    public init(
        jobID: JobID, state: JobState, atMs: Int64, siteAtMs: Int64? = nil, cause: String, source: String,
        siteID: SiteID?, attempt: Int
    ) {
        self.jobID = jobID
        self.state = state
        self.atMs = atMs
        self.siteAtMs = siteAtMs
        self.cause = cause
        self.source = source
        self.siteID = siteID
        self.attempt = attempt
    }

    public var view: JobEventView {
        JobEventView(state: state, atMs: atMs, cause: cause, source: source, siteID: siteID, attempt: attempt)
    }
}

/// A site as last seen.
public struct SiteRecord: Sendable, Hashable {
    public var descriptor: SiteDescriptor
    public var pools: [PoolCapacity]
    public var agentVersion: String?
    public var firstSeenMs: Int64
    public var lastSeenMs: Int64
    public var draining: Bool

    public init(
        descriptor: SiteDescriptor, pools: [PoolCapacity], agentVersion: String?, firstSeenMs: Int64, lastSeenMs: Int64,
        draining: Bool = false
    ) {
        self.descriptor = descriptor
        self.pools = pools
        self.agentVersion = agentVersion
        self.firstSeenMs = firstSeenMs
        self.lastSeenMs = lastSeenMs
        self.draining = draining
    }
}
