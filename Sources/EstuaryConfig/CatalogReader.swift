import EstuaryModel
import TOMLKit

extension AcceleratorCatalog {
    /// The catalog compiled into the binaries: `Agents/catalog.toml` as of the build (see
    /// ``BuiltinCatalog``). A test keeps the two identical and checks that it parses.
    public static let builtin: AcceleratorCatalog = (try? parse(BuiltinCatalog.text)) ?? AcceleratorCatalog()

    /// Parses and validates a catalog (`[[class]]` tables; the format is described at the top of
    /// `Agents/catalog.toml`).
    /// - Throws: ``CatalogError/syntax(line:column:message:)`` for malformed TOML, otherwise
    ///   ``CatalogError/invalid(_:)`` with every problem found.
    public static func parse(_ text: String) throws(CatalogError) -> AcceleratorCatalog {
        AcceleratorCatalog(try CatalogReader.parse(text))
    }

    /// Reads and parses the catalog at `path`.
    public static func load(path: String) throws(CatalogError) -> AcceleratorCatalog {
        AcceleratorCatalog(try CatalogReader.load(path: path))
    }
}

/// One pass over a parsed catalog that collects every problem.
struct CatalogReader: TOMLDocumentReader {
    typealias Kind = CatalogFile
    var problems: [FieldError] = []

    private static let classKeys: Set<String> = [
        "class", "vendor", "model", "kind", "domestic", "fp16_tflops", "fp32_tflops", "fp64_tflops", "memory_gib",
        "power_watts",
    ]
    /// Far above any part made (a B200 is ~2,250 dense FP16 TFLOPS): a larger figure is a unit
    /// mistake (GFLOPS for TFLOPS).
    private static let maxTFLOPS = 100_000.0
    private static let maxMemoryGiB = 100_000.0

    mutating func read(_ root: TOMLTable) -> [AcceleratorSpec] {
        rejectUnknown(root, allowed: ["class"], prefix: "")
        let tables = tableArray(root, "class")
        if root["class"] == nil || tables.isEmpty && problems.isEmpty {
            problem("class", "the catalog lists no classes; add [[class]] tables")
        }
        var specs: [AcceleratorSpec] = []
        var seen: [AcceleratorClass: String] = [:]
        for (path, table) in tables {
            rejectUnknown(table, allowed: Self.classKeys, prefix: path + ".")
            var spec = AcceleratorSpec(
                name: "", vendor: "", model: "", kind: .gpu, domestic: false, fp16TFLOPS: 0, fp32TFLOPS: 0,
                fp64TFLOPS: 0, memoryGiB: 0, powerWatts: 0)
            if let name = string(table, "class", path: path + ".class", required: true) {
                spec.name = AcceleratorClass(rawValue: name)
                if !spec.name.isWellFormedClassName {
                    problem(path + ".class", "must be lower-case letters, digits and '-', starting with a letter (≤ 64), e.g. \"ascend-910b\"")
                } else if let first = seen[spec.name] {
                    problem(path + ".class", "\"\(name)\" is already listed by \(first)")
                } else {
                    seen[spec.name] = path
                }
            }
            for (key, keyPath) in [("vendor", \AcceleratorSpec.vendor), ("model", \AcceleratorSpec.model)] {
                if let text = string(table, key, path: "\(path).\(key)", required: true) {
                    if text.isEmpty { problem("\(path).\(key)", "must not be empty") }
                    spec[keyPath: keyPath] = text
                }
            }
            if let kind = string(table, "kind", path: path + ".kind", required: true) {
                if let parsed = AcceleratorSpec.Kind(rawValue: kind) {
                    spec.kind = parsed
                } else {
                    problem(path + ".kind", "must be one of \(AcceleratorSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            spec.domestic = bool(table, "domestic", path: path + ".domestic", required: true) ?? false
            spec.fp16TFLOPS = figure(table, "fp16_tflops", path: path, limit: Self.maxTFLOPS)
            spec.fp32TFLOPS = figure(table, "fp32_tflops", path: path, limit: Self.maxTFLOPS)
            spec.fp64TFLOPS = figure(table, "fp64_tflops", path: path, limit: Self.maxTFLOPS)
            spec.memoryGiB = figure(table, "memory_gib", path: path, limit: Self.maxMemoryGiB)
            if let watts = integer(table, "power_watts", path: path + ".power_watts", required: true) {
                if !(0...100_000).contains(watts) {
                    problem(path + ".power_watts", "must be between 0 and 100000 watts")
                } else {
                    spec.powerWatts = watts
                }
            }
            specs.append(spec)
        }
        return specs
    }

    /// A required non-negative figure; 0 means "not published".
    private mutating func figure(_ table: TOMLTable, _ key: String, path: String, limit: Double) -> Double {
        guard let value = number(table, key, path: "\(path).\(key)", required: true) else { return 0 }
        guard value >= 0, value <= limit else {
            problem("\(path).\(key)", "must be between 0 and \(Int(limit)) (0 when no figure is published)")
            return 0
        }
        return value
    }
}
