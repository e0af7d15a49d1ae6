@testable import EstuaryGossip

/// Builds messages as another member would send them, and reads a node's effects.
enum Peer {
    static func bytes(from sender: String, _ body: GossipMessage.Body, _ updates: [GossipMessage.Update]) -> [UInt8] {
        GossipCodec.encode(GossipMessage(senderId: sender, senderAddress: "\(sender):7946", body: body, updates: updates))
    }

    static func gossip(from sender: String, _ updates: GossipMessage.Update...) -> [UInt8] {
        bytes(from: sender, .gossip, updates)
    }
}

extension Array where Element == GossipEffect {
    var events: [GossipEvent] {
        compactMap { if case .event(let e) = $0 { e } else { nil } }
    }

    var messages: [(to: String, message: GossipMessage)] {
        compactMap {
            guard case .send(let to, let bytes) = $0, let m = try? GossipCodec.decode(bytes, maxBytes: 1 << 24) else { return nil }
            return (to, m)
        }
    }

    var sentUpdates: [GossipMessage.Update] { messages.flatMap(\.message.updates) }
}

func makeNode(
    _ id: String = "a", peers: [String] = ["b", "c", "d", "e"], configuration: GossipConfiguration = GossipConfiguration(),
    seed: UInt64 = 7, now: Int64 = 0
) -> GossipNode {
    var node = GossipNode(id: id, address: "\(id):7946", region: "r", configuration: configuration, seed: seed, now: now)
    node.assumeMembers(peers.map { (id: $0, address: "\($0):7946", region: "r") }, now: now)
    return node
}

/// Ticks a node every `stepMs` until `untilMs`, collecting effects. With `answering`, every
/// ping it sends is acked at once by its target (except the members in `silent`), so that its
/// own probes do not add suspicions to the test's, and every peer told that it is suspected or
/// dead refutes, as a live member would (`silent` members do neither, `mute` ones only ack).
func drive(
    _ node: inout GossipNode, from: Int64, until: Int64, stepMs: Int64 = 50, answering: Bool = true, silent: Set<String> = [],
    mute: Set<String> = []
) -> [GossipEffect] {
    var effects: [GossipEffect] = []
    var t = from
    while t <= until {
        let step = node.tick(now: t)
        effects += step
        if answering {
            for (to, message) in step.messages {
                let peer = String(to.prefix { $0 != ":" })
                guard !silent.contains(peer) else { continue }
                for update in message.updates where !mute.contains(peer) {
                    switch update {
                    case .suspect(peer, let inc, _), .dead(peer, let inc, _):
                        let refutation = Peer.gossip(from: peer, .alive(id: peer, address: to, region: "r", incarnation: inc + 1))
                        effects += (try? node.receive(refutation, from: to, sender: peer, now: t)) ?? []
                    default: break
                    }
                }
                guard case .ping(let seq, peer, _) = message.body else { continue }
                let ack = Peer.bytes(from: peer, .ack(seq: seq, coordinate: .origin), [])
                effects += (try? node.receive(ack, from: to, sender: peer, now: t)) ?? []
            }
        }
        t += stepMs
    }
    return effects
}
