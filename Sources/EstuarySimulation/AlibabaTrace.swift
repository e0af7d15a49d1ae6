/// The Alibaba GPU cluster trace 2023 (`cluster-trace-gpu-v2023`, Weng et al., USENIX ATC '23):
/// its node and pod lists, parsed from CSV text. Keep the attribution with any result.
public enum AlibabaTrace {
    public static let attribution =
        "Workload: Alibaba Cluster Trace Program, cluster-trace-gpu-v2023 (Weng et al., \"Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent\", USENIX ATC '23), used for research and study as its publishers allow."

    public static let nodeFileName = "openb_node_list_all_node.csv"
    public static let taskFileName = "openb_pod_list_default.csv"

    /// One machine of the cluster.
    public struct Node: Sendable, Hashable {
        public var sn: String
        public var cpuMilli: Int
        public var memoryMiB: Int
        public var gpus: Int
        /// `V100M16`, `T4`, `G2` …; nil for a CPU-only node.
        public var model: String?
        /// 1-based line in the CSV text.
        public var line: Int
    }

    /// One pod (task) of the workload. Times are seconds from the start of the trace.
    public struct Task: Sendable, Hashable {
        public var name: String
        public var cpuMilli: Int
        public var memoryMiB: Int
        public var gpus: Int
        /// Thousandths of one GPU per GPU; below 1000 the task shares a GPU.
        public var gpuMilli: Int
        /// Acceptable GPU models; empty means any.
        public var gpuSpec: [String]
        public var qos: String
        public var phase: String
        public var creationTime: Int64
        /// nil when the task had not ended when the trace was taken.
        public var deletionTime: Int64?
        /// nil when the task was never scheduled (still pending).
        public var scheduledTime: Int64?
        public var line: Int
    }

    /// A malformed CSV: which text, which line (1-based, the header is line 1), what is wrong.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var message: String

        public init(file: String, line: Int, message: String) {
            self.file = file
            self.line = line
            self.message = message
        }

        public var description: String { "\(file):\(line): \(message)" }
    }

    public static func parseNodes(csv text: String, file: String = nodeFileName) throws(ParseError) -> [Node] {
        var table = try Table(text: text, file: file, required: ["sn", "cpu_milli", "memory_mib", "gpu", "model"])
        var nodes: [Node] = []
        while let row = try table.next() {
            let model = try row.string("model")
            let node = Node(
                sn: try row.nonEmpty("sn"), cpuMilli: try row.int("cpu_milli", min: 0), memoryMiB: try row.int("memory_mib", min: 0),
                gpus: try row.int("gpu", min: 0), model: model.isEmpty ? nil : model, line: row.line)
            if node.gpus > 0 && node.model == nil {
                throw ParseError(file: file, line: row.line, message: "gpu is \(node.gpus) but model is empty")
            }
            nodes.append(node)
        }
        return nodes
    }

    public static func parseTasks(csv text: String, file: String = taskFileName) throws(ParseError) -> [Task] {
        var table = try Table(
            text: text, file: file,
            required: [
                "name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase", "creation_time",
                "deletion_time", "scheduled_time",
            ])
        var tasks: [Task] = []
        while let row = try table.next() {
            let spec = try row.string("gpu_spec")
            let task = Task(
                name: try row.nonEmpty("name"), cpuMilli: try row.int("cpu_milli", min: 0),
                memoryMiB: try row.int("memory_mib", min: 0), gpus: try row.int("num_gpu", min: 0),
                gpuMilli: try row.int("gpu_milli", min: 0),
                gpuSpec: spec.isEmpty ? [] : spec.split(separator: "|", omittingEmptySubsequences: false).map(String.init),
                qos: try row.nonEmpty("qos"), phase: try row.string("pod_phase"),
                creationTime: try row.int64("creation_time"), deletionTime: try row.optionalInt64("deletion_time"),
                scheduledTime: try row.optionalInt64("scheduled_time"), line: row.line)
            if task.gpuSpec.contains(where: \.isEmpty) {
                throw ParseError(file: file, line: row.line, message: "gpu_spec \"\(spec)\" has an empty model")
            }
            if task.gpus == 0 && task.cpuMilli == 0 {
                throw ParseError(file: file, line: row.line, message: "the task asks for neither GPUs nor CPU")
            }
            if let deletion = task.deletionTime, deletion < task.creationTime {
                throw ParseError(file: file, line: row.line, message: "deletion_time \(deletion) is before creation_time \(task.creationTime)")
            }
            tasks.append(task)
        }
        return tasks
    }
}

/// A minimal CSV reader for the trace: a header naming the columns, no quoting (the trace has
/// none; a quote is reported as an error rather than misread), `\n` or `\r\n` line ends.
private struct Table {
    let file: String
    let columns: [String: Int]
    let width: Int
    var lines: [Substring]
    var index = 1

    init(text: String, file: String, required: [String]) throws(AlibabaTrace.ParseError) {
        self.file = file
        // Split on bytes: "\r\n" is one Character in Swift, and byte splitting is much faster.
        lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            Substring(line.last == UInt8(ascii: "\r") ? line.dropLast() : line)
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let header = lines.first else {
            throw AlibabaTrace.ParseError(file: file, line: 1, message: "empty file: expected a header line")
        }
        let names = Table.fields(header).map { $0.trimmingCharacters() }
        width = names.count
        var columns: [String: Int] = [:]
        for (position, name) in names.enumerated() { columns[name] = columns[name] ?? position }
        self.columns = columns
        if let missing = required.first(where: { columns[$0] == nil }) {
            throw AlibabaTrace.ParseError(file: file, line: 1, message: "header lacks column \"\(missing)\"")
        }
    }

    static func fields(_ line: Substring) -> [Substring] {
        line.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).map { Substring($0) }
    }

    mutating func next() throws(AlibabaTrace.ParseError) -> Row? {
        guard index < lines.count else { return nil }
        let number = index + 1
        let fields = Table.fields(lines[index])
        index += 1
        if fields.count != width {
            throw AlibabaTrace.ParseError(file: file, line: number, message: "expected \(width) fields, found \(fields.count)")
        }
        if fields.contains(where: { $0.utf8.contains(UInt8(ascii: "\"")) }) {
            throw AlibabaTrace.ParseError(file: file, line: number, message: "quoted fields are not supported")
        }
        return Row(file: file, line: number, fields: fields, columns: columns)
    }
}

private struct Row {
    let file: String
    let line: Int
    let fields: [Substring]
    let columns: [String: Int]

    func string(_ column: String) throws(AlibabaTrace.ParseError) -> String {
        fields[columns[column]!].trimmingCharacters()
    }

    func nonEmpty(_ column: String) throws(AlibabaTrace.ParseError) -> String {
        let value = try string(column)
        if value.isEmpty { throw AlibabaTrace.ParseError(file: file, line: line, message: "\(column) is empty") }
        return value
    }

    func int(_ column: String, min: Int) throws(AlibabaTrace.ParseError) -> Int {
        let text = try string(column)
        guard let value = Int(text), value >= min else {
            throw AlibabaTrace.ParseError(file: file, line: line, message: "\(column) \"\(text)\" is not an integer ≥ \(min)")
        }
        return value
    }

    func int64(_ column: String) throws(AlibabaTrace.ParseError) -> Int64 {
        guard let value = try optionalInt64(column) else {
            throw AlibabaTrace.ParseError(file: file, line: line, message: "\(column) is empty")
        }
        return value
    }

    func optionalInt64(_ column: String) throws(AlibabaTrace.ParseError) -> Int64? {
        let text = try string(column)
        if text.isEmpty { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw AlibabaTrace.ParseError(file: file, line: line, message: "\(column) \"\(text)\" is not a time in seconds ≥ 0")
        }
        return value
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingCharacters() -> String {
        let bytes = utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        func blank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        while start < end, blank(bytes[start]) { start = bytes.index(after: start) }
        while end > start, blank(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        return String(Substring(bytes[start..<end]))
    }
}
