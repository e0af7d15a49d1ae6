import EstuaryModel
import EstuaryWire
import Foundation
import Testing

extension IntegrationTests {
    @Suite("Hostile input on the mesh port")
    struct HostileMeshInput {
        @Test("garbage, a slow loris, an oversized frame and a session without Hello are cut off; a normal site is unharmed",
              .timeLimit(.minutes(2)))
        func hostilePeersAreCutOffAndOthersAreUnharmed() async throws {
            try await TestBed.run { bed in
                // A handshake timeout far beyond every wait below: whatever closes a connection
                // here within a wait's bound was not the timeout.
                var options = CoordinatorOptions()
                options.handshakeTimeout = "60s"
                let coordinator = try await bed.startCoordinator(options: options)
                let agent = try await bed.startAgent(.cpu, coordinator: coordinator)
                let marks = bed.path("marks.log")
                let files = try (0..<6).map { index in
                    try bed.write(TestJob(
                        name: "bystander-\(index)", script: JobMarks.wrap("sleep 6"),
                        acceleratorClass: TestSite.cpu.acceleratorClass, environment: ["MARKS": marks]))
                }
                let ids = try await bed.submitAll(files, coordinator: coordinator)
                try await waitUntil("the bystander jobs to run", timeout: .seconds(30)) { JobMarks.read(marks).starts.count == 6 }

                // (a) Bytes that are not HTTP/2: the connection is closed for what it sent, not by
                // the (60 s) handshake timeout.
                let garbage = try RawConnection(port: coordinator.meshPort)
                garbage.send((0..<256).map { _ in UInt8.random(in: 0...255) })
                _ = try await garbage.waitUntilClosed(since: .now, timeout: .seconds(20))

                // (b) Slow loris, on a coordinator with a 2 s handshake timeout: part of a valid
                // preface, then nothing. It must not hold the connection: it is cut off (a
                // coordinator without the timeout would keep it past the wait and fail here).
                var strict = CoordinatorOptions()
                strict.handshakeTimeout = "2s"
                let guarded = try await bed.startCoordinator(dataDirectory: "strict", options: strict)
                let loris = try RawConnection(port: guarded.meshPort)
                let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
                #expect(loris.send(Array(preface.prefix(12))))
                _ = try await loris.waitUntilClosed(since: .now, timeout: .seconds(20))
                #expect(guarded.process.isRunning)

                // (c) A valid Hello, then a frame header that declares 64 MiB: FRAME_TOO_LARGE, and the stream ends.
                let oversized = try await HostileSession.run(meshPort: coordinator.meshPort, site: "evil") { reader, writer, outcome in
                    try await writer.send(HostileSession.hello(site: "evil"))
                    if let welcome = try await reader.next() { outcome.received.append(welcome) }
                    let length = UInt32(64 << 20)
                    let header: [UInt8] = [0, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
                    try await HostileSession.writeRaw(header + [UInt8](repeating: 0x41, count: 1024), to: writer)
                }
                #expect(oversized.gotWelcome, "the Hello was accepted first: \(oversized.received)")
                #expect(oversized.firstError?.code == .frameTooLarge, "\(oversized.received)")
                #expect(oversized.firstError?.fatal == true)
                #expect(oversized.streamEnded, "the coordinator ended the stream: \(oversized.ending)")

                // (d) A first envelope that is not Hello: PROTOCOL_VIOLATION, and the stream ends.
                let noHello = try await HostileSession.run(meshPort: coordinator.meshPort, site: "evil-2") { _, writer, _ in
                    try await writer.send(Estuary_V1_Envelope(body: .capacity(.with { $0.full = true })))
                }
                #expect(!noHello.gotWelcome)
                #expect(noHello.firstError?.code == .protocolViolation, "\(noHello.received)")
                #expect(noHello.firstError?.fatal == true)
                #expect(noHello.streamEnded, "the coordinator ended the stream: \(noHello.ending)")

                // Throughout, the normal site kept its session and its jobs, and new work still runs.
                #expect(coordinator.process.isRunning && agent.process.isRunning)
                #expect(JobMarks.read(marks).running.count + JobMarks.read(marks).ends.count == 6)
                try await coordinator.api.waitForJobs(ids, toBe: .succeeded, timeout: .seconds(30))
                let after = try bed.write(TestJob(name: "after-hostile", script: "echo still fine", acceleratorClass: TestSite.cpu.acceleratorClass))
                let submit = try await bed.estuaryctl(["job", "submit", after, "--wait"], coordinator: coordinator)
                #expect(submit.status == 0, "\(submit)")
                let sites = try await coordinator.api.sites()
                #expect(sites.first { $0.site.id.rawValue == TestSite.cpu.id }?.state == .connected)
                let agentLog = agent.process.stderr
                #expect(!agentLog.contains("session ended"), "the normal agent's session was never interrupted")
            }
        }
    }
}
