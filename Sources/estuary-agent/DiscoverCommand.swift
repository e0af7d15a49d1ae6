import ArgumentParser
import EstuaryAgent
import EstuaryConfig
import Foundation

/// `estuary-agent discover`: what devices this machine has, as catalog-class pools.
struct DiscoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "Find GPUs (nvidia-smi), Ascend NPUs (npu-smi) and CPU cores (lscpu, /proc/cpuinfo) and print them as pools.",
        discussion: """
            A tool that is not installed contributes no pool. Warnings (a tool that failed, timed out or \
            printed something unreadable) go to stderr. Exits 0 even when nothing was found.
            """
    )

    @Flag(help: "Print ready-to-paste [[pools]] tables for a site profile.") var toml = false
    @Option(help: "The nvidia-smi to run.") var nvidiaSmi = "nvidia-smi"
    @Option(help: "The npu-smi to run.") var npuSmi = "npu-smi"
    @Option(help: "The lscpu to run.") var lscpu = "lscpu"
    @Option(help: "The cpuinfo file to read.") var cpuinfo = "/proc/cpuinfo"
    @Option(help: "Seconds each tool may run before it is killed.") var timeout = 15
    @Option(help: "An accelerator catalog (TOML) to classify against instead of the built-in one.") var catalog: String?

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be at least 1 second") }
    }

    func run() async throws {
        var options = DeviceDiscoveryOptions()
        options.nvidiaSMI = nvidiaSmi
        options.npuSMI = npuSmi
        options.lscpu = lscpu
        options.cpuinfoPath = cpuinfo
        options.timeout = .seconds(timeout)
        if let catalog {
            do {
                try options.useCatalog(path: catalog)
            } catch {
                printError("estuary-agent discover: \(catalog): \(error)")
                throw ExitCode(4)
            }
        }
        let report = await DeviceDiscovery.run(options)
        for warning in report.warnings { printError("warning: \(warning)") }

        let result = report.result
        if toml {
            print(result.pools.isEmpty ? "# no devices of a catalog class found" : result.poolsTOML(), terminator: "")
            for device in result.leftOut { print("# left out: \(device)") }
            return
        }
        print("Sources:")
        for source in report.sources { print("  \(source.name): \(source.outcome)") }
        print(result.pools.isEmpty ? "Pools: none" : "Pools:")
        for pool in result.pools {
            print("  \(pool.acceleratorClass) × \(pool.count)  (\(pool.source))")
            for line in pool.evidence { print("    \(line)") }
        }
        if !result.leftOut.isEmpty {
            print("Left out:")
            for device in result.leftOut { print("  \(device.evidence): \(device.reason)") }
        }
    }
}
