import EstuaryLedger
import EstuaryModel
import Foundation
import Testing

@Suite("Settlement exports")
struct SettlementCSVTests {
    typealias F = SettlementFixture

    @Test(
        "fields with a comma, a quote, CR or LF are quoted with quotes doubled; others are written as they are",
        arguments: [
            ("plain", "plain"), ("", ""), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("\"", "\"\"\"\""), ("two\nlines", "\"two\nlines\""), ("cr\r", "\"cr\r\""), ("crlf\r\n", "\"crlf\r\n\""),
            (" spaced ", " spaced "), ("semi;colon", "semi;colon"), ("天河,广州", "\"天河,广州\""),
        ])
    func quoting(raw: String, written: String) {
        #expect(SettlementCSV.field(raw) == written)
    }

    @Test("a line joins its fields with commas and ends in LF")
    func line() {
        #expect(SettlementCSV.line(["a", "b,c", "", "d\"e"]) == "a,\"b,c\",,\"d\"\"e\"\n")
        #expect(SettlementCSV.line([]) == "\n")
        #expect(SettlementCSV.document(header: ["x", "y"], rows: [["1", "2"], ["3", "4"]]) == "x,y\n1,2\n3,4\n")
    }

    @Test(
        "CNY has exactly two decimals and the sign in front",
        arguments: [
            (0, "0.00"), (1, "0.01"), (-5, "-0.05"), (10, "0.10"), (100, "1.00"), (1_234, "12.34"), (-1_234, "-12.34"),
            (-100, "-1.00"), (Fen.max, "92233720368547758.07"), (Fen.min, "-92233720368547758.08"),
        ] as [(Fen, String)])
    func cny(fen: Fen, text: String) {
        #expect(SettlementCSV.cny(fen) == text)
    }

    @Test(
        "instants are ISO-8601 UTC with milliseconds",
        arguments: [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_767_196_800_000, "2025-12-31T16:00:00.000Z"),
            (1_832_976_000_000 + 28 * 86_400_000 + 3_723_004, "2028-02-29T01:02:03.004Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (-1, "-1"),
        ] as [(Int64, String)])
    func instants(ms: Int64, text: String) {
        #expect(SettlementCSV.isoUTC(ms: ms) == text)
    }

    @Test("a charge row carries who, where, when, every amount in fen and CNY, and its versions and tariffs")
    func chargeRow() throws {
        let fixture = try F.handMade()
        let charge = try #require(fixture.charges["usage:u-c1"])
        let row = SettlementCSV.chargeRow(charge)
        #expect(row.count == SettlementCSV.chargeHeader.count)
        #expect(
            Dictionary(uniqueKeysWithValues: zip(SettlementCSV.chargeHeader, row)) == [
                "record_id": "u-c1", "job": "job-u-c1", "tenant": "acme", "site": "gz-nansha", "class": "nvidia-h100",
                "service": "", "start": "2026-03-01T02:00:00.000Z", "end": "2026-03-01T05:00:00.000Z",
                "unit_ms": "21600000", "gross_fen": "7200", "gross_cny": "72.00", "voucher_fen": "2160",
                "voucher_cny": "21.60", "fee_fen": "144", "fee_cny": "1.44", "owed_fen": "7056", "owed_cny": "70.56",
                "payable_fen": "5040", "payable_cny": "50.40", "voucher_program": "gz-test", "voucher_year": "2026",
                "energy_wh": "4200", "grams_co2": "2100", "price_versions": "3", "tariffs": "flat",
            ])
        let storage = SettlementCSV.chargeRow(try #require(fixture.charges["usage:u-c4"]))
        let fields = Dictionary(uniqueKeysWithValues: zip(SettlementCSV.chargeHeader, storage))
        #expect(fields["class"] == "" && fields["service"] == "obj-storage" && fields["unit_ms"] == "0")
        #expect(fields["voucher_program"] == "" && fields["energy_wh"] == "" && fields["tariffs"] == "")
    }

    @Test("statement, invoice-line and disbursement tables of the hand-made period")
    func reportTables() throws {
        let report = try F.handMade().settle()
        #expect(
            SettlementCSV.statements(report) == """
                period,site,charges,gross_fen,gross_cny,fee_fen,fee_cny,owed_fen,owed_cny,voucher_funded_fen,\
                voucher_funded_cny,tenant_paid_fen,tenant_paid_cny,adjustments_fen,adjustments_cny,net_change_fen,\
                net_change_cny,energy_wh,grams_co2
                2026-03,gz-nansha,3,10200,102.00,204,2.04,9996,99.96,2520,25.20,7680,76.80,-6176,-61.76,3820,38.20,7000,3500
                2026-03,sz-bay,2,2300,23.00,46,0.46,2254,22.54,540,5.40,1760,17.60,0,0.00,2254,22.54,800,400

                """)
        #expect(
            SettlementCSV.invoiceLines(report) == """
                period,tenant,site,class,service,charges,unit_ms,gross_fen,gross_cny,voucher_fen,voucher_cny,payable_fen,payable_cny
                2026-03,acme,gz-nansha,nvidia-h100,,2,25200000,8400,84.00,2520,25.20,5880,58.80
                2026-03,acme,sz-bay,ascend-910b,,1,7200000,1800,18.00,540,5.40,1260,12.60
                2026-03,lab,gz-nansha,nvidia-h100,,1,10800000,1800,18.00,0,0.00,1800,18.00
                2026-03,lab,sz-bay,,obj-storage,1,0,500,5.00,0,0.00,500,5.00

                """)
        #expect(
            SettlementCSV.disbursements(report) == """
                period,program,dimension,key,voucher_fen,voucher_cny
                2026-03,gz-test,total,,3060,30.60
                2026-03,gz-test,year,2026,3060,30.60
                2026-03,gz-test,tenant,acme,3060,30.60
                2026-03,gz-test,site,gz-nansha,2520,25.20
                2026-03,gz-test,site,sz-bay,540,5.40
                2026-03,gz-test,budget_openings,,1000000,10000.00
                2026-03,gz-test,budget_adjustments,,360,3.60

                """)
    }

    @Test("the JSON form has snake_case keys, the period as YYYY-MM, and reads back to the same report")
    func json() throws {
        let report = try F.handMade().settle()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(report)
        let text = try #require(String(data: data, encoding: .utf8))
        for fragment in [
            "\"period\":\"2026-03\"", "\"owed_fen\":9996", "\"voucher_funded_fen\":2520", "\"class\":\"nvidia-h100\"",
            "\"unit_ms\":36000000", "\"wallet_net_change_fen\":93700", "\"budget_openings_fen\":1000000",
            "\"sum_fen\":0", "\"charge_mismatches\":[]", "\"ok\":true", "\"owed_plus_fee_fen\":12500",
        ] {
            #expect(text.contains(fragment), "\(fragment)")
        }
        #expect(try JSONDecoder().decode(SettlementReport.self, from: data) == report)
        #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(BillingPeriod.self, from: Data("\"2026-13\"".utf8))
        }
    }
}
