import EstuaryConfig
import EstuaryModel
import EstuaryTransport
import EstuaryWire
import Foundation
import Logging
import Testing

@testable import EstuaryAgent

/// A scripted coordinator: welcomes the agent, assigns one job, acks everything it receives.
private actor FakeCoordinator: MeshSessionHandler {
    var hellos: [Estuary_V1_Hello] = []
    var received: [Estuary_V1_Envelope] = []
    let assignment: Estuary_V1_JobAssign

    init(assignment: Estuary_V1_JobAssign) { self.assignment = assignment }

    nonisolated func admit(_ request: SessionRequest) async -> SessionRefusal? {
        request.siteHeader == "test-site" ? nil : SessionRefusal(status: 403, message: "unknown site")
    }

    nonisolated func run(_ session: MeshServerSession) async {
        var reader = session.reader
        do {
            guard let first = try await reader.next(), case .hello(let hello) = first.body else { return }
            await record(hello: hello)
            var welcome = Estuary_V1_Welcome()
            welcome.protocolVersion = 1
            welcome.compression = "zstd"
            welcome.sessionID = "s-1"
            welcome.reportIntervalMs = 200
            welcome.coordinatorID = "fake"
            try await session.writer.send(Estuary_V1_Envelope(body: .welcome(welcome)))
            session.codec.use(.zstd)
            session.markEstablished()
            try await session.writer.send(Estuary_V1_Envelope(seq: 1, body: .jobAssign(assignment)))
            var applied: UInt64 = 0
            while let envelope = try await reader.next() {
                await record(envelope)
                if envelope.seq > applied {
                    applied = envelope.seq
                    try await session.writer.send(Estuary_V1_Envelope(ack: applied, body: nil))
                }
            }
        } catch {}
    }

    private func record(hello: Estuary_V1_Hello) { hellos.append(hello) }
    private func record(_ envelope: Estuary_V1_Envelope) { received.append(envelope) }

    func snapshot() -> (hellos: [Estuary_V1_Hello], received: [Estuary_V1_Envelope]) { (hellos, received) }
}

@Suite("Agent session")
struct AgentSessionTests {
    @Test("the agent says hello, runs an assigned job and reports it exactly as the protocol says")
    func endToEnd() async throws {
        try await withTemporaryDirectory { directory in
            var spec = Estuary_V1_JobSpec()
            spec.name = "hello"
            spec.tenant = "tenant-a"
            spec.command = ["/bin/sh", "-c", "echo hello from $ESTUARY_JOB_ID"]
            spec.acceleratorClass = "ascend-910b"
            spec.count = 4
            spec.tasks = 1
            spec.walltimeSeconds = 60
            var assign = Estuary_V1_JobAssign()
            assign.jobID = "job-e2e"
            assign.attempt = 1
            assign.spec = spec
            let coordinator = FakeCoordinator(assignment: assign)
            var serverConfiguration = MeshServerConfiguration()
            serverConfiguration.port = 0
            let server = try await MeshServer.bind(configuration: serverConfiguration, logger: Logger(label: "test.server"))

            var configuration = AgentConfiguration(
                profile: testProfile(), dataDirectory: directory,
                coordinator: CoordinatorAddress(host: "127.0.0.1", port: server.localPort), driver: driverConfiguration()
            )
            configuration.pollInterval = .milliseconds(50)
            configuration.logInterval = .milliseconds(50)
            let agent = try EstuaryAgentService(configuration: configuration, logger: Logger(label: "test.agent"))

            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run(handler: coordinator) }
                group.addTask { try await agent.run() }
                let finished = await eventually(timeout: .seconds(20)) {
                    await coordinator.snapshot().received.contains { $0.jobUpdate.state == .succeeded }
                }
                #expect(finished)
                #expect(await eventually { (try? agent.supervisor.outbox.outboxCount()) == 0 }, "acked entries are deleted")
                group.cancelAll()
            }

            let (hellos, received) = await coordinator.snapshot()
            let hello = try #require(hellos.first)
            #expect(hello.site.id == "test-site")
            #expect(hello.protocolVersions == [1])
            #expect(hello.outboxEpoch == agent.supervisor.outbox.epoch)
            #expect(hello.nextSeq == 1)
            #expect(received.contains { if case .capacity(let report) = $0.body { report.full && report.pools.count == 1 } else { false } })
            #expect(received.contains { $0.ack == 1 }, "the assignment is acknowledged")

            let reliable = received.filter { $0.seq > 0 }
            #expect(reliable.map(\.seq) == Array(1...UInt64(reliable.count)), "seqs are contiguous from 1")
            let states = reliable.compactMap { envelope -> Estuary_V1_JobState? in
                if case .jobUpdate(let update) = envelope.body { return update.state }
                return nil
            }
            #expect(states == [.starting, .running, .succeeded])
            let usageIndex = try #require(received.firstIndex { if case .usage = $0.body { true } else { false } })
            let terminalIndex = try #require(received.firstIndex { $0.jobUpdate.state == .succeeded })
            #expect(usageIndex < terminalIndex)
            #expect(received[usageIndex].usage.records.first?.units == 4)
            let output = received.filter { if case .logChunk = $0.body { true } else { false } }
            #expect(output.contains { $0.logChunk.data == Data("hello from job-e2e\n".utf8) })
            let lastOutput = try #require(received.lastIndex { if case .logChunk = $0.body { true } else { false } })
            #expect(lastOutput < terminalIndex, "output precedes the terminal update")
        }
    }
}

@Suite("Agent start-up")
struct AgentStartupTests {
    @Test("cleartext is refused unless the flag or the profile allows it")
    func cleartextPolicy() throws {
        var profile = testProfile()
        profile.coordinator.insecureDev = false
        #expect(throws: AgentStartupError.self) {
            try AgentConfiguration.resolve(profile: profile, overrides: AgentOverrides(), currentDirectory: "/tmp")
        }
        let allowed = try AgentConfiguration.resolve(
            profile: profile, overrides: AgentOverrides(coordinator: "10.0.0.1:9000", dataRoot: "/srv/mesh", insecureDev: true),
            currentDirectory: "/tmp"
        )
        #expect(allowed.coordinator == CoordinatorAddress(host: "10.0.0.1", port: 9000))
        #expect(allowed.dataDirectory == "/srv/mesh/unused")
    }
}
