import Foundation

/// nghttp2's `nghttp`: an HTTP/2 client independent of our code, speaking h2c with prior
/// knowledge to `http://` URLs.
struct Nghttp {
    let executable: String

    struct Missing: Error, CustomStringConvertible {
        var description: String { "nghttp is not on PATH; install nghttp2-client (apt-get install nghttp2-client)" }
    }

    struct Response: Sendable {
        var status: Int?
        /// Response headers with lower-case names (pseudo-headers included).
        var headers: [String: String]
        var body: String
        var exitStatus: Int32
    }

    static func locate() throws -> Nghttp {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/nghttp") {
            return Nghttp(executable: "\(directory)/nghttp")
        }
        throw Missing()
    }

    /// Runs one request: once verbose for the status and headers, once plain for the body.
    func request(_ url: String, headers: [String] = [], dataFile: String? = nil, in bed: TestBed) async throws -> Response {
        var arguments: [String] = []
        for header in headers { arguments += ["-H", header] }
        if let dataFile { arguments += ["-d", dataFile] }
        let verbose = try bed.start(executable: executable, name: "nghttp", arguments: ["-v"] + arguments + [url])
        let exitStatus = try await verbose.waitForExit(timeout: .seconds(20))
        var response = Response(status: nil, headers: [:], body: "", exitStatus: exitStatus)
        // Lines such as `[  0.002] recv (stream_id=13) :status: 200`.
        for line in verbose.stdout.split(separator: "\n") {
            guard let range = line.range(of: #"recv \(stream_id=\d+\) "#, options: .regularExpression) else { continue }
            let field = line[range.upperBound...]
            guard let separator = field.range(of: ": ", range: field.index(after: field.startIndex)..<field.endIndex) else { continue }
            let name = field[..<separator.lowerBound].lowercased()
            response.headers[name] = String(field[separator.upperBound...])
        }
        response.status = response.headers[":status"].flatMap { Int($0) }
        let plain = try bed.start(executable: executable, name: "nghttp", arguments: arguments + [url])
        try await plain.waitForExit(timeout: .seconds(20))
        response.body = plain.stdout
        return response
    }
}
