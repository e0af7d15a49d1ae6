import EstuaryConfig
import EstuaryLedger
import EstuaryModel
import Foundation
import Testing

@Suite("Voucher program files")
struct VoucherProgramFileTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Agents/programs/guangzhou.toml").path

    @Test("Agents/programs/guangzhou.toml is the Guangzhou example program, to the fen")
    func guangzhouFile() throws {
        let program = try VoucherProgram.load(path: Self.example)
        #expect(program == VoucherProgram.guangzhouExample)
        #expect(program.annualBudget == 10_000_000_000)
        #expect(program.annualCap(for: "multimodal-foundation") == 1_000_000_000)
        #expect(program.annualCap(for: nil) == 300_000_000)
    }

    @Test("amounts and shares are read exactly; a third decimal of a yuan is refused, not rounded")
    func exactAmounts() throws {
        let base = """
            [program]
            id = "nn"
            name = "Nanning"
            valid_from = 2026-01-01T00:00:00+08:00
            valid_until = 2027-01-01T00:00:00+08:00
            annual_budget = 2000000
            tenant_annual_cap = "2000000.01"
            coverage = 0.2
            domestic_coverage = "0.3333"
            rounding = "truncate"
            approved_providers = ["Guangxi Compute Co"]
            """
        let program = try VoucherProgram.parse(base)
        #expect(program.annualBudget == 200_000_000)
        #expect(program.tenantAnnualCap == 200_000_001)
        #expect(program.coverageBasisPoints == 2000)
        #expect(program.domesticCoverageBasisPoints == 3333)
        #expect(program.rounding == .truncate)
        #expect(program.approvedProviders == ["Guangxi Compute Co"])
        #expect(program.validFromMs == 1_767_196_800_000)

        let tooPrecise = base.replacingOccurrences(of: "\"2000000.01\"", with: "\"2000000.015\"")
        #expect(throws: VoucherProgramError.invalid([
            FieldError(field: "program.tenant_annual_cap", message: "cannot read \"2000000.015\" as a CNY amount with at most two decimals")
        ])) { try VoucherProgram.parse(tooPrecise) }
    }

    @Test("every problem is reported by its path, together")
    func problems() {
        let text = """
            [program]
            id = "bad"
            valid_from = "2026-01-01"
            valid_until = 2027-01-01T00:00:00+08:00
            annual_budget = "lots"
            tenant_annual_cap = "100.00"
            coverage = 1.5
            eligible_kinds = ["gpu", "tpu"]
            rounding = "bankers"
            colour = "blue"
            """
        do {
            _ = try VoucherProgram.parse(text)
            Issue.record("a bad program was accepted")
        } catch {
            let fields = error.problems.map(\.field)
            for field in [
                "program.colour", "program.name", "program.valid_from", "program.annual_budget", "program.coverage",
                "program.rounding", "program.eligible_kinds",
            ] {
                #expect(fields.contains(field), "\(field) missing from \(fields)")
            }
        }
    }

    @Test("rules the program itself breaks (CPU eligible, an inverted validity) are reported too")
    func programRules() {
        let text = """
            [program]
            id = "x"
            name = "x"
            valid_from = 2027-01-01T00:00:00+08:00
            valid_until = 2026-01-01T00:00:00+08:00
            annual_budget = "1.00"
            tenant_annual_cap = "1.00"
            coverage = 0.5
            eligible_kinds = ["gpu", "cpu"]
            rounding = "half_up"
            """
        #expect {
            try VoucherProgram.parse(text)
        } throws: { error in
            let messages = (error as? VoucherProgramError)?.problems.map(\.message) ?? []
            return messages.contains { $0.contains("CPU") } && messages.contains { $0.contains("valid_from") }
        }
    }
}
