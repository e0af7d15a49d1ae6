import EstuaryModel
import EstuaryWire

/// The agent's side of the session protocol as pure functions and a small state machine: what
/// to put in Hello, whether a Welcome is acceptable, and what each downstream envelope asks the
/// agent to do. The I/O shell (`AgentSession`) carries the directives out.
enum SessionProtocol {
    /// Largest frame payload the agent accepts (Hello.max_frame_bytes).
    static let maxFrameBytes: UInt32 = 4 << 20

    static func hello(
        site: SiteDescriptor, agentVersion: String, agentInstance: String, knownJobs: [Estuary_V1_JobRef],
        nextSeq: UInt64, outboxEpoch: String
    ) -> Estuary_V1_Envelope {
        var hello = Estuary_V1_Hello()
        hello.protocolVersions = WireProtocol.supportedVersions
        hello.site = Estuary_V1_Site(site)
        hello.agentVersion = agentVersion
        hello.agentInstance = agentInstance
        hello.compression = Compression.offer()
        hello.maxFrameBytes = maxFrameBytes
        hello.knownJobs = knownJobs
        hello.nextSeq = nextSeq
        hello.outboxEpoch = outboxEpoch
        return Estuary_V1_Envelope(body: .hello(hello))
    }

    /// Session parameters from an acceptable Welcome.
    struct Parameters: Equatable {
        var compression: Compression
        var resumeFrom: UInt64
        var sessionID: String
        var reportInterval: Duration
        var coordinatorID: String
    }

    enum HandshakeError: Error, Equatable, CustomStringConvertible {
        case notWelcome(String)
        case refusedByCoordinator(code: Estuary_V1_ErrorCode, message: String)
        case unsupportedVersion(UInt32)
        case unsupportedCompression(String)
        case timeout

        var description: String {
            switch self {
            case .notWelcome(let what): "expected Welcome as the first downstream envelope, got \(what)"
            case .refusedByCoordinator(let code, let message): "coordinator refused the session (\(code)): \(message)"
            case .unsupportedVersion(let version): "coordinator chose protocol version \(version), which this agent does not speak"
            case .unsupportedCompression(let token): "coordinator chose compression \"\(token)\", which this agent did not offer"
            case .timeout: "no Welcome within the handshake timeout"
            }
        }
    }

    /// Checks the first downstream envelope.
    static func welcome(_ envelope: Estuary_V1_Envelope, defaultReportInterval: Duration) -> Result<Parameters, HandshakeError> {
        switch envelope.body {
        case .welcome(let welcome):
            guard WireProtocol.supportedVersions.contains(welcome.protocolVersion) else {
                return .failure(.unsupportedVersion(welcome.protocolVersion))
            }
            guard let compression = Compression(rawValue: welcome.compression) else {
                return .failure(.unsupportedCompression(welcome.compression))
            }
            let interval = welcome.reportIntervalMs > 0 ? Duration.milliseconds(Int64(welcome.reportIntervalMs)) : defaultReportInterval
            return .success(
                Parameters(
                    compression: compression, resumeFrom: welcome.resumeFrom, sessionID: welcome.sessionID,
                    reportInterval: max(interval, .milliseconds(100)), coordinatorID: welcome.coordinatorID
                )
            )
        case .error(let error):
            return .failure(.refusedByCoordinator(code: error.code, message: error.message))
        case nil:
            return .failure(.notWelcome("a pure ack"))
        case .some(let other):
            return .failure(.notWelcome("\(other)".prefix(40).description))
        }
    }

    /// What a downstream envelope (after Welcome) asks of the agent.
    enum Directive: Equatable {
        case assign(Estuary_V1_JobAssign, seq: UInt64)
        case cancel(Estuary_V1_JobCancel, seq: UInt64)
        /// A command already applied (resent by the coordinator): just acknowledge it again.
        case duplicate(seq: UInt64)
        case drain(reason: String, retryAfter: Duration)
        case error(code: Estuary_V1_ErrorCode, message: String, fatal: Bool)
        /// Nothing to do beyond processing its ack.
        case none
        /// Not something a coordinator sends after Welcome; logged and ignored.
        case unexpected(String)
    }

    /// Tracks the highest downstream seq applied, so that duplicates are recognised.
    struct Downstream: Equatable {
        private(set) var applied: UInt64 = 0

        func directive(for envelope: Estuary_V1_Envelope) -> Directive {
            let isCommand: Bool
            switch envelope.body {
            case .jobAssign, .jobCancel: isCommand = true
            default: isCommand = false
            }
            if isCommand, envelope.seq != 0, envelope.seq <= applied { return .duplicate(seq: envelope.seq) }
            switch envelope.body {
            case .jobAssign(let assign): return .assign(assign, seq: envelope.seq)
            case .jobCancel(let cancel): return .cancel(cancel, seq: envelope.seq)
            case .drain(let drain): return .drain(reason: drain.reason, retryAfter: .milliseconds(Int64(drain.retryAfterMs)))
            case .error(let error): return .error(code: error.code, message: error.message, fatal: error.fatal)
            case nil: return .none
            case .some(let other): return .unexpected("\(other)".prefix(60).description)
            }
        }

        /// Records that the command with `seq` is durably applied.
        mutating func markApplied(_ seq: UInt64) { applied = max(applied, seq) }
    }
}
