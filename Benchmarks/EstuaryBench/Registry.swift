import ArgumentParser

extension EstuaryBench {
    /// Every benchmark subcommand; each lives in its own file.
    static let all: [any ParsableCommand.Type] = [
        CodecBenchmark.self,
        SessionsBenchmark.self,
        JobsBenchmark.self,
        ForwardBenchmark.self,
        PlacementBenchmark.self,
        AgentFootprintBenchmark.self,
        SlurmBenchmark.self,
        TLSBenchmark.self,
        SchedulerBenchmark.self,
        ReplayBenchmark.self,
        LedgerBenchmark.self,
        SettlementBenchmark.self,
        GossipSerfBenchmark.self,
        GossipSimBenchmark.self,
    ]
}
