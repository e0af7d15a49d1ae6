#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One reading of a process's CPU time and memory from /proc/<pid>/stat and /proc/<pid>/status.
struct ProcessSample {
    /// User plus system CPU time, in seconds.
    var cpuSeconds: Double
    var rssBytes: Int
    /// Peak resident set (VmHWM) since the process started.
    var peakRSSBytes: Int
    /// Anonymous (heap, stacks) and file-backed (the mapped binary and libraries) parts of RSS.
    var anonymousBytes: Int
    var fileBytes: Int
    var threads: Int
    /// CPU of the process's reaped children (cutime + cstime), in seconds.
    var childrenCPUSeconds: Double = 0
    var at: ContinuousClock.Instant

    /// Reads `pid`, or this process when `pid` is nil. Nil when the process is gone.
    static func read(_ pid: pid_t? = nil) -> ProcessSample? {
        let base = pid.map { "/proc/\($0)" } ?? "/proc/self"
        let now = ContinuousClock.now
        guard let stat = try? String(contentsOfFile: base + "/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: base + "/status", encoding: .utf8)
        else { return nil }
        // The command name (field 2) may hold spaces; fields after its closing parenthesis are
        // space-separated, starting at field 3 (state). utime is field 14, stime field 15.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 15, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let children = (Double(fields[13]) ?? 0) + (Double(fields[14]) ?? 0)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))

        var values: [Substring: Int] = [:]
        for line in status.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let number = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
            if let number { values[parts[0]] = number }
        }
        return ProcessSample(
            cpuSeconds: (user + system) / ticks,
            rssBytes: (values["VmRSS"] ?? 0) * 1024,
            peakRSSBytes: (values["VmHWM"] ?? 0) * 1024,
            anonymousBytes: (values["RssAnon"] ?? 0) * 1024,
            fileBytes: (values["RssFile"] ?? 0) * 1024,
            threads: values["Threads"] ?? 0,
            childrenCPUSeconds: children / ticks,
            at: now)
    }

    /// Samples `pid` once a second for `window`, from now; throws when the process exits.
    static func everySecond(of process: ChildProcess, for window: Duration, what: String) async throws -> [ProcessSample] {
        var samples: [ProcessSample] = []
        let begin = ContinuousClock.now
        var tick = 0
        while true {
            guard let sample = ProcessSample.read(process.pid), !process.hasExited else {
                throw BenchError.failed("\(process.name) exited while \(what):\n\(process.logTail())")
            }
            samples.append(sample)
            if sample.at - begin >= window { return samples }
            tick += 1
            try await Task.sleep(until: begin + .seconds(tick), clock: .continuous)
        }
    }

    /// CPU used between two samples, in percent of one core.
    static func cpuPercent(from start: ProcessSample, to end: ProcessSample) -> Double {
        let wall = (end.at - start.at).seconds
        guard wall > 0 else { return 0 }
        return (end.cpuSeconds - start.cpuSeconds) / wall * 100
    }
}

/// Machine-wide CPU use from /proc/stat, to tell whether the two cores were saturated.
struct SystemCPUSample {
    var busy: Double
    var total: Double

    static func read() -> SystemCPUSample? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        let numbers = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard numbers.count >= 5 else { return nil }
        let idle = numbers[3] + numbers[4]  // idle + iowait
        let total = numbers.prefix(8).reduce(0, +)  // user … steal; guest time is inside user
        return SystemCPUSample(busy: total - idle, total: total)
    }

    /// Busy share of all cores between two samples, in percent of the whole machine.
    static func busyPercent(from start: SystemCPUSample, to end: SystemCPUSample) -> Double {
        let total = end.total - start.total
        return total > 0 ? (end.busy - start.busy) / total * 100 : 0
    }
}

/// Latency percentiles in milliseconds; nearest-rank, on the full sample (no histogram bucketing).
struct LatencySummary {
    var count: Int
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double
    var mean: Double

    init(milliseconds samples: [Double]) {
        let sorted = samples.sorted()
        count = sorted.count
        func rank(_ quantile: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            let index = Int((quantile * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]
        }
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        p999 = rank(0.999)
        max = sorted.last ?? .nan
        mean = sorted.isEmpty ? .nan : sorted.reduce(0, +) / Double(sorted.count)
    }
}

/// Resident memory by mapping (binary, each shared library, heap, anonymous), from
/// /proc/<pid>/smaps: shows what a footprint is made of.
enum MappingBreakdown {
    static func read(_ pid: pid_t) -> [(name: String, rssBytes: Int)] {
        // Read to the end explicitly: /proc files report size 0 and may come in several reads.
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps"),
            let data = try? handle.readToEnd()
        else { return [] }
        try? handle.close()
        let smaps = String(decoding: data, as: UTF8.self)
        var totals: [String: Int] = [:]
        var current = "[anonymous]"
        for line in smaps.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first else { continue }
            if first.contains("-"), fields.count >= 5, first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                // A mapping header: address range, perms, offset, device, inode, [path].
                current = fields.count >= 6 ? ((String(fields[5]) as NSString).lastPathComponent) : "[anonymous]"
            } else if first == "Rss:", fields.count >= 2, let kib = Int(fields[1]) {
                totals[current, default: 0] += kib * 1024
            }
        }
        return totals.map { ($0.key, $0.value) }.sorted { $0.rssBytes > $1.rssBytes }
    }
}

/// CPU used by everything else on the machine during a window, in % of one core: the machine's
/// busy share of all cores minus what the measured processes used. Shows interference.
enum OtherLoad {
    static func percent(machineBusy: Double, coordinator: Double, generator: Double) -> Double {
        let cores = Double(BenchMachine.current().cores)
        return max(0, machineBusy * cores - coordinator - generator)
    }
}

/// Pins every current thread of a process to a set of CPUs with util-linux `taskset -a -p`
/// (glibc's sched_setaffinity is not visible to Swift without _GNU_SOURCE); threads created
/// later inherit the mask from their creator. Gives the coordinator its own core, away from
/// the load generator.
enum CPUPinning {
    @discardableResult
    static func pin(_ pid: pid_t, to cpus: [Int]) -> Bool {
        let arguments = ["taskset", "-a", "-p", "-c", cpus.map(String.init).joined(separator: ","), String(pid)]
        let argv = arguments.map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var child: pid_t = 0
        let spawned = (argv + [nil]).withUnsafeBufferPointer { buffer in
            posix_spawnp(&child, "taskset", &actions, nil, UnsafeMutablePointer(mutating: buffer.baseAddress!), nil)
        }
        guard spawned == 0 else { return false }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        return status == 0
    }
}
