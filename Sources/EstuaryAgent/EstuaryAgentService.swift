import EstuaryTransport
import Foundation
import Logging
import ServiceLifecycle

/// The site agent as a swift-service-lifecycle `Service`: re-adopts the jobs of the previous
/// process, then watches jobs and keeps a session with the coordinator open, reconnecting with
/// capped exponential backoff and full jitter. Graceful shutdown ends the session and returns;
/// running jobs (each under its own shim) and the outbox are left as they are for the next start.
public struct EstuaryAgentService: Service {
    public let configuration: AgentConfiguration
    public let supervisor: JobSupervisor
    let logger: Logger
    /// Random per process start (Hello.agent_instance).
    let agentInstance: String
    /// The site's certificate and key (mutual TLS); nil in insecure-dev mode.
    let credentials: CredentialStore?

    public init(configuration: AgentConfiguration, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "site"] = "\(configuration.profile.site.id)"
        self.configuration = configuration
        self.logger = logger
        self.agentInstance = UUID().uuidString.lowercased()
        self.credentials = configuration.tls == nil ? nil : try CredentialStore(dataDirectory: configuration.dataDirectory)
        self.supervisor = try JobSupervisor(
            profile: configuration.profile, dataDirectory: configuration.dataDirectory, driver: configuration.driver,
            logger: logger
        )
    }

    public func run() async throws {
        try await supervisor.prepare()
        try await supervisor.recover()
        do {
            // Enrollment retries until the coordinator answers; SIGTERM must still stop it.
            try await cancelWhenGracefulShutdown { try await enrollIfNeeded() }
        } catch is CancellationError {
            logger.info("agent stopped before enrollment completed")
            return
        }
        logger.info(
            "agent started",
            metadata: [
                "coordinator": "\(configuration.coordinator)", "data_dir": "\(configuration.dataDirectory)",
                "instance": "\(agentInstance)",
            ]
        )
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await watchJobs() }
                group.addTask { await keepConnected() }
                if credentials != nil { group.addTask { await keepRenewed() } }
            }
        }
        logger.info("agent stopped; running jobs continue under their shims")
    }

    /// Polls job directories until cancelled; prunes old reported jobs once a minute.
    private func watchJobs() async {
        var lastPrune = ContinuousClock.now
        let retentionMs = ReconnectBackoff.milliseconds(configuration.reportedJobRetention)
        while !Task.isCancelled {
            do {
                try await supervisor.poll()
                if ContinuousClock.now - lastPrune > .seconds(60) {
                    lastPrune = .now
                    try await supervisor.pruneReportedJobs(retentionMs: retentionMs)
                }
            } catch {
                logger.error("job watcher failed; retrying", metadata: ["error": "\(error)"])
            }
            do {
                try await Task.sleep(for: configuration.pollInterval)
            } catch {
                return  // cancelled: shutting down
            }
        }
    }

    /// First start of a TLS site: trade the join token for a certificate. Network failures are
    /// retried with backoff; a refused token is final (a new one must be issued).
    private func enrollIfNeeded() async throws {
        guard let credentials, let tls = configuration.tls else { return }
        let site = configuration.profile.site.id
        if let current = credentials.credentials {
            guard current.certificate.identity.role == .site, current.certificate.identity.id == site.rawValue else {
                throw AgentTrustError.wrongIdentity(expected: site, got: current.certificate.identity)
            }
            if current.certificate.notAfter > Date() || tls.joinToken == nil { return }
            logger.warning("the site certificate has expired; enrolling again with the join token")
        }
        guard let token = tls.joinToken, tls.enrollURL != nil else { throw AgentTrustError.noCredentials(site: site) }
        var attempt = 0
        while true {
            do {
                let enrolled = try await Enrollment.enroll(site: site, settings: tls, token: token)
                try credentials.replace(with: enrolled)
                logger.info(
                    "enrolled", metadata: ["serial": "\(enrolled.certificate.serial)", "not_after": "\(enrolled.certificate.notAfter)"])
                return
            } catch let error as AgentTrustError {
                throw error
            } catch {
                let delay = configuration.backoff.delay(attempt: attempt, unit: configuration.random())
                attempt += 1
                logger.warning("enrollment failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try await configuration.sleep(delay)
            }
        }
    }

    static let minimumRenewalInterval: Duration = .seconds(5)

    /// Renews the certificate once `renewAfterFraction` of its lifetime has passed, retrying
    /// every minute (or sooner near expiry) on failure. Jobs are untouched: the session in
    /// progress is replaced by one with the new certificate (see `keepConnected`).
    private func keepRenewed() async {
        guard let credentials, let tls = configuration.tls else { return }
        let site = configuration.profile.site.id
        while !Task.isCancelled {
            guard let current = credentials.credentials else { return }
            let due = current.renewalDate(fraction: tls.renewAfterFraction)
            let wait = due.timeIntervalSinceNow
            do {
                if wait > 0 { try await Task.sleep(for: .milliseconds(Int64(min(wait, 3600) * 1000))) }
            } catch {
                return
            }
            guard Date() >= due else { continue }
            do {
                let mesh = try AgentSession.meshClientConfiguration(configuration, credentials: current)
                let renewed = try await Enrollment.renew(site: site, settings: tls, current: current, mesh: mesh)
                try credentials.replace(with: renewed)
                logger.info(
                    "certificate renewed", metadata: ["serial": "\(renewed.certificate.serial)", "not_after": "\(renewed.certificate.notAfter)"])
                // Never renew again sooner than this, whatever a certificate says.
                try? await Task.sleep(for: Self.minimumRenewalInterval)
            } catch {
                let remaining = current.certificate.notAfter.timeIntervalSinceNow
                let retry = max(1, min(60, remaining / 10))
                logger.error("certificate renewal failed; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(Int(retry))"])
                do { try await Task.sleep(for: .milliseconds(Int64(retry * 1000))) } catch { return }
            }
        }
    }

    /// Runs sessions one after another until cancelled. A renewed certificate ends the current
    /// session at once and the next one dials with it, without a backoff delay.
    private func keepConnected() async {
        var attempt = 0
        while !Task.isCancelled {
            let session = AgentSession(
                supervisor: supervisor, configuration: configuration, credentials: credentials, agentInstance: agentInstance,
                logger: logger
            )
            let generation = credentials?.generation ?? 0
            enum Ended: Sendable {
                case session(AgentSession.Outcome)
                case renewed
                case cancelled
            }
            let ended = await withTaskGroup(of: Ended.self) { group in
                group.addTask { .session(await session.run()) }
                if let credentials {
                    group.addTask {
                        while (try? await Task.sleep(for: .seconds(1))) != nil {
                            if credentials.generation != generation { return .renewed }
                        }
                        return .cancelled
                    }
                }
                let first = await group.next() ?? .cancelled
                group.cancelAll()
                return first
            }
            if Task.isCancelled { return }
            let outcome: AgentSession.Outcome
            switch ended {
            case .session(let finished): outcome = finished
            case .renewed:
                logger.info("reconnecting with the renewed certificate")
                attempt = 0
                continue
            case .cancelled: return
            }
            if outcome.welcomed { attempt = 0 }
            var delay = configuration.backoff.delay(attempt: attempt, unit: configuration.random())
            attempt += 1
            if let hint = outcome.retryAfter {
                // Spread agents that were told the same delay over another second.
                delay = max(delay, hint + .milliseconds(Int64(configuration.random() * 1000)))
            }
            if let error = outcome.error {
                logger.warning("session ended", metadata: ["error": "\(error)", "reconnect_in": "\(delay)"])
            } else {
                logger.info("session ended", metadata: ["reconnect_in": "\(delay)"])
            }
            do {
                try await configuration.sleep(delay)
            } catch {
                return
            }
        }
    }
}
