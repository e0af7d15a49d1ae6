import Foundation

/// Counts the loopback bytes of one system's gossip with nftables: every IP packet leaving
/// through `lo` whose source or destination port is a member's (UDP and/or TCP) is counted
/// once, in the output hook (a loopback packet passes it once, and the input hook again, which
/// is not used). Ports in `excluded` (the simulated site's session) are skipped. The counters
/// give IP bytes: headers of IP and UDP/TCP included, as `skb->len` at that hook.
struct LoopbackTrafficCounter {
    static let table = "estuary_bench_gossip"

    struct Reading {
        var udpBytes: Int
        var udpPackets: Int
        var tcpBytes: Int
        var tcpPackets: Int
        var at: ContinuousClock.Instant

        var bytes: Int { udpBytes + tcpBytes }
    }

    /// Creates the table (replacing one left by an earlier run). Needs root (CAP_NET_ADMIN).
    static func install(udpPorts: [Int], tcpPorts: [Int]) throws -> LoopbackTrafficCounter {
        guard ExternalCommand.exists("nft") else {
            throw BenchError.setup("nft is not installed (Debian package nftables; Benchmarks/run.sh installs it)")
        }
        remove()
        func elements(_ ports: [Int]) -> String {
            ports.isEmpty ? "" : "elements = { \(ports.map(String.init).joined(separator: ", ")) }"
        }
        let script = """
            table inet \(table) {
                set udp_ports { type inet_service; \(elements(udpPorts)) }
                set tcp_ports { type inet_service; \(elements(tcpPorts)) }
                set excluded { type inet_service; }
                counter udp_bytes { }
                counter tcp_bytes { }
                chain output {
                    type filter hook output priority -150; policy accept;
                    oifname "lo" jump count
                }
                chain count {
                    tcp sport @excluded return
                    tcp dport @excluded return
                    udp dport @udp_ports counter name "udp_bytes" return
                    udp sport @udp_ports counter name "udp_bytes" return
                    tcp dport @tcp_ports counter name "tcp_bytes" return
                    tcp sport @tcp_ports counter name "tcp_bytes" return
                }
            }

            """
        let outcome = ExternalCommand.run(["nft", "-f", "-"], input: script)
        guard outcome.succeeded else {
            throw BenchError.setup("nft could not create table inet \(table) (root needed): \(outcome.errors.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return LoopbackTrafficCounter()
    }

    /// Stops counting TCP packets from or to `port` (a connection's local port).
    func exclude(tcpPort port: Int) throws {
        let outcome = ExternalCommand.run(["nft", "add", "element", "inet", Self.table, "excluded", "{ \(port) }"])
        guard outcome.succeeded else { throw BenchError.failed("nft add element: \(outcome.errors)") }
    }

    func read() throws -> Reading {
        let outcome = ExternalCommand.run(["nft", "-j", "list", "counters", "table", "inet", Self.table])
        let now = ContinuousClock.now
        guard outcome.succeeded,
            let json = try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [String: Any],
            let entries = json["nftables"] as? [[String: Any]]
        else { throw BenchError.failed("nft list counters: \(outcome.errors)") }
        var values: [String: (packets: Int, bytes: Int)] = [:]
        for entry in entries {
            guard let counter = entry["counter"] as? [String: Any], let name = counter["name"] as? String else { continue }
            values[name] = ((counter["packets"] as? Int) ?? 0, (counter["bytes"] as? Int) ?? 0)
        }
        return Reading(
            udpBytes: values["udp_bytes"]?.bytes ?? 0, udpPackets: values["udp_bytes"]?.packets ?? 0,
            tcpBytes: values["tcp_bytes"]?.bytes ?? 0, tcpPackets: values["tcp_bytes"]?.packets ?? 0, at: now)
    }

    /// Deletes the table; harmless when it does not exist.
    static func remove() {
        _ = ExternalCommand.run(["nft", "delete", "table", "inet", table])
    }
}

/// The local TCP ports of this process's connections to `remotePort` on loopback, from
/// /proc/net/tcp and this process's socket descriptors.
enum OwnConnections {
    static func localPorts(toRemotePort remotePort: Int) -> [Int] {
        var inodes = Set<String>()
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            for descriptor in descriptors {
                if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)"),
                    target.hasPrefix("socket:[")
                {
                    inodes.insert(String(target.dropFirst(8).dropLast()))
                }
            }
        }
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return [] }
        var ports: [Int] = []
        for line in table.split(separator: "\n").dropFirst() {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            let fields = line.split(separator: " ")
            guard fields.count > 9,
                let local = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }),
                let remote = fields[2].split(separator: ":").last.flatMap({ Int($0, radix: 16) })
            else { continue }
            if remote == remotePort, inodes.contains(String(fields[9])) { ports.append(local) }
        }
        return ports
    }
}
