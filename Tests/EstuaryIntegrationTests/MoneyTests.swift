import EstuaryLedger
import EstuaryModel
import Foundation
import Testing

/// The money path end to end, with real processes: an admin registers a tenant and a voucher
/// programme, jobs run on priced sites, usage is rated and posted by the coordinator, and the
/// period's statements, invoices and reconciliation agree to the fen.
extension IntegrationTests {
    @Suite("Money")
    struct Money {
        /// 3,600 fen (36 CNY) per unit-hour: a unit-second costs exactly 1 fen. Site profiles give
        /// prices in fen (Agents/README.md).
        static let priced = TestSite(
            id: "it-money-gpu", acceleratorClass: "nvidia-a100", extraTables: "[prices.nvidia-a100]\nflat = 3600")

        @Test("a prepaid tenant is refused without funds, then held, rated, paid partly by its voucher and billed to the fen",
              .timeLimit(.minutes(2)))
        func prepaidTenantWithVoucher() async throws {
            try await TestBed.run { bed in
                var options = CoordinatorOptions()
                options.tls = true  // sites are enrolled with their operator organisation (voucher non-affiliation)
                options.extraArguments = ["--platform-fee-bp", "300"]
                let coordinator = try await bed.startCoordinator(options: options)
                _ = try await bed.startAgent(Self.priced, coordinator: coordinator)
                let api = coordinator.api

                let created: TenantView = try await api.send(
                    "/v1/tenants", TenantRequest(tenant: "acme", organisation: "acme-ai", creditLimitFen: 0), expect: 201)
                #expect(created.availableFen == 0 && created.registered)

                // No money: the job is placed, refused at admission, and says why.
                let job = TestJob(
                    name: "money-broke", script: "sleep 1", acceleratorClass: "nvidia-a100", count: 4, walltime: "10m",
                    tenant: "acme")
                let broke = try await bed.submitAll([try bed.write(job)], coordinator: coordinator)[0]
                let refused = try await api.waitForJob(broke, toBe: .failed)
                // 4 units × 3,600 fen/h × (600 s walltime + 60 s overrun) = 2,640 fen.
                #expect(
                    refused.events?.last?.cause.contains("cannot cover 2640 fen") == true,
                    "the refusal names the hold: \(refused.events?.last?.cause ?? "-")")

                // A top-up is idempotent by its reference, and a reused reference with another amount is refused.
                let topUp = TopUpRequest(amountFen: 100_000, reference: "pay-0001")
                let funded: TenantView = try await api.send("/v1/tenants/acme/top-up", topUp)
                #expect(funded.balanceFen == 100_000)
                let again: TenantView = try await api.send("/v1/tenants/acme/top-up", topUp)
                #expect(again.balanceFen == 100_000, "the same top-up again changes nothing")
                let conflict = try await api.request(
                    .post, "/v1/tenants/acme/top-up",
                    body: try JSONEncoder().encode(TopUpRequest(amountFen: 5, reference: "pay-0001")))
                #expect(conflict.status == 409, "\(conflict.text)")

                let program = VoucherProgram.guangzhouExample
                let _: ProgramView = try await api.send("/v1/voucher-programs", program, expect: 201)
                let _: ProgramView = try await api.send("/v1/voucher-programs", program, expect: 200)
                let granted: TenantView = try await api.send(
                    "/v1/voucher-programs/\(program.id.rawValue)/grants", GrantRequest(tenant: "acme"))
                #expect(granted.voucherProgram == program.id)

                var paid = job
                paid.name = "money-paid"
                paid.script = "sleep 1.5"
                let id = try await bed.submitAll([try bed.write(paid)], coordinator: coordinator)[0]
                let finished = try await api.waitForJob(id, toBe: .succeeded, timeout: .seconds(60))
                let metered = try await waitFor("the job's usage to be charged", timeout: .seconds(20)) { () -> MeteredUsage? in
                    let view: MeteredUsageView = try await api.get("/v1/usage?job=\(id.rawValue)")
                    guard let entry = view.metered?.first, entry.charge != nil else { throw Progress("not rated yet") }
                    return entry
                }
                let charge = try #require(metered.charge)
                let record = metered.record
                #expect(record.id == .forJob(id, attempt: finished.attempt))

                // The charge, recomputed here from the record alone: unit-ms × 3,600 fen/h, half up.
                let gross = Self.halfUp(Int128(record.unitMilliseconds) * 3_600, 3_600_000)
                #expect(charge.grossFen == gross && gross > 0)
                #expect(charge.lines.reduce(0) { $0 + $1.amountFen } == gross)
                #expect(charge.lines.allSatisfy { $0.priceVersion == 1 && $0.fenPerUnitHour == 3_600 })
                let voucher = Self.halfUp(Int128(gross) * 3_000, 10_000)  // 30 % coverage, half up
                #expect(charge.voucherFen == voucher && charge.voucherProgram == program.id)
                let fee = Fen(Int128(gross) * 300 / 10_000)  // 3 %, truncated
                #expect(charge.feeFen == fee)

                let tenant: TenantView = try await api.get("/v1/tenants/acme")
                #expect(tenant.balanceFen == 100_000 - (gross - voucher), "the wallet paid gross − voucher")
                #expect(tenant.heldFen == 0, "the hold was released when the usage was posted")
                let vouchers: VoucherBalanceView = try await api.get("/v1/tenants/acme/vouchers")
                #expect(vouchers.allowances.contains { $0.usedFen == voucher })

                // The open period's reports agree with the charge, and reconcile.
                let period = try BillingPeriod.containing(ms: record.endedAtMs, utcOffsetMinutes: 480)
                let settlement: SettlementView = try await api.get("/v1/settlements/\(period)")
                #expect(!settlement.closed)
                #expect(settlement.report.reconciliation.ok, "\(settlement.report.reconciliation)")
                let invoice = try #require(settlement.report.invoices.first { $0.tenant == "acme" })
                #expect(invoice.grossFen == gross && invoice.voucherFen == voucher && invoice.payableFen == gross - voucher)
                #expect(invoice.topUpsFen == 100_000)
                let statement = try #require(settlement.report.statements.first { $0.site.rawValue == Self.priced.id })
                #expect(statement.owedFen == gross - fee && statement.voucherFundedFen == voucher && statement.feeFen == fee)
                let disbursement = try #require(settlement.report.disbursements.first { $0.program == program.id })
                #expect(disbursement.voucherFen == voucher)
                let bill: TenantInvoice = try await api.get("/v1/bill?tenant=acme&period=\(period)")
                #expect(bill == invoice)
                let csv = try await api.request(.get, "/v1/settlements/\(period)/statements/\(Self.priced.id)?format=csv")
                #expect(csv.status == 200 && csv.text.contains(record.id.rawValue), "\(csv.text)")

                // The current period cannot be closed yet; a past one closes once, then answers the same.
                let early = try await api.request(
                    .post, "/v1/settlements", body: try JSONEncoder().encode(SettleRequest(period: period)))
                #expect(early.status == 409, "\(early.text)")
                let past = try #require(try BillingPeriod(year: 2026, month: 1).next)
                let closed: SettlementView = try await api.send("/v1/settlements", SettleRequest(period: past), expect: 201)
                #expect(closed.closed && closed.report.reconciliation.ok)
                let reclosed: SettlementView = try await api.send("/v1/settlements", SettleRequest(period: past), expect: 200)
                #expect(reclosed.report == closed.report)
            }
        }

        @Test("a coordinator killed -9 while usage streams in charges every record exactly once, to the fen",
              .timeLimit(.minutes(3)))
        func ledgerSurvivesACoordinatorKill() async throws {
            try await TestBed.run { bed in
                var options = CoordinatorOptions()
                options.meshPort = try freeLoopbackPort()
                options.apiPort = try freeLoopbackPort()
                let coordinator = try await bed.startCoordinator(options: options)
                // Prices in fen per unit-hour that do not divide an hour evenly, so rounding shows; the
                // CPU price makes a one-unit second cost 0.87 fen, which rounds up to 1.
                let sites = [
                    TestSite(id: "it-money-a", acceleratorClass: "nvidia-a100", extraTables: "[prices.nvidia-a100]\nflat = 123457"),
                    TestSite(id: "it-money-b", acceleratorClass: "ascend-910b", extraTables: "[prices.ascend-910b]\nflat = 77777"),
                    TestSite(id: "it-money-c", acceleratorClass: "cpu-x86-64", extraTables: "[prices.cpu-x86-64]\nflat = 3131"),
                ]
                let priceOf: [String: Int64] = ["it-money-a": 123_457, "it-money-b": 77_777, "it-money-c": 3_131]
                var agents: [AgentProcess] = []
                for site in sites { agents.append(try await bed.startAgent(site, coordinator: coordinator)) }
                let files = try (0..<30).map { index in
                    try bed.write(TestJob(
                        name: "money-crash-\(index)", script: "sleep \(1 + index % 3)",
                        acceleratorClass: sites[index % 3].acceleratorClass, count: 1 + index % 4, tenant: "crash-tenant"))
                }
                let ids = try await bed.submitAll(files, coordinator: coordinator)
                try await waitUntil("some jobs to have finished", timeout: .seconds(30)) {
                    (try await coordinator.api.allJobs(state: .succeeded)).count >= 6
                }
                try await coordinator.process.killHard()
                let restarted = try await bed.startCoordinator(options: options)
                for agent in agents { try await bed.waitForConnected(agent, coordinator: restarted, timeout: .seconds(30)) }
                _ = try await restarted.api.waitForJobs(ids, toBe: .succeeded, timeout: .seconds(90))

                let wanted = Set(ids)
                let metered = try await waitFor("every record to be rated", timeout: .seconds(30)) { () -> [MeteredUsage]? in
                    let view: MeteredUsageView = try await restarted.api.get("/v1/usage")
                    let mine = (view.metered ?? []).filter { wanted.contains($0.record.jobID) }
                    let rated = mine.filter { $0.charge != nil || $0.unrated != nil }.count
                    guard mine.count == ids.count, rated == ids.count else {
                        throw Progress("\(mine.count) records, \(rated) rated of \(ids.count) jobs")
                    }
                    return mine
                }
                var total: Fen = 0
                var owed: [String: Fen] = [:]
                for entry in metered {
                    let price = try #require(priceOf[entry.record.siteID.rawValue])
                    let expected = Self.halfUp(Int128(entry.record.unitMilliseconds) * Int128(price), 3_600_000)
                    #expect(expected > 0, "every record here costs at least a fen")
                    let charge = try #require(entry.charge, "\(entry.record.id) unrated: \(entry.unrated ?? "-")")
                    #expect(charge.grossFen == expected, "\(entry.record.id): \(charge.grossFen) fen, recomputed \(expected)")
                    total += charge.grossFen
                    owed[entry.record.siteID.rawValue, default: 0] += charge.grossFen
                }
                #expect(Set(metered.map(\.record.id)).count == ids.count, "one record per job, no duplicates")

                let tenant: TenantView = try await restarted.api.get("/v1/tenants/crash-tenant")
                #expect(tenant.balanceFen == -total, "the postpaid wallet owes exactly the charges: \(tenant.balanceFen) vs \(total)")
                #expect(tenant.heldFen == 0, "no hold outlives its job")
                let period = try BillingPeriod.containing(ms: metered[0].record.endedAtMs, utcOffsetMinutes: 480)
                let settlement: SettlementView = try await restarted.api.get("/v1/settlements/\(period)")
                let reconciliation = settlement.report.reconciliation
                #expect(reconciliation.ok, "\(reconciliation)")
                for site in sites {
                    let statement = settlement.report.statements.first { $0.site.rawValue == site.id }
                    #expect(statement?.owedFen == owed[site.id], "site \(site.id) is owed what its usage rated")
                }
            }
        }

        /// `numerator / denominator` rounded half up (both positive), as the coordinator's rule.
        static func halfUp(_ numerator: Int128, _ denominator: Int128) -> Fen {
            Fen((numerator + denominator / 2) / denominator)
        }
    }
}

extension APIClient {
    /// `POST path` with `body` as JSON; throws unless the status is `expect`.
    func send<Body: Encodable, Value: Decodable>(
        _ path: String, _ body: Body, expect: Int = 200, as type: Value.Type = Value.self
    ) async throws -> Value {
        let reply = try await request(.post, path, body: try JSONEncoder().encode(body))
        guard reply.status == expect else { throw UnexpectedStatus(method: "POST", path: path, status: reply.status, body: reply.text) }
        return try JSONDecoder().decode(Value.self, from: reply.body)
    }
}
