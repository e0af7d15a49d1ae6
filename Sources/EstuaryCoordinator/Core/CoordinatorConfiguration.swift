import EstuaryConfig
import EstuaryModel
import EstuaryScheduler
import EstuaryTransport

/// Everything a coordinator is started with, with documented defaults. Filled from flags by
/// the executable and validated once, up front, with every problem reported together.
public struct CoordinatorConfiguration: Sendable {
    /// Where the SQLite store and captured job logs live.
    public var dataDirectory: String
    /// Name of this coordinator in Welcome messages and logs.
    public var coordinatorID: String = "coordinator"
    public var mesh = MeshServerConfiguration()
    public var apiHost: String = "127.0.0.1"
    /// 0 picks a free port.
    public var apiPort: Int = 7400
    /// Cleartext h2c on the mesh port and plain HTTP on the API port, with no client
    /// certificates. Development meshes only; the default is mutual TLS (PROTOCOL.md §2).
    public var insecureDev: Bool = false
    /// An existing CA to import on first start (`--ca-cert`, `--ca-key`); otherwise the
    /// coordinator creates one in `<data-dir>/tls`.
    public var caCertificatePath: String?
    public var caKeyPath: String?
    /// DNS names and IP addresses the coordinator's certificate carries (`--tls-name`);
    /// agents and estuaryctl verify the address they dial against them.
    public var tlsNames: [String] = ["localhost", "127.0.0.1", "::1"]
    /// Lifetime of site certificates (`--cert-validity`); agents renew at two thirds.
    public var siteCertificateValidity: Duration = .seconds(24 * 3600)
    /// How often agents send capacity reports.
    public var reportIntervalMs: Int = 5000
    /// A site with no envelope for this many report intervals is `unreachable`.
    public var missedReportsBeforeUnreachable: Int = 3
    /// How long a site may stay unreachable before its running jobs are declared `lost`.
    public var lostAfterMs: Int64 = 10 * 60 * 1000
    /// Placement attempts (site rejections) before a job fails.
    public var maxAttempts: Int = 5
    /// Published figures of every accelerator class (`--catalog`; default: the built-in copy
    /// of `Agents/catalog.toml`).
    public var catalog: AcceleratorCatalog = .builtin
    /// Latency matrix, tenant weights and quotas, preset weights, hold timeout (`--policy`).
    public var policy = SchedulerPolicy()
    /// Rating rule, platform fee, billing time zone, default credit line, hold terms.
    public var metering = MeterSettings()
    /// Captured output kept per job and stream.
    public var maxLogBytesPerStream: Int64 = 64 << 20
    /// Gossip with other coordinators (DESIGN.md §7); nil: a coordinator on its own.
    public var gossip: MeshGossipSettings?

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    /// Every problem with this configuration; empty means valid.
    public func validate() -> [String] {
        var problems: [String] = []
        if dataDirectory.isEmpty { problems.append("--data-dir: must name a directory") }
        if !(0...65535).contains(mesh.port) { problems.append("--mesh-port: must be 0…65535") }
        if !(0...65535).contains(apiPort) { problems.append("--api-port: must be 0…65535") }
        if mesh.port != 0, mesh.port == apiPort, mesh.host == apiHost {
            problems.append("--mesh-port and --api-port must differ")
        }
        if (caCertificatePath == nil) != (caKeyPath == nil) {
            problems.append("--ca-cert and --ca-key: give both to import a CA, or neither")
        }
        if insecureDev, caCertificatePath != nil {
            problems.append("--ca-cert: insecure-dev mode uses no TLS; drop one of them")
        }
        if siteCertificateValidity < .seconds(30) { problems.append("--cert-validity: must be at least 30s") }
        if reportIntervalMs < 100 { problems.append("--report-interval: must be at least 100 ms") }
        if lostAfterMs < Int64(reportIntervalMs) * Int64(missedReportsBeforeUnreachable) {
            problems.append("--lost-after: must be longer than the unreachable threshold")
        }
        if maxAttempts < 1 { problems.append("max attempts must be at least 1") }
        if policy.holdTimeoutMs < 1000 { problems.append("--policy: hold_timeout must be at least 1s") }
        if let gossip {
            problems += gossip.validate()
            let wildcard = ["0.0.0.0", "::", "[::]"].contains(mesh.host)
            if gossip.advertise == nil && wildcard {
                problems.append("--gossip-advertise: the mesh listens on \(mesh.host); say which address other coordinators dial")
            }
        }
        return problems
    }

    var unreachableAfterMs: Int64 { Int64(reportIntervalMs) * Int64(missedReportsBeforeUnreachable) }
}
