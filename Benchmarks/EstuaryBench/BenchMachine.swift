#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The machine a benchmark ran on, as every section states it: figures mean nothing without it.
struct BenchMachine {
    var cores: Int
    var model: String
    var memoryGiB: Double
    var kernel: String

    static func current() -> BenchMachine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n")
            .first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let totalKiB = meminfo.split(separator: "\n")
            .first { $0.hasPrefix("MemTotal:") }
            .flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { Double($0) } } ?? 0
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return BenchMachine(
            cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), model: model, memoryGiB: totalKiB / 1_048_576,
            kernel: release)
    }

    var markdown: String {
        "\(cores) cores (\(model)), \(Format.fixed(memoryGiB, 1)) GiB RAM, Linux \(kernel)"
    }
}

/// The command line that produced a section, shell-quoted so it can be pasted back.
enum CommandLineEcho {
    static func current() -> String {
        var words = CommandLine.arguments
        if let first = words.first { words[0] = (first as NSString).lastPathComponent }
        return words.map(quote).joined(separator: " ")
    }

    static func quote(_ word: String) -> String {
        let safe = word.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./=:,@%+".unicodeScalars.contains($0) }
        return safe && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// The file system type under a path (ext4, tmpfs, overlay …): fsync cost depends on it.
enum FileSystemInfo {
    static func type(of path: String) -> String {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return "unknown" }
        let resolved = (path as NSString).resolvingSymlinksInPath
        var best: (mountPoint: String, type: String) = ("", "unknown")
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            let mountPoint = String(fields[1])
            let covers = resolved == mountPoint || resolved.hasPrefix(mountPoint == "/" ? "/" : mountPoint + "/")
            if covers, mountPoint.count >= best.mountPoint.count { best = (mountPoint, String(fields[2])) }
        }
        return best.type
    }
}

/// Number formatting for the Markdown tables.
enum Format {
    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    static func grouped(_ value: Double) -> String {
        let rounded = Int(value.rounded())
        let digits = String(abs(rounded))
        var out = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0, index % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (rounded < 0 ? "-" : "") + String(out.reversed())
    }

    /// Milliseconds with a precision that suits their size.
    static func ms(_ value: Double) -> String {
        if value.isNaN { return "–" }
        if value < 10 { return fixed(value, 2) }
        if value < 100 { return fixed(value, 1) }
        return grouped(value)
    }

    static func mib(_ bytes: Int) -> String { fixed(Double(bytes) / 1_048_576, 1) }

    static func date() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: Date())
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    var milliseconds: Double { seconds * 1000 }
}

/// Parses a duration flag such as `30s`, `2m`, `500ms` or a bare number of seconds.
enum DurationFlag {
    static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value >= 0 else { return nil }
            return .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        guard let value = Double(trimmed), value >= 0 else { return nil }
        return .milliseconds(Int64((value * 1000).rounded()))
    }
}

/// The opening of every section: title, then when, where and how it was produced.
enum SectionHeader {
    static func text(_ title: String, details: [String] = []) -> String {
        let environment = ProcessInfo.processInfo.environment
        var lines = ["## \(title)", "", "- Date: \(Format.date())", "- Machine: \(BenchMachine.current().markdown)"]
        if let commit = environment["ESTUARY_BENCH_COMMIT"], !commit.isEmpty {
            lines.append("- Commit: `\(commit)`")
        }
        lines.append("- Command: `\(environment["ESTUARY_BENCH_COMMAND"] ?? CommandLineEcho.current())`")
        lines += details.map { "- \($0)" }
        return lines.joined(separator: "\n") + "\n\n"
    }

    /// Prints `text(title, details:)`: the heading block and a blank line.
    static func print(_ title: String, details: [String] = []) {
        Swift.print(text(title, details: details), terminator: "")
    }
}
