/// One GPU as `nvidia-smi --query-gpu` reports it. Fields the query did not ask for, or that
/// the driver reports as `[N/A]`, are nil.
public struct NvidiaGPU: Sendable, Hashable {
    public var index: Int?
    /// The product name, e.g. `NVIDIA H100 80GB HBM3`, `NVIDIA A100-SXM4-80GB`, `Tesla T4`.
    public var name: String
    /// `GPU-…`, stable across reboots (indices are not).
    public var uuid: String?
    /// `memory.total` in MiB (what the driver reports, a little under the nominal size).
    public var memoryMiB: Int?
    /// `pci.bus_id`, e.g. `00000000:18:00.0`.
    public var pciBusID: String?

    public init(index: Int? = nil, name: String, uuid: String? = nil, memoryMiB: Int? = nil, pciBusID: String? = nil) {
        self.index = index
        self.name = name
        self.uuid = uuid
        self.memoryMiB = memoryMiB
        self.pciBusID = pciBusID
    }
}

/// Parses the CSV that `nvidia-smi --query-gpu=… --format=csv,noheader,nounits` prints: one line
/// per GPU, fields in query order, separated by `", "`.
///
/// The agent asks for ``queryFields`` (`index,name,uuid,memory.total,pci.bus_id`): the name picks
/// the catalog class, memory guards against a smaller variant, and the UUID and bus id are the
/// evidence an operator can check against the machine. Recorded outputs with other field lists
/// parse with their own `fields`; fields the parser does not know are skipped.
///
/// Tolerated: `[N/A]`/`[Not Supported]` values (nil), spaces around values, blank lines, a header
/// line naming the fields (output made with `--format=csv`), and a trailing unit on
/// `memory.total` (`81559 MiB`, output made without `nounits`).
public enum NvidiaSMIParser {
    /// A `--query-gpu` field name.
    public struct Field: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }

        public static let index: Field = "index"
        public static let name: Field = "name"
        public static let uuid: Field = "uuid"
        public static let memoryTotal: Field = "memory.total"
        public static let pciBusID: Field = "pci.bus_id"
    }

    /// The fields the agent queries, in order.
    public static let queryFields: [Field] = [.index, .name, .uuid, .memoryTotal, .pciBusID]

    /// The arguments the agent passes to `nvidia-smi`.
    public static var arguments: [String] {
        ["--query-gpu=" + queryFields.map(\.rawValue).joined(separator: ","), "--format=csv,noheader,nounits"]
    }

    static let source = "nvidia-smi"
    private static let unavailable: Set<String> = ["[N/A]", "N/A", "[Not Supported]", "[Unknown Error]", "[Insufficient Permissions]"]

    public static func parse(_ text: String, fields: [Field] = queryFields) throws(DeviceDiscoveryError) -> [NvidiaGPU] {
        var gpus: [NvidiaGPU] = []
        var sawData = false
        for (number, line) in numberedLines(text) where !line.trimmed.isEmpty {
            let values = line.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmed)
            if !sawData, isHeader(values, fields: fields) { continue }
            sawData = true
            guard values.count == fields.count else {
                throw .malformedLine(
                    source: source, line: number, reason: "\(values.count) fields where the query has \(fields.count) (\(line.trimmed))")
            }
            var gpu = NvidiaGPU(name: "")
            for (field, raw) in zip(fields, values) {
                let value = unavailable.contains(raw) ? nil : raw
                switch field {
                case .index:
                    guard let value else { continue }
                    guard let index = Int(value), index >= 0 else {
                        throw .malformedLine(source: source, line: number, reason: "index \"\(value)\" is not a number")
                    }
                    gpu.index = index
                case .name:
                    gpu.name = value ?? ""
                case .uuid:
                    gpu.uuid = value
                case .memoryTotal:
                    guard let value else { continue }
                    let digits = value.hasSuffix(" MiB") ? String(value.dropLast(4)).trimmed : value
                    guard let mebibytes = Int(digits), mebibytes >= 0 else {
                        throw .malformedLine(source: source, line: number, reason: "memory.total \"\(value)\" is not a number of MiB")
                    }
                    gpu.memoryMiB = mebibytes
                case .pciBusID:
                    gpu.pciBusID = value
                default:
                    continue
                }
            }
            if fields.contains(.name), gpu.name.isEmpty {
                throw .malformedLine(source: source, line: number, reason: "the GPU has no name")
            }
            gpus.append(gpu)
        }
        return gpus
    }

    /// `index, name, memory.total [MiB]`: the header `--format=csv` prints without `noheader`.
    private static func isHeader(_ values: [String], fields: [Field]) -> Bool {
        guard values.count == fields.count else { return false }
        return zip(values, fields).allSatisfy { value, field in
            let bare = value.split(separator: " [", maxSplits: 1).first.map(String.init) ?? value
            return bare == field.rawValue
        }
    }
}
