#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// N real `serf agent` processes on 127.0.0.1 (default LAN profile), member i binding port
/// `basePort + i` (UDP and TCP) with its RPC on `basePort + 1000 + i`, all joining member 0.
///
/// Two sources of timing: the agent's own log line (`serf: EventMemberUpdate: NAME`,
/// `serf: EventMemberFailed: NAME ADDR`), read from a pipe and stamped when it arrives — the
/// moment Serf applied the gossip — and an event handler script that appends
/// `<event> <epoch-ns> <members>` to a per-member file — what a user's handler sees. The agent
/// coalesces member events before handlers run (`serf agent` hard-codes a 1 s quiescent and a
/// 3 s coalesce period), so the handler figures carry at least 1 s more, plus the handler's
/// own start-up (`/bin/sh -c`, then `date`).
final class SerfCluster: GossipCluster, Sendable {
    let name = "Serf"
    let members: Int
    let basePort: Int
    let binary: String
    let work: String
    let observations = GossipObservations()
    private let agents: Mutex<[ChildProcess?]>
    /// Per observer: what its log says about each member (true = alive).
    private let views: Mutex<[[String: Bool]]>
    let reaper: ChildReaper

    init(members: Int, basePort: Int, binary: String, work: String, reaper: ChildReaper) throws {
        self.reaper = reaper
        self.members = members
        self.basePort = basePort
        self.binary = binary
        self.work = work
        agents = Mutex(Array(repeating: nil, count: members))
        views = Mutex(Array(repeating: [:], count: members))
        try Self.handlerScript.write(toFile: handlerPath, atomically: true, encoding: .utf8)
        chmod(handlerPath, 0o755)
    }

    static func memberName(_ index: Int) -> String { "m\(index)" }
    func bindPort(_ index: Int) -> Int { basePort + index }
    func rpcAddress(_ index: Int) -> String { "127.0.0.1:\(basePort + 1000 + index)" }
    var handlerPath: String { (work as NSString).appendingPathComponent("serf-event-handler.sh") }
    func eventFile(_ index: Int) -> String { (work as NSString).appendingPathComponent("serf-events-\(index).txt") }

    var trafficPorts: (udp: [Int], tcp: [Int]) {
        let ports = (0..<members).map(bindPort)
        return (ports, ports)
    }

    var memberPIDs: [pid_t] { agents.withLock { $0.compactMap { $0?.pid } } }

    /// `serf version` (the Debian build reports its upstream base) and the Debian package.
    var version: String {
        let reported = ExternalCommand.run([binary, "version"]).output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let package = ExternalCommand.run(["dpkg-query", "-W", "-f", "${Version}", "serf"])
        return "`serf version`: \(reported.joined(separator: ", "))"
            + (package.succeeded ? "; Debian package serf \(package.output)" : "")
    }

    // MARK: start

    func start() async throws {
        try await startAgent(0)
        try await waitForLog(member: 0, containing: "Serf agent running", timeout: .seconds(30))
        for index in 1..<members { try await startAgent(index) }
    }

    private func startAgent(_ index: Int) async throws {
        var arguments = [
            "agent", "-node", Self.memberName(index), "-bind", "127.0.0.1:\(bindPort(index))", "-rpc-addr", rpcAddress(index),
            "-event-handler", "\(handlerPath) \(eventFile(index))", "-tag", "cap=0",
        ]
        if index > 0 { arguments += ["-join", "127.0.0.1:\(bindPort(0))"] }
        let reader = try TimestampedLineReader()
        let logPath = (work as NSString).appendingPathComponent("serf-\(index).log")
        let agent = try ChildProcess.spawn(binary, arguments: arguments, logPath: logPath, reaper: reaper, outputDescriptor: reader.writeDescriptor)
        views.withLock { $0[index] = [:] }
        reader.start(logPath: logPath) { [self] line, at in self.observe(line, observer: index, at: at) }
        agents.withLock { $0[index] = agent }
    }

    /// `    2026/01/01 12:00:00 [INFO] serf: EventMemberFailed: m7 127.0.0.1`
    private func observe(_ line: String, observer: Int, at: Double) {
        guard let marker = line.range(of: "serf: EventMember") else { return }
        let rest = line[marker.upperBound...]
        guard let colon = rest.firstIndex(of: ":") else { return }
        let kindWord = rest[..<colon]
        guard let subject = rest[rest.index(after: colon)...].split(separator: " ").first.map(String.init) else { return }
        let kind: GossipObservation.Kind
        switch kindWord {
        case "Join": kind = .joined
        case "Failed", "Leave", "Reap": kind = .failed
        case "Update": kind = .updated
        default: return
        }
        observations.append(GossipObservation(observer: observer, kind: kind, subject: subject, epochMs: at))
        views.withLock { $0[observer][subject] = kind != .failed }
    }

    private func waitForLog(member: Int, containing text: String, timeout: Duration) async throws {
        let path = (work as NSString).appendingPathComponent("serf-\(member).log")
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let log = try? String(contentsOfFile: path, encoding: .utf8), log.contains(text) { return }
            if let agent = agents.withLock({ $0[member] }), agent.hasExited {
                throw BenchError.setup("serf agent \(member) exited:\n\(agent.logTail())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError.setup("serf agent \(member) did not log '\(text)' within \(timeout)")
    }

    // MARK: readiness

    /// Until every live member's log has every member alive, then once more through
    /// `serf members -status alive` on each (the authoritative view).
    func waitUntilAllAlive(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        let names = Set((0..<members).map(Self.memberName))
        let live = Array(0..<members)
        while true {
            let lagging = views.withLock { views in
                live.filter { observer in names.contains { views[observer][$0] != true } }
            }
            if lagging.isEmpty {
                let unconfirmed = live.filter { aliveCount(at: $0) != members }
                if unconfirmed.isEmpty { return }
            }
            for index in live {
                if let agent = agents.withLock({ $0[index] }), agent.hasExited {
                    throw BenchError.failed("serf agent \(index) exited:\n\(agent.logTail())")
                }
            }
            if ContinuousClock.now > deadline {
                throw BenchError.failed("\(lagging.count) Serf members did not see all \(members) alive within \(timeout) (e.g. member \(lagging.first ?? -1))")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func aliveCount(at index: Int) -> Int {
        let outcome = ExternalCommand.run([binary, "members", "-rpc-addr", rpcAddress(index), "-status", "alive", "-format", "json"])
        guard outcome.succeeded,
            let json = try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [String: Any],
            let list = json["members"] as? [Any]
        else { return -1 }
        return list.count
    }

    // MARK: trials

    func excludedTCPPorts() -> [Int] { [] }

    func change(trial: Int, timeout: Duration) async throws -> GossipTrial {
        let origin = 1 + trial % (members - 1)
        let subject = Self.memberName(origin)
        let value = "t\(trial + 1)"
        let start = WallClock.preciseMilliseconds()
        let outcome = ExternalCommand.run([binary, "tags", "-rpc-addr", rpcAddress(origin), "-set", "cap=\(value)"])
        guard outcome.succeeded else { throw BenchError.failed("serf tags on \(subject): \(outcome.errors)") }
        let others = (0..<members).filter { $0 != origin }
        var result = GossipTrial(kind: .change, number: trial, subject: subject, startMs: start, expected: others.count, arrivals: [:])
        try await waitForArrivals(&result, observers: others, timeout: timeout) { [self] in
            observations.first(.updated, subject: subject, since: start)
        } handler: { [self] observer in
            handlerEvent(observer: observer, event: "member-update", subject: subject, tag: "cap=\(value)", since: start)
        }
        if let own = observations.first(.updated, subject: subject, since: start)[origin] { result.originMs["log"] = own }
        if let own = handlerEvent(observer: origin, event: "member-update", subject: subject, tag: "cap=\(value)", since: start) {
            result.originMs["handler"] = own
        }
        return result
    }

    func kill(trial: Int, timeout: Duration) async throws -> GossipTrial {
        let victim = members - 1 - trial % (members - 1)
        let subject = Self.memberName(victim)
        guard let agent = agents.withLock({ $0[victim] }) else { throw BenchError.failed("no serf agent \(victim)") }
        let start = WallClock.preciseMilliseconds()
        Glibc.kill(agent.pid, SIGKILL)
        let others = (0..<members).filter { $0 != victim }
        var result = GossipTrial(kind: .kill, number: trial, subject: subject, startMs: start, expected: others.count, arrivals: [:])
        try await waitForArrivals(&result, observers: others, timeout: timeout) { [self] in
            observations.first(.failed, subject: subject, since: start)
        } handler: { [self] observer in
            handlerEvent(observer: observer, event: "member-failed", subject: subject, tag: nil, since: start)
        }
        await agent.stop()
        return result
    }

    /// Starts the killed member again (same name and ports) and waits until all are alive.
    func revive(after trial: GossipTrial, timeout: Duration) async throws {
        guard let index = Int(trial.subject.dropFirst()) else { return }
        try await startAgent(index)
        try await waitUntilAllAlive(timeout: timeout)
    }

    /// Polls the log observations until every observer has one, then the handler files.
    private func waitForArrivals(
        _ trial: inout GossipTrial, observers: [Int], timeout: Duration, log: () -> [Int: Double],
        handler: (Int) -> Double?
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        var fromLog: [Int: Double] = [:]
        var fromHandler: [Int: Double] = [:]
        while ContinuousClock.now < deadline {
            fromLog = log().filter { observers.contains($0.key) }
            if fromLog.count == observers.count {
                for observer in observers where fromHandler[observer] == nil {
                    if let at = handler(observer) { fromHandler[observer] = at }
                }
                if fromHandler.count == observers.count { break }
                try await Task.sleep(for: .milliseconds(100))
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        trial.arrivals = ["log": fromLog, "handler": fromHandler]
    }

    /// The handler's timestamp of the first `event` line about `subject` (with `tag` among its
    /// tags, when given) at or after `since`, in epoch milliseconds.
    private func handlerEvent(observer: Int, event: String, subject: String, tag: String?, since: Double) -> Double? {
        guard let text = try? String(contentsOfFile: eventFile(observer), encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == event, let ns = Double(parts[1]) else { continue }
            let at = ns / 1_000_000
            guard at >= since else { continue }
            // Members are `name \t address \t role \t tags`, joined by `|`.
            let matches = parts[2].split(separator: "|").contains { member in
                let fields = member.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.first.map(String.init) == subject else { return false }
                guard let tag else { return true }
                return fields.last.map { $0.split(separator: ",").contains(Substring(tag)) } ?? false
            }
            if matches { return at }
        }
        return nil
    }

    func stop() async {
        for agent in agents.withLock({ $0 }).compactMap({ $0 }) { await agent.stop(grace: .seconds(5)) }
    }

    // MARK: the event handler

    static let handlerScript = """
        #!/bin/sh
        # Written by estuary-bench gossip-serf. Serf runs it as `/bin/sh -c "<this> <file>"` for
        # each (coalesced) event, with SERF_EVENT (SERF_USER_EVENT for user events) set and the
        # members (or payload) on stdin; it appends `<event> <epoch-ns> <members joined by |>`.
        now=$(date +%s%N)
        payload=$(tr '\\n' '|')
        printf '%s %s %s\\n' "${SERF_USER_EVENT:-$SERF_EVENT}" "$now" "$payload" >>"$1"

        """

    /// How long the handler takes to stamp an event after Serf would start it: `/bin/sh -c`
    /// spawned from here `samples` times, wall clock before the spawn against the stamp.
    func handlerStartupMilliseconds(samples: Int = 20) -> [Double] {
        let file = (work as NSString).appendingPathComponent("serf-handler-probe.txt")
        var delays: [Double] = []
        for _ in 0..<samples {
            try? FileManager.default.removeItem(atPath: file)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "\(handlerPath) \(file)"]
            process.environment = ["SERF_EVENT": "member-update", "PATH": "/usr/bin:/bin"]
            let input = Pipe()
            process.standardInput = input
            let before = WallClock.preciseMilliseconds()
            guard (try? process.run()) != nil else { continue }
            input.fileHandleForWriting.write(Data("m1\t127.0.0.1\t\tcap=1\n".utf8))
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
                let ns = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
            {
                delays.append(ns / 1_000_000 - before)
            }
        }
        return delays
    }
}
