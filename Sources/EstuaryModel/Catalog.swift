/// Published figures of one accelerator class, as `Agents/catalog.toml` lists them. Figures are
/// per unit: one GPU, NPU or DCU card, or one CPU core.
public struct AcceleratorSpec: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case gpu, npu, dcu, cpu
    }

    public var name: AcceleratorClass
    public var vendor: String
    public var model: String
    public var kind: Kind
    /// Made by a domestic (PRC) vendor: Huawei Ascend, Hygon, Kunpeng, Phytium …
    public var domestic: Bool
    /// Peak dense FP16 (or BF16) tensor TFLOPS without sparsity; for CPU classes, per core.
    public var fp16TFLOPS: Double
    public var fp32TFLOPS: Double
    public var fp64TFLOPS: Double
    /// Device memory per unit in GiB; 0 for CPU cores (host memory belongs to the node).
    public var memoryGiB: Double
    /// Board power per unit (TDP) in watts, for energy and carbon estimates.
    public var powerWatts: Int

    public init(
        name: AcceleratorClass, vendor: String, model: String, kind: Kind, domestic: Bool, fp16TFLOPS: Double,
        fp32TFLOPS: Double, fp64TFLOPS: Double, memoryGiB: Double, powerWatts: Int
    ) {
        self.name = name
        self.vendor = vendor
        self.model = model
        self.kind = kind
        self.domestic = domestic
        self.fp16TFLOPS = fp16TFLOPS
        self.fp32TFLOPS = fp32TFLOPS
        self.fp64TFLOPS = fp64TFLOPS
        self.memoryGiB = memoryGiB
        self.powerWatts = powerWatts
    }

    /// GPU, NPU and DCU classes are "intelligent compute" in the policy documents; CPU cores are not.
    public var isIntelligentCompute: Bool { kind != .cpu }

    enum CodingKeys: String, CodingKey {
        case name = "class"
        case vendor, model, kind, domestic
        case fp16TFLOPS = "fp16_tflops"
        case fp32TFLOPS = "fp32_tflops"
        case fp64TFLOPS = "fp64_tflops"
        case memoryGiB = "memory_gib"
        case powerWatts = "power_watts"
    }
}

/// Every class the mesh knows, by name. A pool of a class the catalog lacks can still run jobs
/// that name that class exactly, but it adds nothing to capacity roll-ups and never matches a
/// capability request.
public struct AcceleratorCatalog: Sendable, Hashable {
    public private(set) var classes: [AcceleratorClass: AcceleratorSpec]

    public init(_ specs: [AcceleratorSpec] = []) {
        classes = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
    }

    public subscript(_ name: AcceleratorClass) -> AcceleratorSpec? { classes[name] }

    /// Classes with at least the given per-unit FP16 TFLOPS and memory, sorted by name.
    public func matching(minFP16TFLOPS: Double?, minMemoryGiB: Double?) -> [AcceleratorClass] {
        classes.values.filter { spec in
            (minFP16TFLOPS.map { spec.fp16TFLOPS >= $0 } ?? true) && (minMemoryGiB.map { spec.memoryGiB >= $0 } ?? true)
        }.map(\.name).sorted()
    }
}
