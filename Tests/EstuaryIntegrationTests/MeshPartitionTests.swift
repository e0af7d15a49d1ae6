import EstuaryModel
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `scripts/netns-mesh.sh`: network namespaces est1…estN on a bridge, for tests that cut the
/// network between real processes. Needs root, `ip` and `nft`.
enum NetworkNamespaces {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/netns-mesh.sh").path

    /// Root, the tools, and a namespace can really be made here (a container without
    /// CAP_NET_ADMIN cannot).
    static let isAvailable: Bool = {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: script) else { return false }
        guard run(["nft", "--version"]) != nil else { return false }
        let probe = "estprobe\(getpid())"
        guard run(["ip", "netns", "add", probe]) != nil else { return false }
        _ = run(["ip", "netns", "delete", probe])
        return true
    }()

    /// In CI the namespaces must work (the test runs, and fails without them), as Slurm must.
    static var shouldRun: Bool { ProcessInfo.processInfo.environment["CI"] != nil || isAvailable }

    static func address(_ index: Int) -> String { "10.231.0.\(index)" }

    /// Runs the script; throws with its output when it fails.
    @discardableResult
    static func mesh(_ arguments: [String]) throws -> String {
        guard let output = run([script] + arguments) else {
            throw Failed(description: "netns-mesh.sh \(arguments.joined(separator: " ")) failed")
        }
        return output
    }

    struct Failed: Error, CustomStringConvertible { var description: String }

    /// Runs a command; its output (stdout and stderr), or nil when it failed.
    static func run(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    static var ip: String {
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "ip"
    }
}

extension IntegrationTests {
    /// Five coordinators, each in a network namespace of its own: the network between them is
    /// cut and mended with nftables while they run.
    @Suite("Coordinator mesh across network namespaces", .serialized)
    struct CoordinatorMeshPartition {
        @Test("partition {c1,c2} | {c3,c4,c5}: each side declares the other dead; after healing all are alive and capacity converges",
              .enabled(if: NetworkNamespaces.shouldRun, "needs root, ip netns and nft"), .timeLimit(.minutes(5)))
        func partitionAndHeal() async throws {
            try NetworkNamespaces.mesh(["down"])
            try NetworkNamespaces.mesh(["up", "5"])
            defer { _ = try? NetworkNamespaces.mesh(["down"]) }
            try await TestBed.run { bed in
                let mesh = try await bed.startNamespacedMesh(count: 5)
                try await bed.waitForMembers(mesh, toSee: Set(mesh.map(\.id)), as: "alive")

                // A site at c1 (its agent outside the namespaces, over the bridge).
                var site = TestSite.cpu
                site.count = 8
                _ = try await bed.startAgent(site, coordinator: mesh[0].process)
                for member in mesh {
                    _ = try await bed.waitForMeshCapacity(of: site, at: member, free: 8)
                }

                try NetworkNamespaces.mesh(["partition", "1 2", "3 4 5"])
                // While cut off, c1's site gets busy: 6 of its 8 units run a long job.
                let file = try bed.write(
                    TestJob(name: "partition-busy", script: "sleep 600", acceleratorClass: site.acceleratorClass, count: 6))
                let submitted = try await bed.estuaryctl(["job", "submit", file], coordinator: mesh[0].process)
                #expect(submitted.status == 0, "\(submitted)")
                let job = JobID(rawValue: submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                try await mesh[0].process.api.waitForJob(job, toBe: .running)

                try await bed.waitForMembers(Array(mesh[0..<2]), toSee: ["c3", "c4", "c5"], as: "dead", timeout: .seconds(60))
                try await bed.waitForMembers(Array(mesh[2..<5]), toSee: ["c1", "c2"], as: "dead", timeout: .seconds(60))
                // c2, on c1's side, hears of the busy site; c3 on the other side cannot.
                _ = try await bed.waitForMeshCapacity(of: site, at: mesh[1], free: 2)
                let stale = try await bed.meshCapacity(of: site, at: mesh[2])
                #expect(stale?.freeUnits[site.acceleratorClass] == 8, "c3 cannot have heard of the job: \(String(describing: stale))")

                try NetworkNamespaces.mesh(["heal"])
                // Dead members are retried (push-pull with a dead member every interval), so the
                // two halves find each other again and every view converges.
                try await bed.waitForMembers(mesh, toSee: Set(mesh.map(\.id)), as: "alive", timeout: .seconds(120))
                for member in mesh {
                    _ = try await bed.waitForMeshCapacity(of: site, at: member, free: 2, timeout: .seconds(60))
                }
                let cancelled = try await bed.estuaryctl(["job", "cancel", job.rawValue], coordinator: mesh[0].process)
                #expect(cancelled.status == 0, "\(cancelled)")
            }
        }
    }
}

extension TestBed {
    /// Starts `count` coordinators `c1…cN`, coordinator i inside namespace est<i> listening on
    /// 10.231.0.<i> (scripts/netns-mesh.sh must be up), with one mesh CA and c1 as the seed.
    func startNamespacedMesh(count: Int) async throws -> [MeshMember] {
        var members: [MeshMember] = []
        for index in 1...count {
            let host = NetworkNamespaces.address(index)
            let data = try directory("c\(index)")
            var arguments = [
                "netns", "exec", "est\(index)", try Binaries.path(Binaries.coordinator),
                "run", "--data-dir", data, "--coordinator-id", "c\(index)", "--region", "r\(index)",
                "--mesh-host", host, "--api-host", host, "--mesh-port", "7401", "--api-port", "7400", "--tls-name", host,
                "--report-interval", "1s",
            ]
            if let first = members.first {
                arguments += [
                    "--gossip-seed", first.process.meshAddress,
                    "--ca-cert", first.process.caPath, "--ca-key", "\(first.process.dataDirectory)/tls/ca.key",
                ]
            }
            let process = try start(executable: NetworkNamespaces.ip, name: "coordinator-c\(index)", arguments: arguments)
            try await waitUntil("c\(index) to write its port files", timeout: .seconds(30)) {
                guard process.isRunning else { throw ExitedEarly(name: process.name, status: process.terminationStatus) }
                return FileManager.default.fileExists(atPath: "\(data)/mesh.port") && FileManager.default.fileExists(atPath: "\(data)/api.port")
            }
            let coordinator = CoordinatorProcess(process: process, dataDirectory: data, meshPort: 7401, apiPort: 7400, tls: true, host: host)
            try await waitUntil("c\(index) to answer /readyz", timeout: .seconds(20)) { await coordinator.api.isReady() }
            members.append(MeshMember(id: "c\(index)", region: "r\(index)", process: coordinator))
        }
        return members
    }

    /// What `member` last heard of `site` through gossip, or nil.
    func meshCapacity(of site: TestSite, at member: MeshMember) async throws -> MeshSiteCapacityView? {
        let view = try await member.process.api.get("/v1/mesh/capacity", as: MeshCapacityView.self)
        return view.sites.first { $0.site == site.id }
    }

    /// Waits until `member` has heard that `site` has `free` units of its class free.
    func waitForMeshCapacity(
        of site: TestSite, at member: MeshMember, free: Int, timeout: Duration = .seconds(30)
    ) async throws -> MeshSiteCapacityView {
        try await waitFor("\(member.id) to hear that \(site.id) has \(free) free", timeout: timeout) {
            let known = try await meshCapacity(of: site, at: member)
            return known?.freeUnits[site.acceleratorClass] == free ? known : nil
        }
    }
}
