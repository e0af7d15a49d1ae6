import ArgumentParser
import Foundation

/// estuaryctl: the command line of an Estuary mesh, over the coordinator's admin/user API.
@main
struct Estuaryctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estuaryctl",
        abstract: "Submit, watch and cancel jobs on an Estuary compute mesh; see its sites, usage, prices, vouchers and bills.",
        discussion: """
            estuaryctl talks to one coordinator's API. It takes the address, the CA and the API
            token from flags (--api, --ca, --token-file), else the environment (ESTUARY_API,
            ESTUARY_CA, ESTUARY_TOKEN or ESTUARY_TOKEN_FILE), else ~/.config/estuary/estuaryctl.toml
            (or $ESTUARY_CONFIG); the address defaults to http://127.0.0.1:7400. No flag takes the
            token itself. Any coordinator of a mesh will do: a job submitted at one reaches the
            best site anywhere.

            Examples:
              estuaryctl job submit train.toml --wait
              estuaryctl job list --state running
              estuaryctl job logs j-0001 --follow
              estuaryctl site list
              estuaryctl site add gz-tianhe --org gz-sc
              estuaryctl token create --role tenant --subject pengcheng-lab --name ci --ttl 720h
              ESTUARY_API=https://gz-coord:7400 ESTUARY_CA=ca.pem estuaryctl usage --job j-0001
              estuaryctl tenant create gz-ai-lab --org gz-ai --program gz-compute-voucher
              estuaryctl tenant top-up gz-ai-lab 100000.00 --reference PAY-2026-0042
              estuaryctl price set pengcheng-ascend --file prices.toml --effective 2026-07-01T00:00:00+08:00
              estuaryctl voucher program create --file Agents/programs/guangzhou.toml
              estuaryctl voucher balance gz-ai-lab
              estuaryctl bill gz-ai-lab --period 2026-11
              estuaryctl settle 2026-11
              estuaryctl statement pengcheng-ascend 2026-11 --csv

            Tables are for people; add --json to any command for output a script can parse.
            Amounts are CNY with two decimals, typed and shown exactly (never rounded).

            Exit status: 0 ok; 1 server or other error (also: a settlement that does not
            reconcile); 2 usage or configuration error; 3 not found (also: no bill or statement
            for the period); 4 invalid input (job file or rejected request); 5 coordinator
            unreachable or not trusted; 6 `job submit --wait` saw the job fail, be cancelled or
            be lost;
            7 not authenticated (no token, or an unknown, expired or revoked one); 8 forbidden
            (the token's role may not do this); 9 rate limited.
            """,
        subcommands: [
            JobCommand.self, SiteCommand.self, CapacityCommand.self, UsageCommand.self, BillCommand.self, TenantCommand.self,
            PriceCommand.self, VoucherCommand.self, SettleCommand.self, SettlementCommand.self, StatementCommand.self,
            TokenCommand.self, AuditCommand.self, MeshCommand.self,
        ]
    )

    /// Runs the command and maps failures to estuaryctl's exit statuses (ArgumentParser's own
    /// usage errors become 2, not its default 64, so scripts see one convention).
    static func main() async {
        Output.ignoreBrokenPipes()
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            if case .jobDidNotSucceed = error {
                // The job's outcome was already printed; the status says the rest.
            } else {
                Output.error(error.description)
            }
            Foundation.exit(error.exitCode)
        } catch {
            if exitCode(for: error) == .validationFailure {
                Output.error(fullMessage(for: error))
                Foundation.exit(ExitStatus.usage)
            }
            if exitCode(for: error) == .failure, !(error is ExitCode) {
                // Anything unexpected (a local file that cannot be read, a decoding surprise).
                var message = fullMessage(for: error)
                if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
                Output.error("error: \(message)")
                Foundation.exit(ExitStatus.failure)
            }
            exit(withError: error)
        }
    }
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Coordinator API URL (env ESTUARY_API; config `api`; default http://127.0.0.1:7400).", valueName: "url")
    )
    var api: String?

    @Option(name: .long, help: ArgumentHelp("The same as --api (its former name; env ESTUARY_COORDINATOR).", valueName: "url"))
    var coordinator: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "CA certificate (PEM) an https API must be signed by; only it is trusted (env ESTUARY_CA; config `ca`).",
            valueName: "file")
    )
    var ca: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "File holding the API token (env ESTUARY_TOKEN_FILE, or the token itself in ESTUARY_TOKEN; config `token_file`).",
            valueName: "file")
    )
    var tokenFile: String?

    @Flag(name: .long, help: "Print JSON instead of tables, for scripts.")
    var json = false

    func validate() throws {
        for (flag, value) in [("--api", api), ("--coordinator", coordinator)] {
            if let value, !(value.hasPrefix("http://") || value.hasPrefix("https://")) {
                throw ValidationError("\(flag) must be an http:// or https:// URL, got \"\(value)\"")
            }
        }
    }

    /// The settings: flags, then the environment, then the config file.
    func settings() throws -> ClientSettings {
        try ClientSettings.resolve(
            flags: .init(api: api, coordinator: coordinator, ca: ca, tokenFile: tokenFile),
            environment: ProcessInfo.processInfo.environment)
    }

    /// Runs `body` with a client for the chosen coordinator.
    func withClient<T: Sendable>(_ body: (CoordinatorClient) async throws -> T) async throws -> T {
        try await CoordinatorClient.withClient(settings: try settings(), body)
    }
}
