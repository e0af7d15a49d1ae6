import ArgumentParser

/// Estuary's benchmarks. Run them through Benchmarks/run.sh, which builds in release mode and
/// writes the figures to BENCHMARKS.md; each subcommand prints one Markdown section.
@main
struct EstuaryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estuary-bench",
        abstract: "Measure Estuary's codec, sessions, jobs and agent footprint.",
        subcommands: EstuaryBench.all
    )
}
