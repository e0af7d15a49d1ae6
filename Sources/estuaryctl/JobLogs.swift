import ArgumentParser
import EstuaryModel

extension JobCommand {
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "logs",
            abstract: "Print a job's output.",
            discussion: """
                Prints what the site has captured of the job's stdout (or --stderr) so far.
                With --follow, keeps printing as output arrives until the job has ended and its
                output is complete, like `tail -f` that knows when to stop.
                Output is the job's raw bytes; --json does not apply.

                Examples:
                  estuaryctl job logs j-0001
                  estuaryctl job logs j-0001 --stderr --follow
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Job id.")
        var id: String

        @Flag(name: .long, help: "Show stderr instead of stdout.")
        var stderr = false

        @Flag(name: [.short, .long], help: "Keep printing new output until the job ends.")
        var follow = false

        /// How long to wait between polls when nothing new has arrived.
        private static let idlePoll = Duration.milliseconds(500)

        func run() async throws {
            let job = JobID(rawValue: id)
            let stream: LogStreamKind = stderr ? .stderr : .stdout
            try await global.withClient { client in
                var offset: Int64 = 0
                while true {
                    let chunk = try await client.logs(job: job, stream: stream, offset: offset)
                    if chunk.bytes.readableBytes > 0 {
                        Output.bytes(chunk.bytes.readableBytesView)
                    }
                    offset = chunk.offset + Int64(chunk.bytes.readableBytes)
                    let caughtUp = offset >= chunk.size
                    if caughtUp && (chunk.complete || !follow) { return }
                    if chunk.bytes.readableBytes == 0 && !follow { return }  // the server has nothing more for us
                    if caughtUp || chunk.bytes.readableBytes == 0 { try await Task.sleep(for: Self.idlePoll) }
                }
            }
        }
    }
}
