import ArgumentParser
import EstuaryTransport
import EstuaryTrust
import EstuaryWire
import Foundation
import Logging
import NIOCore
import Synchronization

/// What mutual TLS costs on the mesh: session establishments per second (TCP + TLS 1.3
/// handshake with client certificate + HTTP/2 + session stream + one echoed envelope) and the
/// round-trip latency of one frame on an open session, each for h2c and mTLS on the same
/// listener code. Client and server run in this one process on loopback and share the cores.
struct TLSBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls",
        abstract: "Measure mTLS session establishments per second and per-frame latency against h2c."
    )

    @Option(help: "Time spent establishing sessions per mode, e.g. 10s.")
    var duration: String = "10s"

    @Option(help: "Sessions being established at once.")
    var concurrency: Int = 16

    @Option(help: "Echoed frames per latency measurement.")
    var frames: Int = 20_000

    func validate() throws {
        guard DurationFlag.parse(duration) != nil else { throw ValidationError("--duration: use e.g. 10s") }
        guard concurrency > 0, frames > 0 else { throw ValidationError("--concurrency and --frames must be positive") }
    }

    func run() async throws {
        let window = DurationFlag.parse(duration)!
        let pki = try BenchPKI()
        var rows: [(String, Double, Int, [Double])] = []
        for mode in ["h2c", "mTLS"] {
            let tls = mode == "mTLS"
            let server = try await EchoServer.start(tls: tls ? pki.server : nil)
            let client = tls ? pki.client : nil
            let established = try await establishments(port: server.port, tls: client, window: window)
            let latencies = try await roundTrips(port: server.port, tls: client)
            rows.append((mode, Double(established.count) / window.seconds, established.failures, latencies))
            server.stop()
        }
        SectionHeader.print("TLS", details: [
            "In-process listener (`MeshServer`) and clients (`MeshClient`) on loopback, sharing \(System.coreCount) cores; the listener echoes each envelope.",
            "Establishment = TCP connect, TLS 1.3 handshake with a P-256 client certificate verified against the mesh CA (or nothing, for h2c), HTTP/2 preface and SETTINGS, the session stream's request and 200, one envelope echoed, close. \(concurrency) at a time for \(duration) per mode.",
            "Frame round trip = one 220-byte capacity report sent and echoed on an open session, \(frames) in sequence after 1,000 of warm-up.",
        ])
        print("| mode | sessions established/s | failures | frame RTT p50 ms | p99 ms | p99.9 ms |")
        print("|---|---:|---:|---:|---:|---:|")
        for (mode, rate, failures, latencies) in rows {
            print("| \(mode) | \(Format.grouped(rate)) | \(failures) | \(Format.ms(Self.quantile(latencies, 0.5))) | \(Format.ms(Self.quantile(latencies, 0.99))) | \(Format.ms(Self.quantile(latencies, 0.999))) |")
        }
        if rows.count == 2 {
            let added = Self.quantile(rows[1].3, 0.5) - Self.quantile(rows[0].3, 0.5)
            print()
            print("mTLS adds \(Format.fixed(added * 1000, 1)) µs per frame round trip at the median; establishing a session costs \(Format.fixed(rows[0].1 / max(rows[1].1, 1), 1))× as much as over h2c.")
        }
        print()
    }

    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }

    static let probe = Estuary_V1_Envelope(body: .capacity(.with {
        $0.full = true
        $0.pools = (0..<4).map { index in .with { $0.acceleratorClass = "ascend-910b-\(index)"; $0.count = 4096; $0.free = 2048 } }
        $0.runningJobs = 12
        $0.sentAtMs = 1_700_000_000_000
    }))

    private func configuration(port: Int, tls: MeshClientTLS?) -> MeshClientConfiguration {
        var client = MeshClientConfiguration(host: "127.0.0.1", port: port)
        client.tls = tls
        return client
    }

    private func establishments(port: Int, tls: MeshClientTLS?, window: Duration) async throws -> (count: Int, failures: Int) {
        let client = configuration(port: port, tls: tls)
        let deadline = ContinuousClock.now + window
        return await withTaskGroup(of: (Int, Int).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var done = 0
                    var failed = 0
                    while ContinuousClock.now < deadline {
                        do {
                            try await MeshClient.withSession(configuration: client, headers: [("estuary-protocol", "1"), ("estuary-site", "bench")]) {
                                session in
                                try await session.writer.send(Self.probe)
                                var reader = session.reader
                                _ = try await reader.next()
                            }
                            done += 1
                        } catch {
                            failed += 1
                        }
                    }
                    return (done, failed)
                }
            }
            var total = (0, 0)
            for await (done, failed) in group { total = (total.0 + done, total.1 + failed) }
            return total
        }
    }

    private func roundTrips(port: Int, tls: MeshClientTLS?) async throws -> [Double] {
        let count = frames
        return try await MeshClient.withSession(
            configuration: configuration(port: port, tls: tls), headers: [("estuary-protocol", "1"), ("estuary-site", "bench")]
        ) { session in
            var reader = session.reader
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            for index in 0..<(count + 1000) {
                let start = ContinuousClock.now
                try await session.writer.send(Self.probe)
                _ = try await reader.next()
                if index >= 1000 { latencies.append((ContinuousClock.now - start).milliseconds) }
            }
            return latencies.sorted()
        }
    }
}

/// A throwaway mesh CA with one coordinator and one site certificate.
struct BenchPKI {
    let server: MeshServerTLS
    let client: MeshClientTLS

    init() throws {
        let authority = try CertificateAuthority.create(name: "estuary-bench CA")
        let serverKey = CredentialKey.generate()
        let serverCertificate = try authority.issue(
            csrPEM: try serverKey.makeCSRPEM(commonName: "bench"), identity: PeerIdentity(role: .coordinator, id: "bench")!,
            validFor: .seconds(3600), ipAddresses: ["127.0.0.1"])
        let clientKey = CredentialKey.generate()
        let clientCertificate = try authority.issue(
            csrPEM: try clientKey.makeCSRPEM(commonName: "bench"), identity: PeerIdentity(role: .site, id: "bench")!,
            validFor: .seconds(3600))
        server = MeshServerTLS(
            certificateChainPEM: serverCertificate.certificatePEM, privateKeyPEM: serverKey.pem, trustedCAPEM: authority.certificatePEM)
        client = MeshClientTLS(
            trustedCAPEM: authority.certificatePEM, certificateChainPEM: clientCertificate.certificatePEM, privateKeyPEM: clientKey.pem)
    }
}

/// A mesh listener that admits every session and echoes its envelopes.
struct EchoServer: Sendable {
    let port: Int
    let task: Task<Void, Never>

    struct Echo: MeshSessionHandler {
        func admit(_ request: SessionRequest) async -> SessionRefusal? { nil }
        func run(_ session: MeshServerSession) async {
            session.markEstablished()
            do {
                for try await envelope in session.reader { try await session.writer.send(envelope) }
            } catch {}
            await session.writer.finish()
        }
    }

    static func start(tls: MeshServerTLS?) async throws -> EchoServer {
        var configuration = MeshServerConfiguration()
        configuration.port = 0
        configuration.tls = tls
        let server = try await MeshServer.bind(configuration: configuration, logger: Logger(label: "bench.echo"))
        let task = Task { _ = try? await server.run(handler: Echo()) }
        return EchoServer(port: server.localPort, task: task)
    }

    func stop() { task.cancel() }
}
