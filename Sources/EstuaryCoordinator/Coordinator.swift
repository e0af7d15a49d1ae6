#if canImport(Glibc)
import Glibc
#endif
import EstuaryModel
import EstuaryStore
import EstuaryTransport
import Foundation
import Hummingbird
import Logging
import NIOSSL
import ServiceLifecycle

/// The coordinator process: store, core, mesh listener, API, placement and sweeping, run as
/// one `ServiceGroup` that shuts down in order on SIGTERM/SIGINT.
public enum Coordinator {
    /// Runs until SIGTERM or SIGINT. Throws `ConfigurationError` before starting anything
    /// if the configuration is invalid.
    public static func run(configuration: CoordinatorConfiguration, logger: Logger) async throws {
        let problems = configuration.validate()
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }

        let store = try CoordinatorStore(directory: configuration.dataDirectory, logger: logger)
        let logs = try LogStore(dataDirectory: configuration.dataDirectory, maxBytesPerStream: configuration.maxLogBytesPerStream)
        let core = CoordinatorCore(
            store: store, configuration: configuration, logger: logger, clock: wallClockMs,
            onFatal: { error in
                // Fail-stop: memory may be ahead of disk; a restart rebuilds it from disk.
                logger.critical("fatal store error; exiting", metadata: ["error": "\(error)"])
                exit(70)
            })
        try await core.bootstrap()

        // Trust: the CA, this coordinator's certificate, and the revoked serials the mesh
        // handshake consults (PROTOCOL.md §2.6).
        var meshConfiguration = configuration.mesh
        var apiTLS: TLSConfiguration?
        let trust: MeshTrust?
        if configuration.insecureDev {
            trust = nil
            logger.warning(
                "INSECURE DEV MODE: the mesh port accepts cleartext h2c sessions without client certificates, and the API speaks plain HTTP; never expose either")
        } else {
            let importing = try configuration.caCertificatePath.map { path in
                (certificatePEM: try String(contentsOfFile: path, encoding: .utf8),
                 keyPEM: try String(contentsOfFile: configuration.caKeyPath ?? "", encoding: .utf8))
            }
            let authority = try MeshTrust.openAuthority(
                dataDirectory: configuration.dataDirectory, importing: importing, name: configuration.coordinatorID, logger: logger)
            let now = wallClockMs()
            let revoked = try await store.read { tx in try tx.revokedCertificates(unexpiredAtMs: now).map(\.serial) }
            let meshTrust = try MeshTrust(
                authority: authority, coordinatorID: configuration.coordinatorID, serverNames: configuration.tlsNames,
                siteCertificateValidity: configuration.siteCertificateValidity, revokedSerials: Set(revoked))
            meshConfiguration.tls = meshTrust.meshServerTLS()
            apiTLS = try meshTrust.apiTLSConfiguration()
            trust = meshTrust
            logger.info(
                "mutual TLS on the mesh", metadata: ["ca": "\(authority.fingerprint)", "names": "\(configuration.tlsNames)"])
        }
        let trustService = TrustService(
            store: store, issuer: trust, clock: wallClockMs, logger: logger,
            onSiteRevoked: { site, serials in
                trust?.revoke(serials)
                await core.disconnect(site: site, reason: "site \(site) was revoked")
            })
        if let path = try await bootstrapAdminToken(store: store, dataDirectory: configuration.dataDirectory, now: wallClockMs()) {
            logger.notice("created the first admin API token; estuaryctl reads it with ESTUARY_TOKEN_FILE", metadata: ["file": "\(path)"])
        }

        let server = try await MeshServer.bind(configuration: meshConfiguration, logger: logger)
        let meshBound = AtomicBox<Bool>(true)
        try writePortFile(configuration.dataDirectory, "mesh.port", server.localPort)
        logger.info("mesh listening", metadata: ["address": "\(configuration.mesh.host):\(server.localPort)"])

        let meshPeers = MeshPeers(template: peerClientConfiguration(trust: trust))
        let gossip = configuration.gossip.map { settings in
            MeshGossip(
                id: configuration.coordinatorID, address: settings.advertise ?? Self.address(configuration.mesh.host, server.localPort),
                settings: settings, peers: meshPeers, core: core, logger: logger)
        }
        let federation = gossip.map { gossip in
            MeshFederation(
                id: CoordinatorID(rawValue: configuration.coordinatorID), gossip: gossip, peers: meshPeers, core: core, store: store,
                logs: logs, logger: logger)
        }

        let shuttingDown = AtomicBox<Bool>(false)
        var handler = SessionHandler(
            core: core, logs: logs, configuration: configuration, shuttingDown: shuttingDown, trust: trust,
            recordRenewal: { issued, replacing, remote in
                // The new certificate is on record (revocable) before the agent can use it.
                let now = wallClockMs()
                let certificate = CertificateRecord(
                    serial: issued.serial, role: issued.identity.role.rawValue, subject: issued.identity.id,
                    notBeforeMs: Int64(issued.notBefore.timeIntervalSince1970 * 1000),
                    notAfterMs: Int64(issued.notAfter.timeIntervalSince1970 * 1000), issuedAtMs: now)
                let audit = TrustService.record(
                    AuditEntry(
                        caller: Caller(actor: "site:\(issued.identity.id)", role: "site", source: remote), action: "site.renew",
                        target: "site:\(issued.identity.id)", outcome: .ok, detail: "serial=\(issued.serial)"),
                    atMs: now)
                try await store.write { tx in
                    // Checked in the same transaction as the insert, so that a renewal racing a
                    // revocation can never leave the site with a certificate nobody revoked.
                    let site = SiteID(rawValue: issued.identity.id)
                    if try tx.siteEnrollment(site)?.revokedAtMs != nil {
                        throw RenewalRefused(reason: "site \(site) is revoked")
                    }
                    if let current = try tx.certificate(serial: replacing), current.revokedAtMs != nil {
                        throw RenewalRefused(reason: "certificate \(replacing) is revoked")
                    }
                    try tx.insertCertificate(certificate)
                    _ = try tx.appendAudit(audit)
                }
            },
            onRefused: { request, reason in
                await trustService.audit(AuditEntry(
                    caller: Caller(actor: request.peer.map { "\($0.identity.role.rawValue):\($0.identity.id)" } ?? "anonymous", role: request.peer?.identity.role.rawValue ?? "none", source: request.remoteAddress),
                    action: "session.refused", target: "site:\(request.siteHeader ?? "-")", outcome: .denied, detail: reason))
            },
            gossip: gossip,
            logger: logger)
        handler.federation = federation
        var backend = LiveBackend(core: core, store: store, logs: logs, meshBound: meshBound, trust: trustService)
        backend.gossip = gossip
        backend.federation = federation
        let apiConfiguration = APIConfiguration(host: configuration.apiHost, port: configuration.apiPort, tls: apiTLS)
        let apiProblems = apiConfiguration.validate()
        guard apiProblems.isEmpty else { throw ConfigurationError(problems: apiProblems) }
        let api = makeAPIApplication(
            backend: backend,
            configuration: apiConfiguration,
            logger: logger,
            onBound: { port in
                try? writePortFile(configuration.dataDirectory, "api.port", port)
                logger.info("API listening", metadata: ["address": "\(configuration.apiHost):\(port)"])
            })

        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: MeshService(server: server, handler: handler, core: core, shuttingDown: shuttingDown)),
                    .init(service: CoreLoops(core: core)),
                    .init(service: api),
                    // Last, so that on shutdown it leaves the mesh first, while everything else still runs.
                ] + (federation.map { federation in [.init(service: MeshLoopService(loop: { await federation.run() }))] } ?? [])
                    + (gossip.map { gossip in
                        [.init(service: MeshLoopService(loop: { await gossip.run() }, atShutdown: { await gossip.leave() }))]
                    } ?? []),
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("coordinator stopped")
    }

    /// `host:port`, with brackets around an IPv6 literal.
    static func address(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// How this coordinator dials other coordinators: its own coordinator certificate as the
    /// client certificate, and a coordinator certificate required of the peer.
    static func peerClientConfiguration(trust: MeshTrust?) -> MeshClientConfiguration {
        var configuration = MeshClientConfiguration(host: "", port: 0)
        configuration.connectTimeout = .seconds(2)
        configuration.requestTimeout = .seconds(3)
        // Gossip itself notices dead peers; a PING only has to keep an idle connection open
        // (the listener closes a coordinator's connection after 10 idle minutes).
        configuration.keepaliveInterval = .seconds(240)
        configuration.keepaliveTimeout = .seconds(20)
        configuration.tls = trust.map {
            MeshClientTLS(
                trustedCAPEM: $0.caPEM, certificateChainPEM: $0.serverCertificate.certificatePEM, privateKeyPEM: $0.serverKeyPEM,
                requiredServerRole: .coordinator)
        }
        return configuration
    }

    static func writePortFile(_ directory: String, _ name: String, _ port: Int) throws {
        let path = (directory as NSString).appendingPathComponent(name)
        let temporary = path + ".tmp"
        try "\(port)\n".write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else { throw ConfigurationError(problems: ["cannot write \(path)"]) }
    }
}

/// Wall-clock milliseconds since the Unix epoch: the coordinator's time for events.
@Sendable func wallClockMs() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
}

/// Every problem with a coordinator's configuration, reported together.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String {
        "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// The mesh listener as a service: on graceful shutdown it refuses new sessions, sends Drain
/// to every site (agents reconnect after the retry hint, with jitter) and stops.
struct MeshService: Service {
    let server: MeshServer
    let handler: SessionHandler
    let core: CoordinatorCore
    let shuttingDown: AtomicBox<Bool>

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run(handler: handler) }
            group.addTask {
                try? await gracefulShutdown()
                shuttingDown.value.store(true, ordering: .relaxed)
                await core.drainAll(retryAfterMs: 2000)
            }
            // Either the listener failed (rethrown here) or shutdown began: stop the other.
            try await group.next()
            group.cancelAll()
        }
    }
}

/// A loop that runs until graceful shutdown begins, then does its last step and stops: gossip
/// announces that this coordinator leaves; the federation just stops (what it has not
/// delivered stays in the outbox for the next start).
struct MeshLoopService: Service {
    let loop: @Sendable () async -> Void
    var atShutdown: @Sendable () async -> Void = {}

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await loop() }
            try? await gracefulShutdown()
            await atShutdown()
            group.cancelAll()
        }
    }
}

/// The core's periodic work: placement when signalled, and the liveness sweep every second.
struct CoreLoops: Service {
    let core: CoordinatorCore

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await core.runPlacementLoop() }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    await core.sweep()
                }
            }
            try? await gracefulShutdown()
            await core.stopPlacementLoop()
            group.cancelAll()
        }
    }
}
