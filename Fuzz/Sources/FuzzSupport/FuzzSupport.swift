// Shared checks for the fuzz targets: the model conversions the coordinator and the agent apply
// to a decoded envelope, and the invariants every accepted input must satisfy. A violated
// invariant calls `fuzzCheck`, which aborts, so libFuzzer records the input as a crash.

import EstuaryConfig
import EstuaryModel
import EstuaryWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Aborts with `message` (on stderr, where libFuzzer's crash report picks it up) when
/// `condition` is false. Unlike `precondition` it also fires in -Ounchecked builds.
@inline(never)
public func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if condition() { return }
    var text = "fuzz invariant violated at \(file):\(line): \(message())\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}

// MARK: known issues
//
// None open. The two usage-record bugs these targets found (an Int64 overflow on a hostile
// duration that crashed the coordinator, and unbounded units) are fixed in
// UsageRecord(wire:siteID:); their reproducers stay in Corpus/ as edge-regression-* seeds.

/// The input as an array, so targets never hold the fuzzer's pointer past the call.
public func fuzzBytes(_ start: UnsafeRawPointer, _ count: Int) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: start, count: count))
}

/// The site id a session is bound to, as the coordinator passes it to `UsageRecord(wire:siteID:)`.
public let fuzzSiteID = SiteID(rawValue: "fuzz-site")

/// Runs what the coordinator (upstream bodies) and the agent (downstream bodies) do with an
/// envelope's body after decoding it, and checks that every conversion that accepts a value
/// round-trips through the wire form unchanged.
public func exercise(_ envelope: Estuary_V1_Envelope) {
    _ = envelope.isReliable
    _ = envelope.isPureAck
    switch envelope.body {
    case .hello(let hello):
        _ = WireProtocol.negotiate(hello.protocolVersions)
        _ = Compression.negotiate(offered: hello.compression)
        let limit = WireProtocol.negotiateMaxFrameBytes(offered: hello.maxFrameBytes, local: FrameLimits.defaultMaxFrameBytes)
        fuzzCheck(limit >= 1 && limit <= FrameLimits.defaultMaxFrameBytes, "negotiated max frame bytes \(limit)")
        _ = FrameLimits(maxFrameBytes: limit)
        if let site = try? SiteDescriptor(wire: hello.site) {
            fuzzCheck(site.id.isWellFormed, "accepted site id \(site.id.rawValue.debugDescription)")
            let back = try? SiteDescriptor(wire: Estuary_V1_Site(site))
            fuzzCheck(back == site, "site descriptor does not round-trip: \(site)")
        }
    case .welcome(let welcome):
        _ = Compression(rawValue: welcome.compression)
        _ = WireProtocol.negotiateMaxFrameBytes(offered: welcome.maxFrameBytes, local: FrameLimits.defaultMaxFrameBytes)
    case .capacity(let report):
        for pool in report.pools {
            guard let capacity = try? PoolCapacity(wire: pool) else { continue }
            fuzzCheck(capacity.free <= capacity.count, "accepted pool with free > count: \(capacity)")
            let back = try? PoolCapacity(wire: Estuary_V1_Pool(capacity))
            fuzzCheck(back == capacity, "pool does not round-trip: \(capacity)")
        }
    case .jobAssign(let assign):
        exerciseJobSpec(wire: assign.spec)
    case .usage(let batch):
        for record in batch.records {
            guard let usage = try? UsageRecord(wire: record, siteID: fuzzSiteID) else { continue }
            fuzzCheck(usage.units >= 1 && usage.endedAtMs >= usage.startedAtMs, "accepted usage record \(usage)")
            fuzzCheck(usage.durationMs <= UsageRecord.maxDurationMs, "duration of \(usage)")
            fuzzCheck(
                usage.unitMilliseconds >= 0 && usage.unitMilliseconds < Int64.max,
                "unit-ms of \(usage) saturated")
            let back = try? UsageRecord(wire: Estuary_V1_UsageRecord(usage), siteID: fuzzSiteID)
            fuzzCheck(back == usage, "usage record does not round-trip: \(usage)")
        }
    case .error(let error):
        _ = error.code.rawValue
    case .jobCancel, .jobUpdate, .logChunk, .drain, nil:
        break
    }
}

/// `JobSpec(wire:)` as the agent applies it to a `JobAssign`; an accepted spec must validate and
/// survive the trip back to the wire.
public func exerciseJobSpec(wire: Estuary_V1_JobSpec) {
    guard let spec = try? JobSpec(wire: wire) else { return }
    fuzzCheck(spec.validate().isEmpty, "JobSpec(wire:) accepted an invalid spec: \(spec.validate())")
    _ = spec.resources.totalUnits
    var expected = wire
    expected.unknownFields = .init()
    let encoded = Estuary_V1_JobSpec(spec)
    fuzzCheck(encoded == expected, "job spec does not round-trip to the same wire form")
}

/// Checks a spec that a job file or the API accepted: it must be valid, and it must reach a site
/// unchanged (the coordinator sends it in `JobAssign`, the agent reads it back with
/// `JobSpec(wire:)`). The idempotency key stays at the coordinator.
public func exerciseAcceptedSpec(_ spec: JobSpec) {
    fuzzCheck(spec.validate().isEmpty, "accepted an invalid spec: \(spec.validate())")
    _ = spec.resources.totalUnits
    let wire = Estuary_V1_JobSpec(spec)
    var withoutKey = spec
    withoutKey.idempotencyKey = nil
    do {
        let back = try JobSpec(wire: wire)
        fuzzCheck(back == withoutKey, "spec changes on its way to the site: \(spec) became \(back)")
    } catch {
        fuzzCheck(false, "a valid spec is refused by JobSpec(wire:): \(error)")
    }
}
