import Foundation
import EstuaryModel
import Testing

@Suite("Job spec validation")
struct JobSpecValidationTests {
    static func valid() -> JobSpec {
        JobSpec(
            name: "train", tenant: "lab", command: ["/bin/echo", "hi"], environment: ["EPOCHS": "3"],
            resources: ResourceRequest(acceleratorClass: "ascend-910b", count: 8, tasks: 2), walltimeSeconds: 3600)
    }

    @Test("a well-formed spec has no problems")
    func validSpec() {
        #expect(Self.valid().validate().isEmpty)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let field: String
        let mutate: @Sendable (inout JobSpec) -> Void
        var testDescription: String { field }
    }

    @Test(
        "each bad field is named",
        arguments: [
            Case(field: "name") { $0.name = "" },
            Case(field: "name") { $0.name = "has space" },
            Case(field: "tenant") { $0.tenant = "../etc" },
            Case(field: "command") { $0.command = [] },
            Case(field: "command[0]") { $0.command = [""] },
            Case(field: "command[1]") { $0.command = ["/bin/echo", "a\u{0}b"] },
            Case(field: "env.1BAD") { $0.environment = ["1BAD": "x"] },
            Case(field: "resources.class") { $0.resources.classes = ["Ascend 910B"] },
            Case(field: "resources.class") { $0.resources.classes = ["nvidia-a100", ""] },
            Case(field: "resources.class") { $0.resources.classes = ["nvidia-a100", "nvidia-a100"] },
            Case(field: "resources.class") { $0.resources.classes = [] },
            Case(field: "resources.class") { $0.resources.minFP16TFLOPS = 300 },
            Case(field: "resources.min_fp16_tflops") { $0.resources.classes = []; $0.resources.minFP16TFLOPS = -1 },
            Case(field: "resources.min_memory_gib") { $0.resources.classes = []; $0.resources.minMemoryGiB = .nan },
            Case(field: "constraints.data_zone") { $0.constraints.dataZone = "g b a" },
            Case(field: "constraints.from_region") { $0.constraints.maxLatencyMs = 5 },
            Case(field: "constraints.max_latency_ms") { $0.constraints.maxLatencyMs = -1; $0.constraints.fromRegion = "shenzhen" },
            Case(field: "constraints.min_green_share_bp") { $0.constraints.minGreenShareBP = 10_001 },
            Case(field: "constraints.max_price_per_hour_fen") { $0.constraints.maxPricePerHourFen = -1 },
            Case(field: "constraints.deny_sites") { $0.constraints.denySites = ["../x"] },
            Case(field: "constraints.allow_sites") { $0.constraints.allowSites = ["a"]; $0.constraints.denySites = ["a"] },
            Case(field: "schedule.deadline") { $0.deferral = Deferral(deadlineMs: 1000) },
            Case(field: "schedule.deadline") { $0.deferral = Deferral(deferrable: true) },
            Case(field: "schedule.not_before") { $0.deferral = Deferral(notBeforeMs: -5) },
            Case(field: "resources.count") { $0.resources.count = 0 },
            Case(field: "resources.tasks") { $0.resources.tasks = 10_001 },
            Case(field: "resources.memory_mib") { $0.resources.memoryMiB = 0 },
            Case(field: "walltime_seconds") { $0.walltimeSeconds = 0 },
            Case(field: "walltime_seconds") { $0.walltimeSeconds = 31 * 24 * 3600 },
            Case(field: "priority") { $0.priority = 5000 },
            Case(field: "idempotency_key") { $0.idempotencyKey = "" },
        ])
    func badField(_ testCase: Case) {
        var spec = Self.valid()
        testCase.mutate(&spec)
        let problems = spec.validate()
        #expect(problems.map(\.field) == [testCase.field], "\(problems)")
    }

    @Test("classes, capabilities and constraints round-trip through JSON")
    func jsonRoundTrip() throws {
        var spec = Self.valid()
        spec.resources = ResourceRequest(classes: ["nvidia-v100-16g", "nvidia-v100-32g"], count: 2)
        spec.constraints = PlacementConstraints(
            dataZone: "gba", residency: "mainland", domesticOnly: true, maxLatencyMs: 5, fromRegion: "shenzhen",
            minGreenShareBP: 5000, maxPricePerHourFen: 200_000, allowSites: ["a"], denySites: ["b"], dataRegion: "shaoguan")
        spec.preference = .greenest
        spec.deferral = Deferral(notBeforeMs: 0, deadlineMs: 86_400_000, deferrable: true)
        let data = try JSONEncoder().encode(spec)
        #expect(String(decoding: data, as: UTF8.self).contains(#""class":"nvidia-v100-16g|nvidia-v100-32g""#))
        #expect(try JSONDecoder().decode(JobSpec.self, from: data) == spec)
        #expect(spec.validate().isEmpty)

        var capability = Self.valid()
        capability.resources = ResourceRequest(classes: [], minFP16TFLOPS: 300, minMemoryGiB: 64, count: 8)
        #expect(capability.validate().isEmpty)
        #expect(try JSONDecoder().decode(JobSpec.self, from: JSONEncoder().encode(capability)) == capability)
    }

    @Test("times and walltimes at the ends of their integer range are judged, not trapped on")
    func extremeTimes() {
        var spec = Self.valid()
        spec.deferral = Deferral(notBeforeMs: .max - 1, deadlineMs: 0)
        #expect(spec.validate().map(\.field) == ["schedule.deadline"])
        spec.walltimeSeconds = .max
        spec.deferral = Deferral(notBeforeMs: 1, deadlineMs: .max)
        #expect(spec.validate().map(\.field) == ["walltime_seconds", "schedule.deadline"])
        spec.walltimeSeconds = 3600
        spec.deferral = Deferral(notBeforeMs: .max, deadlineMs: .max, deferrable: true)
        #expect(spec.validate().map(\.field) == ["schedule.deadline"])
    }

    @Test("all problems are reported together")
    func allTogether() {
        var spec = Self.valid()
        spec.name = ""
        spec.command = []
        spec.resources.count = -1
        #expect(spec.validate().map(\.field) == ["name", "command", "resources.count"])
    }
}

@Suite("Walltime parsing")
struct WalltimeParserTests {
    @Test(
        "accepted forms",
        arguments: [
            ("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172_800), ("01:00:00", 3600),
            ("10:30", 630), ("1-00:00:01", 86401), (" 5m ", 300),
        ])
    func accepted(_ text: String, _ seconds: Int) {
        #expect(WalltimeParser.seconds(from: text) == seconds)
    }

    @Test("rejected forms", arguments: ["", "m", "5x", "1h30", "-5", "1:2:3:4", "99999999999999999999d", "a:b"])
    func rejected(_ text: String) {
        #expect(WalltimeParser.seconds(from: text) == nil)
    }
}

@Suite("Job states")
struct JobStateTests {
    @Test("terminal states never change")
    func terminal() {
        for state in JobState.allCases where state.isTerminal {
            for next in JobState.allCases {
                #expect(!state.canTransition(to: next))
            }
        }
    }

    @Test("the normal life of a job is allowed step by step")
    func happyPath() {
        let path: [JobState] = [.submitted, .queued, .placed, .starting, .running, .succeeded]
        for (from, to) in zip(path, path.dropFirst()) {
            #expect(from.canTransition(to: to), "\(from) → \(to)")
        }
    }

    @Test("any live job can be cancelled or lost, and progress never goes backwards except a rejection")
    func cancelAndLost() {
        for state in JobState.allCases where !state.isTerminal {
            #expect(state.canTransition(to: .cancelled))
            #expect(state.canTransition(to: .lost))
        }
        #expect(!JobState.running.canTransition(to: .placed))
        #expect(JobState.placed.canTransition(to: .queued))
    }

    @Test("usage is counted in exact unit-milliseconds")
    func usageUnits() {
        let record = UsageRecord(
            id: .forJob("j1", attempt: 1), jobID: "j1", siteID: "s", acceleratorClass: "nvidia-a100", units: 8,
            startedAtMs: 1_000, endedAtMs: 3_500)
        #expect(record.unitMilliseconds == 20_000)
        #expect(record.id.rawValue == "u-j1-1")
    }
}
