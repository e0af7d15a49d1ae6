import EstuaryConfig
import EstuaryModel
import Testing

private let oneClass = """
    [[class]]
    class = "nvidia-a100"
    vendor = "NVIDIA"
    model = "A100 SXM4 80GB"
    kind = "gpu"
    domestic = false
    fp16_tflops = 312.0
    fp32_tflops = 19.5
    fp64_tflops = 19.5
    memory_gib = 80
    power_watts = 400
    """

private func catalogProblems(_ text: String) -> [FieldError] {
    do {
        _ = try AcceleratorCatalog.parse(text)
        return []
    } catch {
        return error.problems
    }
}

@Suite("accelerator catalog")
struct CatalogTests {
    @Test("the built-in catalog is Agents/catalog.toml byte for byte (run scripts/gen-builtin-catalog.sh)")
    func builtinMatchesFile() throws {
        let path = repositoryRoot() + "/Agents/catalog.toml"
        let onDisk = try #require(fileBytes(path), "cannot read \(path)")
        #expect(Array(BuiltinCatalog.text.utf8) == onDisk)
    }

    @Test("the built-in catalog parses and has every class the mesh relies on")
    func builtinParses() throws {
        let catalog = try AcceleratorCatalog.parse(BuiltinCatalog.text)
        #expect(catalog == AcceleratorCatalog.builtin)
        let required: [AcceleratorClass] = [
            "nvidia-h100", "nvidia-h800", "nvidia-h20", "nvidia-a100", "nvidia-a800", "nvidia-l40s", "nvidia-v100",
            "nvidia-v100-16g", "nvidia-v100-32g", "nvidia-t4", "nvidia-p100", "nvidia-a10", "ascend-910", "ascend-910b",
            "hygon-dcu", "cpu-x86-64", "cpu-kunpeng-920",
        ]
        for cls in required { #expect(catalog[cls] != nil, "\(cls) is missing") }
        #expect(catalog["nvidia-h100"]?.fp16TFLOPS == 989.4)
        #expect(catalog["nvidia-a100"]?.fp16TFLOPS == 312)
        #expect(catalog["ascend-910"]?.fp16TFLOPS == 256)
        #expect(catalog["nvidia-v100-32g"]?.memoryGiB == 32)
        #expect(catalog["ascend-910b"]?.domestic == true)
        #expect(catalog["cpu-x86-64"]?.kind == .cpu)
        #expect(catalog["cpu-x86-64"]?.memoryGiB == 0)
    }

    @Test("capability matching finds the big-memory classes")
    func matching() throws {
        let catalog = AcceleratorCatalog.builtin
        let matches = catalog.matching(minFP16TFLOPS: 300, minMemoryGiB: 64)
        #expect(matches.contains("nvidia-h100"))
        #expect(matches.contains("ascend-910b"))
        #expect(!matches.contains("nvidia-h20"), "148 TFLOPS is below 300")
        #expect(!matches.contains("nvidia-l40s"), "48 GiB is below 64")
    }

    @Test("one class parses into every field")
    func parsesOneClass() throws {
        let catalog = try AcceleratorCatalog.parse(oneClass)
        let spec = try #require(catalog["nvidia-a100"])
        #expect(
            spec
                == AcceleratorSpec(
                    name: "nvidia-a100", vendor: "NVIDIA", model: "A100 SXM4 80GB", kind: .gpu, domestic: false,
                    fp16TFLOPS: 312, fp32TFLOPS: 19.5, fp64TFLOPS: 19.5, memoryGiB: 80, powerWatts: 400))
    }

    @Test(
        "a bad class is reported by its path",
        arguments: [
            (#"class = "nvidia-a100""#, #"class = "NVIDIA A100""#, "class[0].class", "lower-case"),
            (#"kind = "gpu""#, #"kind = "fpga""#, "class[0].kind", "one of gpu, npu, dcu, cpu"),
            ("fp16_tflops = 312.0", "fp16_tflops = -1", "class[0].fp16_tflops", "between 0"),
            ("fp16_tflops = 312.0", #"fp16_tflops = "312""#, "class[0].fp16_tflops", "expected a number, found a string"),
            ("memory_gib = 80", "", "class[0].memory_gib", "missing"),
            ("power_watts = 400", "power_watts = 400.5", "class[0].power_watts", "expected an integer"),
            ("domestic = false", "domestic = \"no\"", "class[0].domestic", "true or false"),
            ("power_watts = 400", "power_watts = 400\nboost_clock = 1410", "class[0].boost_clock", "unknown key"),
            (#"vendor = "NVIDIA""#, #"vendor = """#, "class[0].vendor", "must not be empty"),
        ] as [(String, String, String, String)]
    )
    func reportsProblem(original: String, replacement: String, field: String, message: String) {
        let problems = catalogProblems(oneClass.replacing(original, with: replacement))
        #expect(problems.contains { $0.field == field && $0.message.contains(message) }, "got \(problems)")
    }

    @Test("a class listed twice is reported at the second")
    func duplicateClass() {
        let problems = catalogProblems(oneClass + "\n" + oneClass)
        #expect(problems == [FieldError(field: "class[1].class", message: "\"nvidia-a100\" is already listed by class[0]")])
    }

    @Test("an empty catalog, a stray key and malformed TOML are refused")
    func emptyAndMalformed() {
        #expect(catalogProblems("").map(\.field) == ["class"])
        #expect(catalogProblems(oneClass + "\n[extra]\n").map(\.field) == ["extra"])
        #expect(throws: CatalogError.self) { try AcceleratorCatalog.parse("[[class]\n") }
        #expect(throws: CatalogError.unreadable(path: "/nonexistent/catalog.toml", reason: "No such file or directory")) {
            try AcceleratorCatalog.load(path: "/nonexistent/catalog.toml")
        }
    }
}
