import Dispatch
import EstuaryTrust
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOTLS

/// The peer certificate check run inside the TLS handshake. It replaces BoringSSL's own chain
/// verification (NIOSSL's custom verification callback): swift-certificates verifies the chain
/// against the mesh CA (`PeerVerifier`), then `check` applies the caller's rule (server:
/// revocation and admission; client: role and server name).
struct PeerVerification: Sendable {
    let authority: NIOSSLCertificate
    let authorityDER: [UInt8]
    /// A reason refuses the peer; nil admits it.
    let check: @Sendable (PeerCertificate) -> String?

    func callback(recordingInto state: TLSConnectionState) -> NIOSSLCustomVerificationCallbackWithMetadata {
        let authority = self.authority
        let authorityDER = self.authorityDER
        let check = self.check
        return { certificates, promise in
            guard let leaf = certificates.first else {
                state.fail("the peer presented no certificate")
                promise.succeed(.failed)
                return
            }
            let presented: [[UInt8]]
            do {
                presented = try certificates.map { try $0.toDERBytes() }
            } catch {
                state.fail("the peer's certificate cannot be read: \(error)")
                promise.succeed(.failed)
                return
            }
            // Verification is async (swift-certificates); it leaves the event loop and
            // completes the promise, which resumes the handshake. It runs on threads of its own
            // (`VerificationExecutor`), not the shared cooperative pool: a process whose pool is
            // busy (rating usage, CPU-bound work) must not stall handshakes into their deadline.
            promise.completeWithTask(on: VerificationExecutor.shared) {
                let peer: PeerCertificate
                do {
                    peer = try await PeerVerifier.verify(chainDER: presented, trustedCA: authorityDER)
                } catch {
                    state.fail("\(error)")
                    return .failed
                }
                if let reason = check(peer) {
                    state.fail(reason)
                    return .failed
                }
                state.verified(peer)
                // The path we verified: the leaf, issued directly by the CA.
                return .certificateVerified(VerificationMetadata(ValidatedCertificateChain([leaf, authority])))
            }
        }
    }
}

/// What the handshake learnt about one connection: the verified peer, or why it failed.
final class TLSConnectionState: Sendable {
    private let state = NIOLockedValueBox<(peer: PeerCertificate?, failure: String?)>((nil, nil))

    var peer: PeerCertificate? { state.withLockedValue { $0.peer } }
    var failure: String? { state.withLockedValue { $0.failure } }

    func verified(_ peer: PeerCertificate) {
        state.withLockedValue { $0.peer = peer }
    }

    /// Keeps the first reason: later errors are usually consequences of it.
    func fail(_ reason: String) {
        state.withLockedValue { if $0.failure == nil { $0.failure = reason } }
    }
}

/// Sits right after the TLS handler. Closes connections that did not negotiate ALPN `h2`,
/// logs handshake failures (debug, with the reason) and reports the handshake's outcome.
final class TLSHandshakeObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let state: TLSConnectionState
    private let logger: Logger?
    private let remote: String
    private let outcome: EventLoopPromise<Void>?
    private var finished = false

    init(state: TLSConnectionState, logger: Logger?, remote: String, outcome: EventLoopPromise<Void>?) {
        self.state = state
        self.logger = logger
        self.remote = remote
        self.outcome = outcome
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard !finished, let tls = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = tls else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard negotiated == TLSSetup.applicationProtocol else {
            let reason = "the peer did not negotiate ALPN \(TLSSetup.applicationProtocol) (got \(negotiated ?? "none"))"
            fail(reason)
            context.close(promise: nil)
            return
        }
        finished = true
        outcome?.succeed(())
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !finished {
            fail(state.failure ?? Self.describe(error))
        } else if error is NIOSSLError || error is BoringSSLError {
            // After our side completed: in TLS 1.3 the server checks the client's certificate
            // after the client finished, so its refusal arrives here as an alert.
            state.fail("the peer ended the connection: \(Self.describe(error))")
        }
        context.fireErrorCaught(error)
    }

    /// BoringSSL's reason codes ("…OPENSSL_internal:TLSV1_ALERT_CERTIFICATE_REQUIRED at …")
    /// as words ("tlsv1 alert certificate required"); other errors as they describe themselves.
    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        let marker = "OPENSSL_internal:"
        var reasons: [String] = []
        var rest = text[...]
        while let found = rest.firstRange(of: marker) {
            let code = rest[found.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            if !code.isEmpty { reasons.append(String(code.lowercased().map { $0 == "_" ? " " : $0 })) }
            rest = rest[found.upperBound...]
        }
        return reasons.isEmpty ? text : reasons.joined(separator: "; ")
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished { fail(state.failure ?? "the connection closed during the TLS handshake") }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if !finished { fail(state.failure ?? "the connection was torn down during the TLS handshake") }
    }

    private func fail(_ reason: String) {
        guard !finished else { return }
        finished = true
        state.fail(reason)
        logger?.debug("TLS handshake failed", metadata: ["remote": "\(remote)", "reason": "\(reason)"])
        outcome?.fail(TransportError.tlsFailed(reason))
    }
}

/// The executor certificate verification runs on: a concurrent dispatch queue, whose threads
/// are not the Swift cooperative pool's.
final class VerificationExecutor: TaskExecutor {
    static let shared = VerificationExecutor()

    private let queue = DispatchQueue(label: "estuary.tls.verify", qos: .userInitiated, attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension EventLoopPromise {
    /// Completes the promise with what `body` returns, running `body` in a task that prefers
    /// `executor` (its nonisolated awaits run there too).
    func completeWithTask(
        on executor: some TaskExecutor, _ body: @escaping @Sendable () async throws -> Value
    ) where Value: Sendable {
        Task(executorPreference: executor) {
            do {
                self.succeed(try await body())
            } catch {
                self.fail(error)
            }
        }
    }
}
