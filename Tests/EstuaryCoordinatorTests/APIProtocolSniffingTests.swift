import EstuaryModel
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import EstuaryCoordinator

/// One port, two protocols: HTTP/1.1 and HTTP/2 with prior knowledge, told apart by the first bytes.
@Suite("API protocol sniffing")
struct APIProtocolSniffingTests {
    @Test("the preface decides as soon as the bytes diverge", arguments: [
        ("", HTTPPreface.Verdict.undecided),
        ("P", .undecided),
        ("PRI * HTTP/2.0\r\n", .undecided),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .http2),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0", .http2),
        ("POST /v1/jobs HTTP/1.1\r\n", .http1),
        ("GET / HTTP/1.1\r\n", .http1),
        ("PRIX", .http1),
    ])
    func classify(_ text: String, _ expected: HTTPPreface.Verdict) {
        #expect(HTTPPreface.classify(Array(text.utf8)) == expected)
    }

    @Test("HTTP/1.1 (AsyncHTTPClient) and HTTP/2 prior knowledge (nghttp) are served on the same port")
    func bothProtocolsOnOnePort() async throws {
        let backend = APITestBackend()
        let token = try await backend.trust.createAPIToken(
            NewAPIToken(role: .admin, subject: nil, name: "sniff", ttlSeconds: nil), by: .coordinator
        ).text
        let app = makeAPIApplication(
            backend: backend, configuration: APIConfiguration(port: 0), logger: Logger(label: "api-sniff-test")
        )
        try await app.test(.ahc(.http)) { plain in
            let client = AuthorizedClient(plain, token: token)
            // HTTP/1.1 through AsyncHTTPClient.
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            #expect(String(buffer: health.body) == #"{"checks":{},"status":"ok"}"#)

            guard let nghttp = Self.executable("nghttp") else {
                print("skipping the HTTP/2 half: nghttp (nghttp2-client) is not installed")
                return
            }
            let port = try #require(client.port)
            let h2 = try await Self.run(nghttp, ["-v", "http://localhost:\(port)/healthz"])
            #expect(h2.status == 0, "nghttp failed: \(h2.output)")
            #expect(h2.output.contains(":status: 200"))
            #expect(h2.output.contains(#"{"checks":{},"status":"ok"}"#))

            let missing = try await Self.run(
                nghttp, ["-v", "-H", "Authorization: Bearer \(token)", "http://localhost:\(port)/v1/jobs/j-404"])
            #expect(missing.output.contains(":status: 404"))
            #expect(missing.output.contains(#""code":"not_found""#))

            // HTTP/1.1 still works after HTTP/2 connections came and went.
            let list = try await client.execute(uri: "/v1/jobs", method: .get)
            #expect(list.status == .ok)
        }
    }

    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a program to completion without blocking a concurrency thread.
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        return (status, String(decoding: data, as: UTF8.self))
    }
}
