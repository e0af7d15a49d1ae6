import EstuaryModel
import EstuaryTransport
import EstuaryTrust
import EstuaryWire
import Foundation
import Synchronization

/// The simulated site whose free capacity changes: one TLS session to member 0 with a site
/// certificate issued here by the mesh CA (the bench holds its key, as `--ca-key` does), one
/// pool of `units` simulated CPUs. It repeats its report every 5 s, as agents do.
final class BenchGossipSite: Sendable {
    static let units = 64
    let id: String
    private let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    private let writer = Mutex<EnvelopeWriter?>(nil)
    private let free = Mutex(units)
    private let session = Mutex<Task<Void, Never>?>(nil)
    private let failure = Mutex<String?>(nil)
    private let lastSend = Mutex(ContinuousClock.now)
    static let reportInterval: Duration = .seconds(5)

    init() { id = SimulatedSite(index: 0, runID: "", pools: []).id }

    private func simulated(free: Int) -> SimulatedSite {
        SimulatedSite(
            index: 0, runID: runID,
            pools: [PoolCapacity(acceleratorClass: AcceleratorClass(rawValue: "cpu-x86-64"), count: Self.units, free: free, simulated: true)])
    }

    func connect(to port: Int, caDirectory: String) async throws {
        guard let authority = try CertificateAuthority.load(directory: caDirectory) else {
            throw BenchError.setup("no mesh CA in \(caDirectory)")
        }
        let key = CredentialKey.generate()
        let certificate = try authority.issue(
            csrPEM: try key.makeCSRPEM(commonName: id), identity: PeerIdentity.site(SiteID(rawValue: id))!, validFor: .seconds(86_400))
        var client = MeshClientConfiguration(host: "127.0.0.1", port: port)
        client.tls = MeshClientTLS(
            trustedCAPEM: authority.certificatePEM, certificateChainPEM: certificate.certificatePEM, privateKeyPEM: key.pem)
        let task = Task { [self] in
            do {
                try await MeshClient.withSession(configuration: client, headers: simulated(free: Self.units).headers) { session in
                    var reader = session.reader
                    _ = try await simulated(free: Self.units).handshake(session, reader: &reader)
                    try await session.writer.send(simulated(free: Self.units).capacity())
                    let sessionWriter = session.writer
                    lastSend.withLock { $0 = .now }
                    writer.withLock { $0 = sessionWriter }
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            while true {
                                try await Task.sleep(until: self.lastSend.withLock { $0 } + Self.reportInterval, clock: .continuous)
                                let due = self.lastSend.withLock { $0 } + Self.reportInterval
                                guard ContinuousClock.now >= due else { continue }
                                self.lastSend.withLock { $0 = .now }
                                try await sessionWriter.send(self.simulated(free: self.free.withLock { $0 }).capacity())
                            }
                        }
                        while try await reader.next() != nil {}
                        group.cancelAll()
                    }
                }
            } catch is CancellationError {
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            writer.withLock { $0 = nil }
        }
        session.withLock { $0 = task }
        let deadline = ContinuousClock.now + .seconds(30)
        while writer.withLock({ $0 }) == nil {
            if let problem = failure.withLock({ $0 }) { throw BenchError.setup("the simulated site could not connect: \(problem)") }
            if ContinuousClock.now > deadline { throw BenchError.setup("the simulated site did not get Welcome within 30 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Reports `free` units free now.
    func send(free units: Int) async throws {
        guard let writer = writer.withLock({ $0 }) else {
            throw BenchError.failed("the simulated site's session is gone: \(failure.withLock { $0 } ?? "closed")")
        }
        free.withLock { $0 = units }
        lastSend.withLock { $0 = .now }
        try await writer.send(simulated(free: units).capacity())
    }

    /// Returns at least 1.5 s after the last report and 1.5 s before the next periodic one.
    func waitForQuiet() async throws {
        while true {
            let last = lastSend.withLock { $0 }
            let now = ContinuousClock.now
            if now - last >= .milliseconds(1500), last + Self.reportInterval - now >= .milliseconds(1500) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    func close() async {
        let task = session.withLock { $0 }
        task?.cancel()
        await task?.value
    }
}
