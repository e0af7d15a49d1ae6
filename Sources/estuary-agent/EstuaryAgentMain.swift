import ArgumentParser
import EstuaryAgent
import EstuaryConfig
import Foundation
import Logging
import ServiceLifecycle

@main
enum EstuaryAgentMain {
    static func main() async {
        // `estuary-agent shim` must block its signals before any other thread runs, and never
        // needs the async runtime's threads, so it is dispatched before the async command tree.
        if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "shim" {
            ShimRunner.blockSignals()
            ShimCommand.main(Array(CommandLine.arguments.dropFirst(2)))
        } else {
            await AgentCommand.main()
        }
    }
}

@available(macOS 15, *)
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estuary-agent",
        abstract: "The Estuary site agent: dials its coordinator, reports capacity and runs jobs.",
        subcommands: [RunCommand.self, CheckCommand.self, DiscoverCommand.self, ShimCommand.self]
    )
}

/// Exit codes documented in Agents/README.md.
enum AgentExit {
    static let noTrustAnchor = ExitCode(3)
    static let invalidProfile = ExitCode(4)
    static let noCredentials = ExitCode(5)
    static let slurmUnavailable = ExitCode(6)
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the agent until SIGTERM or SIGINT.")

    @Option(help: "Site profile (TOML).") var profile: String
    @Option(help: "Coordinator HOST:PORT, overriding the profile (env ESTUARY_COORDINATOR).") var coordinator: String?
    @Option(help: "Data directory, overriding the profile's data_dir (env ESTUARY_DATA_DIR).") var dataDir: String?
    @Option(help: "Base of a relative data_dir (env ESTUARY_DATA_ROOT; default: current directory).") var dataRoot: String?
    @Flag(help: "Allow cleartext HTTP/2 (h2c) to the coordinator. Development meshes only.") var insecureDev = false
    @Option(help: "The mesh CA (PEM) the coordinator must chain to, overriding the profile's ca (env ESTUARY_CA).") var ca: String?
    @Option(help: "Coordinator API URL for first enrollment, e.g. https://coord:7400 (env ESTUARY_ENROLL_URL).") var enrollURL: String?
    @Option(help: "File holding a join token from `estuaryctl site add` (env ESTUARY_JOIN_TOKEN holds the token itself).")
    var joinTokenFile: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: Logger.Level = .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "estuary.agent")
        let siteProfile: SiteProfile
        do {
            siteProfile = try SiteProfile.load(path: profile)
        } catch {
            printError("\(profile): invalid site profile\n\(error)")
            throw AgentExit.invalidProfile
        }
        let environment = ProcessInfo.processInfo.environment
        var joinToken = environment["ESTUARY_JOIN_TOKEN"]
        if let joinTokenFile {
            do {
                joinToken = try String(contentsOfFile: joinTokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                printError("estuary-agent: cannot read --join-token-file \(joinTokenFile): \(error.localizedDescription)")
                throw AgentExit.noCredentials
            }
        }
        let overrides = AgentOverrides(
            coordinator: coordinator ?? environment["ESTUARY_COORDINATOR"],
            dataDir: dataDir ?? environment["ESTUARY_DATA_DIR"],
            dataRoot: dataRoot ?? environment["ESTUARY_DATA_ROOT"],
            insecureDev: insecureDev,
            caFile: ca ?? environment["ESTUARY_CA"],
            enrollURL: enrollURL ?? environment["ESTUARY_ENROLL_URL"],
            joinToken: joinToken,
            profileDirectory: (profile as NSString).deletingLastPathComponent
        )
        let configuration: AgentConfiguration
        do {
            configuration = try AgentConfiguration.resolve(
                profile: siteProfile, overrides: overrides, currentDirectory: FileManager.default.currentDirectoryPath
            )
        } catch {
            printError("estuary-agent: \(error)")
            throw AgentExit.noTrustAnchor
        }
        if configuration.tls == nil {
            logger.warning(
                "CLEARTEXT: dialing the coordinator over unencrypted h2c (insecure dev mode); never use this outside a development mesh",
                metadata: ["coordinator": "\(configuration.coordinator)"]
            )
        }
        let service = try EstuaryAgentService(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            services: [service], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger
        )
        do {
            try await group.run()
        } catch let error as AgentTrustError {
            printError("estuary-agent: \(error)")
            throw AgentExit.noCredentials
        } catch let error as SlurmCommandError {
            printError("estuary-agent: cannot read the site's pools from Slurm: \(error)")
            throw AgentExit.slurmUnavailable
        }
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate a site profile; print every problem (exit 4 if invalid)."
    )

    @Option(help: "Site profile (TOML).") var profile: String

    func run() throws {
        do {
            let parsed = try SiteProfile.load(path: profile)
            let pools = parsed.pools.map { pool in
                let count = pool.count == 0 ? "(from sinfo)" : "\(pool.count)"
                let partition = pool.partition.map { " on partition \($0)\(pool.gres.map { ", GRES \($0)" } ?? "")" } ?? ""
                return "\(pool.acceleratorClass)×\(count)\(pool.simulated ? " (simulated)" : "")\(partition)"
            }
            print("\(profile): OK — site \(parsed.site.id), coordinator \(parsed.coordinator.address), pools \(pools.joined(separator: ", "))")
        } catch {
            printError("\(profile): invalid site profile")
            printError(error.description)
            throw AgentExit.invalidProfile
        }
    }
}

struct ShimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shim", abstract: "Internal: supervise one job (started by the agent).", shouldDisplay: false
    )

    @Option(help: "The job directory holding launch.json.") var jobDir: String

    func run() throws {
        let status = ShimRunner.run(jobDirectory: jobDir)
        if status != 0 { throw ExitCode(status) }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
