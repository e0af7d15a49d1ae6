import ArgumentParser
import EstuaryLedger

/// The synthetic mesh the `ledger` and `settlement` benchmarks rate against (`LedgerMesh`).
struct LedgerMeshOptions: ParsableArguments {
    @Option(help: "Sites, each with its own price book.")
    var sites: Int = 20

    @Option(help: "Tenants (30 % in the voucher programme, 40 % prepaid, 30 % postpaid).")
    var tenants: Int = 200

    @Option(help: "Seed of the record generator (SplitMix64).")
    var seed: UInt64 = 42

    func validate() throws {
        guard sites > 0, tenants > 0 else { throw ValidationError("--sites and --tenants must be positive") }
    }

    func mesh(period: BillingPeriod) throws -> LedgerMesh {
        try LedgerMesh(sites: sites, tenants: tenants, seed: seed, period: period)
    }
}
