import EstuaryModel

/// What the mesh has, rolled up per site, per region and for the whole mesh, in the units
/// policy documents count compute in ("80 EFLOPS under unified scheduling", DESIGN.md §4).
///
/// FP16 figures are FP16-equivalent: Σ units × per-unit dense FP16 TFLOPS / 1000. Two are
/// given: the catalog's *published peak*, and *verified where measured*, which takes a pool's
/// figure from its enrolment test job where there is one and the published peak elsewhere.
/// Classes the catalog lacks are listed as unrated and add 0 to the published figures (a
/// measured figure still counts as verified). Free units count only at sites that take work
/// (`available`); a draining or unreachable site has none.
///
/// Served as JSON by the API, so every list is sorted and every key is snake_case.
public struct CapacitySummary: Codable, Sendable, Hashable {
    public var mesh: CapacityFigures
    /// By region name.
    public var regions: [RegionCapacity]
    /// By site id.
    public var sites: [SiteCapacity]

    public init(mesh: CapacityFigures, regions: [RegionCapacity], sites: [SiteCapacity]) {
        self.mesh = mesh
        self.regions = regions
        self.sites = sites
    }

    /// Rolls up `sites` with the per-unit figures of `catalog`.
    public init(sites: some Sequence<SchedulerSite>, catalog: AcceleratorCatalog) {
        let ordered = sites.enumerated().sorted { ($0.element.id, $0.offset) < ($1.element.id, $1.offset) }.map(\.element)
        var siteTallies: [(SchedulerSite, CapacityTally)] = []
        for site in ordered {
            var tally = CapacityTally()
            for pool in site.pools { tally.add(pool, takesWork: site.status == .available, catalog: catalog) }
            siteTallies.append((site, tally))
        }
        var regionTallies: [String: (sites: Int, tally: CapacityTally)] = [:]
        var meshTally = CapacityTally()
        for (site, tally) in siteTallies {
            regionTallies[site.region, default: (0, CapacityTally())].sites += 1
            regionTallies[site.region]!.tally.merge(tally)
            meshTally.merge(tally)
        }
        self.init(
            mesh: meshTally.figures,
            regions: regionTallies.keys.sorted().map { region in
                let entry = regionTallies[region]!
                return RegionCapacity(region: region, siteCount: entry.sites, capacity: entry.tally.figures)
            },
            sites: siteTallies.map { site, tally in
                SiteCapacity(site: site.id, region: site.region, status: site.status, capacity: tally.figures)
            })
    }
}

/// One site's capacity.
public struct SiteCapacity: Codable, Sendable, Hashable {
    public var site: SiteID
    public var region: String
    public var status: SiteStatus
    public var capacity: CapacityFigures

    public init(site: SiteID, region: String, status: SiteStatus, capacity: CapacityFigures) {
        self.site = site
        self.region = region
        self.status = status
        self.capacity = capacity
    }
}

/// One region's capacity: the sum of its sites.
public struct RegionCapacity: Codable, Sendable, Hashable {
    public var region: String
    public var siteCount: Int
    public var capacity: CapacityFigures

    public init(region: String, siteCount: Int, capacity: CapacityFigures) {
        self.region = region
        self.siteCount = siteCount
        self.capacity = capacity
    }

    enum CodingKeys: String, CodingKey {
        case region
        case siteCount = "site_count"
        case capacity
    }
}

/// Compute of a site, a region or the mesh: totals over classes, and each class.
public struct CapacityFigures: Codable, Sendable, Hashable {
    /// Published peak dense FP16 PFLOPS.
    public var fp16PeakPFLOPS: Double
    /// FP16 PFLOPS counting each pool's measured figure where it has one, the published peak elsewhere.
    public var fp16VerifiedPFLOPS: Double
    /// Published peak FP16 PFLOPS of the free units.
    public var freeFP16PeakPFLOPS: Double
    /// Published peak FP64 PFLOPS.
    public var fp64PFLOPS: Double
    /// Per class, sorted by class name.
    public var classes: [ClassCapacity]
    /// Classes the catalog does not know (they add 0), sorted.
    public var unrated: [AcceleratorClass]

    public init(
        fp16PeakPFLOPS: Double = 0, fp16VerifiedPFLOPS: Double = 0, freeFP16PeakPFLOPS: Double = 0, fp64PFLOPS: Double = 0,
        classes: [ClassCapacity] = [], unrated: [AcceleratorClass] = []
    ) {
        self.fp16PeakPFLOPS = fp16PeakPFLOPS
        self.fp16VerifiedPFLOPS = fp16VerifiedPFLOPS
        self.freeFP16PeakPFLOPS = freeFP16PeakPFLOPS
        self.fp64PFLOPS = fp64PFLOPS
        self.classes = classes
        self.unrated = unrated
    }

    enum CodingKeys: String, CodingKey {
        case fp16PeakPFLOPS = "fp16_peak_pflops"
        case fp16VerifiedPFLOPS = "fp16_verified_pflops"
        case freeFP16PeakPFLOPS = "free_fp16_peak_pflops"
        case fp64PFLOPS = "fp64_pflops"
        case classes, unrated
    }

    /// A FLOPS figure as policy documents write it: `"80.0 EFLOPS"` from 1000 PFLOPS up,
    /// `"312.5 PFLOPS"` from 1 PFLOPS, `"950 TFLOPS"` below.
    public static func flopsText(pflops: Double) -> String {
        guard pflops.isFinite, pflops > 0 else { return "0 TFLOPS" }
        if (pflops * 10).rounded() >= 10_000 { return oneDecimal(pflops / 1000) + " EFLOPS" }
        let tflops = (pflops * 1000).rounded()
        if tflops >= 1000 { return oneDecimal(pflops) + " PFLOPS" }
        return "\(Int(tflops)) TFLOPS"
    }

    private static func oneDecimal(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        guard tenths < 9e17 else { return "\(value)" }
        let integer = Int64(tenths)
        return "\(integer / 10).\(integer % 10)"
    }
}

/// One class's units and compute in a site, a region or the mesh.
public struct ClassCapacity: Codable, Sendable, Hashable {
    public var cls: AcceleratorClass
    /// Whether the catalog knows the class (and so its published figures).
    public var rated: Bool
    public var units: Int
    public var freeUnits: Int
    /// Units whose pool has a measured FP16 figure.
    public var verifiedUnits: Int
    public var fp16PeakPFLOPS: Double
    public var fp16VerifiedPFLOPS: Double
    public var fp64PFLOPS: Double

    public init(
        cls: AcceleratorClass, rated: Bool, units: Int, freeUnits: Int, verifiedUnits: Int, fp16PeakPFLOPS: Double,
        fp16VerifiedPFLOPS: Double, fp64PFLOPS: Double
    ) {
        self.cls = cls
        self.rated = rated
        self.units = units
        self.freeUnits = freeUnits
        self.verifiedUnits = verifiedUnits
        self.fp16PeakPFLOPS = fp16PeakPFLOPS
        self.fp16VerifiedPFLOPS = fp16VerifiedPFLOPS
        self.fp64PFLOPS = fp64PFLOPS
    }

    enum CodingKeys: String, CodingKey {
        case cls = "class"
        case rated, units
        case freeUnits = "free_units"
        case verifiedUnits = "verified_units"
        case fp16PeakPFLOPS = "fp16_peak_pflops"
        case fp16VerifiedPFLOPS = "fp16_verified_pflops"
        case fp64PFLOPS = "fp64_pflops"
    }
}

/// Running sums in TFLOPS, converted to PFLOPS once at the end so that regions and the mesh are
/// sums of exact per-pool products, not of rounded site figures.
struct CapacityTally {
    struct ClassTally {
        var rated = false
        var units = 0
        var free = 0
        var verifiedUnits = 0
        var fp16Peak = 0.0
        var fp16Verified = 0.0
        var freeFP16Peak = 0.0
        var fp64 = 0.0

        mutating func merge(_ other: ClassTally) {
            rated = rated || other.rated
            units += other.units
            free += other.free
            verifiedUnits += other.verifiedUnits
            fp16Peak += other.fp16Peak
            fp16Verified += other.fp16Verified
            freeFP16Peak += other.freeFP16Peak
            fp64 += other.fp64
        }
    }

    var classes: [AcceleratorClass: ClassTally] = [:]

    mutating func add(_ pool: SchedulerPool, takesWork: Bool, catalog: AcceleratorCatalog) {
        let units = max(0, pool.count)
        let free = takesWork ? min(max(0, pool.reportedFree), units) : 0
        let spec = catalog[pool.cls]
        var tally = ClassTally()
        tally.rated = spec != nil
        tally.units = units
        tally.free = free
        let published = spec?.fp16TFLOPS ?? 0
        tally.fp16Peak = Double(units) * published
        tally.freeFP16Peak = Double(free) * published
        tally.fp64 = Double(units) * (spec?.fp64TFLOPS ?? 0)
        if let measured = pool.verifiedFP16TFLOPS, measured.isFinite, measured >= 0 {
            tally.verifiedUnits = units
            tally.fp16Verified = Double(units) * measured
        } else {
            tally.fp16Verified = tally.fp16Peak
        }
        classes[pool.cls, default: ClassTally()].merge(tally)
    }

    mutating func merge(_ other: CapacityTally) {
        for cls in other.classes.keys.sorted() { classes[cls, default: ClassTally()].merge(other.classes[cls]!) }
    }

    var figures: CapacityFigures {
        var figures = CapacityFigures()
        var fp16Peak = 0.0, fp16Verified = 0.0, freeFP16Peak = 0.0, fp64 = 0.0
        for cls in classes.keys.sorted() {
            let tally = classes[cls]!
            fp16Peak += tally.fp16Peak
            fp16Verified += tally.fp16Verified
            freeFP16Peak += tally.freeFP16Peak
            fp64 += tally.fp64
            figures.classes.append(
                ClassCapacity(
                    cls: cls, rated: tally.rated, units: tally.units, freeUnits: tally.free, verifiedUnits: tally.verifiedUnits,
                    fp16PeakPFLOPS: Self.pflops(tally.fp16Peak), fp16VerifiedPFLOPS: Self.pflops(tally.fp16Verified),
                    fp64PFLOPS: Self.pflops(tally.fp64)))
            if !tally.rated { figures.unrated.append(cls) }
        }
        figures.fp16PeakPFLOPS = Self.pflops(fp16Peak)
        figures.fp16VerifiedPFLOPS = Self.pflops(fp16Verified)
        figures.freeFP16PeakPFLOPS = Self.pflops(freeFP16Peak)
        figures.fp64PFLOPS = Self.pflops(fp64)
        return figures
    }

    /// TFLOPS → PFLOPS, to the GFLOPS, so that JSON shows 9.984 and not 9.984000000000002.
    static func pflops(_ tflops: Double) -> Double { (tflops * 1000).rounded() / 1_000_000 }
}
