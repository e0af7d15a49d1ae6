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
            Case(field: "resources.class") { $0.resources.acceleratorClass = "Ascend 910B" },
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
