import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The files an agent and its shim exchange in a job directory
/// (`<data_dir>/jobs/<job_id>-<attempt>/`, which is also the job's working directory):
///
/// | file          | written by | when                                   |
/// |---------------|------------|----------------------------------------|
/// | `launch.json` | agent      | before the shim starts: what to run    |
/// | `shim.json`   | shim       | once the job's process has started     |
/// | `stdout`, `stderr` | job   | while it runs                          |
/// | `status.json` | shim       | once the job has ended (atomic rename) |
///
/// Every JSON file is written to a temporary name and renamed, so a reader never sees half of one.
public enum ShimFiles {
    public static let launch = "launch.json"
    public static let shim = "shim.json"
    public static let status = "status.json"
    public static let stdout = "stdout"
    public static let stderr = "stderr"
    /// The shim's own diagnostics.
    public static let shimLog = "shim.log"
}

/// `launch.json`: what the shim runs.
public struct ShimLaunch: Codable, Sendable, Hashable {
    public var command: [String]
    /// The complete environment of the job, already merged by the agent.
    public var environment: [String: String]
    public var walltimeSeconds: Int
    public var killGraceMilliseconds: Int

    public init(command: [String], environment: [String: String], walltimeSeconds: Int, killGraceMilliseconds: Int) {
        self.command = command
        self.environment = environment
        self.walltimeSeconds = walltimeSeconds
        self.killGraceMilliseconds = killGraceMilliseconds
    }
}

/// `shim.json`: the running job's processes.
public struct ShimInfo: Codable, Sendable, Hashable {
    public var shimPID: Int32
    public var jobPID: Int32
    /// Process group of the job (its leader's pid).
    public var jobPGID: Int32
    public var startedAtMs: Int64

    public init(shimPID: Int32, jobPID: Int32, jobPGID: Int32, startedAtMs: Int64) {
        self.shimPID = shimPID
        self.jobPID = jobPID
        self.jobPGID = jobPGID
        self.startedAtMs = startedAtMs
    }
}

/// `status.json`: how the job ended.
public struct ShimStatus: Codable, Sendable, Hashable {
    /// Set when the job's process exited; nil when a signal ended it or it never started.
    public var exitCode: Int32?
    /// The signal that ended the job's process, if any.
    public var signal: Int32?
    public var startedAtMs: Int64
    public var endedAtMs: Int64
    public var walltimeExceeded: Bool
    public var cancelled: Bool
    /// Why the job's process could not be started; the job never ran.
    public var spawnError: String?

    public init(
        exitCode: Int32?, signal: Int32?, startedAtMs: Int64, endedAtMs: Int64, walltimeExceeded: Bool = false,
        cancelled: Bool = false, spawnError: String? = nil
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.startedAtMs = startedAtMs
        self.endedAtMs = endedAtMs
        self.walltimeExceeded = walltimeExceeded
        self.cancelled = cancelled
        self.spawnError = spawnError
    }
}

/// Reading and atomically writing the JSON files of a job directory.
enum JobDirectoryIO {
    struct WriteError: Error, CustomStringConvertible {
        var path: String
        var errno: Int32
        var description: String { "cannot write \(path): \(String(cString: strerror(errno)))" }
    }

    static func path(_ directory: String, _ file: String) -> String { directory + "/" + file }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func read<Value: Decodable>(_ type: Value.Type, directory: String, file: String) -> Value? {
        guard let data = FileManager.default.contents(atPath: path(directory, file)) else { return nil }
        return try? JSONDecoder().decode(type, from: data)
    }

    /// Writes `value` as JSON to a temporary file, fsyncs it, and renames it into place.
    static func writeAtomically(_ value: some Encodable, directory: String, file: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try writeAtomically(Array(try encoder.encode(value)), to: path(directory, file), mode: 0o600)
    }

    /// Writes `text` the same way (a batch script, say), with file mode `mode`.
    static func writeText(_ text: String, to final: String, mode: mode_t) throws {
        try writeAtomically(Array(text.utf8), to: final, mode: mode)
    }

    /// Writes `bytes` to `final + ".tmp"`, fsyncs it, renames it to `final`, and fsyncs the
    /// directory: a reader sees the old file or the whole new one.
    private static func writeAtomically(_ bytes: [UInt8], to final: String, mode: mode_t) throws {
        let temporary = final + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WriteError(path: temporary, errno: errno) }
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        close(fd)
        guard failure == 0 else { throw WriteError(path: temporary, errno: failure) }
        guard rename(temporary, final) == 0 else { throw WriteError(path: final, errno: errno) }
        let directory = final.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let directoryFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw WriteError(path: current, errno: errno)
            }
        }
    }

    /// Removes a directory tree (job directories after their retention).
    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
