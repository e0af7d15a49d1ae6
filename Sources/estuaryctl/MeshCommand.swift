import ArgumentParser
import Foundation
import EstuaryModel

/// `estuaryctl mesh …`: the coordinator mesh (coordinators gossiping with each other).
struct MeshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "The coordinator mesh: which coordinators this one sees, and how far away they are.",
        subcommands: [Members.self]
    )

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "members",
            abstract: "Coordinators of the mesh with their state, incarnation and round-trip time (admin).",
            discussion: """
                STATE is alive, suspect (missed its probes; it has until the suspicion timeout to
                answer), dead (declared failed) or left (said goodbye). INC is the incarnation:
                a coordinator raises it to refute a suspicion. RTT is the smoothed round-trip
                time of this coordinator's own probes; EST the one its network coordinate
                predicts. LATENCY lists what the scheduler uses between regions for
                max_latency_ms, and where each figure comes from (measured, estimated from
                coordinates, or configured in the policy file).

                Example:
                  estuaryctl mesh members
                """
        )

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let view = try await global.withClient { client in try await client.get("/v1/mesh/members", as: MeshMembersView.self) }
            if global.json { return try Output.json(view) }
            Output.line(Self.text(view))
        }

        static func text(_ view: MeshMembersView, now: Int64 = TimeText.nowMs()) -> String {
            var lines = [
                "coordinator \(view.coordinator) in region \(view.region); local health \(view.localHealth)"
                    + (view.localHealth == 0 ? " (healthy)" : " (degraded: probing more patiently)")
            ]
            var table = TextTable("MEMBER", "REGION", "ADDRESS", "STATE", "INC", "RTT", "EST", "SINCE", rightAligned: [4, 5, 6])
            for member in view.members {
                table.add(
                    member.id + (member.isSelf ? " (self)" : ""), member.region, member.address, member.state,
                    String(member.incarnation), member.rttMs.map(Self.ms) ?? "-", member.estimatedRTTMs.map(Self.ms) ?? "-",
                    TimeText.age(ms: member.stateSinceMs, now: now))
            }
            lines += ["", table.rendered]
            if !view.latency.isEmpty {
                var latency = TextTable("FROM", "TO", "LATENCY", "SOURCE", rightAligned: [2])
                for pair in view.latency { latency.add(pair.from, pair.to, "\(pair.ms) ms", pair.source) }
                lines += ["", latency.rendered]
            }
            return lines.joined(separator: "\n")
        }

        static func ms(_ value: Double) -> String {
            value < 10 ? String(format: "%.2f ms", value) : String(format: "%.0f ms", value)
        }
    }
}
