import EstuaryConfig
import EstuaryModel
import Testing

private let resourcesCPU = "[resources]\nclass = \"cpu-x86-64\"\n"

private func hello(
    resources: ResourceRequest = ResourceRequest(acceleratorClass: "cpu-x86-64"), constraints: PlacementConstraints = .none,
    preference: PlacementPreference? = nil, deferral: Deferral? = nil
) -> JobSpec {
    JobSpec(
        name: "hello", tenant: "dev", command: ["/bin/echo", "hello"], resources: resources, walltimeSeconds: 300,
        constraints: constraints, preference: preference, deferral: deferral)
}

/// 2026-11-24T01:00:00+08:00 and 09:00:00+08:00 in ms since the epoch.
private let notBefore: Int64 = 1_795_453_200_000
private let deadline: Int64 = 1_795_482_000_000

let placementCases: [JobFileCase] = [
    .ok(
        "every placement key",
        minimalHeader + """
            preference = "cheapest"
            [resources]
            min_fp16_tflops = 300
            min_memory_gib = 64.5
            count = 8
            [constraints]
            data_zone = "gba"
            residency = "mainland"
            domestic_only = true
            max_latency_ms = 5
            from_region = "shenzhen"
            min_green_share = 0.5
            max_price_per_hour = "2000.00"
            allow_sites = ["a", "b"]
            deny_sites = ["c"]
            data_region = "shaoguan"
            [schedule]
            not_before = 2026-11-24T01:00:00+08:00
            deadline = 2026-11-24T09:00:00+08:00
            deferrable = true
            """,
        hello(
            resources: ResourceRequest(classes: [], minFP16TFLOPS: 300, minMemoryGiB: 64.5, count: 8),
            constraints: PlacementConstraints(
                dataZone: "gba", residency: "mainland", domesticOnly: true, maxLatencyMs: 5, fromRegion: "shenzhen",
                minGreenShareBP: 5000, maxPricePerHourFen: 200_000, allowSites: ["a", "b"], denySites: ["c"],
                dataRegion: "shaoguan"),
            preference: .cheapest,
            deferral: Deferral(notBeforeMs: notBefore, deadlineMs: deadline, deferrable: true))
    ),
    .ok(
        "alternative classes with |", minimalHeader + "[resources]\nclass = \"nvidia-v100-16g|nvidia-v100-32g\"\n",
        hello(resources: ResourceRequest(classes: ["nvidia-v100-16g", "nvidia-v100-32g"]))
    ),
    .ok(
        "alternative classes as an array", minimalHeader + "[resources]\nclass = [\"nvidia-a100\", \"nvidia-a800\"]\n",
        hello(resources: ResourceRequest(classes: ["nvidia-a100", "nvidia-a800"]))
    ),
    .ok(
        "price as an integer of CNY", minimalHeader + resourcesCPU + "[constraints]\nmax_price_per_hour = 20\n",
        hello(constraints: PlacementConstraints(maxPricePerHourFen: 2000))
    ),
    .ok(
        "price in fen", minimalHeader + resourcesCPU + "[constraints]\nmax_price_per_hour_fen = 199\n",
        hello(constraints: PlacementConstraints(maxPricePerHourFen: 199))
    ),
    .ok(
        "price with one decimal", minimalHeader + resourcesCPU + "[constraints]\nmax_price_per_hour = \"0.5\"\n",
        hello(constraints: PlacementConstraints(maxPricePerHourFen: 50))
    ),
    .ok(
        "green share written as 0.29 is exactly 2900 basis points",
        minimalHeader + resourcesCPU + "[constraints]\nmin_green_share = 0.29\n",
        hello(constraints: PlacementConstraints(minGreenShareBP: 2900))
    ),
    .ok(
        "green share in exponent form", minimalHeader + resourcesCPU + "[constraints]\nmin_green_share = \"5e-1\"\n",
        hello(constraints: PlacementConstraints(minGreenShareBP: 5000))
    ),
    .invalid(
        "green share with an absurd exponent", minimalHeader + resourcesCPU + "[constraints]\nmin_green_share = \"1e-9223372036854775808\"\n",
        [#"constraints.min_green_share: cannot read "1e-9223372036854775808" as a decimal number such as 0.5"#]
    ),
    .ok(
        "a deadline alone, in UTC", minimalHeader + resourcesCPU + "[schedule]\ndeadline = 2026-11-24T01:00:00Z\n",
        hello(deferral: Deferral(deadlineMs: deadline))
    ),
    .invalid(
        "unknown keys in the new sections",
        minimalHeader + resourcesCPU + "[constraints]\nresidnecy = \"mainland\"\n[schedule]\nfinish_by = 2026-11-24T01:00:00Z\n",
        [#"constraints.residnecy: unknown key; did you mean "residency"?"#, #"schedule.finish_by: unknown key; did you mean "deadline"?"#]
    ),
    .invalid(
        "unknown preference", minimalHeader + "preference = \"cheap\"\n" + resourcesCPU,
        ["preference: must be one of cheapest, fastest, greenest, balanced"]
    ),
    .invalid(
        "a class and a capability together", minimalHeader + "[resources]\nclass = \"nvidia-a100\"\nmin_memory_gib = 40\n",
        ["resources.class: give either classes or a capability (min_fp16_tflops, min_memory_gib), not both"]
    ),
    .invalid(
        "an empty alternative", minimalHeader + "[resources]\nclass = \"nvidia-a100||nvidia-a800\"\n",
        [#"resources.class: "" is not a catalog class name such as "ascend-910b" or "cpu-x86-64""#]
    ),
    .invalid(
        "a capability that is not a number", minimalHeader + "[resources]\nmin_fp16_tflops = \"lots\"\n",
        ["resources.min_fp16_tflops: expected a number, found a string"]
    ),
    .invalid(
        "a zero capability", minimalHeader + "[resources]\nmin_fp16_tflops = 0\n",
        ["resources.min_fp16_tflops: must be a positive number of TFLOPS per unit"]
    ),
    .invalid(
        "price as a float", minimalHeader + resourcesCPU + "[constraints]\nmax_price_per_hour = 2000.5\n",
        [#"constraints.max_price_per_hour: expected a decimal string or an integer of CNY, found a floating-point number; quote it: max_price_per_hour = "2000.5" (money is read exactly, never as a float)"#]
    ),
    .invalid(
        "price finer than a fen", minimalHeader + resourcesCPU + "[constraints]\nmax_price_per_hour = \"12.345\"\n",
        [#"constraints.max_price_per_hour: "12.345" has fractions of a fen; give at most 2 decimal places"#]
    ),
    .invalid(
        "price not a number", minimalHeader + resourcesCPU + "[constraints]\nmax_price_per_hour = \"cheap\"\n",
        [#"constraints.max_price_per_hour: cannot read "cheap" as a decimal number such as "2000.00""#]
    ),
    .invalid(
        "price both ways", minimalHeader + resourcesCPU + "[constraints]\nmax_price_per_hour = \"1\"\nmax_price_per_hour_fen = 100\n",
        ["constraints.max_price_per_hour: give max_price_per_hour (CNY) or max_price_per_hour_fen (fen), not both"]
    ),
    .invalid(
        "negative price in fen is named by its key", minimalHeader + resourcesCPU + "[constraints]\nmax_price_per_hour_fen = -1\n",
        ["constraints.max_price_per_hour_fen: must not be negative"]
    ),
    .invalid(
        "green share out of range", minimalHeader + resourcesCPU + "[constraints]\nmin_green_share = 1.2\n",
        ["constraints.min_green_share: must be between 0 and 1"]
    ),
    .invalid(
        "latency without a region", minimalHeader + resourcesCPU + "[constraints]\nmax_latency_ms = 5\n",
        ["constraints.from_region: is required with max_latency_ms: latency is measured from a region"]
    ),
    .invalid(
        "wrong types in constraints",
        minimalHeader + resourcesCPU + "[constraints]\ndomestic_only = \"yes\"\nallow_sites = \"a\"\ndeny_sites = [1]\nmax_latency_ms = 2.5\n",
        [
            "constraints.domestic_only: expected true or false, found a string",
            "constraints.max_latency_ms: expected an integer, found a floating-point number",
            #"constraints.allow_sites: expected an array of strings, found a string; write ["a"]"#,
            "constraints.deny_sites[0]: expected a string, found an integer",
        ]
    ),
    .invalid(
        "a bad site id", minimalHeader + resourcesCPU + "[constraints]\ndeny_sites = [\"no such/site\"]\n",
        [#"constraints.deny_sites: "no such/site" is not a site id"#]
    ),
    .invalid(
        "a date-time without an offset", minimalHeader + resourcesCPU + "[schedule]\ndeadline = 2026-11-24T09:00:00\n",
        ["schedule.deadline: needs a UTC offset so that it names one instant, e.g. deadline = 2026-11-24T09:00:00+08:00"]
    ),
    .invalid(
        "a quoted date-time", minimalHeader + resourcesCPU + "[schedule]\nnot_before = \"2026-11-24T01:00:00+08:00\"\n",
        ["schedule.not_before: expected a date-time with a UTC offset, found a string; write it without quotes: not_before = 2026-11-24T09:00:00+08:00"]
    ),
    .invalid(
        "deferrable without a deadline", minimalHeader + resourcesCPU + "[schedule]\ndeferrable = true\n",
        ["schedule.deadline: is required for a deferrable job: it bounds how long it may wait"]
    ),
    .invalid(
        "a deadline too early for the walltime",
        minimalHeader + resourcesCPU + "[schedule]\nnot_before = 2026-11-24T01:00:00+08:00\ndeadline = 2026-11-24T01:04:00+08:00\n",
        ["schedule.deadline: leaves less than the walltime after not_before: the job could never finish in time"]
    ),
    .invalid(
        "sections of the wrong type", minimalHeader + "constraints = 3\nschedule = \"soon\"\n" + resourcesCPU,
        [
            "constraints: expected a table, found an integer; write a [constraints] section",
            "schedule: expected a table, found a string; write a [schedule] section",
        ]
    ),
]

@Suite("job files: placement keys")
struct JobFilePlacementTests {
    @Test("placement keys parse or report every problem by field", arguments: placementCases)
    func cases(_ example: JobFileCase) {
        let outcome = Result { () throws(JobFileError) in try JobFile.parse(example.text) }
        switch (outcome, example.expected) {
        case (.success(let spec), .success(let expected)):
            #expect(spec == expected)
        case (.failure(let error), .failure(let expected)):
            #expect(error.problems == expected.problems)
        case (.success(let spec), .failure(let expected)):
            Issue.record("expected \(expected.problems), parsed \(spec)")
        case (.failure(let error), .success):
            Issue.record("expected success, got:\n\(error)")
        }
    }

    @Test("the example job files in Agents/examples still parse", arguments: ["cpu-sweep", "hello-npu", "train-a100"])
    func examples(name: String) throws {
        let text = try #require(fileBytes(repositoryRoot() + "/Agents/examples/\(name).toml"))
        _ = try JobFile.parse(String(decoding: text, as: UTF8.self))
    }
}
