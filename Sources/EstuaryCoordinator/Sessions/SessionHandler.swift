import EstuaryModel
import EstuaryTransport
import EstuaryTrust
import Foundation
import EstuaryWire
import Logging
import Synchronization

/// Runs the coordinator's side of one agent session (Protocol/PROTOCOL.md): handshake, then
/// three cooperating loops — the reader (capacity, logs, and reliable envelopes into the
/// upstream buffer), the applier (batches into the store, then acks) and the writer (queued
/// commands out, each stamped with the latest ack).
struct SessionHandler: MeshSessionHandler {
    let core: CoordinatorCore
    let logs: LogStore
    let configuration: CoordinatorConfiguration
    let shuttingDown: AtomicBox<Bool>
    /// The CA and revocation set; nil in insecure-dev mode (h2c, no peer identities).
    let trust: MeshTrust?
    /// Records a certificate issued by renewal (store row and audit entry) before it is sent.
    /// Throws `RenewalRefused` when the site or the certificate being replaced was revoked.
    let recordRenewal: @Sendable (_ issued: IssuedCertificate, _ replacing: String, _ remote: String) async throws -> Void
    /// Audits a session refused because its certificate did not match what it claimed.
    let onRefused: @Sendable (_ request: SessionRequest, _ reason: String) async -> Void
    /// Gossip with other coordinators; nil when this coordinator is not in a mesh.
    let gossip: MeshGossip?
    let logger: Logger
    /// Jobs across coordinators; nil when this coordinator is not in a mesh.
    var federation: MeshFederation? = nil

    func admit(_ request: SessionRequest) async -> SessionRefusal? {
        if let refusal = authorize(request) {
            logger.warning(
                "session refused: peer speaks for someone else",
                metadata: ["remote": "\(request.remoteAddress)", "peer": "\(request.peer.map { "\($0.identity)" } ?? "-")", "reason": "\(refusal.message)"])
            await onRefused(request, refusal.message)
            return refusal
        }
        if shuttingDown.value.load(ordering: .relaxed) {
            return SessionRefusal(status: 503, message: "coordinator is shutting down", retryAfterSeconds: 5)
        }
        guard let header = request.headers[WireProtocol.protocolHeader] else {
            return SessionRefusal(status: 400, message: "missing \(WireProtocol.protocolHeader) header")
        }
        guard let offered = request.protocolVersions, WireProtocol.negotiate(offered) != nil else {
            return SessionRefusal(
                status: 400,
                message: "no common protocol version: agent offers \(header), coordinator speaks \(WireProtocol.versionsHeaderValue())")
        }
        guard let site = request.siteHeader, Identifiers.isWellFormed(site) else {
            return SessionRefusal(status: 400, message: "missing or ill-formed \(WireProtocol.siteHeader) header")
        }
        return nil
    }

    /// A peer speaks only for the site its certificate names (PROTOCOL.md §2.6): with TLS,
    /// the certificate must be a site's, and the site header must name that site.
    func authorize(_ request: SessionRequest) -> SessionRefusal? {
        guard trust != nil else { return nil }
        guard let peer = request.peer else {
            return SessionRefusal(status: 401, message: "a client certificate is required")
        }
        guard peer.identity.role == .site else {
            return SessionRefusal(status: 403, message: "\(peer.identity) may not open a site session; only site certificates may")
        }
        if let header = request.siteHeader, header != peer.identity.id {
            return SessionRefusal(status: 403, message: "the certificate names site \(peer.identity.id), not \(header)")
        }
        return nil
    }

    /// Certificate renewal over mutual TLS: `POST /estuary/v1/renew` with a PEM CSR for a new
    /// key; answers the new certificate (PEM). The identity comes from the current certificate.
    func unary(_ request: SessionRequest, body: [UInt8]) async -> UnaryResponse {
        if request.headers[":path"] == MeshGossip.path { return await gossipMessage(request, body: body) }
        if let path = request.headers[":path"], MeshFederation.paths.contains(path) {
            return await federationRequest(request, path: path, body: body)
        }
        guard request.headers[":path"] == WireProtocol.renewPath else {
            return Self.plain(404, "unknown path \(request.headers[":path"] ?? "-")")
        }
        guard let trust, let peer = request.peer else {
            return Self.plain(404, "renewal needs mutual TLS; this coordinator runs in insecure-dev mode")
        }
        guard peer.identity.role == .site else {
            return Self.plain(403, "only site certificates are renewed here")
        }
        let site = SiteID(rawValue: peer.identity.id)
        if trust.isRevoked(peer.serial) {
            return Self.plain(403, "certificate \(peer.serial) is revoked")
        }
        do {
            let issued = try trust.issueSiteCertificate(csrPEM: String(decoding: body, as: UTF8.self), site: site)
            try await recordRenewal(issued, peer.serial, request.remoteAddress)
            logger.info("certificate renewed", metadata: ["site": "\(site)", "serial": "\(issued.serial)", "replaces": "\(peer.serial)"])
            return UnaryResponse(
                status: 200, headers: ["content-type": "application/pem-certificate-chain"], body: Array(issued.certificatePEM.utf8))
        } catch let error as TrustError {
            return Self.plain(400, "bad certificate request: \(error)")
        } catch let refused as RenewalRefused {
            logger.warning("renewal refused", metadata: ["site": "\(site)", "reason": "\(refused.reason)"])
            return Self.plain(403, "renewal refused: \(refused.reason)")
        } catch {
            logger.error("renewal failed", metadata: ["site": "\(site)", "error": "\(error)"])
            return Self.plain(500, "renewal failed")
        }
    }

    /// One gossip message from another coordinator (`POST /estuary.v1/gossip`). With TLS only a
    /// coordinator certificate may gossip, and the message must come from the coordinator it
    /// names. The answer's body is the node's immediate reply to the sender (an ack), if any.
    func gossipMessage(_ request: SessionRequest, body: [UInt8]) async -> UnaryResponse {
        guard let gossip else { return Self.noMesh }
        let sender: CoordinatorID?
        switch coordinatorSender(request, may: "gossip") {
        case .success(let id): sender = id
        case .failure(let refusal): return refusal.response
        }
        guard let from = request.headers[MeshGossip.fromHeader], MeshPeers.split(address: from) != nil else {
            return Self.plain(400, "missing or ill-formed \(MeshGossip.fromHeader) header (host:port)")
        }
        switch await gossip.receive(body, from: from, sender: sender?.rawValue) {
        case .success(let reply):
            return UnaryResponse(
                status: 200, headers: ["content-type": "application/octet-stream"], body: reply, establishesConnection: true)
        case .failure(let error):
            return Self.plain(400, "gossip message refused: \(error)")
        }
    }

    /// A request from another coordinator about jobs across the mesh (PROTOCOL.md §16): with
    /// TLS, only coordinator certificates, each speaking for itself.
    func federationRequest(_ request: SessionRequest, path: String, body: [UInt8]) async -> UnaryResponse {
        guard let federation else { return Self.noMesh }
        let sender: CoordinatorID?
        switch coordinatorSender(request, may: "use \(path)") {
        case .success(let id): sender = id
        case .failure(let refusal): return refusal.response
        }
        let (status, reply) = await federation.answer(path: path, body: body, sender: sender)
        if status != 200 { return Self.plain(status, String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .newlines)) }
        return UnaryResponse(status: 200, headers: ["content-type": "application/json"], body: reply, establishesConnection: true)
    }

    static let noMesh = plain(404, "this coordinator is not in a coordinator mesh (start it with --region and --gossip-seed)")

    /// A refusal to answer, as an error so that it can travel in a `Result`.
    struct Refusal: Error {
        var response: UnaryResponse
    }

    /// Who is talking on a coordinator-to-coordinator path: with TLS the coordinator its
    /// certificate names (any other certificate is refused, 403); nil in insecure-dev mode.
    func coordinatorSender(_ request: SessionRequest, may action: String) -> Result<CoordinatorID?, Refusal> {
        guard trust != nil else { return .success(nil) }
        guard let peer = request.peer, peer.identity.role == .coordinator else {
            return .failure(Refusal(response: Self.plain(403, "only coordinator certificates may \(action)")))
        }
        return .success(CoordinatorID(rawValue: peer.identity.id))
    }

    static func plain(_ status: Int, _ message: String) -> UnaryResponse {
        UnaryResponse(status: status, headers: ["content-type": "text/plain; charset=utf-8"], body: Array((message + "\n").utf8))
    }

    func run(_ session: MeshServerSession) async {
        var reader = session.reader
        let opened: (SiteDescriptor, Estuary_V1_Hello)
        do {
            opened = try await handshakeHello(&reader, request: session.request)
        } catch let failure as SessionFailure {
            await refuse(session, failure)
            return
        } catch let error as FrameError {
            await refuse(session, SessionFailure(code: error.protocolErrorCode, message: error.description))
            return
        } catch {
            logger.debug("session ended before Hello", metadata: ["error": "\(error)"])
            return
        }
        let (descriptor, hello) = opened
        let site = descriptor.id
        let link = SiteLink(sessionID: Self.sessionID())
        var sessionLogger = self.logger
        sessionLogger[metadataKey: "site"] = "\(site)"
        sessionLogger[metadataKey: "session"] = "\(link.sessionID)"
        let logger = sessionLogger

        let attached: AttachResult
        do {
            attached = try await core.attach(hello: hello, descriptor: descriptor, link: link)
        } catch {
            await refuse(session, SessionFailure(code: .internal, message: "cannot register the site: \(error)"))
            return
        }
        let compression = Compression.negotiate(offered: hello.compression)
        let welcome = Estuary_V1_Envelope(ack: attached.resumeFrom, body: .welcome(.with {
            $0.protocolVersion = WireProtocol.negotiate(hello.protocolVersions) ?? 1
            $0.compression = compression == .none ? "" : compression.rawValue
            $0.maxFrameBytes = UInt32(
                WireProtocol.negotiateMaxFrameBytes(offered: hello.maxFrameBytes, local: configuration.mesh.frames.maxFrameBytes))
            $0.resumeFrom = attached.resumeFrom
            $0.sessionID = link.sessionID
            $0.reportIntervalMs = UInt32(configuration.reportIntervalMs)
            $0.coordinatorID = configuration.coordinatorID
        }))
        do {
            try await session.writer.send(welcome)
        } catch {
            await core.detach(site: site, link: link)
            return
        }
        session.codec.use(compression)
        session.markEstablished()
        logger.info("site connected", metadata: ["resume_from": "\(attached.resumeFrom)", "compression": "\(compression)"])

        let ack = AtomicBox<UInt64>(attached.resumeFrom)
        let writer = session.writer
        let upstream = Handoff(reader)
        let buffer = UpstreamBuffer()
        // A session lives no longer than its certificate; the agent renews well before expiry
        // and reconnects with the new one.
        let expiry = session.request.peer.map { peer in
            Task {
                let remaining = peer.notAfter.timeIntervalSinceNow
                if remaining > 0 { try await Task.sleep(for: .milliseconds(Int64(remaining * 1000))) }
                link.close(with: Self.errorEnvelope(.unauthorized, "the session's certificate expired; renew and reconnect"))
            }
        }
        defer { expiry?.cancel() }
        enum Part { case reader, applier, writer }
        do {
            try await withThrowingTaskGroup(of: Part.self) { group in
                group.addTask {
                    defer { buffer.finish() }
                    try await readLoop(upstream.value, site: site, link: link, buffer: buffer, logger: logger)
                    return .reader
                }
                group.addTask {
                    defer {
                        buffer.finish()  // wakes a reader parked on a full buffer
                        link.close()
                    }
                    while let batch = await buffer.takeAll() {
                        do {
                            let seq = try await core.applyUpstream(site: site, link: link, envelopes: batch)
                            ack.value.store(seq, ordering: .relaxed)
                            link.send(Estuary_V1_Envelope())  // a pure ack
                        } catch let failure as SessionFailure {
                            logger.warning("ending session", metadata: ["code": "\(failure.code)", "reason": "\(failure.message)"])
                            link.close(with: Self.errorEnvelope(failure.code, failure.message))
                            return .applier
                        }
                    }
                    return .applier
                }
                group.addTask {
                    for await var envelope in link.outgoing {
                        envelope.ack = ack.value.load(ordering: .relaxed)
                        try await writer.send(envelope)
                    }
                    return .writer
                }
                // The reader ending cleanly lets the applier finish its last batch and close the
                // link; anything else (the link closed by a replacement or shutdown) ends all.
                if try await group.next() != .reader { group.cancelAll() }
                try await group.waitForAll()
            }
        } catch {
            logger.info("session ended", metadata: ["reason": "\(error)"])
        }
        await core.detach(site: site, link: link)
        await writer.finish()
    }

    /// Reads the first envelope, which must be a Hello that matches the request headers.
    private func handshakeHello(
        _ reader: inout EnvelopeReader, request: SessionRequest
    ) async throws -> (SiteDescriptor, Estuary_V1_Hello) {
        guard let first = try await reader.next() else {
            throw SessionFailure(code: .protocolViolation, message: "stream ended before Hello")
        }
        guard case .hello(let hello) = first.body else {
            throw SessionFailure(code: .protocolViolation, message: "the first envelope of a session must be Hello")
        }
        guard WireProtocol.negotiate(hello.protocolVersions) != nil else {
            throw SessionFailure(
                code: .unsupportedVersion,
                message: "no common protocol version: offered \(hello.protocolVersions), supported \(WireProtocol.supportedVersions)")
        }
        let descriptor: SiteDescriptor
        do {
            descriptor = try SiteDescriptor(wire: hello.site)
        } catch {
            throw SessionFailure(code: .protocolViolation, message: "Hello.site is invalid: \(error)")
        }
        if let peer = request.peer, peer.identity.id != descriptor.id.rawValue {
            throw SessionFailure(
                code: .unauthorized, message: "the certificate names site \(peer.identity.id), but Hello speaks for \(descriptor.id)")
        }
        if let header = request.siteHeader, header != descriptor.id.rawValue {
            throw SessionFailure(
                code: .protocolViolation,
                message: "the \(WireProtocol.siteHeader) header says \(header) but Hello says \(descriptor.id)")
        }
        return (descriptor, hello)
    }

    private func readLoop(
        _ reader: EnvelopeReader, site: SiteID, link: SiteLink, buffer: UpstreamBuffer, logger: Logger
    ) async throws {
        do {
            for try await envelope in reader {
                await core.touch(site: site, link: link)
                if envelope.seq > 0 {
                    guard envelope.isReliable else {
                        link.close(with: Self.errorEnvelope(.protocolViolation, "only JobUpdate and UsageBatch carry a seq"))
                        return
                    }
                    await buffer.append(envelope)
                    continue
                }
                switch envelope.body {
                case .capacity(let report):
                    await core.capacity(site: site, link: link, report: report)
                case .logChunk(let chunk):
                    // Only output of jobs running at this site, in chunks no larger than the spec's.
                    guard chunk.data.count <= Self.maxLogChunkBytes,
                        await core.isActive(JobID(rawValue: chunk.jobID), at: site)
                    else {
                        logger.debug("log chunk ignored", metadata: ["job": "\(chunk.jobID)"])
                        continue
                    }
                    writeLog(chunk, logger: logger)
                case .error(let error):
                    logger.warning("agent reported an error", metadata: ["code": "\(error.code)", "message": "\(error.message)"])
                    if error.fatal { return }
                case .drain(let drain):
                    logger.info("agent is draining", metadata: ["reason": "\(drain.reason)"])
                    return
                case .hello:
                    link.close(with: Self.errorEnvelope(.protocolViolation, "Hello may only open a session"))
                    return
                case .jobUpdate, .usage:
                    link.close(with: Self.errorEnvelope(.protocolViolation, "JobUpdate and UsageBatch must carry a seq"))
                    return
                case nil, .welcome, .jobAssign, .jobCancel:
                    continue  // pure acks; downstream-only bodies are ignored
                }
            }
        } catch let error as FrameError {
            logger.warning("bad frame from agent; ending session", metadata: ["error": "\(error)"])
            link.close(with: Self.errorEnvelope(error.protocolErrorCode, error.description))
        }
    }

    private func writeLog(_ chunk: Estuary_V1_LogChunk, logger: Logger) {
        let stream: LogStreamKind = chunk.stream == .stderr ? .stderr : .stdout
        let outcome = logs.write(job: JobID(rawValue: chunk.jobID), stream: stream, offset: chunk.offset, data: Array(chunk.data))
        if outcome == .invalid {
            logger.warning("log chunk refused", metadata: ["job": "\(chunk.jobID)"])
        }
    }

    private func refuse(_ session: MeshServerSession, _ failure: SessionFailure) async {
        logger.warning(
            "session refused", metadata: ["remote": "\(session.request.remoteAddress)", "code": "\(failure.code)", "reason": "\(failure.message)"])
        try? await session.writer.send(Self.errorEnvelope(failure.code, failure.message))
        await session.writer.finish()
    }

    static let maxLogChunkBytes = 64 << 10

    static func errorEnvelope(_ code: Estuary_V1_ErrorCode, _ message: String) -> Estuary_V1_Envelope {
        Estuary_V1_Envelope(body: .error(.with {
            $0.code = code
            $0.message = message
            $0.fatal = true
        }))
    }

    static func sessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "s-" + String(generator.next() as UInt64, radix: 36)
    }
}

/// Why a renewal was refused after the handshake (a revocation that raced it).
struct RenewalRefused: Error {
    var reason: String
}

/// Moves a non-Sendable value into exactly one child task.
///
/// Safe because the creator gives the value up: `run` never touches the reader after wrapping
/// it, and only the reader task unwraps it. The compiler cannot prove this on its own since the
/// reader was derived from the stream that the server lends to `run`.
struct Handoff<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
