import EstuaryConfig
import EstuaryModel
import Testing

/// A recorded output under Fixtures/discovery (origins in its README.md).
private func fixture(_ name: String) throws -> String {
    let path = repositoryRoot() + "/Tests/EstuaryConfigTests/Fixtures/discovery/" + name
    let bytes = try #require(fileBytes(path), "cannot read \(path)")
    return String(decoding: bytes, as: UTF8.self)
}

private func pools(_ result: DiscoveryResult) -> [String: Int] {
    Dictionary(uniqueKeysWithValues: result.pools.map { ($0.acceleratorClass.rawValue, $0.count) })
}

@Suite("nvidia-smi CSV")
struct NvidiaSMIParserTests {
    @Test("the agent's query asks for index, name, uuid, memory and bus id without header or units")
    func query() {
        #expect(NvidiaSMIParser.arguments == ["--query-gpu=index,name,uuid,memory.total,pci.bus_id", "--format=csv,noheader,nounits"])
    }

    @Test("eight H200 NVL with a csv header parse and are reported as unrecognised, not pooled")
    func h200NVL() throws {
        let gpus = try NvidiaSMIParser.parse(fixture("nvidia-smi-h200nvl-index-name-uuid-gpustack-4997.csv"), fields: [.index, .name, .uuid])
        #expect(gpus.count == 8)
        #expect(gpus.map(\.index) == Array(0..<8))
        #expect(gpus.allSatisfy { $0.name == "NVIDIA H200 NVL" })
        #expect(gpus[0].uuid == "GPU-f5ec9d38-2cba-a4b8-a8ef-72d26911880e")
        #expect(gpus[7].uuid == "GPU-a78708c1-6bdf-2b53-0e8d-5cc284c27fe0")
        let result = DeviceClassifier.classify(DeviceInventory(nvidiaGPUs: gpus))
        #expect(result.pools.isEmpty)
        #expect(result.unrecognised.count == 8)
        #expect(result.unrecognised.allSatisfy { $0.reason == .unrecognisedModel && $0.model == "NVIDIA H200 NVL" })
    }

    @Test("an unknown query field is skipped; H100 NVL is not the H100 SXM of the catalog")
    func h100NVL() throws {
        let gpus = try NvidiaSMIParser.parse(fixture("nvidia-smi-h100nvl-name-device-id-akash-91.csv"), fields: [.name, "pci.device_id"])
        #expect(gpus == [NvidiaGPU(name: "NVIDIA H100 NVL")])
        #expect(DeviceClassifier.classify(DeviceInventory(nvidiaGPUs: gpus)).unrecognised.map(\.model) == ["NVIDIA H100 NVL"])
    }

    @Test("[N/A] is nil, spaces and blank lines are tolerated, units are stripped")
    func tolerant() throws {
        let text = "0,  NVIDIA H20 , GPU-1, [N/A], 00000000:18:00.0\r\n\n1, NVIDIA H20, [N/A], 97871 MiB, [N/A]\n\n\n"
        let gpus = try NvidiaSMIParser.parse(text)
        #expect(gpus == [
            NvidiaGPU(index: 0, name: "NVIDIA H20", uuid: "GPU-1", memoryMiB: nil, pciBusID: "00000000:18:00.0"),
            NvidiaGPU(index: 1, name: "NVIDIA H20", uuid: nil, memoryMiB: 97871, pciBusID: nil),
        ])
        #expect(pools(DeviceClassifier.classify(DeviceInventory(nvidiaGPUs: gpus))) == ["nvidia-h20": 2])
        #expect(try NvidiaSMIParser.parse("").isEmpty)
    }

    @Test(
        "malformed lines are typed errors with their line number",
        arguments: [
            ("0, NVIDIA H100 80GB HBM3, GPU-1, 81559\n", 1, "4 fields"),
            ("0, NVIDIA H100 80GB HBM3, GPU-1, 81559, 0000:18:00.0\nx, NVIDIA H100 80GB HBM3, GPU-2, 81559, 0000:2A:00.0\n", 2, "index"),
            ("\n0, NVIDIA H100 80GB HBM3, GPU-1, lots, 0000:18:00.0\n", 2, "memory.total"),
            ("0, , GPU-1, 81559, 0000:18:00.0\n", 1, "no name"),
            ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", 1, "1 fields"),
        ])
    func malformed(text: String, line: Int, mentions: String) {
        #expect {
            _ = try NvidiaSMIParser.parse(text)
        } throws: { error in
            guard case .malformedLine(let source, let number, let reason) = error as? DeviceDiscoveryError else { return false }
            return source == "nvidia-smi" && number == line && reason.contains(mentions)
        }
    }
}

@Suite("npu-smi info table")
struct NPUSMIParserTests {
    @Test("910B4-1 (HAMi-WebUI #47): two NPUs of one chip each make an ascend-910b pool of 2")
    func ascend910B41() throws {
        let chips = try NPUSMIParser.parse(fixture("npu-smi-910b4-1-hami-webui-47.txt"))
        #expect(chips == [
            AscendChip(npuID: 0, chipID: 0, name: "910B4-1", health: "OK", busID: "0000:xx:00.0", memoryMB: 65536),
            AscendChip(npuID: 1, chipID: 0, name: "910B4-1", health: "OK", busID: "0000:xx:00.0", memoryMB: 65536),
        ])
        let result = DeviceClassifier.classify(DeviceInventory(ascendChips: chips))
        #expect(pools(result) == ["ascend-910b": 2])
        #expect(result.pools[0].evidence == ["NPU 0 chip 0 910B4-1 (0000:xx:00.0, 65536 MB)", "NPU 1 chip 0 910B4-1 (0000:xx:00.0, 65536 MB)"])
        #expect(result.leftOut.isEmpty)
    }

    @Test("910B3 (vllm-ascend #1130): three NPUs with their bus ids")
    func ascend910B3() throws {
        let chips = try NPUSMIParser.parse(fixture("npu-smi-910b3-vllm-ascend-1130.txt"))
        #expect(chips.map(\.npuID) == [0, 1, 2])
        #expect(chips.map(\.busID) == ["0000:C1:00.0", "0000:C2:00.0", "0000:81:00.0"])
        #expect(chips.allSatisfy { $0.name == "910B3" && $0.memoryMB == 65536 && $0.chipID == 0 })
        #expect(pools(DeviceClassifier.classify(DeviceInventory(ascendChips: chips))) == ["ascend-910b": 3])
    }

    @Test("910B4 with 32 GB HBM (1Panel #9472) is left out: less memory than ascend-910b")
    func ascend910B4Small() throws {
        let chips = try NPUSMIParser.parse(fixture("npu-smi-910b4-32g-1panel-9472.txt"))
        #expect(chips.map(\.memoryMB) == [32768, 32768])
        let result = DeviceClassifier.classify(DeviceInventory(ascendChips: chips))
        #expect(result.pools.isEmpty)
        #expect(result.leftOut.map(\.reason) == Array(repeating: .lessMemoryThanClass("ascend-910b", memoryMiB: 32768, classGiB: 64), count: 2))
        #expect(result.unrecognised.isEmpty)
    }

    @Test("Atlas A3 'Ascend910' (vllm-ascend #2534): one device per die, in no catalog class")
    func atlasA3() throws {
        let chips = try NPUSMIParser.parse(fixture("npu-smi-ascend910-a3-vllm-ascend-2534.txt"))
        #expect(chips.map { [$0.npuID, $0.chipID] } == [[0, 0], [0, 1], [1, 0]])
        #expect(chips.map(\.busID) == ["0000:9D:00.0", "0000:9F:00.0", "0000:99:00.0"])
        let result = DeviceClassifier.classify(DeviceInventory(ascendChips: chips))
        #expect(result.pools.isEmpty)
        #expect(result.unrecognised.count == 3)
    }

    @Test("parsing stops at the process table (vllm-ascend #12980)")
    func processTable() throws {
        let chips = try NPUSMIParser.parse(fixture("npu-smi-ascend910-a3-processes-vllm-ascend-12980.txt"))
        #expect(chips.map { [$0.npuID, $0.chipID] } == [[0, 0], [0, 1], [7, 1]])
        #expect(chips.last?.busID == "0000:83:00.0")
    }

    @Test("310P3 inference cards (ollama #5315): two chips per card, in no catalog class")
    func ascend310P3() throws {
        let chips = try NPUSMIParser.parse(fixture("npu-smi-310p3-ollama-5315.txt"))
        #expect(chips == [
            AscendChip(npuID: 1, chipID: 0, name: "310P3", health: "OK", busID: "0000:01:00.0", memoryMB: 44280),
            AscendChip(npuID: 1, chipID: 1, name: "310P3", health: "OK", busID: "0000:01:00.0", memoryMB: 43693),
        ])
        #expect(DeviceClassifier.classify(DeviceInventory(ascendChips: chips)).unrecognised.count == 2)
    }

    @Test("an unhealthy chip is left out, not pooled")
    func unhealthy() throws {
        let text = try fixture("npu-smi-910b4-1-hami-webui-47.txt").replacingFirst("| OK            | 88.1", with: "| Alarm         | 88.1")
        let result = DeviceClassifier.classify(DeviceInventory(ascendChips: try NPUSMIParser.parse(text)))
        #expect(pools(result) == ["ascend-910b": 1])
        #expect(result.leftOut.map(\.reason) == [.unhealthy("Alarm")])
    }

    @Test("malformed tables are typed errors")
    func malformed() {
        let header = "| NPU   Name   | Health | Power(W) |\n| Chip         | Bus-Id | AICore(%) |\n"
        #expect(throws: DeviceDiscoveryError.malformedLine(source: "npu-smi info", line: 3, reason: "a chip row before any NPU row")) {
            try NPUSMIParser.parse(header + "| 0            | 0000:C1:00.0 | 0 |\n")
        }
        #expect(throws: DeviceDiscoveryError.malformedLine(source: "npu-smi info", line: 3, reason: "NPU 0 has no chip row")) {
            try NPUSMIParser.parse(header + "| 0     910B3  | OK | 95.6 |\n")
        }
        #expect(throws: DeviceDiscoveryError.malformedLine(source: "npu-smi info", line: 3, reason: "expected an NPU or chip id, found \"x 910B3\"")) {
            try NPUSMIParser.parse(header + "| x 910B3 | OK | 95.6 |\n")
        }
        #expect(throws: DeviceDiscoveryError.unrecognisedOutput(source: "npu-smi info", reason: "no \"NPU  Name | Health\" table header")) {
            try NPUSMIParser.parse("dcmi module initialize failed. ret is -8005\n")
        }
    }
}

@Suite("CPU: /proc/cpuinfo and lscpu")
struct CPUDiscoveryTests {
    @Test("Kunpeng 920 cpuinfo (hrw/arm-socs-table #86): 96 cores of cpu-kunpeng-920 from implementer 0x48, part 0xd01")
    func kunpengCPUInfo() throws {
        let info = try CPUInfoParser.parse(fixture("cpuinfo-kunpeng920-taishan2280-hrw-86.txt"))
        #expect(info == CPUInfo(logicalProcessors: 96, armImplementer: "0x48", armPart: "0xd01"))
        let result = DeviceClassifier.classify(DeviceInventory(cpuinfo: info))
        #expect(pools(result) == ["cpu-kunpeng-920": 96])
        #expect(result.pools[0].source == "/proc/cpuinfo")
    }

    @Test("Hygon cpuinfo block (secretflow/spu #158) is an x86-64 core")
    func hygonCPUInfo() throws {
        let info = try CPUInfoParser.parse(fixture("cpuinfo-hygon-c86-7285-secretflow-158.txt"))
        #expect(info == CPUInfo(
            logicalProcessors: 1, vendorID: "HygonGenuine", modelName: "Hygon C86 7285 32-core Processor", physicalCores: 1, sockets: 1))
        #expect(pools(DeviceClassifier.classify(DeviceInventory(cpuinfo: info))) == ["cpu-x86-64": 1])
    }

    @Test("this dev machine's cpuinfo and lscpu agree: 2 x86-64 cores")
    func devMachine() throws {
        let info = try CPUInfoParser.parse(fixture("cpuinfo-dev-machine-epyc-kvm.txt"))
        #expect(info == CPUInfo(logicalProcessors: 2, vendorID: "AuthenticAMD", modelName: "AMD EPYC", physicalCores: 2, sockets: 1))
        let lscpu = try LscpuParser.parse(fixture("lscpu-dev-machine-epyc-kvm.txt"))
        #expect(lscpu == LscpuInfo(
            architecture: "x86_64", vendorID: "AuthenticAMD", modelName: "AMD EPYC", logicalCPUs: 2, threadsPerCore: 1, sockets: 1,
            physicalCores: 2))
        let result = DeviceClassifier.classify(DeviceInventory(cpuinfo: info, lscpu: lscpu))
        #expect(pools(result) == ["cpu-x86-64": 2])
        #expect(result.pools[0].source == "lscpu")
    }

    @Test("hyperthreads are not cores: EPYC 8434P (kepler #1288) is 48 cores of 96 CPUs")
    func epycFlat() throws {
        let lscpu = try LscpuParser.parse(fixture("lscpu-epyc-8434p-kepler-1288.txt"))
        #expect(lscpu == LscpuInfo(
            architecture: "x86_64", vendorID: "AuthenticAMD", modelName: "AMD EPYC 8434P 48-Core Processor", logicalCPUs: 96,
            threadsPerCore: 2, sockets: 1, physicalCores: 48))
        #expect(pools(DeviceClassifier.classify(DeviceInventory(lscpu: lscpu))) == ["cpu-x86-64": 48])
    }

    @Test("indented lscpu with wrapped flags: 2 × Xeon Gold 6226R (c2c #127) is 32 cores")
    func xeonIndented() throws {
        let lscpu = try LscpuParser.parse(fixture("lscpu-xeon-gold-6226r-c2c-127.txt"))
        #expect(lscpu.modelName == "Intel(R) Xeon(R) Gold 6226R CPU @ 2.90GHz")
        #expect(lscpu.logicalCPUs == 64)
        #expect(lscpu.sockets == 2)
        #expect(lscpu.physicalCores == 32)
        let result = DeviceClassifier.classify(DeviceInventory(lscpu: lscpu))
        #expect(pools(result) == ["cpu-x86-64": 32])
        #expect(result.pools[0].evidence == ["x86_64 GenuineIntel Intel(R) Xeon(R) Gold 6226R CPU @ 2.90GHz: 32 cores in 2 sockets, 64 logical CPUs"])
    }

    @Test("Arm CPUs other than the Kunpeng 920 are reported, not pooled (Phytium, ThunderX)")
    func otherArm() throws {
        let phytium = try LscpuParser.parse(fixture("lscpu-phytium-d2000-c2c-103.txt"))
        #expect(phytium.physicalCores == 8)
        let thunderX = try LscpuParser.parse(fixture("lscpu-thunderx-per-cluster-tp-libvirt-6474.txt"))
        #expect(thunderX.physicalCores == 96)
        for lscpu in [phytium, thunderX] {
            let result = DeviceClassifier.classify(DeviceInventory(lscpu: lscpu))
            #expect(result.pools.isEmpty)
            #expect(result.unrecognised.count == 1)
        }
        #expect(DeviceClassifier.classify(DeviceInventory(lscpu: phytium)).unrecognised[0].model == "Phytium FTC663")
    }

    @Test("lscpu naming the Kunpeng-920 maps without cpuinfo")
    func kunpengByName() {
        let lscpu = LscpuInfo(architecture: "aarch64", vendorID: "HiSilicon", modelName: "Kunpeng-920", physicalCores: 128)
        #expect(pools(DeviceClassifier.classify(DeviceInventory(lscpu: lscpu))) == ["cpu-kunpeng-920": 128])
    }

    @Test("malformed cpuinfo and lscpu are typed errors")
    func malformed() {
        #expect(throws: DeviceDiscoveryError.malformedLine(source: "/proc/cpuinfo", line: 2, reason: "no \"key : value\" in \"garbage\"")) {
            try CPUInfoParser.parse("processor\t: 0\ngarbage\n")
        }
        #expect(throws: DeviceDiscoveryError.malformedLine(source: "/proc/cpuinfo", line: 1, reason: "processor number \"zero\" is not a number")) {
            try CPUInfoParser.parse("processor\t: zero\n")
        }
        #expect(throws: DeviceDiscoveryError.unrecognisedOutput(source: "/proc/cpuinfo", reason: "no \"processor\" entries")) {
            try CPUInfoParser.parse("Hardware\t: Kirin\n")
        }
        #expect(throws: DeviceDiscoveryError.malformedLine(source: "lscpu", line: 2, reason: "no \"Key: value\" in \"lscpu failed\"")) {
            try LscpuParser.parse("Architecture: x86_64\nlscpu failed\n")
        }
    }
}

@Suite("device classifier")
struct DeviceClassifierTests {
    @Test(
        "NVIDIA product names map to catalog classes only for the parts the catalog describes",
        arguments: [
            // Names as the tools print them; the issue each was quoted in is on the right.
            ("NVIDIA H100 80GB HBM3", "nvidia-h100"),  // pytorch/test-infra #7631
            ("NVIDIA H800", "nvidia-h800"),  // catalog: H800 SXM5
            ("NVIDIA H20", "nvidia-h20"),  // zzc0721/torch-performance-test-data #77
            ("NVIDIA A100-SXM4-80GB", "nvidia-a100"),  // NVIDIA/CUDALibrarySamples #104
            ("NVIDIA A100 80GB PCIe", "nvidia-a100"),  // same peak figures and memory as the SXM4 part
            ("NVIDIA A800-SXM4-80GB", "nvidia-a800"),  // dexmal/dexbotic #41
            ("NVIDIA L40S", "nvidia-l40s"),
            ("NVIDIA A10", "nvidia-a10"),
            ("Tesla V100-SXM2-16GB", "nvidia-v100-16g"),
            ("Tesla V100-SXM2-32GB", "nvidia-v100-32g"),
            ("Tesla T4", "nvidia-t4"),
            ("Tesla P100-PCIE-16GB", "nvidia-p100"),
        ])
    func nvidiaKnown(name: String, expected: String) {
        #expect(DeviceClassifier.nvidiaClass(forName: name) == AcceleratorClass(rawValue: expected))
    }

    @Test(
        "NVIDIA parts with other figures or less memory are unrecognised",
        arguments: [
            "NVIDIA H100 NVL", "NVIDIA H100 PCIe", "NVIDIA H200 NVL", "NVIDIA A100-SXM4-40GB", "NVIDIA A100-PCIE-40GB",
            "NVIDIA A10G", "NVIDIA L40", "Tesla V100-PCIE-16GB", "NVIDIA A100-SXM4-80GB MIG 3g.40gb", "NVIDIA GeForce RTX 4090",
            "NVIDIA B200", "",
        ])
    func nvidiaUnknown(name: String) {
        #expect(DeviceClassifier.nvidiaClass(forName: name) == nil)
    }

    @Test(
        "Ascend chip names",
        arguments: [
            ("910B1", "ascend-910b"), ("910B2C", "ascend-910b"), ("910B3", "ascend-910b"), ("910B4-1", "ascend-910b"),
            ("910A", "ascend-910"), ("910ProB", "ascend-910"), ("910PremiumA", "ascend-910"),
            ("910B", nil), ("Ascend910", nil), ("310P3", nil), ("910_9392", nil),
        ] as [(String, String?)])
    func ascend(name: String, expected: String?) {
        #expect(DeviceClassifier.ascendClass(forName: name) == expected.map { AcceleratorClass(rawValue: $0) })
    }

    @Test("a device whose memory is well under its class's is left out; a class missing from the catalog is unrecognised")
    func memoryAndCatalog() {
        let small = NvidiaGPU(index: 0, name: "NVIDIA A100 80GB PCIe", memoryMiB: 40960)
        let l40s = NvidiaGPU(index: 1, name: "NVIDIA L40S", memoryMiB: 46068)  // 48 GB nominal (modal-labs/modal-client #2797)
        let result = DeviceClassifier.classify(DeviceInventory(nvidiaGPUs: [small, l40s]))
        #expect(pools(result) == ["nvidia-l40s": 1])
        #expect(result.leftOut.map(\.reason) == [.lessMemoryThanClass("nvidia-a100", memoryMiB: 40960, classGiB: 80)])

        let onlyCPU = AcceleratorCatalog(AcceleratorCatalog.builtin.classes.values.filter { $0.kind == .cpu })
        let other = DeviceClassifier.classify(DeviceInventory(nvidiaGPUs: [l40s]), catalog: onlyCPU)
        #expect(other.pools.isEmpty)
        #expect(other.unrecognised.map(\.reason) == [.classNotInCatalog("nvidia-l40s")])
    }

    @Test("pools render as [[pools]] tables a site profile accepts")
    func toml() throws {
        let chips = try NPUSMIParser.parse(fixture("npu-smi-910b3-vllm-ascend-1130.txt"))
        let lscpu = try LscpuParser.parse(fixture("lscpu-xeon-gold-6226r-c2c-127.txt"))
        let rendered = DeviceClassifier.classify(DeviceInventory(ascendChips: chips, lscpu: lscpu)).poolsTOML()
        #expect(rendered == """
            # 3 found by npu-smi info
            # real accelerators need a site driver other than "process" (it accepts them only as simulated = true)
            [[pools]]
            class = "ascend-910b"
            count = 3
            simulated = false

            # 32 found by lscpu
            [[pools]]
            class = "cpu-x86-64"
            count = 32
            simulated = false

            """)
        let cpuOnly = DeviceClassifier.classify(DeviceInventory(lscpu: lscpu)).poolsTOML()
        let profile = try SiteProfile.parse(minimalProfile + "\n" + cpuOnly)
        #expect(profile.pools == [PoolDefinition(acceleratorClass: "cpu-x86-64", count: 32, simulated: false)])
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        replacing(target, with: replacement, maxReplacements: 1)
    }
}

/// A profile with no pools, for checking the rendered `[[pools]]` tables.
private let minimalProfile = """
    [site]
    id = "discovered"
    display_name = "Discovered devices"
    region = "shenzhen"
    zones = ["gba"]
    driver = "process"
    [coordinator]
    address = "127.0.0.1:7401"
    insecure_dev = true
    [agent]
    data_dir = "discovered"
    """
