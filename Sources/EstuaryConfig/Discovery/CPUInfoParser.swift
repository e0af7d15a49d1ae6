/// What `/proc/cpuinfo` says about the processors.
public struct CPUInfo: Sendable, Hashable {
    /// Number of `processor` entries (logical CPUs the kernel brought online).
    public var logicalProcessors: Int
    /// x86 `vendor_id`: `GenuineIntel`, `AuthenticAMD`, `HygonGenuine`, …; nil on Arm.
    public var vendorID: String?
    /// x86 `model name` of the first processor.
    public var modelName: String?
    /// Arm `CPU implementer` and `CPU part` of the first processor, e.g. `0x48` and `0xd01`.
    public var armImplementer: String?
    public var armPart: String?
    /// Distinct (`physical id`, `core id`) pairs: physical cores, not hyperthreads. Nil when the
    /// file has no topology fields (Arm kernels do not print them).
    public var physicalCores: Int?
    /// Distinct `physical id`s; nil without topology fields.
    public var sockets: Int?

    public init(
        logicalProcessors: Int, vendorID: String? = nil, modelName: String? = nil, armImplementer: String? = nil,
        armPart: String? = nil, physicalCores: Int? = nil, sockets: Int? = nil
    ) {
        self.logicalProcessors = logicalProcessors
        self.vendorID = vendorID
        self.modelName = modelName
        self.armImplementer = armImplementer
        self.armPart = armPart
        self.physicalCores = physicalCores
        self.sockets = sockets
    }
}

/// Parses `/proc/cpuinfo`: blank-line separated blocks of `key<TAB>: value` lines, one block per
/// logical processor (Arm kernels may add a leading `Processor : AArch64 …` line or a trailing
/// `Hardware` block; blocks without a `processor` key are not processors).
public enum CPUInfoParser {
    static let source = "/proc/cpuinfo"

    public static func parse(_ text: String) throws(DeviceDiscoveryError) -> CPUInfo {
        var blocks: [[String: String]] = []
        var current: [String: String] = [:]
        for (number, line) in numberedLines(text) {
            if line.trimmed.isEmpty {
                if !current.isEmpty { blocks.append(current) }
                current = [:]
                continue
            }
            guard let colon = line.firstIndex(of: ":") else {
                throw .malformedLine(source: source, line: number, reason: "no \"key : value\" in \"\(line.trimmed)\"")
            }
            let key = line[..<colon].trimmed
            let value = line[line.index(after: colon)...].trimmed
            if key == "processor", Int(value) == nil {
                throw .malformedLine(source: source, line: number, reason: "processor number \"\(value)\" is not a number")
            }
            current[key] = value
        }
        if !current.isEmpty { blocks.append(current) }

        let processors = blocks.filter { $0["processor"] != nil }
        guard let first = processors.first else {
            throw .unrecognisedOutput(source: source, reason: "no \"processor\" entries")
        }
        var info = CPUInfo(
            logicalProcessors: processors.count, vendorID: first["vendor_id"], modelName: first["model name"],
            armImplementer: first["CPU implementer"], armPart: first["CPU part"]
        )
        let topology = processors.compactMap { block -> (String, String)? in
            guard let socket = block["physical id"], let core = block["core id"] else { return nil }
            return (socket, core)
        }
        if topology.count == processors.count {
            info.physicalCores = Set(topology.map { "\($0.0)/\($0.1)" }).count
            info.sockets = Set(topology.map(\.0)).count
        }
        return info
    }
}
