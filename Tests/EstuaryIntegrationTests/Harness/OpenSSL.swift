import Foundation

/// `openssl s_client`, an independent TLS implementation, as a mesh peer.
enum OpenSSLClient {
    static let path = "/usr/bin/openssl"
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: path) }

    struct Result: Sendable, CustomStringConvertible {
        var status: Int32
        var output: String
        /// The handshake finished, h2 was negotiated, and the server did not then abort it
        /// with an alert (TLS 1.3 servers judge the client certificate after the client's
        /// Finished, so s_client can print a session before the server's verdict arrives).
        var established: Bool {
            output.contains("ALPN protocol: h2") && !output.lowercased().contains("alert")
        }
        var description: String { "openssl s_client exit \(status):\n\(output.suffix(1500))" }
    }

    /// Connects to 127.0.0.1:`port` offering ALPN h2, keeps the connection open for a moment
    /// so that a post-handshake alert arrives, then hangs up.
    static func connect(port: Int, caFile: String, certificate: String? = nil, key: String? = nil, tls12: Bool = false) async throws -> Result {
        var arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-alpn", "h2", "-CAfile", caFile, "-verify_return_error"]
        arguments.append(tls12 ? "-tls1_2" : "-tls1_3")
        if let certificate, let key { arguments += ["-cert", certificate, "-key", key] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Reading on another thread keeps a chatty s_client from blocking on a full pipe.
        let collected = Task.detached { output.fileHandleForReading.readDataToEndOfFile() }
        try await Task.sleep(for: .milliseconds(1500))
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let data = await collected.value
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}
