import EstuaryModel

/// One reason a site (or one of its pools) cannot take a job. The static reasons hold until the
/// site or the job changes; `busy`, `reserved` and `quota` pass as capacity frees.
public enum RuleOut: Sendable, Hashable, CustomStringConvertible {
    case unreachable
    case draining
    case notAllowed
    case denied
    /// The site rejected the job, or let its hold lapse, on this attempt (nil: before the
    /// scheduler knew the job, e.g. excluded at submit).
    case rejectedBefore(attempt: Int?)
    case dataZone(zone: String, siteZones: [String])
    case residency(zone: String, siteZones: [String])
    case noPool(classes: [AcceleratorClass])
    case noCapability(minFP16TFLOPS: Double?, minMemoryGiB: Double?)
    case notDomestic(AcceleratorClass)
    case latencyTooHigh(ms: Int, from: String, to: String, maxMs: Int)
    case latencyUnknown(from: String?, to: String)
    case greenShareTooLow(shareBP: Int, minBP: Int)
    case noPrice(AcceleratorClass)
    /// The whole job's price per hour (all units) at the effective price now.
    case priceTooHigh(fenPerHour: Int64, maxFenPerHour: Int64)
    case poolTooSmall(cls: AcceleratorClass, units: Int, perTask: Int, tasks: Int, count: Int)
    case busy(cls: AcceleratorClass, units: Int, free: Int)
    /// Units are free now but held back for a blocked job that starts before this one would end.
    case reserved(cls: AcceleratorClass, job: JobID, startsInMs: Int64)
    case quota(tenant: TenantID, cls: AcceleratorClass, holds: Int, limit: Int)

    /// Whether the reason passes with time alone (capacity or quota frees up).
    public var isDynamic: Bool {
        switch self {
        case .busy, .reserved, .quota: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .unreachable:
            return "site unreachable"
        case .draining:
            return "site draining"
        case .notAllowed:
            return "not in the job's allow list"
        case .denied:
            return "on the job's deny list"
        case .rejectedBefore(let attempt):
            return attempt.map { "rejected this job before (attempt \($0))" } ?? "rejected this job before"
        case .dataZone(let zone, let zones):
            return "data zone \(zone): site is in [\(zones.joined(separator: ", "))]"
        case .residency(let zone, let zones):
            return "residency \(zone): site is in [\(zones.joined(separator: ", "))]"
        case .noPool(let classes):
            return "no pool of " + classes.map(\.rawValue).joined(separator: "|")
        case .noCapability(let tflops, let memory):
            var parts: [String] = []
            if let tflops { parts.append("≥ \(Format.number(tflops)) TFLOPS FP16") }
            if let memory { parts.append("≥ \(Format.number(memory)) GiB") }
            return parts.isEmpty ? "no accelerator class" : "no class with " + parts.joined(separator: " and ")
        case .notDomestic(let cls):
            return "domestic_only: \(cls) is not domestic"
        case .latencyTooHigh(let ms, let from, let to, let maxMs):
            return "latency \(ms) ms from \(from) to \(to) exceeds \(maxMs) ms"
        case .latencyUnknown(let from, let to):
            return from.map { "latency from \($0) to \(to) unknown" } ?? "latency to \(to) unknown: the job gives no from_region"
        case .greenShareTooLow(let share, let minimum):
            return "green share \(Format.percent(basisPoints: share)) below \(Format.percent(basisPoints: minimum))"
        case .noPrice(let cls):
            return "site publishes no price for \(cls)"
        case .priceTooHigh(let fen, let maxFen):
            return "price \(Format.cny(fen)) CNY/h exceeds \(Format.cny(maxFen)) CNY/h"
        case .poolTooSmall(let cls, let units, let perTask, let tasks, let count):
            let shape = tasks > 1 ? " (\(perTask) × \(tasks) tasks)" : ""
            return "pool too small: needs \(units) \(cls)\(shape), has \(count)"
        case .busy(let cls, let units, let free):
            return "busy: needs \(units) free \(cls), \(free) free"
        case .reserved(let cls, let job, let startsIn):
            return "busy: free \(cls) reserved for job \(job), which should start in ~\(Format.duration(ms: startsIn))"
        case .quota(let tenant, let cls, let holds, let limit):
            return "quota: tenant \(tenant) holds \(holds) of \(limit) \(cls)"
        }
    }
}
