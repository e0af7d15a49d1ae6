import ArgumentParser
import EstuaryModel

/// `estuaryctl job …`
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Submit, inspect, list and cancel jobs.",
        discussion: """
            A job runs `tasks` tasks of `count` units of one accelerator class at one site,
            chosen by the mesh. Its states: submitted → queued → placed → starting → running →
            succeeded | failed | cancelled | lost.
            """,
        subcommands: [Submit.self, Status.self, List.self, Cancel.self, Logs.self, Explain.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show one job: its spec, where it runs, its state and every transition.",
            discussion: """
                Examples:
                  estuaryctl job status j-0001
                  estuaryctl job status j-0001 --json | jq .state
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Job id.") var id: String

        func run() async throws {
            let job = try await global.withClient { client in
                try await client.get("/v1/jobs/\(JobID(rawValue: id))", as: JobView.self)
            }
            if global.json { try Output.json(job) } else { Output.line(JobText.detail(job)) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List jobs, oldest first, optionally filtered.",
            discussion: """
                Shows at most --limit jobs (default 100, at most 1000). When there are more,
                the last line says which --after value fetches the next page.

                Examples:
                  estuaryctl job list
                  estuaryctl job list --state running --site gz-tianhe
                  estuaryctl job list --tenant pengcheng-lab --limit 20
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Only jobs in this state (\(JobState.allCases.map(\.rawValue).joined(separator: ", "))).", valueName: "state"))
        var state: String?
        @Option(help: "Only jobs placed at this site.") var site: String?
        @Option(help: "Only jobs of this tenant.") var tenant: String?
        @Option(help: "At most this many jobs.") var limit: Int?
        @Option(help: "Start after this job id (the next page).") var after: String?

        func validate() throws {
            if let state, JobState(rawValue: state) == nil {
                throw ValidationError("unknown state \"\(state)\"; one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be between 1 and 1000") }
        }

        func run() async throws {
            var query: [(String, String)] = []
            if let state { query.append(("state", state)) }
            if let site { query.append(("site", site)) }
            if let tenant { query.append(("tenant", tenant)) }
            if let limit { query.append(("limit", String(limit))) }
            if let after { query.append(("after", after)) }
            let list = try await global.withClient { client in
                try await client.get("/v1/jobs", query: query, as: JobListView.self)
            }
            if global.json { return try Output.json(list) }
            guard !list.jobs.isEmpty else { return Output.error("no jobs") }
            Output.line(JobText.table(list.jobs))
            if let next = list.nextAfter { Output.error("more jobs: add --after \(next)") }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel",
            abstract: "Cancel a job.",
            discussion: """
                A queued job ends at once; a running job is stopped at its site and shows
                `cancelled` when the site confirms. Cancelling twice is harmless; cancelling a
                job that already ended is an error.

                Examples:
                  estuaryctl job cancel j-0001
                  estuaryctl job cancel j-0001 --reason "wrong dataset"
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Job id.") var id: String
        @Option(help: "Why, recorded in the job's history.") var reason: String?

        func run() async throws {
            let job = try await global.withClient { client in
                try await client.post(
                    "/v1/jobs/\(JobID(rawValue: id))/cancel", json: ["reason": reason ?? "cancelled by user"], as: JobView.self
                ).0
            }
            if global.json { return try Output.json(job) }
            if job.state.isTerminal {
                Output.line("job \(job.id) \(job.state)")
            } else {
                Output.line("job \(job.id): cancel requested (now \(job.state))")
            }
        }
    }
}
