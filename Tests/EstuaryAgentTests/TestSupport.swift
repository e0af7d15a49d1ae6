import EstuaryConfig
import EstuaryModel
import EstuaryWire
import Foundation
import Testing

@testable import EstuaryAgent

#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary directory, removed when the test's `body` returns.
func withTemporaryDirectory<R>(_ body: (String) async throws -> R) async throws -> R {
    var template = Array("/tmp/estuary-agent-test-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { buffer in
        mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
    }
    guard let path else { throw POSIXError(.EIO) }
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The `estuary-agent` binary built next to the test bundle (`swift test` builds every product).
func agentExecutable() -> String {
    let me = ProcessDriverConfiguration.currentExecutable()
    var directory = me
    while let slash = directory.lastIndex(of: "/"), directory != "/" {
        directory = String(directory[..<slash])
        let candidate = directory + "/estuary-agent"
        if access(candidate, X_OK) == 0 { return candidate }
        if directory.hasSuffix("/debug") || directory.hasSuffix("/release") { break }
    }
    return directory + "/estuary-agent"
}

/// Pids of live (non-zombie) processes whose process group is `pgid`.
func processes(inGroup pgid: Int32) -> [Int32] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { Int32($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] = state, fields[2] = pgrp
        return fields.count > 2 && fields[0] != "Z" && Int32(fields[2]) == pgid
    }
}

func testProfile(pools: [PoolDefinition] = [PoolDefinition(acceleratorClass: "ascend-910b", count: 8, simulated: true)])
    -> SiteProfile
{
    SiteProfile(
        site: SiteDescriptor(id: "test-site", displayName: "Test site (simulated)", region: "shenzhen", zones: ["gba"], driver: "process"),
        coordinator: CoordinatorSettings(address: CoordinatorAddress(host: "127.0.0.1", port: 7401), insecureDev: true),
        agent: AgentSettings(dataDir: "unused"),
        pools: pools,
        processDriver: ProcessDriverSettings(maxConcurrentJobs: nil, killGrace: .milliseconds(300))
    )
}

func driverConfiguration() -> ProcessDriverConfiguration {
    ProcessDriverConfiguration(shimExecutable: agentExecutable(), killGrace: .milliseconds(300))
}

/// A JobAssign for `job` (attempt, units per task and walltime as given; one task).
func testAssignment(
    _ job: String, attempt: UInt32 = 1, command: [String], units: UInt32 = 2, walltime: UInt32 = 60,
    acceleratorClass: String = "ascend-910b"
) -> Estuary_V1_JobAssign {
    var spec = Estuary_V1_JobSpec()
    spec.name = job
    spec.tenant = "tenant-a"
    spec.command = command
    spec.acceleratorClass = acceleratorClass
    spec.count = units
    spec.tasks = 1
    spec.walltimeSeconds = walltime
    var assign = Estuary_V1_JobAssign()
    assign.jobID = job
    assign.attempt = attempt
    assign.spec = spec
    return assign
}

/// Job updates in the outbox for `job`, in seq order.
func outboxUpdates(_ store: AgentStore, job: String) throws -> [Estuary_V1_JobUpdate] {
    try store.outbox(after: 0, limit: 10_000).compactMap { entry in
        if case .jobUpdate(let update) = entry.envelope.body, update.jobID == job { return update }
        return nil
    }
}

/// Usage records in the outbox for `job`.
func outboxUsage(_ store: AgentStore, job: String) throws -> [Estuary_V1_UsageRecord] {
    try store.outbox(after: 0, limit: 10_000).flatMap { entry -> [Estuary_V1_UsageRecord] in
        if case .usage(let batch) = entry.envelope.body { return batch.records.filter { $0.jobID == job } }
        return []
    }
}
