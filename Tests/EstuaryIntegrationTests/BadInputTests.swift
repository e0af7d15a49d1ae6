import EstuaryModel
import Foundation
import Testing

extension IntegrationTests {
    @Suite("Bad input")
    struct BadInput {
        static let valid = TestJob(name: "valid", script: "true", acceleratorClass: TestSite.cpu.acceleratorClass).toml

        /// Job files with one mistake each, and the words stderr must contain to point at it.
        static let badFiles: [(name: String, text: String, mentions: [String])] = [
            ("toml-syntax", valid.replacingOccurrences(of: #"name = "valid""#, with: #"name = "valid"#), ["line"]),
            ("count-as-text", valid.replacingOccurrences(of: "count = 1", with: #"count = "eight""#), ["resources.count", "integer"]),
            ("unknown-key", valid + "\npriorty = 5\n", ["priorty", "unknown key"]),
            ("missing-command", valid.split(separator: "\n").filter { !$0.hasPrefix("command") }.joined(separator: "\n"), ["command"]),
        ]

        @Test("malformed job files make estuaryctl exit 4 naming the field, and nothing is stored", .timeLimit(.minutes(1)))
        func malformedJobFilesAreRejectedByEstuaryctl() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator()
                let before = try await coordinator.api.allJobs().count
                for bad in Self.badFiles {
                    let file = try bed.write(bad.text, to: "jobs/\(bad.name).toml")
                    let result = try await bed.estuaryctl(["job", "submit", file], coordinator: coordinator)
                    #expect(result.status == 4, "\(bad.name): \(result)")
                    for word in bad.mentions {
                        #expect(result.stderr.contains(word), "\(bad.name): stderr names \(word): \(result.stderr)")
                    }
                    #expect(result.stdout.isEmpty, "\(bad.name): no job id printed")
                }
                let missing = try await bed.estuaryctl(["job", "status", "j-does-not-exist"], coordinator: coordinator)
                #expect(missing.status == 3, "an unknown job is not found: \(missing)")
                #expect(try await coordinator.api.allJobs().count == before, "no job was stored")
            }
        }

        @Test("malformed API bodies get 400 with the fields named, and nothing is stored", .timeLimit(.minutes(1)))
        func malformedBodiesAreRejectedByTheAPI() async throws {
            try await TestBed.run { bed in
                let coordinator = try await bed.startCoordinator()
                let before = try await coordinator.api.allJobs().count
                let good: [String: Any] = [
                    "name": "api-job", "tenant": "integration", "command": ["/bin/true"], "walltime_seconds": 60,
                    "resources": ["class": "cpu-x86-64", "count": 1],
                ]
                func json(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }
                var countAsText = good
                countAsText["resources"] = ["class": "cpu-x86-64", "count": "eight"]
                var noCommand = good
                noCommand["command"] = nil
                let cases: [(name: String, body: Data, field: String)] = [
                    ("resources.count as a string", try json(countAsText), "resources.count"),
                    ("command missing", try json(noCommand), "command"),
                    ("not JSON", Data("name = \"toml, not json\"".utf8), "body"),
                ]
                for bad in cases {
                    let reply = try await coordinator.api.request(.post, "/v1/jobs", body: bad.body)
                    #expect(reply.status == 400, "\(bad.name): \(reply.text)")
                    let error = try? JSONDecoder().decode(APIErrorBody.self, from: reply.body)
                    #expect(error?.error.code == "invalid_request", "\(bad.name): \(reply.text)")
                    #expect(error?.error.fields?.contains { $0.field == bad.field } == true, "\(bad.name): fields name \(bad.field): \(reply.text)")
                }
                #expect(try await coordinator.api.allJobs().count == before, "no job was stored")

                // The same body, well formed, is accepted: the rejections were about the mistakes.
                let accepted = try await coordinator.api.request(.post, "/v1/jobs", body: try json(good))
                #expect(accepted.status == 201, "\(accepted.text)")
            }
        }
    }
}
