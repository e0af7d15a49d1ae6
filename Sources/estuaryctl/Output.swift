import EstuaryModel
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writing to the terminal: results to stdout, diagnostics to stderr, JSON for `--json`.
///
/// Writes go straight to the file descriptors with write(2). A reader that stops early
/// (`estuaryctl usage | head -1`) closes the pipe; SIGPIPE is ignored (`ignoreBrokenPipes`), so
/// the write fails with EPIPE, and estuaryctl then exits 0 without a word, as `cat` would be
/// stopped by the signal. Foundation's `FileHandle.write(_:)` traps on that error instead.
enum Output {
    /// Turns a closed stdout into EPIPE, handled by `write`. Called once, first thing in `main`
    /// (NIO ignores SIGPIPE too, but only once it opens a socket).
    static func ignoreBrokenPipes() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    static func line(_ text: String) {
        write(Array((text + "\n").utf8), to: STDOUT_FILENO)
    }

    static func error(_ text: String) {
        write(Array((text + "\n").utf8), to: STDERR_FILENO)
    }

    static func bytes(_ bytes: some Sequence<UInt8>) {
        write(Array(bytes), to: STDOUT_FILENO)
    }

    /// Pretty, key-sorted JSON of an API value, for scripts (`--json`).
    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        line(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Writes all of `bytes`. On stdout, a reader that went away (EPIPE) ends the process with
    /// status 0: nobody is left to read the rest. Any other failure, and any failure on stderr,
    /// drops what could not be written, since there is nowhere to report it.
    private static func write(_ bytes: [UInt8], to descriptor: Int32) {
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(descriptor, base + offset, buffer.count - offset)
                if written >= 0 {
                    offset += written
                    continue
                }
                switch errno {
                case EINTR:
                    continue
                case EAGAIN, EWOULDBLOCK:
                    // A non-blocking descriptor someone handed us: wait until it takes more.
                    var ready = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&ready, 1, -1)
                case EPIPE where descriptor == STDOUT_FILENO:
                    Foundation.exit(ExitStatus.success)
                default:
                    return
                }
            }
        }
    }

    private static func systemWrite(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
            Glibc.write(descriptor, pointer, count)
        #elseif canImport(Musl)
            Musl.write(descriptor, pointer, count)
        #else
            Darwin.write(descriptor, pointer, count)
        #endif
    }
}

extension ResourceRequest {
    /// `8 ascend-910b`, `2 × 8 V100M16|V100M32` (tasks × units per task) or
    /// `4 × (≥ 300 TFLOPS, ≥ 64 GiB)` for a capability.
    var summary: String {
        var what = classExpression
        if isCapability {
            let parts = [minFP16TFLOPS.map { "≥ \($0.formatted()) TFLOPS" }, minMemoryGiB.map { "≥ \($0.formatted()) GiB" }]
            what = "(" + parts.compactMap { $0 }.joined(separator: ", ") + ")"
        }
        let units = "\(count) \(what)"
        return tasks == 1 ? units : "\(tasks) × \(units)"
    }
}

extension PoolCapacity {
    /// `ascend-910b 48/64 (simulated)`: free of total.
    var summary: String {
        "\(acceleratorClass) \(free)/\(count)" + (simulated ? " (simulated)" : "")
    }
}

extension Array where Element == String {
    /// argv as a shell would show it: words with spaces or quotes are single-quoted.
    var shellQuoted: String {
        map { word in
            let safe = !word.isEmpty && word.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "-_./=:,@%+".unicodeScalars.contains($0)
            }
            return safe ? word : "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
        }.joined(separator: " ")
    }
}
