import Foundation

/// Where the built `estuary-coordinator`, `estuary-agent` and `estuaryctl` live.
///
/// `ESTUARY_BIN_DIR` wins; otherwise the directory of the running test bundle (on Linux
/// `swift test` runs `.build/debug/estuaryPackageTests.xctest`, next to the executables), then
/// `.build/debug` found by walking up from this source file.
enum Binaries {
    static let coordinator = "estuary-coordinator"
    static let agent = "estuary-agent"
    static let ctl = "estuaryctl"
    static let all = [coordinator, agent, ctl]

    struct Missing: Error, CustomStringConvertible {
        var searched: [String]
        var description: String {
            "cannot find the Estuary executables (\(Binaries.all.joined(separator: ", "))) in any of: "
                + searched.joined(separator: ", ")
                + ". Build them first: swift build --product estuary-coordinator && swift build --product estuary-agent"
                + " && swift build --product estuaryctl (or swift build --build-tests), or set ESTUARY_BIN_DIR."
        }
    }

    /// The absolute path of one executable.
    static func path(_ name: String) throws -> String {
        try directory() + "/" + name
    }

    static func directory() throws -> String {
        let candidates = candidateDirectories()
        if let found = candidates.first(where: containsAll) { return found }
        throw Missing(searched: candidates)
    }

    private static func candidateDirectories() -> [String] {
        if let override = ProcessInfo.processInfo.environment["ESTUARY_BIN_DIR"], !override.isEmpty {
            return [override]
        }
        var candidates: [String] = []
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // `.../debug/estuaryPackageTests.xctest` (Linux executable) or `.../Contents/MacOS/...` (macOS bundle).
        var directory = bundle.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(directory.path)
            directory = directory.deletingLastPathComponent()
        }
        var source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while source.path != "/" {
            let build = source.appendingPathComponent(".build/debug")
            if FileManager.default.fileExists(atPath: build.path) {
                candidates.append(build.resolvingSymlinksInPath().path)
                break
            }
            source = source.deletingLastPathComponent()
        }
        return candidates
    }

    private static func containsAll(_ directory: String) -> Bool {
        all.allSatisfy { FileManager.default.isExecutableFile(atPath: directory + "/" + $0) }
    }
}
