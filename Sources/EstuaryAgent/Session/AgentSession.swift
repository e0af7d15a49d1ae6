import EstuaryTransport
import EstuaryWire
import Logging

/// One session with the coordinator, from dial to close: Hello, Welcome (with a timeout),
/// resend of the outbox, then concurrently the downstream reader, the outbox pusher, capacity
/// reports, log shipping and acks, until the stream ends, a task fails, or Drain arrives.
struct AgentSession {
    let supervisor: JobSupervisor
    let configuration: AgentConfiguration
    /// The site's certificate and key; nil in insecure-dev mode.
    let credentials: CredentialStore?
    let agentInstance: String
    let logger: Logger

    /// How a session ended, for the reconnect loop.
    ///
    /// `@unchecked` only for `error`: it is set once, when the session has ended, and then only
    /// read (logged, matched) by the one task that runs the reconnect loop.
    struct Outcome: @unchecked Sendable {
        var welcomed: Bool
        /// The coordinator asked for this delay (Drain, or Retry-After on refusal).
        var retryAfter: Duration?
        var error: (any Error)?
    }

    func run() async -> Outcome {
        let link = SessionLink()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let headers = [
                        (WireProtocol.protocolHeader, WireProtocol.supportedVersions.map(String.init).joined(separator: ",")),
                        (WireProtocol.siteHeader, configuration.profile.site.id.rawValue),
                    ]
                    do {
                        let client = try meshClientConfiguration()
                        try await MeshClient.withSession(configuration: client, headers: headers) { session in
                            try await drive(session, link: link)
                        }
                        link.end(.closed)
                    } catch {
                        link.end(.failed(error))
                    }
                }
                group.addTask {
                    // Watchdog: enforce the Welcome deadline, then wait for the session to end;
                    // throwing tears the whole session down (cancelling the stream's task).
                    try await withThrowingTaskGroup(of: Void.self) { deadline in
                        deadline.addTask {
                            try await Task.sleep(for: configuration.welcomeTimeout)
                            if !link.welcomed { link.end(.failed(SessionProtocol.HandshakeError.timeout)) }
                        }
                        for await end in link.ends {
                            deadline.cancelAll()
                            if case .failed(let error) = end { throw error }
                        }
                        deadline.cancelAll()
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            link.end(.failed(error))
        }
        let error = link.failure
        if case TransportError.refused(_, _, let retry?)? = error {
            return Outcome(welcomed: link.welcomed, retryAfter: .seconds(retry), error: error)
        }
        return Outcome(welcomed: link.welcomed, retryAfter: link.retryAfter, error: error)
    }

    /// The dial settings: mutual TLS with the current certificate, or h2c in insecure-dev mode.
    func meshClientConfiguration() throws -> MeshClientConfiguration {
        try Self.meshClientConfiguration(configuration, credentials: credentials?.credentials)
    }

    static func meshClientConfiguration(_ configuration: AgentConfiguration, credentials: SiteCredentials?) throws -> MeshClientConfiguration {
        var client = MeshClientConfiguration(host: configuration.coordinator.host, port: configuration.coordinator.port)
        guard let tls = configuration.tls else { return client }
        guard let current = credentials else { throw AgentTrustError.noCredentials(site: configuration.profile.site.id) }
        client.tls = MeshClientTLS(
            trustedCAPEM: tls.caPEM, certificateChainPEM: current.certificatePEM, privateKeyPEM: current.keyPEM,
            requiredServerRole: .coordinator, serverName: tls.serverName)
        return client
    }

    /// Runs the protocol over an open stream.
    private func drive(_ session: MeshSession, link: SessionLink) async throws {
        let writer = session.writer
        let hello = SessionProtocol.hello(
            site: configuration.profile.site, agentVersion: configuration.agentVersion, agentInstance: agentInstance,
            knownJobs: try await supervisor.knownJobs(), nextSeq: try supervisor.outbox.nextSeq(),
            outboxEpoch: supervisor.outbox.epoch
        )
        try await writer.send(hello)

        var reader = session.reader
        guard let first = try await reader.next() else { throw TransportError.connectionClosed }
        let parameters = try SessionProtocol.welcome(first, defaultReportInterval: configuration.defaultReportInterval).get()
        link.markWelcomed()
        session.codec.use(parameters.compression)
        var logger = logger
        logger[metadataKey: "session"] = "\(parameters.sessionID)"
        logger.info(
            "session established",
            metadata: [
                "coordinator": "\(parameters.coordinatorID)", "resume_from": "\(parameters.resumeFrom)",
                "compression": "\(parameters.compression)",
            ]
        )
        try await supervisor.acknowledge(upTo: max(parameters.resumeFrom, first.ack))

        let changes = await supervisor.outboxChanges()
        let sender = OutboxPusher(supervisor: supervisor, writer: writer, link: link, lastSent: parameters.resumeFrom)
        try await sender.pushPending()
        try await writer.send(link.stamp(Estuary_V1_Envelope(body: .capacity(await supervisor.capacityReport()))))

        try await withThrowingTaskGroup(of: Void.self) { group in
            func guarded(_ work: @escaping @Sendable () async throws -> Void) {
                group.addTask {
                    do { try await work() } catch is CancellationError {} catch { link.end(.failed(error)) }
                }
            }
            guarded { try await sender.run(changes: changes) }
            guarded {
                while true {
                    try await Task.sleep(for: parameters.reportInterval)
                    try await writer.send(link.stamp(Estuary_V1_Envelope(body: .capacity(await supervisor.capacityReport()))))
                }
            }
            guarded {
                while true {
                    try await Task.sleep(for: configuration.logInterval)
                    let chunks = await supervisor.pendingLogChunks()
                    if !chunks.isEmpty { try await writer.send(contentsOf: chunks.map(link.stamp)) }
                }
            }
            guarded {
                while true {
                    try await Task.sleep(for: .seconds(1))
                    if link.ackPending { try await writer.send(link.stamp(Estuary_V1_Envelope(body: nil))) }
                }
            }
            try await readDownstream(&reader, writer: writer, link: link, logger: logger)
            group.cancelAll()
        }
        await writer.finish()
    }

    /// Applies downstream envelopes until the stream ends, Drain arrives, or a fatal Error.
    private func readDownstream(
        _ reader: inout EnvelopeReader, writer: EnvelopeWriter, link: SessionLink, logger: Logger
    ) async throws {
        while let envelope = try await reader.next() {
            if envelope.ack > 0 { try await supervisor.acknowledge(upTo: envelope.ack) }
            switch link.directive(for: envelope) {
            case .assign(let assign, let seq):
                try await supervisor.assign(assign)
                try await acknowledge(seq, writer: writer, link: link)
            case .cancel(let cancel, let seq):
                try await supervisor.cancel(cancel)
                try await acknowledge(seq, writer: writer, link: link)
            case .duplicate(let seq):
                logger.debug("duplicate downstream command", metadata: ["seq": "\(seq)"])
                try await writer.send(link.stamp(Estuary_V1_Envelope(body: nil)))
            case .drain(let reason, let retryAfter):
                logger.info("coordinator is draining", metadata: ["reason": "\(reason)", "retry_after_ms": "\(retryAfter)"])
                link.setRetryAfter(retryAfter)
                return
            case .error(let code, let message, let fatal):
                if code == .sessionReplaced {
                    logger.error(
                        "SESSION REPLACED: another agent process has connected as this site; two agents must never run for one site",
                        metadata: ["message": "\(message)"])
                } else {
                    logger.warning("coordinator reported an error", metadata: ["code": "\(code)", "message": "\(message)", "fatal": "\(fatal)"])
                }
                if fatal { return }
            case .none:
                continue
            case .unexpected(let what):
                logger.warning("unexpected downstream envelope ignored", metadata: ["body": "\(what)"])
            }
        }
        logger.info("coordinator closed the session stream")
    }

    private func acknowledge(_ seq: UInt64, writer: EnvelopeWriter, link: SessionLink) async throws {
        if seq > 0 { link.markApplied(seq) }
        try await writer.send(link.stamp(Estuary_V1_Envelope(body: nil)))
    }
}
