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

    public init(configuration: AgentConfiguration, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "site"] = "\(configuration.profile.site.id)"
        self.configuration = configuration
        self.logger = logger
        self.agentInstance = UUID().uuidString.lowercased()
        self.supervisor = try JobSupervisor(
            profile: configuration.profile, dataDirectory: configuration.dataDirectory, driver: configuration.driver,
            logger: logger
        )
    }

    public func run() async throws {
        try await supervisor.recover()
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

    /// Runs sessions one after another until cancelled.
    private func keepConnected() async {
        var attempt = 0
        while !Task.isCancelled {
            let session = AgentSession(
                supervisor: supervisor, configuration: configuration, agentInstance: agentInstance, logger: logger
            )
            let outcome = await session.run()
            if Task.isCancelled { return }
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
