/// Why the output of a discovery tool (`nvidia-smi`, `npu-smi`, `lscpu`) or `/proc/cpuinfo`
/// could not be read. A tool that is missing is not an error (it contributes no pool); output
/// that is present but not in the expected shape is.
public enum DeviceDiscoveryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Line `line` (1-based) of the output from `source` is not in the expected shape.
    case malformedLine(source: String, line: Int, reason: String)
    /// The output has text but none of it is in the shape `source` prints (for example an
    /// `npu-smi info` output without its `NPU Name` header).
    case unrecognisedOutput(source: String, reason: String)

    public var description: String {
        switch self {
        case .malformedLine(let source, let line, let reason):
            "\(source) output, line \(line): \(reason)"
        case .unrecognisedOutput(let source, let reason):
            "\(source) output not understood: \(reason)"
        }
    }
}

/// Lines of a tool's output with their 1-based numbers (`\n`, `\r\n` or `\r` ends a line).
func numberedLines(_ text: String) -> [(number: Int, text: Substring)] {
    // `\r\n` is one Character in Swift, so split on any newline rather than on "\n".
    text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().map { offset, line in
        (offset + 1, line)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    var trimmed: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }
}
