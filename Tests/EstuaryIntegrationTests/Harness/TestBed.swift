import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Everything one integration test starts: a temporary directory and the processes it runs.
///
/// `TestBed.run` creates the directory, runs the test body, and then always kills what is still
/// running: our processes, and any process whose command line or environment mentions the
/// directory (job shims and jobs, which run in sessions of their own and outlive a killed agent).
/// If the body threw or recorded an issue, the tail of every process log is printed and the
/// directory is kept for inspection; otherwise it is removed.
final class TestBed: Sendable {
    @TaskLocal static var current: TestBed?

    let root: String
    let logDirectory: String
    private let processes = Mutex<[ManagedProcess]>([])
    private let issues = Atomic<Int>(0)
    private let names = Mutex<[String: Int]>([:])

    private init(label: String) throws {
        let slug = label.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(40)
        var base = ProcessInfo.processInfo.environment["ESTUARY_TEST_TMP"] ?? NSTemporaryDirectory()
        while base.count > 1, base.hasSuffix("/") { base.removeLast() }
        root = "\(base)/estuary-it-\(String(slug))-\(UUID().uuidString.prefix(8))"
        logDirectory = root + "/process-logs"
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
    }

    static func run(_ label: String = #function, _ body: (TestBed) async throws -> Void) async throws {
        let bed = try TestBed(label: label)
        do {
            try await TestBed.$current.withValue(bed) { try await body(bed) }
        } catch {
            bed.noteIssue()
            bed.tearDown()
            throw error
        }
        bed.tearDown()
    }

    /// Called for every issue recorded while this bed is current (see `.reportsProcessLogs`).
    func noteIssue() { issues.add(1, ordering: .relaxed) }

    /// A path inside the bed's directory, its parent created.
    func path(_ relative: String) -> String {
        let full = root + "/" + relative
        try? FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return full
    }

    func directory(_ relative: String) throws -> String {
        let full = root + "/" + relative
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    func write(_ text: String, to relative: String) throws -> String {
        let full = path(relative)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
        return full
    }

    /// Starts `binary` (one of ``Binaries``); its logs are named after `name`, made unique.
    func start(_ binary: String, name: String, arguments: [String], environment: [String: String] = [:]) throws -> ManagedProcess {
        try start(executable: try Binaries.path(binary), name: name, arguments: arguments, environment: environment)
    }

    /// Starts any executable by absolute path (an independent client such as `nghttp`).
    func start(executable: String, name: String, arguments: [String], environment: [String: String] = [:]) throws -> ManagedProcess {
        let unique = names.withLock { counts -> String in
            counts[name, default: 0] += 1
            return counts[name]! == 1 ? name : "\(name).\(counts[name]!)"
        }
        let process = try ManagedProcess(
            name: unique, executable: executable, arguments: arguments, environment: environment,
            logDirectory: logDirectory)
        processes.withLock { $0.append(process) }
        return process
    }

    /// Prints the tail of every process's logs now.
    func printLogs(lines: Int = 60) {
        let all = processes.withLock { $0 }
        var report = "===== process logs of \(root) (\(all.count) processes)\n"
        for process in all where !process.name.hasPrefix("estuaryctl") {
            report += process.logTail(lines: lines) + "\n"
        }
        print(report)
    }

    private func tearDown() {
        let failed = issues.load(ordering: .relaxed) > 0
        if failed || ProcessInfo.processInfo.environment["ESTUARY_TEST_LOGS"] == "always" { printLogs() }
        for process in processes.withLock({ $0 }) where process.isRunning { process.killAndReap() }
        StrayProcesses.kill(mentioning: root)
        if failed || ProcessInfo.processInfo.environment["ESTUARY_TEST_KEEP"] != nil {
            print("test bed kept at \(root)")
        } else {
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}

extension Trait where Self == IssueHandlingTrait {
    /// Marks the current test bed as failed when an issue is recorded, so that its teardown
    /// prints the processes' logs.
    static var reportsProcessLogs: Self {
        .compactMapIssues { issue in
            TestBed.current?.noteIssue()
            return issue
        }
    }
}

/// Processes left behind by a test: job shims and jobs run in sessions of their own.
enum StrayProcesses {
    /// Kills (with their process groups) all processes whose command line or environment
    /// mentions `marker`, except ourselves and our own process group.
    static func kill(mentioning marker: String) {
        let ours = getpgrp()
        let me = getpid()
        for pid in pids(mentioning: marker) where pid != me {
            let group = getpgid(pid)
            if group > 1, group != ours { killpg(group, SIGKILL) }
            Glibc.kill(pid, SIGKILL)
        }
    }

    static func pids(mentioning marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        let needle = Data(marker.utf8)
        return entries.compactMap(Int32.init).filter { pid in
            ["cmdline", "environ"].contains { file in
                FileManager.default.contents(atPath: "/proc/\(pid)/\(file)")?.range(of: needle) != nil
            }
        }
    }
}
