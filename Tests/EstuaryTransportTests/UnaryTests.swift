import EstuaryTrust
import EstuaryWire
import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import Testing

@testable import EstuaryTransport

@Suite("Unary requests")
struct UnaryTests {
    @Test("a unary request round-trips over h2c")
    func overCleartext() async throws {
        let response = try await withMeshServer(tls: nil) { port in
            try await MeshClient.request(
                configuration: clientConfiguration(port: port, tls: nil), path: "/estuary/v1/echo",
                headers: [("content-type", "application/octet-stream")], body: [1, 2, 3])
        }
        #expect(response.status == 200)
        #expect(response.body == [3, 2, 1])
        #expect(response.headers["x-peer"] == "none")
        #expect(response.headers["content-type"] == "application/octet-stream")
    }

    @Test("a unary request round-trips over mutual TLS and the handler sees the peer")
    func overMutualTLS() async throws {
        let pki = try TestPKI()
        let site = try pki.issue(TestPKI.site)
        let body = Array(repeating: UInt8(7), count: 200_000) + [9]
        let response = try await withMeshServer(tls: try pki.serverTLS()) { port in
            try await MeshClient.request(
                configuration: clientConfiguration(port: port, tls: pki.clientTLS(site)), path: "/estuary/v1/echo", body: body)
        }
        #expect(response.status == 200)
        #expect(response.body == body.reversed())
        #expect(response.headers["x-peer"] == "site:pengcheng-1")
    }

    @Test("a unary request with server-authenticated TLS only is refused by the mesh port")
    func withoutClientCertificate() async throws {
        let pki = try TestPKI()
        await #expect {
            try await withMeshServer(tls: try pki.serverTLS()) { port in
                try await MeshClient.request(
                    configuration: clientConfiguration(port: port, tls: pki.clientTLS(nil)), path: "/estuary/v1/echo", body: [1])
            }
        } throws: { error in
            if case TransportError.tlsFailed = error { return true }
            return false
        }
    }

    @Test("unknown paths get 404, a body over the limit 413, and the client will not send one")
    func limitsAndUnknownPaths() async throws {
        let limit = MeshServer.unaryBodyLimit
        let (unknown, atLimit, overLimit) = try await withMeshServer(tls: nil) { port in
            let configuration = clientConfiguration(port: port, tls: nil)
            let unknown = try await MeshClient.request(configuration: configuration, path: "/nope", body: [])
            let atLimit = try await MeshClient.request(
                configuration: configuration, path: "/estuary/v1/echo", body: Array(repeating: 0, count: limit))
            let overLimit = try await rawPost(configuration, path: "/estuary/v1/echo", chunks: [limit, 1])
            return (unknown, atLimit, overLimit)
        }
        #expect(unknown.status == 404)
        #expect(unknown.headers[WireProtocol.errorHeader] == "no such path")
        #expect(atLimit.status == 200 && atLimit.body.count == limit)
        #expect(overLimit == 413)

        await #expect {
            try await MeshClient.request(
                configuration: clientConfiguration(port: 1, tls: nil), path: "/x", body: Array(repeating: 0, count: limit + 1))
        } throws: { error in
            if case TransportError.bodyTooLarge = error { return true }
            return false
        }
    }

    /// POSTs DATA frames of the given sizes, bypassing the client's own limit; returns the status.
    private func rawPost(_ configuration: MeshClientConfiguration, path: String, chunks: [Int]) async throws -> Int {
        let connection = try await MeshClient.connect(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
        defer { connection.channel.close(promise: nil) }
        let stream = try await connection.mux.openStream { stream in
            stream.eventLoop.makeCompletedFuture { try MeshClient.StreamChannel(wrappingChannelSynchronously: stream) }
        }
        return try await stream.executeThenClose { inbound, outbound in
            let headers: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": path, ":authority": "test"]
            try await outbound.write(.headers(.init(headers: headers)))
            for (index, size) in chunks.enumerated() {
                let data = ByteBuffer(repeating: 0, count: size)
                // The server may answer and close before all is sent.
                try? await outbound.write(.data(.init(data: .byteBuffer(data), endStream: index == chunks.count - 1)))
            }
            for try await frame in inbound {
                if case .headers(let response) = frame, let status = response.headers.first(name: ":status") {
                    return Int(status) ?? 0
                }
            }
            return 0
        }
    }

    @Test("a session-path request still follows the session rules")
    func sessionPathIsNotUnary() async throws {
        let response = try await withMeshServer(tls: nil) { port in
            try await MeshClient.request(
                configuration: clientConfiguration(port: port, tls: nil), path: WireProtocol.sessionPath,
                headers: [("content-type", "text/plain")], body: [1])
        }
        #expect(response.status == 415)
    }
}
