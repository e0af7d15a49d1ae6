#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// What one member observed about another, and when (wall clock, so that timestamps written by
/// different processes compare).
struct GossipObservation: Sendable {
    enum Kind: String, Sendable {
        case joined, failed, updated
    }

    var observer: Int
    var kind: Kind
    /// The member (or, for capacity, the site) the observation is about.
    var subject: String
    /// Estuary's capacity version; nil for membership events.
    var version: Int?
    /// Unix epoch milliseconds, fractional where the source has the precision.
    var epochMs: Double
}

/// Observations gathered while a benchmark runs, from log lines as they are read.
final class GossipObservations: Sendable {
    private let items = Mutex<[GossipObservation]>([])

    func append(_ observation: GossipObservation) { items.withLock { $0.append(observation) } }
    func append(contentsOf observations: [GossipObservation]) { items.withLock { $0.append(contentsOf: observations) } }

    /// For each observer, its first observation of `kind` about `subject` at or after `since`
    /// (and, when given, with a version of at least `minimumVersion`).
    func first(_ kind: GossipObservation.Kind, subject: String, since: Double, minimumVersion: Int? = nil) -> [Int: Double] {
        items.withLock { items in
            var firsts: [Int: Double] = [:]
            for item in items where item.kind == kind && item.subject == subject && item.epochMs >= since {
                if let minimumVersion, (item.version ?? Int.min) < minimumVersion { continue }
                if let known = firsts[item.observer], known <= item.epochMs { continue }
                firsts[item.observer] = item.epochMs
            }
            return firsts
        }
    }

    /// The lowest version logged for `subject` at or after `since`, by any observer.
    func lowestVersion(subject: String, since: Double) -> Int? {
        items.withLock { $0.filter { $0.subject == subject && $0.epochMs >= since }.compactMap(\.version).min() }
    }

    /// `observer`'s first observation of `kind` about `subject` at or after `since`.
    func firstObservation(_ kind: GossipObservation.Kind, subject: String, observer: Int, since: Double) -> GossipObservation? {
        items.withLock { items in
            items.filter { $0.observer == observer && $0.kind == kind && $0.subject == subject && $0.epochMs >= since }
                .min { $0.epochMs < $1.epochMs }
        }
    }
}

/// One measured change or kill: when it was made, and when each member first saw it.
struct GossipTrial: Sendable {
    enum Kind: String, Sendable { case change, kill }

    var kind: Kind
    var number: Int
    /// The member changed or killed.
    var subject: String
    /// Wall clock just before the change was made (command started, signal sent, envelope written).
    var startMs: Double
    /// Members expected to observe it (every live member but the origin).
    var expected: Int
    /// Observer → first observation, per source ("log", "handler"), excluding the origin.
    var arrivals: [String: [Int: Double]]
    /// When the origin itself logged the change (changes only), per source.
    var originMs: [String: Double] = [:]
}

/// Reads a child's stdout and stderr from a pipe on its own thread, stamps each line with the
/// wall clock when it arrives, appends it to a log file and hands it to `onLine`. Used for
/// Serf, whose log lines carry only whole seconds.
final class TimestampedLineReader: Sendable {
    let readDescriptor: Int32
    let writeDescriptor: Int32

    /// A pipe whose read end is not inherited by children (the write end is given to one).
    init() throws(BenchError) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw BenchError.setup("pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        readDescriptor = ends[0]
        writeDescriptor = ends[1]
    }

    /// Starts the reader; call after the child was spawned (the parent's write end is closed
    /// here, so the reader ends when the child does).
    func start(logPath: String, onLine: @escaping @Sendable (String, Double) -> Void) {
        close(writeDescriptor)
        let descriptor = readDescriptor
        let thread = Thread {
            let log = FileHandle(forWritingAtPath: logPath) ?? {
                _ = FileManager.default.createFile(atPath: logPath, contents: nil)
                return FileHandle(forWritingAtPath: logPath)
            }()
            log?.seekToEndOfFile()
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                let now = WallClock.preciseMilliseconds()
                pending.append(contentsOf: buffer[0..<count])
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    log?.write(Data("\(Format.fixed(now, 3)) \(line)\n".utf8))
                    onLine(line, now)
                }
            }
            close(descriptor)
            try? log?.close()
        }
        thread.start()
    }
}

extension WallClock {
    /// Unix epoch milliseconds with microsecond precision.
    static func preciseMilliseconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) * 1000 + Double(spec.tv_nsec) / 1_000_000
    }
}

/// Runs a short command to completion and captures its output.
enum ExternalCommand {
    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
        var succeeded: Bool { status == 0 }
    }

    static func run(_ arguments: [String], input: String? = nil) -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        do { try process.run() } catch {
            return Outcome(status: -1, output: "", errors: "cannot run \(arguments.first ?? "?"): \(error)")
        }
        if let input {
            inputPipe.fileHandleForWriting.write(Data(input.utf8))
            try? inputPipe.fileHandleForWriting.close()
        }
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self),
            errors: String(decoding: errData, as: UTF8.self))
    }

    /// True when `name` is a command on PATH.
    static func exists(_ name: String) -> Bool {
        run(["sh", "-c", "command -v \(name)"]).succeeded
    }
}
