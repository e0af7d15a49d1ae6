import ArgumentParser
import EstuaryConfig
import EstuaryCoordinator
import EstuaryGossip
import EstuaryLedger
import EstuaryModel
import EstuaryScheduler
import Logging

/// estuary-coordinator: schedules jobs onto sites and records what they ran.
@main
struct EstuaryCoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estuary-coordinator",
        abstract: "Run an Estuary coordinator: the mesh listener for site agents and the admin/user API.",
        discussion: """
            Agents dial the mesh port (default 7401) and keep one HTTP/2 session open; estuaryctl and
            other clients use the JSON API (default 7400, HTTP/1.1 and h2c on one port).

            State lives in --data-dir: estuary.sqlite (jobs, events, sites, usage, tokens, audit),
            logs/ (captured job output), tls/ (the mesh CA and this coordinator's certificate),
            admin.token (the first admin API token, written once, mode 0600) and the files
            mesh.port and api.port with the bound ports.

            The mesh port speaks HTTP/2 over mutual TLS 1.3 only: agents present a certificate
            from this coordinator's CA, obtained with a join token (`estuaryctl site add`). The
            API port speaks HTTPS with bearer tokens. --insecure-dev turns both into cleartext
            (h2c, plain HTTP) for development meshes and says so loudly.

            Examples:
              estuary-coordinator run --data-dir ./dev-mesh/coordinator
              estuary-coordinator run --data-dir ./dev-mesh/coordinator --insecure-dev
            """,
        subcommands: [Run.self],
        defaultSubcommand: Run.self
    )
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the coordinator (the default command).")

    @Option(help: "Directory for the store, captured logs and port files.")
    var dataDir: String

    @Option(help: "Address the mesh listener binds.")
    var meshHost: String = "127.0.0.1"

    @Option(help: "Mesh port for agent sessions (0 = any free port; see <data-dir>/mesh.port).")
    var meshPort: Int = 7401

    @Option(help: "Address the API binds.")
    var apiHost: String = "127.0.0.1"

    @Option(help: "API port (0 = any free port; see <data-dir>/api.port).")
    var apiPort: Int = 7400

    @Flag(help: "Cleartext: h2c sessions without client certificates on the mesh port, plain HTTP on the API. Development only.")
    var insecureDev = false

    @Option(help: "Import this CA certificate (PEM) on first start instead of creating one; needs --ca-key.")
    var caCert: String?

    @Option(help: "Private key (PEM) of --ca-cert.")
    var caKey: String?

    @Option(help: "DNS name or IP address for the coordinator's certificate (repeatable; localhost, 127.0.0.1 and ::1 are always included).")
    var tlsName: [String] = []

    @Option(help: "Lifetime of site certificates, e.g. 24h; agents renew at two thirds of it.")
    var certValidity: String = "24h"

    @Option(help: "How often agents report capacity, in whole seconds, e.g. 5s.")
    var reportInterval: String = "5s"

    @Option(help: "How long a site may be unreachable before its running jobs are declared lost, e.g. 10m.")
    var lostAfter: String = "10m"

    @Option(help: "Close mesh connections that have not completed a handshake within this time.")
    var handshakeTimeout: String = "10s"

    @Option(help: "Accelerator catalog (TOML, the format of Agents/catalog.toml); default: the built-in copy of Agents/catalog.toml.")
    var catalog: String?

    @Option(help: "Scheduler policy (TOML): latency between regions, tenant weights and quotas, presets; see Agents/policy.example.toml.")
    var policy: String?

    @Option(help: "The platform's commission on every charge, in basis points (250 = 2.5 %); truncated, so rounding never takes a fen from a site.")
    var platformFeeBp: Int = 0

    @Option(help: "Credit line of tenants nobody registered, in CNY, or 'none' for no limit (postpaid). Registered tenants have their own (estuaryctl tenant create).")
    var defaultCreditLimit: String = "none"

    @Option(help: "How a charge line is rounded to the fen: half_up or truncate (docs/MONEY.md).")
    var ratingRounding: String = "half_up"

    @Option(help: "Name of this coordinator, sent to agents in Welcome.")
    var coordinatorID: String = "coordinator"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "This coordinator's region (city or hub, e.g. shaoguan). Setting it joins the coordinator mesh: gossip with other coordinators over the mesh port.")
    var region: String?

    @Option(help: "Mesh address (host:port) of a coordinator to join the mesh through (repeatable). None starts a new mesh.")
    var gossipSeed: [String] = []

    @Option(help: "The mesh address other coordinators dial to reach this one; default: --mesh-host and the mesh port.")
    var gossipAdvertise: String?

    @Option(help: "Gossip timing: lifeguard (default; a coordinator stalled for 5 s is not declared dead), fast (quicker detection, for coordinators that never stall) or swim (plain SWIM, no Lifeguard). See docs/GOSSIP.md.")
    var gossipProfile: String = "lifeguard"

    func run() async throws {
        var problems: [String] = []
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: unknown level \(logLevel)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var configuration = CoordinatorConfiguration(dataDirectory: dataDir)
        configuration.coordinatorID = coordinatorID
        configuration.mesh.host = meshHost
        configuration.mesh.port = meshPort
        configuration.apiHost = apiHost
        configuration.apiPort = apiPort
        configuration.insecureDev = insecureDev
        configuration.caCertificatePath = caCert
        configuration.caKeyPath = caKey
        configuration.tlsNames += tlsName
        for host in [meshHost, apiHost] where host != "0.0.0.0" && host != "::" {
            configuration.tlsNames.append(host)
        }
        if let seconds = WalltimeParser.seconds(from: certValidity), seconds > 0 {
            configuration.siteCertificateValidity = .seconds(seconds)
        } else {
            problems.append("--cert-validity: expected a duration such as 24h")
        }
        if let seconds = WalltimeParser.seconds(from: reportInterval), seconds > 0 {
            configuration.reportIntervalMs = seconds * 1000
        } else {
            problems.append("--report-interval: expected a duration such as 5s")
        }
        if let seconds = WalltimeParser.seconds(from: lostAfter), seconds > 0 {
            configuration.lostAfterMs = Int64(seconds) * 1000
        } else {
            problems.append("--lost-after: expected a duration such as 10m")
        }
        if let seconds = WalltimeParser.seconds(from: handshakeTimeout), seconds > 0 {
            configuration.mesh.handshakeTimeout = .seconds(Int64(seconds))
        } else {
            problems.append("--handshake-timeout: expected a duration such as 10s")
        }
        if let catalog {
            do {
                configuration.catalog = try AcceleratorCatalog.load(path: catalog)
            } catch {
                problems.append("--catalog: \(error)")
            }
        }
        if let policy {
            do {
                configuration.policy = try SchedulerPolicy.load(path: policy)
            } catch {
                problems.append("--policy: \(error)")
            }
        }
        configuration.metering.platformFee = PlatformFee(basisPoints: platformFeeBp)
        if !(0...10_000).contains(platformFeeBp) { problems.append("--platform-fee-bp: must be 0…10000") }
        if defaultCreditLimit == "none" {
            configuration.metering.defaultCreditLimitFen = nil
        } else if let fen = ExactText.fen(cny: defaultCreditLimit), fen >= 0 {
            configuration.metering.defaultCreditLimitFen = fen
        } else {
            problems.append("--default-credit-limit: expected a CNY amount such as 50000 or 0.50, or 'none'")
        }
        if let rule = RoundingRule(rawValue: ratingRounding) {
            configuration.metering.ratingRule = rule
        } else {
            problems.append("--rating-rounding: expected half_up or truncate")
        }
        if let region {
            var gossip = MeshGossipSettings(region: region)
            gossip.seeds = gossipSeed
            gossip.advertise = gossipAdvertise
            switch gossipProfile {
            case "lifeguard": gossip.parameters = GossipConfiguration()
            case "fast": gossip.parameters = .fastDetection
            case "swim": gossip.parameters = .swim
            default: problems.append("--gossip-profile: expected lifeguard, fast or swim")
            }
            configuration.gossip = gossip
        } else if !gossipSeed.isEmpty || gossipAdvertise != nil {
            problems.append("--gossip-seed and --gossip-advertise need --region: a coordinator in a mesh names its region")
        }
        problems += configuration.validate()
        guard problems.isEmpty else {
            throw ValidationError("invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
        try await Coordinator.run(configuration: configuration, logger: Logger(label: "estuary.coordinator"))
    }
}
