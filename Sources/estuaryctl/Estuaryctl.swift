import ArgumentParser
import Foundation

/// estuaryctl: the command line of an Estuary mesh, over the coordinator's admin/user API.
@main
struct Estuaryctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estuaryctl",
        abstract: "Submit, watch and cancel jobs on an Estuary compute mesh, and see its sites and usage.",
        discussion: """
            estuaryctl talks to one coordinator's API (default http://127.0.0.1:7400; set
            --coordinator or ESTUARY_COORDINATOR). Any coordinator of a mesh will do: a job
            submitted at one reaches the best site anywhere.

            Examples:
              estuaryctl job submit train.toml --wait
              estuaryctl job list --state running
              estuaryctl job logs j-0001 --follow
              estuaryctl site list
              ESTUARY_COORDINATOR=http://gz-coord:7400 estuaryctl usage --job j-0001

            Tables are for people; add --json to any command for output a script can parse.

            Exit status: 0 ok; 1 server or other error; 2 usage error; 3 not found;
            4 invalid input (job file or rejected request); 5 coordinator unreachable;
            6 `job submit --wait` saw the job fail, be cancelled or be lost.
            """,
        subcommands: [JobCommand.self, SiteCommand.self, UsageCommand.self]
    )

    /// Runs the command and maps failures to estuaryctl's exit statuses (ArgumentParser's own
    /// usage errors become 2, not its default 64, so scripts see one convention).
    static func main() async {
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
            "Coordinator API URL (env ESTUARY_COORDINATOR; default http://127.0.0.1:7400).",
            valueName: "url"
        )
    )
    var coordinator: String?

    @Flag(name: .long, help: "Print JSON instead of tables, for scripts.")
    var json = false

    /// The URL to use: the flag, then the environment, then the local default.
    var coordinatorURL: String {
        if let coordinator, !coordinator.isEmpty { return coordinator }
        if let fromEnvironment = ProcessInfo.processInfo.environment["ESTUARY_COORDINATOR"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return "http://127.0.0.1:7400"
    }

    func validate() throws {
        let url = coordinatorURL
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ValidationError("--coordinator must be an http:// or https:// URL, got \"\(url)\"")
        }
    }

    /// Runs `body` with a client for the chosen coordinator.
    func withClient<T: Sendable>(_ body: (CoordinatorClient) async throws -> T) async throws -> T {
        try await CoordinatorClient.withClient(baseURL: coordinatorURL, body)
    }
}
