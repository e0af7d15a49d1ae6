import EstuaryModel
import EstuaryWire
import Testing

@Suite("model conversions")
struct ConversionTests {
    static let spec = JobSpec(
        name: "llm-finetune", tenant: "acme-ai", command: ["/usr/bin/python3", "train.py"],
        environment: ["HF_HOME": "/scratch/hf"],
        resources: ResourceRequest(acceleratorClass: "ascend-910b", count: 8, tasks: 2, memoryMiB: 65536),
        walltimeSeconds: 7200, priority: -5, idempotencyKey: "submit-1"
    )

    @Test("a job spec survives the wire, except its idempotency key which stays at the coordinator")
    func jobSpecRoundTrip() throws {
        var expected = Self.spec
        expected.idempotencyKey = nil
        #expect(try JobSpec(wire: Estuary_V1_JobSpec(Self.spec)) == expected)
        var noMemory = expected
        noMemory.resources.memoryMiB = nil
        let wire = Estuary_V1_JobSpec(noMemory)
        #expect(wire.memoryMib == 0)
        #expect(try JobSpec(wire: wire) == noMemory)
    }

    @Test("an invalid job spec from the wire names every bad field")
    func jobSpecInvalid() {
        var wire = Estuary_V1_JobSpec(Self.spec)
        wire.count = 0
        wire.command = []
        wire.env["1BAD"] = "x"
        wire.memoryMib = UInt64.max
        #expect {
            try JobSpec(wire: wire)
        } throws: { error in
            let fields = (error as? ValidationError)?.problems.map(\.field) ?? []
            return fields == ["resources.memory_mib", "command", "env.1BAD", "resources.count"]
        }
    }

    @Test("a class expression from the wire must be canonical; alternatives survive the trip", arguments: [
        ("ascend-910b", true), ("nvidia-v100-16g|nvidia-v100-32g", true), (" ascend-910b", false), ("nvidia-v100-16g | nvidia-v100-32g", false),
        ("a||b", false), ("", false),
    ])
    func classExpression(text: String, accepted: Bool) throws {
        var wire = Estuary_V1_JobSpec(Self.spec)
        wire.acceleratorClass = text
        if accepted {
            #expect(Estuary_V1_JobSpec(try JobSpec(wire: wire)) == wire)
        } else {
            #expect(throws: ValidationError.self) { try JobSpec(wire: wire) }
        }
    }

    @Test("a pool survives the wire, and an impossible one is refused")
    func pool() throws {
        let pool = PoolCapacity(acceleratorClass: "nvidia-h100", count: 64, free: 8, simulated: true)
        #expect(try PoolCapacity(wire: Estuary_V1_Pool(pool)) == pool)
        var wire = Estuary_V1_Pool(pool)
        wire.free = 65
        wire.acceleratorClass = "NVIDIA H100"
        #expect(throws: ValidationError([
            FieldError(field: "accelerator_class", message: "must be a catalog class name such as \"ascend-910b\""),
            FieldError(field: "free", message: "is 65, more than count 64"),
        ])) { try PoolCapacity(wire: wire) }
    }

    @Test("a usage record takes its site from the session and keeps its exact unit-milliseconds")
    func usageRecord() throws {
        let record = UsageRecord(
            id: .forJob("j-1", attempt: 2), jobID: "j-1", siteID: "gz-tianhe", acceleratorClass: "ascend-910b",
            units: 16, startedAtMs: 1_000, endedAtMs: 61_000
        )
        let wire = Estuary_V1_UsageRecord(record)
        #expect(wire.recordID == "u-j-1-2")
        let back = try UsageRecord(wire: wire, siteID: "gz-tianhe")
        #expect(back == record)
        #expect(back.unitMilliseconds == 960_000)
    }

    @Test("a usage record that ends before it starts, or has no units, is refused")
    func usageRecordInvalid() {
        var wire = Estuary_V1_UsageRecord()
        wire.recordID = "u-j-1-1"
        wire.jobID = "j-1"
        wire.acceleratorClass = "cpu-x86-64"
        wire.startedAtMs = 10
        wire.endedAtMs = 5
        #expect {
            try UsageRecord(wire: wire, siteID: "s")
        } throws: { error in
            (error as? ValidationError)?.problems.map(\.field) == ["units", "ended_at_ms"]
        }
    }

    // Found by Fuzz/ (FuzzEnvelopeDecoder): started -1, ended Int64.max trapped on the
    // subtraction, and 2^32-1 units were accepted. Both come from a peer, so both are refused.
    @Test("hostile usage values are refused, never trap", arguments: [
        (Int64(-1), Int64.max, UInt32(1), ["started_at_ms", "ended_at_ms"]),
        (Int64.min, Int64.max, UInt32(1), ["started_at_ms", "ended_at_ms"]),
        (Int64(0), Int64(1_000), UInt32.max, ["units"]),
    ])
    func usageRecordHostile(started: Int64, ended: Int64, units: UInt32, fields: [String]) {
        var wire = Estuary_V1_UsageRecord()
        wire.recordID = "u-j-1-1"
        wire.jobID = "j-1"
        wire.acceleratorClass = "cpu-x86-64"
        wire.units = units
        wire.startedAtMs = started
        wire.endedAtMs = ended
        #expect {
            try UsageRecord(wire: wire, siteID: "s")
        } throws: { error in
            (error as? ValidationError)?.problems.map(\.field) == fields
        }
    }

    @Test("a site descriptor survives the wire, and an ill-formed id is refused")
    func site() throws {
        let site = SiteDescriptor(id: "gz-tianhe", displayName: "Tianhe", region: "guangzhou", zones: ["gba"], driver: "slurm")
        #expect(try SiteDescriptor(wire: Estuary_V1_Site(site)) == site)
        var wire = Estuary_V1_Site(site)
        wire.id = "../etc"
        #expect(throws: ValidationError.self) { try SiteDescriptor(wire: wire) }
        // A price book with no prices and no periods (here at UTC+0) is no book: it reads as the
        // default one, which is what the encoder omits, so the descriptor round-trips (fuzz find).
        var empty = Estuary_V1_Site(site)
        empty.priceBook = Estuary_V1_PriceBook()
        let read = try SiteDescriptor(wire: empty)
        #expect(read == site)
        #expect(try SiteDescriptor(wire: Estuary_V1_Site(read)) == read)
    }
}
