import EstuaryModel
import Foundation

/// Writing to the terminal: results to stdout, diagnostics to stderr, JSON for `--json`.
enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func bytes(_ bytes: some Sequence<UInt8>) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    /// Pretty, key-sorted JSON of an API value, for scripts (`--json`).
    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        line(String(decoding: try encoder.encode(value), as: UTF8.self))
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
