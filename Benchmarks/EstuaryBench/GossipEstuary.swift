#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import EstuaryModel
import EstuaryTransport
import EstuaryTrust
import EstuaryWire
import Foundation
import NIOSSL
import Synchronization

/// N real `estuary-coordinator run` processes gossiping over their mesh ports (HTTP/2 over
/// mutual TLS with coordinator certificates from one mesh CA): member i is `c<i>` in region
/// `r<i mod 3>`, mesh port `basePort + i` on 127.0.0.1, every member but the first seeded with
/// member 0. Member 0 creates the CA in `<data-dir>/tls/`; the others import it
/// (`--ca-cert`, `--ca-key`).
///
/// Timing comes from the coordinators' own log lines (swift-log's stream format, metadata as
/// `key=value`): `mesh member failed member=<id> at_ms=<epoch ms>`, `mesh member joined
/// member=<id> at_ms=…`, `mesh capacity changed site=<id> origin=<id> version=<n> at_ms=…`
/// (a debug line, so the members run with `--log-level debug`). `at_ms` is the gossip
/// layer's clock: Unix ms read once at start, then advanced monotonically.
/// A capacity change is made by one simulated site (its own TLS session with a site
/// certificate from the mesh CA) connected to member 0, whose session is left out of the
/// byte counts by its local port.
final class EstuaryCluster: GossipCluster, Sendable {
    let name = "Estuary"
    let members: Int
    let basePort: Int
    let binary: String
    let work: String
    let reaper: ChildReaper
    let observations = GossipObservations()
    private let coordinators: Mutex<[ChildProcess?]>
    private let apiPorts: Mutex<[Int]>
    private let logOffsets: Mutex<[UInt64]>
    private let site: BenchGossipSite
    private let http: HTTPClient

    init(members: Int, basePort: Int, binary: String, work: String, reaper: ChildReaper) {
        self.members = members
        self.basePort = basePort
        self.binary = binary
        self.work = work
        self.reaper = reaper
        coordinators = Mutex(Array(repeating: nil, count: members))
        apiPorts = Mutex(Array(repeating: 0, count: members))
        logOffsets = Mutex(Array(repeating: 0, count: members))
        site = BenchGossipSite()
        var configuration = HTTPClient.Configuration()
        configuration.httpVersion = .http1Only
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    static func memberID(_ index: Int) -> String { "c\(index)" }
    func meshPort(_ index: Int) -> Int { basePort + index }
    func dataDirectory(_ index: Int) -> String { (work as NSString).appendingPathComponent(Self.memberID(index)) }
    var caDirectory: String { (dataDirectory(0) as NSString).appendingPathComponent("tls") }

    var trafficPorts: (udp: [Int], tcp: [Int]) { ([], (0..<members).map(meshPort)) }
    var memberPIDs: [pid_t] { coordinators.withLock { $0.compactMap { $0?.pid } } }

    func arguments(_ index: Int) -> [String] {
        var arguments = [
            "run", "--data-dir", dataDirectory(index), "--coordinator-id", Self.memberID(index), "--region", "r\(index % 3)",
            "--mesh-host", "127.0.0.1", "--mesh-port", String(meshPort(index)), "--api-port", "0",
            // `mesh capacity changed` is a debug line.
            "--log-level", "debug",
        ]
        if index > 0 {
            arguments += ["--gossip-seed", "127.0.0.1:\(meshPort(0))"]
            arguments += [
                "--ca-cert", (caDirectory as NSString).appendingPathComponent(CertificateAuthority.certificateFileName),
                "--ca-key", (caDirectory as NSString).appendingPathComponent(CertificateAuthority.keyFileName),
            ]
        }
        return arguments
    }

    // MARK: start

    func start() async throws {
        try await startMember(0)
        for index in 1..<members {
            try FileManager.default.createDirectory(atPath: dataDirectory(index), withIntermediateDirectories: true)
            let process = try ChildProcess.spawn(binary, arguments: arguments(index), logPath: dataDirectory(index) + ".log", reaper: reaper)
            coordinators.withLock { $0[index] = process }
        }
        for index in 1..<members { try await waitForPorts(index) }
        try await site.connect(to: meshPort(0), caDirectory: caDirectory)
    }

    private func startMember(_ index: Int) async throws {
        try FileManager.default.createDirectory(atPath: dataDirectory(index), withIntermediateDirectories: true)
        // A restarted member must not be taken as listening on the ports of its previous life.
        for file in ["mesh.port", "api.port"] {
            try? FileManager.default.removeItem(atPath: (dataDirectory(index) as NSString).appendingPathComponent(file))
        }
        let process = try ChildProcess.spawn(binary, arguments: arguments(index), logPath: dataDirectory(index) + ".log", reaper: reaper)
        coordinators.withLock { $0[index] = process }
        try await waitForPorts(index)
    }

    private func waitForPorts(_ index: Int) async throws {
        guard let process = coordinators.withLock({ $0[index] }) else { return }
        _ = try await CoordinatorProcess.waitForPortFile(dataDirectory(index), "mesh.port", process: process)
        let api = try await CoordinatorProcess.waitForPortFile(dataDirectory(index), "api.port", process: process)
        apiPorts.withLock { $0[index] = api }
    }

    // MARK: readiness

    /// Until `GET /v1/mesh/members` on every live member lists all members alive.
    func waitUntilAllAlive(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var ready = Set<Int>()
        var lastProblem = ""
        while ready.count < members {
            for index in 0..<members where !ready.contains(index) {
                if let process = coordinators.withLock({ $0[index] }), process.hasExited {
                    throw BenchError.failed("coordinator c\(index) exited:\n\(process.logTail())")
                }
                do {
                    let views = try await self.members(at: index)
                    let alive = views.filter { $0.state == "alive" }.count
                    if alive == members { ready.insert(index) } else { lastProblem = "c\(index) sees \(alive) of \(members) alive" }
                } catch {
                    lastProblem = "c\(index): \(error)"
                }
            }
            if ready.count == members { break }
            if ContinuousClock.now > deadline {
                throw BenchError.failed("\(members - ready.count) coordinators did not list all \(members) members alive within \(timeout); last: \(lastProblem)")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        ingestLogs()
    }

    private func members(at index: Int) async throws -> [MeshMemberView] {
        let port = apiPorts.withLock { $0[index] }
        let token = try String(contentsOfFile: (dataDirectory(index) as NSString).appendingPathComponent("admin.token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/v1/mesh/members")
        request.headers.add(name: "Authorization", value: "Bearer " + token)
        request.tlsConfiguration = try apiTLS()
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 8 << 20)
        guard response.status == .ok else { throw BenchError.failed("GET /v1/mesh/members: HTTP \(response.status.code)") }
        return try JSONDecoder().decode(MeshMembersView.self, from: Data(body.readableBytesView)).members
    }

    private func apiTLS() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        let path = (caDirectory as NSString).appendingPathComponent(CertificateAuthority.certificateFileName)
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
        return tls
    }

    // MARK: logs

    /// Reads what each coordinator's log gained since the last call.
    func ingestLogs() {
        for index in 0..<members {
            let path = dataDirectory(index) + ".log"
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            let offset = logOffsets.withLock { $0[index] }
            try? handle.seek(toOffset: offset)
            let data = (try? handle.readToEnd()) ?? Data()
            try? handle.close()
            guard let end = data.lastIndex(of: UInt8(ascii: "\n")) else { continue }
            let complete = data[data.startIndex...end]
            logOffsets.withLock { $0[index] = offset + UInt64(complete.count) }
            var found: [GossipObservation] = []
            for line in String(decoding: complete, as: UTF8.self).split(separator: "\n") {
                if let observation = Self.parse(line, observer: index) { found.append(observation) }
            }
            observations.append(contentsOf: found)
        }
    }

    static func parse(_ line: Substring, observer: Int) -> GossipObservation? {
        let kind: GossipObservation.Kind
        let subjectKey: String
        if line.contains("mesh member failed") {
            (kind, subjectKey) = (.failed, "member")
        } else if line.contains("mesh member joined") {
            (kind, subjectKey) = (.joined, "member")
        } else if line.contains("mesh capacity changed") {
            (kind, subjectKey) = (.updated, "site")
        } else {
            return nil
        }
        var values: [Substring: Substring] = [:]
        for word in line.split(separator: " ") {
            guard let equals = word.firstIndex(of: "=") else { continue }
            values[word[..<equals]] = word[word.index(after: equals)...].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))[...]
        }
        guard let subject = values[Substring(subjectKey)], let at = values["at_ms"].flatMap({ Double($0) }) else { return nil }
        return GossipObservation(
            observer: observer, kind: kind, subject: String(subject), version: values["version"].flatMap { Int($0) }, epochMs: at)
    }

    // MARK: trials

    func excludedTCPPorts() -> [Int] { OwnConnections.localPorts(toRemotePort: meshPort(0)) }

    func change(trial: Int, timeout: Duration) async throws -> GossipTrial {
        // Away from the site's periodic report, in case the coordinator logs each report as a
        // new version: then the lowest version since the start is this change's.
        try await site.waitForQuiet()
        ingestLogs()
        let siteID = site.id
        let start = WallClock.preciseMilliseconds()
        try await site.send(free: BenchGossipSite.units - 1 - trial % (BenchGossipSite.units - 1))
        let others = Array(1..<members)
        var result = GossipTrial(kind: .change, number: trial, subject: siteID, startMs: start, expected: others.count, arrivals: ["log": [:]])
        // The version the change got: the lowest logged for the site since the send (the
        // previous trial ended with every member at the previous version).
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            ingestLogs()
            if let version = observations.lowestVersion(subject: siteID, since: floor(start)) {
                let arrivals = observations.first(.updated, subject: siteID, since: floor(start), minimumVersion: version)
                result.arrivals["log"] = arrivals.filter { $0.key != 0 }
                if let own = arrivals[0] { result.originMs["log"] = own }
                if result.arrivals["log"]?.count == others.count { break }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return result
    }

    func kill(trial: Int, timeout: Duration) async throws -> GossipTrial {
        ingestLogs()
        let victim = members - 1 - trial % (members - 1)
        let subject = Self.memberID(victim)
        guard let process = coordinators.withLock({ $0[victim] }) else { throw BenchError.failed("no coordinator \(victim)") }
        let start = WallClock.preciseMilliseconds()
        Glibc.kill(process.pid, SIGKILL)
        let others = (0..<members).filter { $0 != victim }
        var result = GossipTrial(kind: .kill, number: trial, subject: subject, startMs: start, expected: others.count, arrivals: ["log": [:]])
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            ingestLogs()
            result.arrivals["log"] = observations.first(.failed, subject: subject, since: floor(start)).filter { $0.key != victim }
            if result.arrivals["log"]?.count == others.count { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        await process.stop()
        return result
    }

    func revive(after trial: GossipTrial, timeout: Duration) async throws {
        guard let index = Int(trial.subject.dropFirst()) else { return }
        try await startMember(index)
        try await waitUntilAllAlive(timeout: timeout)
    }

    func stop() async {
        await site.close()
        try? await http.shutdown()
        for process in coordinators.withLock({ $0 }).compactMap({ $0 }) { await process.stop(grace: .seconds(10)) }
    }
}
