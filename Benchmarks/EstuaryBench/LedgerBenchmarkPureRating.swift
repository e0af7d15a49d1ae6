import EstuaryConfig
import EstuaryLedger
import EstuaryModel
import Foundation

/// The CPU part of rating one record with no store at all, on one thread: `Rater.rate`, the
/// voucher and the postings (`Ledger.postCharge` on an in-memory ledger), and the text the
/// store keeps (`LedgerCodec` of the postings and of the rated charge). Compared with the time
/// the store writes take per record, it tells rating CPU from SQL. Also times decoding a
/// job's spec from the JSON the store keeps, which `tx.job` does for every usage record.
enum LedgerPureRating {
    struct Result {
        var records: Int
        /// Per record: `Rater.rate`; `Ledger.postCharge` (voucher, `ChargePosting`, balances);
        /// the `LedgerCodec` text; all three.
        var rater: Duration
        var post: Duration
        var codec: Duration
        var perRecord: Duration
        var encodedBytes: Int
        /// Over the sample: charge lines, charges cut into several lines, charges a voucher paid
        /// part of, postings of the charge transactions (voucher openings not counted).
        var lines: Int
        var multiLine: Int
        var vouchered: Int
        var postings: Int
        /// Per record: `JSONDecoder().decode(JobSpec.self, …)` of the stored spec.
        var specDecode: Duration
        var specBytes: Int
    }

    static func measure(mesh: LedgerMesh, workload: LedgerWorkload, sample: Int) throws -> Result {
        let catalog = AcceleratorCatalog.builtin
        let settings = LedgerMesh.settings
        var histories: [SiteID: PriceHistory] = [:]
        for index in 0..<mesh.sites {
            histories[mesh.siteID(index)] = try PriceHistory(
                site: mesh.siteID(index),
                versions: [PriceVersion(version: 1, effectiveFromMs: mesh.periodStartMs, book: mesh.priceBook(ofSite: index))])
        }
        var profiles: [TenantID: TenantProfile] = [:]
        var programs: [TenantID: VoucherProgram] = [:]
        for index in 0..<mesh.tenants {
            let request = mesh.tenantRequest(index)
            profiles[request.tenant] = TenantProfile(
                tenant: request.tenant, organisation: request.organisation, affiliates: Set(request.affiliates),
                category: request.category)
            if request.voucherProgram != nil { programs[request.tenant] = LedgerMesh.program }
        }
        let energies = (0..<mesh.sites).map { mesh.energy(ofSite: $0) }
        var ledger = Ledger(retainingJournal: false)
        let count = min(sample, workload.count)
        let records = (0..<count).map { offset -> (UsageRecord, TenantID, Int) in
            let index = workload.first + offset
            let site = workload.site(of: index)
            let (job, usage) = mesh.record(index, site: site)
            return (usage, job.spec.tenant, site)
        }
        var bytes = 0
        var lineCount = 0
        var multiLine = 0
        var vouchered = 0
        var postings = 0
        var rater = Duration.zero
        var post = Duration.zero
        var codec = Duration.zero
        let clock = ContinuousClock()
        let start = clock.now
        for (record, tenant, site) in records {
            guard let history = histories[record.siteID] else { continue }
            let rateStart = clock.now
            let spec = catalog[record.acceleratorClass]
            let lines = try Rater.rate(
                UsageToRate(record, tenant: tenant), history: history, energy: energies[site],
                spec: spec, rule: settings.ratingRule)
            let gross = try LedgerArithmetic.sum(lines.map(\.amountFen), "charge")
            let postStart = clock.now
            rater += postStart - rateStart
            let profile = profiles[tenant] ?? TenantProfile(tenant: tenant, organisation: "")
            let program = programs[tenant]
            let item: BillableItem = spec.map { .compute($0.kind, domestic: $0.domestic) } ?? .other(record.acceleratorClass.rawValue)
            let charge = VoucherCharge(
                id: record.id.rawValue, tenant: tenant, site: record.siteID, providerOrganisation: mesh.provider(ofSite: site),
                item: item, amount: gross, atMs: record.endedAtMs)
            let posted = try ledger.postCharge(charge, tenant: profile, program: program, fee: settings.platformFee, overdraft: true)
            let postedCharge = PostedCharge(
                recordID: record.id, job: record.jobID, tenant: tenant, site: record.siteID, cls: record.acceleratorClass,
                lines: lines, grossFen: gross, voucherFen: posted.voucherAmount, voucherProgram: posted.draw?.program,
                voucherYear: posted.draw?.year, feeFen: try settings.platformFee.fee(on: gross), atMs: record.endedAtMs)
            let codecStart = clock.now
            post += codecStart - postStart
            lineCount += postedCharge.lines.count
            if postedCharge.lines.count > 1 { multiLine += 1 }
            if postedCharge.voucherFen > 0 { vouchered += 1 }
            postings += posted.transaction.postings.count
            bytes += LedgerCodec.encode(posted.transaction.postings).utf8.count + LedgerCodec.encode(postedCharge).utf8.count
            codec += clock.now - codecStart
        }
        let elapsed = clock.now - start

        // The job's spec as the store keeps it (sorted-keys JSON), decoded as `tx.job` does.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let specs = try (0..<min(count, 10_000)).map { offset in
            let index = workload.first + offset
            return try encoder.encode(mesh.record(index, site: workload.site(of: index)).job.spec)
        }
        let decodeStart = clock.now
        for data in specs { _ = try JSONDecoder().decode(JobSpec.self, from: data) }
        let decode = clock.now - decodeStart
        let divisor = max(count, 1)
        return Result(
            records: count, rater: rater / divisor, post: post / divisor, codec: codec / divisor, perRecord: elapsed / divisor,
            encodedBytes: bytes, lines: lineCount, multiLine: multiLine, vouchered: vouchered, postings: postings,
            specDecode: decode / max(specs.count, 1),
            specBytes: specs.reduce(0) { $0 + $1.count } / max(specs.count, 1))
    }
}
