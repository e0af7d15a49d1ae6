import Foundation
import ArgumentParser
import EstuaryModel
import EstuaryScheduler

/// `estuaryctl capacity`
struct CapacityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity",
        abstract: "Installed and free compute of the mesh, per region and per site, in PFLOPS.",
        discussion: """
            Compute is counted the way policy documents count it: FP16-equivalent FLOPS, the sum
            over pools of units × the class's published peak dense FP16 TFLOPS (Agents/catalog.toml).
            VERIFIED counts a pool's measured figure where a test job has measured one, the
            published peak elsewhere. FREE is the peak FP16 of the units sites report free, at
            sites that take work. Classes the catalog does not know add nothing and are listed
            as unrated.

            With --mesh: every site of the coordinator mesh as gossip last reported it, the
            sites of other coordinators included: free and total units per class, the
            site's lowest list price in force (fen per unit-hour), green share, and the
            coordinator (ORIGIN) and version of the report.

            Examples:
              estuaryctl capacity
              estuaryctl capacity --json | jq .mesh.fp16_peak_pflops
              estuaryctl capacity --mesh
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Every site of the coordinator mesh, from gossip, instead of this coordinator's own.")
    var mesh = false

    func run() async throws {
        if mesh {
            let view = try await global.withClient { client in try await client.get("/v1/mesh/capacity", as: MeshCapacityView.self) }
            if global.json { return try Output.json(view) }
            return Output.line(Self.meshText(view))
        }
        let summary = try await global.withClient { client in try await client.get("/v1/capacity", as: CapacitySummary.self) }
        if global.json { return try Output.json(summary) }
        Output.line(Self.text(summary))
    }

    static func meshText(_ view: MeshCapacityView) -> String {
        guard !view.sites.isEmpty else { return "no site of the mesh has reported capacity yet (as seen by \(view.coordinator))" }
        var table = TextTable(
            "SITE", "REGION", "ORIGIN", "STATE", "POOLS (FREE/TOTAL)", "PRICE", "GREEN", "VERSION", rightAligned: [5, 6, 7])
        for site in view.sites {
            let pools = site.totalUnits.keys.sorted().map { "\($0) \(site.freeUnits[$0] ?? 0)/\(site.totalUnits[$0] ?? 0)" }
            table.add(
                site.site, site.region, site.origin, site.reachable ? "available" : "unavailable",
                pools.isEmpty ? "-" : pools.joined(separator: ", "), MoneyText.cny(fen: site.priceIndexFen) + "/h",
                MoneyText.percent(basisPoints: site.greenShareBP), String(site.version))
        }
        var totals: [String: (free: Int, total: Int)] = [:]
        for site in view.sites where site.reachable {
            for (cls, total) in site.totalUnits { totals[cls, default: (0, 0)].total += total }
            for (cls, free) in site.freeUnits { totals[cls, default: (0, 0)].free += free }
        }
        var classes = TextTable("CLASS", "FREE", "UNITS", rightAligned: [1, 2])
        for (cls, figures) in totals.sorted(by: { $0.key < $1.key }) { classes.add(cls, String(figures.free), String(figures.total)) }
        return [
            "mesh capacity as seen by \(view.coordinator): \(view.sites.count) sites from "
                + "\(Set(view.sites.map(\.origin)).count) coordinators", "", table.rendered, "", classes.rendered,
        ].joined(separator: "\n")
    }

    static func text(_ summary: CapacitySummary) -> String {
        let flops = CapacityFigures.flopsText(pflops:)
        let mesh = summary.mesh
        var lines = [
            "mesh: \(flops(mesh.fp16PeakPFLOPS)) FP16 under unified scheduling (\(summary.sites.count) sites, "
                + "\(summary.regions.count) regions); \(flops(mesh.freeFP16PeakPFLOPS)) free; "
                + "\(flops(mesh.fp16VerifiedPFLOPS)) verified where measured; \(flops(mesh.fp64PFLOPS)) FP64"
        ]
        if !mesh.unrated.isEmpty { lines.append("unrated classes (not in the catalog): " + mesh.unrated.map(\.rawValue).joined(separator: ", ")) }

        var regions = TextTable("REGION", "SITES", "FP16", "FREE", "FP64", rightAligned: [1, 2, 3, 4])
        for region in summary.regions {
            let c = region.capacity
            regions.add(region.region, String(region.siteCount), flops(c.fp16PeakPFLOPS), flops(c.freeFP16PeakPFLOPS), flops(c.fp64PFLOPS))
        }
        lines += ["", regions.rendered]

        var sites = TextTable("SITE", "REGION", "STATUS", "FP16", "FREE", "POOLS (FREE/TOTAL)", rightAligned: [3, 4])
        for site in summary.sites {
            let c = site.capacity
            sites.add(
                site.site.rawValue, site.region, site.status.rawValue, flops(c.fp16PeakPFLOPS), flops(c.freeFP16PeakPFLOPS),
                c.classes.map { "\($0.cls) \($0.freeUnits)/\($0.units)" + ($0.rated ? "" : " (unrated)") }.joined(separator: ", "))
        }
        lines += ["", sites.rendered]

        var classes = TextTable("CLASS", "UNITS", "FREE", "FP16", "FP64", rightAligned: [1, 2, 3, 4])
        for cls in mesh.classes {
            classes.add(
                cls.cls.rawValue + (cls.rated ? "" : " (unrated)"), String(cls.units), String(cls.freeUnits), flops(cls.fp16PeakPFLOPS),
                flops(cls.fp64PFLOPS))
        }
        lines += ["", classes.rendered]
        return lines.joined(separator: "\n")
    }
}
