#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The repository root, found from this source file with symlinks resolved (a scratch package
/// may link `Tests/EstuaryConfigTests` from elsewhere).
func repositoryRoot(filePath: String = #filePath) -> String {
    var path = filePath
    if let resolved = realpath(filePath, nil) {
        path = String(cString: resolved)
        free(resolved)
    }
    // Tests/EstuaryConfigTests/TestSupport.swift → repository root.
    var parts = path.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}

/// The bytes of a file, or nil when it cannot be read.
func fileBytes(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 << 10)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
        if count < chunk.count { break }
    }
    return bytes
}
