import Foundation
import EstuaryLedger
import EstuaryModel
import Testing

/// Two coordinators' ledgers for one forwarded job (docs/MONEY.md, "Inter-region"): the home
/// coordinator rates and charges its tenant for work at a peer's site and moves the site's
/// share to the peer; the peer posts the mirror image. Their settlements must agree to the fen.
@Suite struct InterRegionTests {
    static let home: CoordinatorID = "c-guangzhou"
    static let runner: CoordinatorID = "c-shaoguan"

    @Test func peerAccountReadsBackFromItsTextAndTheCodec() throws {
        let account = AccountID.peerCoordinator(Self.runner)
        #expect(account.text == "peer:c-shaoguan")
        #expect(try AccountID(parsing: account.text) == account)
        #expect(throws: AccountIDError.self) { try AccountID(parsing: "peer:") }
        #expect(throws: AccountIDError.self) { try AccountID(parsing: "peer:a:b") }
        let postings = [Posting(account, 1_234), Posting(.siteReceivable("sg-1"), -1_234)]
        #expect(try LedgerCodec.decodePostings(LedgerCodec.encode(postings)) == postings)
    }

    @Test func aTransferOfNothingIsRefused() {
        #expect(throws: LedgerError.self) {
            try LedgerTransaction.interRegion(record: "u-j-1", site: "sg-1", peer: Self.runner, toSite: 0)
        }
    }

    @Test func bothSettlementsAgreeToTheFen() throws {
        // Home: the tenant pays for 3 charges at the peer's site (the fixture's rater, fee 2 %).
        var home = SettlementFixture()
        let site = SettlementFixture.bay
        try home.ledger.apply(LedgerTransaction.topUp(id: "topup:acme:1", tenant: "acme", amount: 1_000_000))
        var runnerLedger = Ledger()
        var owedTotal: Fen = 0
        for (index, hours) in [1, 2, 5].enumerated() {
            let record = UsageRecordID(rawValue: "u-j\(index)-1")
            let charge = try home.compute(
                record, SettlementFixture.acme, at: site, SettlementFixture.h100, units: 2, fromHour: Int64(10 * index),
                hours: Int64(hours), program: nil)
            let owed = charge.grossFen - charge.feeFen
            owedTotal += owed
            try home.ledger.apply(LedgerTransaction.interRegion(record: record, site: site, peer: Self.runner, toSite: -owed))
            // The runner may hear of a charge twice (a lost acknowledgement): it posts once.
            let mirror = try LedgerTransaction.interRegion(record: record, site: site, peer: Self.home, toSite: owed)
            #expect(try runnerLedger.apply(mirror) == .posted)
            #expect(try runnerLedger.apply(mirror) == .alreadyApplied)
        }

        let homeReport = try home.settle()
        var accumulator = SettlementAccumulator(period: SettlementFixture.period)
        for transaction in runnerLedger.journal { accumulator.add(transaction, charge: nil) }
        let runnerReport = try accumulator.finish(usageWithoutCharge: [], chargesWithoutUsage: [])

        #expect(homeReport.reconciliation.ok)
        #expect(runnerReport.reconciliation.ok)
        #expect(homeReport.peers == [PeerStatement(period: SettlementFixture.period, peer: Self.runner, transfers: 3, netFen: owedTotal)])
        #expect(runnerReport.peers == [PeerStatement(period: SettlementFixture.period, peer: Self.home, transfers: 3, netFen: -owedTotal)])
        // Home keeps nothing for a site it does not run; the runner owes the site all of it.
        #expect(home.ledger.balance(.siteReceivable(site)) == 0)
        #expect(runnerLedger.balance(.siteReceivable(site)) == owedTotal)
        #expect(home.ledger.balance(.peerCoordinator(Self.runner)) == -runnerLedger.balance(.peerCoordinator(Self.home)))
        let homeStatement = try #require(homeReport.statements.first { $0.site == site })
        #expect(homeStatement.owedFen == owedTotal)
        #expect(homeStatement.adjustmentsFen == -owedTotal)
        #expect(homeStatement.netChangeFen == 0)
        let runnerStatement = try #require(runnerReport.statements.first { $0.site == site })
        #expect(runnerStatement.adjustmentsFen == owedTotal)
    }

    @Test func aReportClosedBeforeTheMeshDecodesWithNoPeers() throws {
        let report = try SettlementFixture.handMade().settle()
        let encoder = JSONEncoder()
        var object = try #require(JSONSerialization.jsonObject(with: encoder.encode(report)) as? [String: Any])
        object["peers"] = nil
        let old = try JSONSerialization.data(withJSONObject: object)
        let decoded = try JSONDecoder().decode(SettlementReport.self, from: old)
        #expect(decoded.peers.isEmpty)
        #expect(decoded == report)
    }
}
