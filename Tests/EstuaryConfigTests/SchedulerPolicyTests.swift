import EstuaryConfig
import EstuaryModel
import EstuaryScheduler
import Testing

private func policyProblems(_ text: String) -> [FieldError] {
    do {
        _ = try SchedulerPolicy.parse(text)
        return []
    } catch {
        return error.problems
    }
}

@Suite("scheduler policy files")
struct SchedulerPolicyTests {
    @Test("Agents/policy.example.toml parses into the Greater Bay Area policy")
    func examplePolicy() throws {
        let policy = try SchedulerPolicy.load(path: repositoryRoot() + "/Agents/policy.example.toml")
        #expect(policy.defaultPreference == .balanced)
        #expect(policy.holdTimeoutMs == 60_000)
        #expect(policy.reservationDepth == 16)
        #expect(policy.latency.ms(from: "shenzhen", to: "shenzhen") == 1)
        #expect(policy.latency.ms(from: "shenzhen", to: "shaoguan") == 3)
        #expect(policy.latency.ms(from: "shaoguan", to: "guangzhou") == 3)
        #expect(policy.latency.ms(from: "beijing", to: "shenzhen") == 32)
        for region in ["shenzhen", "guangzhou", "dongguan", "zhuhai", "macau", "hongkong", "shaoguan"] {
            for other in ["shenzhen", "guangzhou", "dongguan", "zhuhai", "macau", "hongkong", "shaoguan"] {
                let ms = policy.latency.ms(from: region, to: other)
                #expect(ms != nil && ms! < 10, "\(region)–\(other) should be a known bay-area latency under 10 ms")
            }
        }
        #expect(policy.tenant("acme") == TenantPolicy(weight: 2, quotas: ["nvidia-a100": 64, "ascend-910b": 128]))
        #expect(policy.tenant("someone-else").weight == 1)
        #expect(policy.weights[.balanced] == SchedulerPolicy.standardWeights[.balanced])
        #expect(policy.weights[.greenest]?.carbon == 75)
        #expect(policy.weights[.greenest]?.price == SchedulerPolicy.standardWeights[.greenest]?.price)
    }

    @Test("an empty file is the default policy")
    func emptyIsDefault() throws {
        #expect(try SchedulerPolicy.parse("") == SchedulerPolicy())
    }

    @Test(
        "durations are read as people write them",
        arguments: [(#""1500ms""#, 1500), (#""60s""#, 60_000), (#""5m""#, 300_000), ("90", 90_000)] as [(String, Int64)]
    )
    func holdTimeout(text: String, ms: Int64) throws {
        #expect(try SchedulerPolicy.parse("[scheduler]\nhold_timeout = \(text)\n").holdTimeoutMs == ms)
    }

    @Test(
        "a bad value is reported by its path",
        arguments: [
            (#"[scheduler]\#ndefault_preference = "cheap""#, "scheduler.default_preference", "one of cheapest, fastest, greenest, balanced"),
            (#"[scheduler]\#nhold_timeout = "soon""#, "scheduler.hold_timeout", "must be a duration"),
            (#"[scheduler]\#nhold_timeout = "500ms""#, "scheduler.hold_timeout", "from 1s to 1h"),
            (#"[scheduler]\#nhold_timeout = "2h""#, "scheduler.hold_timeout", "from 1s to 1h"),
            ("[scheduler]\nreservation_depth = -1", "scheduler.reservation_depth", "between 0 and 10000"),
            ("[scheduler]\nholdtimeout = 5", "scheduler.holdtimeout", "unknown key"),
            (#"[[latency]]\#nbetween = ["shenzhen"]\#nms = 3"#, "latency[0].between", "two regions"),
            (#"[[latency]]\#nbetween = ["shenzhen", "shaoguan"]\#nms = -3"#, "latency[0].ms", "between 0"),
            (#"[[latency]]\#nbetween = ["shenzhen", "shaoguan"]"#, "latency[0].ms", "missing"),
            ("[[latency]]\nms = 3", "latency[0].between", "missing"),
            (#"[[latency]]\#nbetween = ["shen zhen", "shaoguan"]\#nms = 3"#, "latency[0].between", "not a region name"),
            ("[tenants.acme]\nweight = 0", "tenants.acme.weight", "between 1 and 10000"),
            (#"[tenants.acme]\#nquota = { "nvidia-a100" = -1 }"#, "tenants.acme.quota.nvidia-a100", "0 or more"),
            (#"[tenants.acme]\#nquota = { "A100" = 8 }"#, "tenants.acme.quota.A100", "catalog class name"),
            (#"[tenants."bad tenant"]\#nweight = 1"#, "tenants.bad tenant", "tenant id"),
            ("[default_tenant]\nshare = 2", "default_tenant.share", "unknown key"),
            ("[weights.fastest]\nprice = -1", "weights.fastest.price", "between 0"),
            ("[weights.quickest]\nprice = 1", "weights.quickest", "unknown preset"),
            ("[weights.cheapest]\nprice = 0\nstart = 0\nlatency = 0\ncarbon = 0\nspread = 0\nlocality = 0", "weights.cheapest", "all be 0"),
            ("[tenant.acme]\nweight = 2", "tenant", "unknown key"),
        ] as [(String, String, String)]
    )
    func reportsProblem(text: String, field: String, message: String) {
        let problems = policyProblems(text)
        #expect(problems.contains { $0.field == field && $0.message.contains(message) }, "got \(problems)")
    }

    @Test("a pair given twice is reported, in either order")
    func duplicatePair() {
        let text = """
            [[latency]]
            between = ["shenzhen", "shaoguan"]
            ms = 3
            [[latency]]
            between = ["shaoguan", "shenzhen"]
            ms = 4
            """
        #expect(policyProblems(text) == [FieldError(field: "latency[1].between", message: "shaoguan–shenzhen is already given by latency[0]")])
    }

    @Test("every problem is reported together")
    func allProblems() {
        let text = """
            [scheduler]
            default_preference = "cheap"
            reservation_depth = "many"
            [tenants.acme]
            weight = 0
            """
        #expect(Set(policyProblems(text).map(\.field)) == ["scheduler.default_preference", "scheduler.reservation_depth", "tenants.acme.weight"])
    }
}
