import EstuaryConfig
import EstuaryModel
import EstuaryScheduler
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

private let catalog = AcceleratorCatalog([
    AcceleratorSpec(
        name: "nvidia-a100", vendor: "NVIDIA", model: "A100", kind: .gpu, domestic: false, fp16TFLOPS: 312, fp32TFLOPS: 19.5,
        fp64TFLOPS: 19.5, memoryGiB: 80, powerWatts: 400),
    AcceleratorSpec(
        name: "ascend-910b", vendor: "Huawei", model: "910B", kind: .npu, domestic: true, fp16TFLOPS: 320, fp32TFLOPS: 0,
        fp64TFLOPS: 0, memoryGiB: 64, powerWatts: 400),
    AcceleratorSpec(
        name: "cpu-x86-64", vendor: "Intel", model: "8358", kind: .cpu, domestic: false, fp16TFLOPS: 0.1664, fp32TFLOPS: 0.1664,
        fp64TFLOPS: 0.0832, memoryGiB: 0, powerWatts: 8),
])

private let sites = [
    SchedulerSite(
        id: "shaoguan-1", region: "shaoguan", zones: ["gba"],
        pools: [SchedulerPool(cls: "nvidia-a100", count: 32, reportedFree: 12, verifiedFP16TFLOPS: 280)]),
    SchedulerSite(
        id: "pengcheng", region: "shenzhen", zones: ["gba"],
        pools: [
            SchedulerPool(cls: "ascend-910b", count: 64, reportedFree: 64),
            SchedulerPool(cls: "mystery-npu", count: 10, reportedFree: 10),
        ]),
    SchedulerSite(
        id: "shaoguan-2", region: "shaoguan", zones: ["gba"], status: .unreachable,
        pools: [SchedulerPool(cls: "nvidia-a100", count: 8, reportedFree: 8), SchedulerPool(cls: "cpu-x86-64", count: 1000, reportedFree: 500)]),
]

@Suite("capacity roll-up")
struct CapacityTests {
    @Test("sites, regions and the mesh add up per class, sorted")
    func rollUp() throws {
        let summary = CapacitySummary(sites: sites, catalog: catalog)
        #expect(summary.sites.map(\.site) == ["pengcheng", "shaoguan-1", "shaoguan-2"])
        #expect(summary.regions.map(\.region) == ["shaoguan", "shenzhen"])
        #expect(summary.regions.map(\.siteCount) == [2, 1])

        let mesh = summary.mesh
        #expect(mesh.classes.map(\.cls) == ["ascend-910b", "cpu-x86-64", "mystery-npu", "nvidia-a100"])
        let a100 = try #require(mesh.classes.first { $0.cls == "nvidia-a100" })
        #expect(a100.units == 40)
        #expect(a100.freeUnits == 12, "the unreachable site's free units do not count")
        #expect(a100.verifiedUnits == 32)
        #expect(a100.fp16PeakPFLOPS == 12.48)  // 40 × 312 TFLOPS
        #expect(a100.fp16VerifiedPFLOPS == 11.456)  // 32 × 280 + 8 × 312
        #expect(a100.fp64PFLOPS == 0.78)
        // 40 × 312 + 64 × 320 + 1000 × 0.1664 TFLOPS
        #expect(mesh.fp16PeakPFLOPS == 33.1264)
        #expect(mesh.fp16VerifiedPFLOPS == 32.1024)
        #expect(mesh.freeFP16PeakPFLOPS == 24.224)  // 12 × 312 + 64 × 320
        #expect(mesh.fp64PFLOPS == 0.8632)
        #expect(mesh.unrated == ["mystery-npu"])
        let mystery = try #require(mesh.classes.first { $0.cls == "mystery-npu" })
        #expect(!mystery.rated && mystery.units == 10 && mystery.fp16PeakPFLOPS == 0)

        let shaoguan = summary.regions[0].capacity
        #expect(shaoguan.classes.map(\.cls) == ["cpu-x86-64", "nvidia-a100"])
        #expect(shaoguan.classes.map(\.freeUnits) == [0, 12])
        #expect(summary.sites[2].status == .unreachable)
    }

    @Test("the order sites arrive in does not change the summary")
    func deterministic() {
        let forward = CapacitySummary(sites: sites, catalog: catalog)
        let backward = CapacitySummary(sites: sites.reversed(), catalog: catalog)
        #expect(forward == backward)
    }

    @Test("an empty mesh has nothing")
    func empty() {
        let summary = CapacitySummary(sites: [SchedulerSite](), catalog: .builtin)
        #expect(summary == CapacitySummary(mesh: CapacityFigures(), regions: [], sites: []))
    }

    @Test("the JSON uses snake_case keys")
    func json() throws {
        let summary = CapacitySummary(sites: Array(sites.prefix(1)), catalog: catalog)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(summary), as: UTF8.self)
        for key in [
            "\"fp16_peak_pflops\"", "\"fp16_verified_pflops\"", "\"free_fp16_peak_pflops\"", "\"fp64_pflops\"", "\"free_units\"",
            "\"verified_units\"", "\"site_count\"", "\"class\":\"nvidia-a100\"", "\"unrated\"", "\"status\":\"available\"",
        ] {
            #expect(text.contains(key), "\(key) missing from \(text)")
        }
        #expect(try JSONDecoder().decode(CapacitySummary.self, from: encoder.encode(summary)) == summary)
    }

    @Test(
        "FLOPS are written as policy documents count them",
        arguments: [
            (80_000.0, "80.0 EFLOPS"), (1000, "1.0 EFLOPS"), (999.96, "1.0 EFLOPS"), (999.94, "999.9 PFLOPS"),
            (312.5, "312.5 PFLOPS"), (1, "1.0 PFLOPS"), (0.9996, "1.0 PFLOPS"), (0.95, "950 TFLOPS"), (0.0004, "0 TFLOPS"),
            (0, "0 TFLOPS"), (-3, "0 TFLOPS"), (.nan, "0 TFLOPS"),
        ] as [(Double, String)]
    )
    func flopsText(pflops: Double, text: String) {
        #expect(CapacityFigures.flopsText(pflops: pflops) == text)
    }

    @Test("the built-in catalog rates a Pengcheng-sized pool of 910B in PFLOPS")
    func builtinCatalog() {
        let site = SchedulerSite(id: "pc", region: "shenzhen", zones: [], pools: [SchedulerPool(cls: "ascend-910b", count: 4096, reportedFree: 0)])
        let summary = CapacitySummary(sites: [site], catalog: .builtin)
        #expect(CapacityFigures.flopsText(pflops: summary.mesh.fp16PeakPFLOPS) == "1.3 EFLOPS")
    }
}
