import EstuaryModel

/// Everything the discovery tools reported, before classification.
public struct DeviceInventory: Sendable, Hashable {
    public var nvidiaGPUs: [NvidiaGPU]
    public var ascendChips: [AscendChip]
    public var cpuinfo: CPUInfo?
    public var lscpu: LscpuInfo?

    public init(nvidiaGPUs: [NvidiaGPU] = [], ascendChips: [AscendChip] = [], cpuinfo: CPUInfo? = nil, lscpu: LscpuInfo? = nil) {
        self.nvidiaGPUs = nvidiaGPUs
        self.ascendChips = ascendChips
        self.cpuinfo = cpuinfo
        self.lscpu = lscpu
    }
}

/// Devices of one catalog class found on this machine: a `[[pools]]` entry of a site profile.
public struct DiscoveredPool: Sendable, Hashable {
    public var acceleratorClass: AcceleratorClass
    /// GPUs, NPU chips, or physical CPU cores.
    public var count: Int
    /// The tool or file the devices came from (`nvidia-smi`, `npu-smi info`, `lscpu`, `/proc/cpuinfo`).
    public var source: String
    /// One line per device (per CPU description for CPU pools) an operator can check.
    public var evidence: [String]
}

/// A device that was found but is in no pool, and why.
public struct LeftOutDevice: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        /// No catalog class describes this model: it is reported, not guessed.
        case unrecognisedModel
        /// The rules map the model to a class the catalog in use does not have.
        case classNotInCatalog(AcceleratorClass)
        /// The model names a class, but the device has clearly less memory than the class
        /// states, so a job asking for that much memory must not land on it.
        case lessMemoryThanClass(AcceleratorClass, memoryMiB: Int, classGiB: Double)
        /// The management tool reports the device as not healthy.
        case unhealthy(String)

        public var description: String {
            switch self {
            case .unrecognisedModel: "in no catalog class"
            case .classNotInCatalog(let cls): "would be \(cls), which the catalog does not list"
            case .lessMemoryThanClass(let cls, let memory, let gib):
                "\(memory) MiB is less than the \(gib.asFigure) GB of \(cls)"
            case .unhealthy(let health): "health is \(health)"
            }
        }
    }

    public var source: String
    public var model: String
    public var evidence: String
    public var reason: Reason

    public var description: String { "\(evidence): \(reason) (\(source))" }
}

/// The pools found and the devices left out.
public struct DiscoveryResult: Sendable, Hashable {
    public var pools: [DiscoveredPool]
    public var leftOut: [LeftOutDevice]

    /// Devices whose model is in no catalog class.
    public var unrecognised: [LeftOutDevice] {
        leftOut.filter {
            switch $0.reason {
            case .unrecognisedModel, .classNotInCatalog: true
            case .lessMemoryThanClass, .unhealthy: false
            }
        }
    }

    /// `[[pools]]` tables ready to paste into a site profile. The `process` driver (the only one
    /// so far) runs real CPU cores but only simulated accelerators, so accelerator pools carry a
    /// comment saying so.
    public func poolsTOML() -> String {
        pools.map { pool in
            let note =
                pool.acceleratorClass.rawValue.hasPrefix("cpu-")
                ? "" : "# real accelerators need a site driver other than \"process\" (it accepts them only as simulated = true)\n"
            return """
            # \(pool.count) found by \(pool.source)
            \(note)[[pools]]
            class = "\(pool.acceleratorClass.rawValue)"
            count = \(pool.count)
            simulated = false

            """
        }.joined(separator: "\n")
    }
}

/// Maps discovered devices to catalog classes.
///
/// The rules match the product names the vendor tools print. A name maps to a class only when it
/// is the part the catalog's figures describe, or a variant with the same published peak figures
/// and memory (A100 80GB PCIe for `nvidia-a100`); variants with lower figures (H100 PCIe/NVL,
/// V100 PCIe) or less memory (A100 40GB) are reported as unrecognised rather than overstated.
/// A device whose reported memory is below 90% of its class's nominal memory is left out too
/// (a 910B4 with 32 GB HBM is not an `ascend-910b` of 64 GB).
///
/// CPU pools count physical cores, not hyperthreads: the catalog rates CPUs per core, and two
/// hyperthreads share one core's FMA units, so counting logical CPUs would double the capacity.
public enum DeviceClassifier {
    /// Memory may read up to this much below the class's nominal "GB" (ECC and firmware
    /// reservations: an L40S of 48 GB reports 46068 MiB).
    static let memoryTolerance = 0.9

    public static func classify(_ inventory: DeviceInventory, catalog: AcceleratorCatalog = .builtin) -> DiscoveryResult {
        var pools: [AcceleratorClass: DiscoveredPool] = [:]
        var leftOut: [LeftOutDevice] = []

        func place(_ cls: AcceleratorClass?, source: String, model: String, evidence: String, memoryMiB: Int?) {
            guard let cls else {
                leftOut.append(LeftOutDevice(source: source, model: model, evidence: evidence, reason: .unrecognisedModel))
                return
            }
            guard let spec = catalog[cls] else {
                leftOut.append(LeftOutDevice(source: source, model: model, evidence: evidence, reason: .classNotInCatalog(cls)))
                return
            }
            if let memoryMiB, spec.memoryGiB > 0, Double(memoryMiB) < spec.memoryGiB * 1024 * memoryTolerance {
                leftOut.append(
                    LeftOutDevice(
                        source: source, model: model, evidence: evidence,
                        reason: .lessMemoryThanClass(cls, memoryMiB: memoryMiB, classGiB: spec.memoryGiB)))
                return
            }
            pools[cls, default: DiscoveredPool(acceleratorClass: cls, count: 0, source: source, evidence: [])].count += 1
            pools[cls]?.evidence.append(evidence)
        }

        for gpu in inventory.nvidiaGPUs {
            place(
                nvidiaClass(forName: gpu.name), source: NvidiaSMIParser.source, model: gpu.name, evidence: gpu.evidence,
                memoryMiB: gpu.memoryMiB)
        }
        for chip in inventory.ascendChips {
            guard chip.health == "OK" else {
                leftOut.append(
                    LeftOutDevice(source: NPUSMIParser.source, model: chip.name, evidence: chip.evidence, reason: .unhealthy(chip.health)))
                continue
            }
            place(
                ascendClass(forName: chip.name), source: NPUSMIParser.source, model: chip.name, evidence: chip.evidence,
                memoryMiB: chip.memoryMB)
        }
        if let cpu = cpuPool(inventory) {
            if let cls = cpu.cls, catalog[cls] != nil {
                pools[cls] = DiscoveredPool(acceleratorClass: cls, count: cpu.cores, source: cpu.source, evidence: [cpu.evidence])
            } else {
                let reason: LeftOutDevice.Reason = cpu.cls.map { .classNotInCatalog($0) } ?? .unrecognisedModel
                leftOut.append(LeftOutDevice(source: cpu.source, model: cpu.model, evidence: cpu.evidence, reason: reason))
            }
        }
        return DiscoveryResult(pools: pools.values.sorted { $0.acceleratorClass.rawValue < $1.acceleratorClass.rawValue }, leftOut: leftOut)
    }

    // MARK: NVIDIA

    /// The class of an NVIDIA product name, or nil when no catalog class describes the part.
    public static func nvidiaClass(forName name: String) -> AcceleratorClass? {
        var tokens = name.uppercased().map { $0 == "-" || $0 == "_" ? " " : $0 }.split(separator: " ").map { String($0) }
        tokens.removeAll { $0 == "NVIDIA" || $0 == "TESLA" }
        guard let family = tokens.first else { return nil }
        let rest = Set(tokens.dropFirst())
        if rest.contains("MIG") { return nil }  // a MIG slice is not a whole GPU
        let sizes = rest.filter { $0.hasSuffix("GB") && Int($0.dropLast(2)) != nil }
        let pcie = rest.contains("PCIE")
        let nvl = rest.contains("NVL")
        let words = rest.subtracting(sizes)
        switch family {
        case "H100":
            return !pcie && !nvl && sizes.isSubset(of: ["80GB"]) ? "nvidia-h100" : nil
        case "H800":
            return !pcie && !nvl && sizes.isSubset(of: ["80GB"]) ? "nvidia-h800" : nil
        case "H20":
            return words.isSubset(of: ["HBM3"]) ? "nvidia-h20" : nil
        case "A100":
            return sizes == ["80GB"] && words.isSubset(of: ["SXM4", "PCIE"]) ? "nvidia-a100" : nil
        case "A800":
            return sizes == ["80GB"] && words.isSubset(of: ["SXM4", "PCIE"]) ? "nvidia-a800" : nil
        case "L40S":
            return rest.isEmpty ? "nvidia-l40s" : nil
        case "A10":
            return rest.isEmpty ? "nvidia-a10" : nil
        case "V100":
            guard words == ["SXM2"] else { return nil }
            return sizes == ["16GB"] ? "nvidia-v100-16g" : sizes == ["32GB"] ? "nvidia-v100-32g" : nil
        case "T4":
            return rest.isEmpty ? "nvidia-t4" : nil
        case "P100":
            return words == ["PCIE"] && sizes == ["16GB"] ? "nvidia-p100" : nil
        default:
            return nil
        }
    }

    // MARK: Ascend

    /// The class of an `npu-smi` chip name, or nil when no catalog class describes the part.
    ///
    /// `910B1`…`910B4` (with suffixes such as `910B4-1`, `910B2C`) are the 910B generation. The
    /// first-generation Ascend 910 bins print `910A`, `910ProA`, `910ProB`, `910PremiumA`. A bare
    /// `910B` could be either and is left unrecognised; `Ascend910` (Atlas A3, two dies per
    /// NPU) and inference parts (`310P3`) have no class.
    public static func ascendClass(forName name: String) -> AcceleratorClass? {
        let upper = name.uppercased()
        if upper.hasPrefix("910B"), let digit = upper.dropFirst(4).first, ("1"..."4").contains(digit) {
            return "ascend-910b"
        }
        if ["910", "910A", "910PROA", "910PROB", "910PREMIUMA"].contains(upper) { return "ascend-910" }
        return nil
    }

    // MARK: CPU

    private struct CPUFinding {
        var cls: AcceleratorClass?
        var cores: Int
        var source: String
        var model: String
        var evidence: String
    }

    /// HiSilicon's Arm implementer code and the TaiShan v110 core of the Kunpeng 920.
    static let hisiliconImplementer = "0x48"
    static let kunpeng920Part = "0xd01"

    private static func cpuPool(_ inventory: DeviceInventory) -> CPUFinding? {
        let lscpu = inventory.lscpu
        let cpuinfo = inventory.cpuinfo
        guard lscpu != nil || cpuinfo != nil else { return nil }
        let architecture = lscpu?.architecture ?? (cpuinfo?.vendorID != nil ? "x86_64" : cpuinfo?.armImplementer != nil ? "aarch64" : nil)
        let vendor = lscpu?.vendorID ?? cpuinfo?.vendorID
        let model = lscpu?.modelName ?? cpuinfo?.modelName

        let cls: AcceleratorClass?
        switch architecture {
        case "x86_64":
            cls = "cpu-x86-64"
        case "aarch64":
            let kunpengByID = cpuinfo?.armImplementer == hisiliconImplementer && cpuinfo?.armPart == kunpeng920Part
            let kunpengByName = vendor == "HiSilicon" && ["Kunpeng-920", "Kunpeng 920", "TaiShan-v110", "tsv110"].contains(model ?? "")
            cls = kunpengByID || kunpengByName ? "cpu-kunpeng-920" : nil
        default:
            cls = nil
        }

        // Physical cores: lscpu's per-socket counts, else cpuinfo's (physical id, core id) pairs,
        // else (Arm cpuinfo, no topology) one core per logical CPU, which holds for the Kunpeng
        // 920 (no SMT) but is stated in the evidence.
        let cores: Int
        let source: String
        var detail: String
        if let counted = lscpu?.physicalCores {
            cores = counted
            source = LscpuParser.source
            detail = "\(counted) cores"
            if let sockets = lscpu?.sockets { detail += " in \(sockets) socket\(sockets == 1 ? "" : "s")" }
            if let logical = lscpu?.logicalCPUs { detail += ", \(logical) logical CPUs" }
        } else if let cpuinfo, let counted = cpuinfo.physicalCores {
            cores = counted
            source = CPUInfoParser.source
            detail = "\(counted) cores"
            if let sockets = cpuinfo.sockets { detail += " in \(sockets) socket\(sockets == 1 ? "" : "s")" }
            detail += ", \(cpuinfo.logicalProcessors) logical CPUs"
        } else if let cpuinfo {
            cores = cpuinfo.logicalProcessors
            source = CPUInfoParser.source
            detail = "\(cores) logical CPUs, no topology in cpuinfo: counted as one core each"
        } else {
            return nil
        }
        var name = [vendor, model].compactMap { $0 }.joined(separator: " ")
        if let implementer = cpuinfo?.armImplementer, let part = cpuinfo?.armPart {
            name += (name.isEmpty ? "" : " ") + "(implementer \(implementer), part \(part))"
        }
        if name.isEmpty { name = architecture ?? "unknown architecture" }
        return CPUFinding(cls: cls, cores: cores, source: source, model: name, evidence: "\(architecture ?? "?") \(name): \(detail)")
    }
}

extension NvidiaGPU {
    var evidence: String {
        let details = [uuid, pciBusID, memoryMiB.map { "\($0) MiB" }].compactMap { $0 }
        return (index.map { "GPU \($0) " } ?? "GPU ") + name + (details.isEmpty ? "" : " (\(details.joined(separator: ", ")))")
    }
}

extension AscendChip {
    var evidence: String {
        let details = [busID, memoryMB.map { "\($0) MB" }].compactMap { $0 }
        return "NPU \(npuID) chip \(chipID) \(name)" + (details.isEmpty ? "" : " (\(details.joined(separator: ", ")))")
    }
}

extension Double {
    /// `80` for 80.0, `1.5` otherwise.
    fileprivate var asFigure: String { rounded() == self ? String(Int(self)) : String(self) }
}
