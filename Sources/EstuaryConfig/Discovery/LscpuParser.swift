/// What plain `lscpu` output says about the processors.
public struct LscpuInfo: Sendable, Hashable {
    /// `x86_64`, `aarch64`, …
    public var architecture: String?
    /// `GenuineIntel`, `AuthenticAMD`, `HygonGenuine`, `HiSilicon`, `ARM`, `Phytium`, …
    public var vendorID: String?
    /// The first `Model name` (hybrid Arm parts list one per core type).
    public var modelName: String?
    /// `CPU(s)`: logical CPUs.
    public var logicalCPUs: Int?
    /// The first `Thread(s) per core`.
    public var threadsPerCore: Int?
    /// The first `Socket(s)`.
    public var sockets: Int?
    /// Cores summed over every core type: `Core(s) per socket` × `Socket(s)` (or per cluster ×
    /// `Cluster(s)`). Nil when lscpu printed no core counts.
    public var physicalCores: Int?

    public init(
        architecture: String? = nil, vendorID: String? = nil, modelName: String? = nil, logicalCPUs: Int? = nil,
        threadsPerCore: Int? = nil, sockets: Int? = nil, physicalCores: Int? = nil
    ) {
        self.architecture = architecture
        self.vendorID = vendorID
        self.modelName = modelName
        self.logicalCPUs = logicalCPUs
        self.threadsPerCore = threadsPerCore
        self.sockets = sockets
        self.physicalCores = physicalCores
    }
}

/// Parses plain `lscpu` output (run with `LC_ALL=C`): `Key: value` lines, flat (util-linux
/// < 2.37) or indented into sections (2.37+, where a part with several core types has one
/// `Model name` section per type). Continuation lines of a wrapped `Flags` value have no colon
/// and are skipped. `lscpu -J` is not read: the plain form is what every version prints.
public enum LscpuParser {
    static let source = "lscpu"

    public static func parse(_ text: String) throws(DeviceDiscoveryError) -> LscpuInfo {
        var entries: [(key: String, value: String)] = []
        for (number, line) in numberedLines(text) where !line.trimmed.isEmpty {
            guard let colon = line.firstIndex(of: ":") else {
                // A wrapped Flags value continues on indented lines without a colon.
                if line.first == " " || line.first == "\t" { continue }
                throw .malformedLine(source: source, line: number, reason: "no \"Key: value\" in \"\(line.trimmed)\"")
            }
            entries.append((line[..<colon].trimmed, line[line.index(after: colon)...].trimmed))
        }
        guard !entries.isEmpty else { throw .unrecognisedOutput(source: source, reason: "no \"Key: value\" lines") }
        func first(_ key: String) -> String? { entries.first { $0.key == key }?.value }
        func number(_ value: String?) -> Int? { value.flatMap { Int($0) } }

        var info = LscpuInfo(
            architecture: first("Architecture"), vendorID: first("Vendor ID"), modelName: first("Model name"),
            logicalCPUs: number(first("CPU(s)")), threadsPerCore: number(first("Thread(s) per core")),
            sockets: number(first("Socket(s)"))
        )
        // One section per `Model name` when there are several; otherwise the whole output (the
        // flat layout prints the counts before the model name).
        let modelIndices = entries.indices.filter { entries[$0].key == "Model name" }
        let sections: [ArraySlice<(key: String, value: String)>] =
            modelIndices.count <= 1
            ? [entries[...]]
            : modelIndices.enumerated().map { offset, start in
                entries[start..<(offset + 1 < modelIndices.count ? modelIndices[offset + 1] : entries.count)]
            }
        var total = 0
        var counted = false
        for section in sections {
            func value(_ key: String) -> Int? { number(section.first { $0.key == key }?.value) }
            let sockets = value("Socket(s)") ?? info.sockets
            if let perSocket = value("Core(s) per socket"), let sockets {
                total += perSocket * sockets
                counted = true
            } else if let perCluster = value("Core(s) per cluster"), let clusters = value("Cluster(s)") ?? sockets {
                total += perCluster * clusters
                counted = true
            }
        }
        info.physicalCores = counted ? total : nil
        return info
    }
}
