import EstuaryConfig
import EstuaryModel
import Foundation
import Testing

@testable import EstuaryAgent

/// A recorded output under Tests/EstuaryConfigTests/Fixtures/discovery.
private func fixturePath(_ name: String, filePath: String = #filePath) -> String {
    // Tests/EstuaryAgentTests/<this file> → Tests/EstuaryConfigTests/Fixtures/discovery/<name>
    let tests = (filePath as NSString).deletingLastPathComponent + "/.."
    return (tests + "/EstuaryConfigTests/Fixtures/discovery/" + name as NSString).standardizingPath
}

/// An executable shell script standing in for a vendor tool.
private func tool(_ directory: String, _ name: String, _ body: String) throws -> String {
    let path = directory + "/" + name
    try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    return path
}

/// Whether `pid` is a live process (a zombie waiting for a reaper is not).
private func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
        return false
    }
    return !stat[stat.index(after: close)...].hasPrefix(" Z")
}

private func options(_ directory: String) -> DeviceDiscoveryOptions {
    var options = DeviceDiscoveryOptions()
    options.nvidiaSMI = directory + "/no-such-nvidia-smi"
    options.npuSMI = "estuary-test-no-such-npu-smi"
    options.lscpu = nil
    options.cpuinfoPath = fixturePath("cpuinfo-dev-machine-epyc-kvm.txt")
    options.timeout = .seconds(10)
    return options
}

@Suite("device discovery runner")
struct DeviceDiscoveryRunnerTests {
    @Test("a tool that is not installed gives no pool and no warning")
    func missingTools() async throws {
        try await withTemporaryDirectory { directory in
            var options = options(directory)
            options.cpuinfoPath = directory + "/no-cpuinfo"
            let report = await DeviceDiscovery.run(options)
            #expect(report.warnings.isEmpty)
            #expect(report.result.pools.isEmpty)
            #expect(report.result.leftOut.isEmpty)
            #expect(report.sources.map(\.outcome) == [.notFound, .notFound, .notFound])
        }
    }

    @Test("a stand-in npu-smi replaying a recorded 910B3 table and a recorded cpuinfo give two pools")
    func replayedTool() async throws {
        try await withTemporaryDirectory { directory in
            var options = options(directory)
            let recorded = fixturePath("npu-smi-910b3-vllm-ascend-1130.txt")
            options.npuSMI = try tool(directory, "npu-smi", "[ \"$1\" = info ] || exit 2\ncat '\(recorded)'")
            let report = await DeviceDiscovery.run(options)
            #expect(report.warnings.isEmpty)
            let pools = report.result.pools.map { "\($0.acceleratorClass)×\($0.count)" }
            #expect(pools == ["ascend-910b×3", "cpu-x86-64×2"])
            #expect(report.sources.map(\.outcome) == [.notFound, .read(devices: 3), .read(devices: 2)])
        }
    }

    @Test("a tool that hangs is killed at the timeout with its children: a warning, no pool")
    func hangingTool() async throws {
        try await withTemporaryDirectory { directory in
            var options = options(directory)
            let marker = directory + "/child.pid"
            options.nvidiaSMI = try tool(directory, "nvidia-smi", "sleep 600 &\necho $! > '\(marker)'\nwait")
            options.timeout = .milliseconds(500)
            let report = await DeviceDiscovery.run(options)
            // That the tool was cut short (not left to its 600 s sleep) shows in the warning and
            // in its child being gone, below; no wall-clock bound, these machines are noisy.
            #expect(report.warnings == [.toolTimedOut(tool: "nvidia-smi", after: .milliseconds(500))])
            #expect(report.sources.first?.outcome == .failed)
            #expect(report.result.pools.map(\.acceleratorClass) == ["cpu-x86-64"])
            let pidText = try String(contentsOfFile: marker, encoding: .utf8)
            let child = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(await eventually(timeout: .seconds(5)) { !isRunning(child) }, "the tool's child \(child) outlived the timeout")
        }
    }

    @Test("a tool that fails or prints something unreadable gives a typed warning and no pool")
    func failingTools() async throws {
        try await withTemporaryDirectory { directory in
            var options = options(directory)
            options.nvidiaSMI = try tool(
                directory, "nvidia-smi",
                "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9")
            options.npuSMI = try tool(directory, "npu-smi", "echo 'dcmi module initialize failed. ret is -8005'")
            let report = await DeviceDiscovery.run(options)
            #expect(report.warnings == [
                .toolFailed(
                    tool: "nvidia-smi", status: "exited with code 9",
                    output: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."),
                .unparsable(tool: "npu-smi", .unrecognisedOutput(source: "npu-smi info", reason: "no \"NPU  Name | Health\" table header")),
            ])
            #expect(report.result.pools.map(\.acceleratorClass) == ["cpu-x86-64"])
        }
    }
}
