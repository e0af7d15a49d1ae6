import EstuaryConfig
import EstuaryModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where discovery looks. Defaults are the tools on `PATH` and the kernel's cpuinfo.
public struct DeviceDiscoveryOptions: Sendable {
    public var nvidiaSMI = "nvidia-smi"
    public var npuSMI = "npu-smi"
    /// nil skips lscpu (cores are then counted from cpuinfo).
    public var lscpu: String? = "lscpu"
    public var cpuinfoPath = "/proc/cpuinfo"
    /// How long one tool may run; a tool still running then is killed (with its process group).
    public var timeout: Duration = .seconds(15)
    public var catalog: AcceleratorCatalog = .builtin

    public init() {}

    /// Classifies against the catalog at `path` instead of the built-in one.
    public mutating func useCatalog(path: String) throws(CatalogError) {
        catalog = try AcceleratorCatalog.load(path: path)
    }
}

/// Something an operator should see: a source that exists but gave nothing usable.
public enum DiscoveryWarning: Sendable, Hashable, CustomStringConvertible {
    case toolFailed(tool: String, status: String, output: String)
    case toolTimedOut(tool: String, after: Duration)
    case unparsable(tool: String, DeviceDiscoveryError)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .toolFailed(let tool, let status, let output):
            "\(tool) \(status)\(output.isEmpty ? "" : ": \(output)"); no pool from it"
        case .toolTimedOut(let tool, let after):
            "\(tool) did not finish within \(after) and was killed; no pool from it"
        case .unparsable(let tool, let error):
            "\(tool): \(error); no pool from it"
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason); no pool from it"
        }
    }
}

/// What each source gave.
public enum DiscoverySourceOutcome: Sendable, Hashable, CustomStringConvertible {
    /// The tool ran and its output was read: `devices` GPUs, NPU chips or CPU cores (lscpu), or
    /// logical CPUs (cpuinfo); possibly none.
    case read(devices: Int)
    /// The tool is not installed (not on PATH, or the given path does not exist).
    case notFound
    /// The tool or file exists but gave nothing usable; see the warnings.
    case failed

    public var description: String {
        switch self {
        case .read(let devices): "read, \(devices) found"
        case .notFound: "not found"
        case .failed: "failed"
        }
    }
}

/// One source and what it gave.
public struct DiscoverySource: Sendable, Hashable {
    /// `nvidia-smi`, `npu-smi`, `lscpu` or the cpuinfo path.
    public var name: String
    public var outcome: DiscoverySourceOutcome
}

/// The outcome of one discovery run.
public struct DeviceDiscoveryReport: Sendable {
    public var result: DiscoveryResult
    /// Every source in a fixed order: nvidia-smi, npu-smi, lscpu (unless skipped), cpuinfo.
    public var sources: [DiscoverySource]
    public var warnings: [DiscoveryWarning]
}

/// Runs the vendor tools, reads cpuinfo, and classifies what they report (issue #6).
///
/// Never throws and never hangs: a missing tool contributes no pool; a tool that fails, prints
/// something unreadable or outlives `timeout` contributes no pool and a warning.
public enum DeviceDiscovery {
    public static func run(_ options: DeviceDiscoveryOptions = DeviceDiscoveryOptions()) async -> DeviceDiscoveryReport {
        async let nvidia = ToolRunner.run([options.nvidiaSMI] + NvidiaSMIParser.arguments, timeout: options.timeout)
        async let npu = ToolRunner.run([options.npuSMI, "info"], timeout: options.timeout)
        async let lscpu = ToolRunner.runIfGiven(options.lscpu, timeout: options.timeout)
        let outputs = (nvidia: await nvidia, npu: await npu, lscpu: await lscpu)

        var inventory = DeviceInventory()
        var sources: [DiscoverySource] = []
        var warnings: [DiscoveryWarning] = []

        /// The tool's output, or nil with its outcome recorded.
        func text(_ name: String, _ output: ToolOutput) -> String? {
            switch output {
            case .output(let text):
                return text
            case .notFound:
                sources.append(DiscoverySource(name: name, outcome: .notFound))
            case .failed(let status, let text):
                sources.append(DiscoverySource(name: name, outcome: .failed))
                warnings.append(.toolFailed(tool: name, status: status, output: text))
            case .timedOut(let after):
                sources.append(DiscoverySource(name: name, outcome: .failed))
                warnings.append(.toolTimedOut(tool: name, after: after))
            }
            return nil
        }
        /// The parsed output, or nil with a warning.
        func parsed<T>(_ name: String, devices: (T) -> Int, _ parse: () throws(DeviceDiscoveryError) -> T) -> T? {
            do throws(DeviceDiscoveryError) {
                let value = try parse()
                sources.append(DiscoverySource(name: name, outcome: .read(devices: devices(value))))
                return value
            } catch {
                sources.append(DiscoverySource(name: name, outcome: .failed))
                warnings.append(.unparsable(tool: name, error))
                return nil
            }
        }

        if let output = text("nvidia-smi", outputs.nvidia) {
            inventory.nvidiaGPUs =
                parsed("nvidia-smi", devices: { $0.count }) { () throws(DeviceDiscoveryError) in try NvidiaSMIParser.parse(output) } ?? []
        }
        if let output = text("npu-smi", outputs.npu) {
            inventory.ascendChips =
                parsed("npu-smi", devices: { $0.count }) { () throws(DeviceDiscoveryError) in try NPUSMIParser.parse(output) } ?? []
        }
        if let lscpuOutput = outputs.lscpu, let output = text("lscpu", lscpuOutput) {
            inventory.lscpu = parsed("lscpu", devices: { $0.physicalCores ?? 0 }) { () throws(DeviceDiscoveryError) in
                try LscpuParser.parse(output)
            }
        }
        let cpuinfoPath = options.cpuinfoPath
        if let output = try? String(contentsOfFile: cpuinfoPath, encoding: .utf8) {
            inventory.cpuinfo = parsed(cpuinfoPath, devices: { $0.logicalProcessors }) { () throws(DeviceDiscoveryError) in
                try CPUInfoParser.parse(output)
            }
        } else if FileManager.default.fileExists(atPath: cpuinfoPath) {
            sources.append(DiscoverySource(name: cpuinfoPath, outcome: .failed))
            warnings.append(.unreadable(path: cpuinfoPath, reason: "not readable as UTF-8 text"))
        } else {
            sources.append(DiscoverySource(name: cpuinfoPath, outcome: .notFound))
        }

        let result = DeviceClassifier.classify(inventory, catalog: options.catalog)
        return DeviceDiscoveryReport(result: result, sources: sources, warnings: warnings)
    }
}

/// What running a tool gave.
enum ToolOutput: Sendable, Hashable {
    case output(String)
    case notFound
    /// Non-zero exit or killed by a signal; the first line of its stderr (or stdout).
    case failed(status: String, output: String)
    case timedOut(Duration)
}

/// Runs one tool to completion or timeout (``CommandRunner``: its own process group, killed
/// with everything it started when it overruns) and reads the outcome as discovery needs it.
enum ToolRunner {
    static func runIfGiven(_ program: String?, timeout: Duration) async -> ToolOutput? {
        guard let program else { return nil }
        return await run([program], timeout: timeout)
    }

    static func run(_ arguments: [String], timeout: Duration) async -> ToolOutput {
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"  // lscpu's keys are translated otherwise
        let result: CommandResult
        do {
            result = try await CommandRunner.run(arguments, environment: environment, timeout: timeout)
        } catch {
            if error.errno == ENOENT || error.errno == ENOTDIR { return .notFound }
            return .failed(status: "could not be started", output: error.reason)
        }
        switch result.ending {
        case .exited(0): return .output(result.stdout)
        case .timedOut(let limit): return .timedOut(limit)
        default: return .failed(status: "\(result.ending)", output: String(result.firstErrorLine.prefix(300)))
        }
    }
}
