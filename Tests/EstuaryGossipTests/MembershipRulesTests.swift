import EstuaryModel
import Testing

@testable import EstuaryGossip

@Suite("Membership rules")
struct MembershipRulesTests {
    @Test("a member suspected at its own incarnation refutes with a higher one")
    func refutesSuspicion() throws {
        var node = makeNode()
        let effects = try node.receive(Peer.gossip(from: "b", .suspect(id: "a", incarnation: 0, from: "b")), from: "b:7946", sender: "b", now: 10)
        #expect(effects.events.isEmpty)
        #expect(node.member("a")?.incarnation == 1)
        #expect(node.localHealth == 1)  // Lifeguard: being suspected hints at our own trouble
        let gossiped = drive(&node, from: 20, until: 400)
        #expect(gossiped.sentUpdates.contains(.alive(id: "a", address: "a:7946", region: "r", incarnation: 1)))
    }

    @Test("a stale accusation (older incarnation) is ignored")
    func staleAccusation() throws {
        var node = makeNode()
        _ = try node.receive(Peer.gossip(from: "b", .suspect(id: "a", incarnation: 0, from: "b")), from: "b:7946", sender: "b", now: 10)
        _ = try node.receive(Peer.gossip(from: "c", .dead(id: "a", incarnation: 0, from: "c")), from: "c:7946", sender: "c", now: 20)
        #expect(node.member("a")?.incarnation == 1)
    }

    @Test("a restarted member believed dead at incarnation 5 comes back at 6 through push-pull")
    func restartRefutes() throws {
        var node = GossipNode(id: "a", address: "a:7946", region: "r", configuration: GossipConfiguration(), seed: 1, now: 0)
        let join = node.join(seeds: ["b:7946"], now: 0)
        #expect(join.messages.count == 1)
        let response = Peer.bytes(
            from: "b", .pushPullResponse(digest: .empty),
            [.alive(id: "b", address: "b:7946", region: "r", incarnation: 2), .dead(id: "a", incarnation: 5, from: "b")])
        let effects = try node.receive(response, from: "b:7946", sender: "b", now: 5)
        #expect(node.member("a")?.incarnation == 6)
        #expect(effects.events == [.memberJoined(node.member("b")!)])
        // The push half of the exchange carries the refutation.
        #expect(effects.sentUpdates.contains(.alive(id: "a", address: "a:7946", region: "r", incarnation: 6)))
    }

    @Test("suspicion without confirmations turns into death after the maximum timeout")
    func suspicionToDead() throws {
        var node = makeNode()
        let config = GossipConfiguration()
        _ = try node.receive(Peer.gossip(from: "b", .suspect(id: "c", incarnation: 0, from: "b")), from: "b:7946", sender: "b", now: 0)
        #expect(node.member("c")?.state == .suspect)
        let maxTimeout = config.suspicionMin(members: 5) * Int64(config.suspicionMaxTimeoutMultiplier)
        // c answers pings but its refutation never arrives; nobody else suspects it.
        let before = drive(&node, from: 100, until: maxTimeout - 100, stepMs: 100, mute: ["c"])
        #expect(!before.events.contains(.memberFailed(id: "c")))
        let after = drive(&node, from: maxTimeout, until: maxTimeout + 100, stepMs: 100, mute: ["c"])
        #expect(after.events.contains(.memberFailed(id: "c")))
        #expect(node.member("c")?.state == .dead)
    }

    @Test("plain SWIM uses the fixed minimum timeout")
    func swimTimeout() throws {
        var node = makeNode(configuration: .swim)
        _ = try node.receive(Peer.gossip(from: "b", .suspect(id: "c", incarnation: 0, from: "b")), from: "b:7946", sender: "b", now: 0)
        let minimum = GossipConfiguration.swim.suspicionMin(members: 5)
        let effects = drive(&node, from: 100, until: minimum, stepMs: 100, silent: ["c"])
        #expect(effects.events.contains(.memberFailed(id: "c")))
    }

    @Test("Lifeguard: independent confirmations shrink the suspicion timeout towards the minimum")
    func confirmationsShrinkTimeout() throws {
        var s = Suspicion(incarnation: 0, from: "b", startMs: 0, minMs: 6000, maxMs: 18000, expected: 3)
        #expect(s.timeoutMs == 18000)
        let first = s.confirm(from: "c")
        let one = s.timeoutMs
        let again = s.confirm(from: "c")  // the same member twice is one confirmation
        let second = s.confirm(from: "d")
        let two = s.timeoutMs
        let third = s.confirm(from: "e")
        #expect(first && !again && second && third)
        #expect(18000 > one && one > two && two > s.timeoutMs)
        #expect(s.timeoutMs == 6000)

        var node = makeNode(peers: ["b", "c", "d", "e", "f"])
        for (t, from) in [(0, "b"), (10, "d"), (20, "e"), (30, "f")] {
            _ = try node.receive(
                Peer.gossip(from: from, .suspect(id: "c", incarnation: 0, from: from)), from: "\(from):7946", sender: from, now: Int64(t))
        }
        let effects = drive(&node, from: 100, until: 6100, stepMs: 100, silent: ["c"])
        #expect(effects.events.contains(.memberFailed(id: "c")))
        #expect(effects.events.filter { if case .memberFailed = $0 { true } else { false } }.count == 1)
    }

    @Test("an alive with a higher incarnation clears a suspicion; an equal one does not")
    func aliveRefutation() throws {
        var node = makeNode()
        _ = try node.receive(Peer.gossip(from: "b", .suspect(id: "c", incarnation: 3, from: "b")), from: "b:7946", sender: "b", now: 0)
        let same = try node.receive(Peer.gossip(from: "c", .alive(id: "c", address: "c:7946", region: "r", incarnation: 3)), from: "c:7946", sender: "c", now: 5)
        #expect(same.events.isEmpty && node.member("c")?.state == .suspect)
        let higher = try node.receive(Peer.gossip(from: "c", .alive(id: "c", address: "c:7946", region: "r", incarnation: 4)), from: "c:7946", sender: "c", now: 6)
        #expect(node.member("c")?.state == .alive)
        #expect(higher.events.count == 1)
        if case .memberAlive(let view) = higher.events.first { #expect(view.incarnation == 4) } else { Issue.record("no memberAlive") }
        let late = drive(&node, from: 100, until: 40_000, stepMs: 50)
        #expect(!late.events.contains(.memberFailed(id: "c")))
    }

    @Test("a dead member that rejoins with a higher incarnation is alive again")
    func rejoin() throws {
        var node = makeNode()
        _ = try node.receive(Peer.gossip(from: "b", .dead(id: "c", incarnation: 0, from: "b")), from: "b:7946", sender: "b", now: 0)
        #expect(node.member("c")?.state == .dead)
        let back = try node.receive(Peer.gossip(from: "c", .alive(id: "c", address: "c:9999", region: "r", incarnation: 1)), from: "c:9999", sender: "c", now: 10)
        #expect(node.member("c")?.state == .alive)
        #expect(node.member("c")?.address == "c:9999")
        #expect(back.events.contains { if case .memberAlive = $0 { true } else { false } })
    }

    @Test("leave: peers mark the member left, do not suspect it, and reap it later")
    func leave() throws {
        var leaver = makeNode("a", peers: ["b", "c"])
        let goodbye = leaver.leave(now: 0)
        #expect(goodbye.messages.count == 2)
        #expect(goodbye.sentUpdates.allSatisfy { $0 == .left(id: "a", incarnation: 0) })
        #expect(leaver.member("a")?.state == .left)

        var peer = makeNode("b", peers: ["a", "c"])
        let effects = try peer.receive(goodbye.messages[0].message.encoded, from: "a:7946", sender: "a", now: 5)
        #expect(effects.events == [.memberLeft(id: "a")])
        // A later suspicion about a member that left changes nothing.
        let suspect = try peer.receive(Peer.gossip(from: "c", .suspect(id: "a", incarnation: 0, from: "c")), from: "c:7946", sender: "c", now: 6)
        #expect(suspect.events.isEmpty)
        let reapAt = GossipConfiguration().deadReapMs + 5
        let before = drive(&peer, from: 1000, until: reapAt - 1000, stepMs: 100)
        #expect(!before.events.contains(.memberReaped(id: "a")))
        let after = drive(&peer, from: reapAt, until: reapAt + 2000, stepMs: 100)
        #expect(after.events.contains(.memberReaped(id: "a")))
        #expect(peer.member("a") == nil)
    }

    @Test("a reaped member's sites are removed with it")
    func reapRemovesSites() throws {
        var node = makeNode()
        let site = CapacitySummary(site: "s1", origin: "c", version: 5, region: "r", freeUnits: ["cpu": 1], totalUnits: ["cpu": 2], priceIndexMinor: 1, greenShareBP: 0)
        _ = try node.receive(Peer.gossip(from: "c", .capacity(CapacityRecord(summary: site, removed: false))), from: "c:7946", sender: "c", now: 0)
        let dead = try node.receive(Peer.gossip(from: "b", .dead(id: "c", incarnation: 0, from: "b")), from: "b:7946", sender: "b", now: 10)
        var unreachable = site
        unreachable.reachable = false
        #expect(dead.events.contains(.capacityChanged(unreachable)))
        let effects = drive(&node, from: 1000, until: GossipConfiguration().deadReapMs + 2000, stepMs: 100)
        #expect(effects.events.contains(.capacityRemoved(site: "s1")))
        #expect(node.capacity.isEmpty)
    }

    @Test("a message whose claimed sender differs from the certificate is refused")
    func senderMismatch() {
        var node = makeNode()
        #expect(throws: GossipError.senderMismatch(claimed: "b", proven: "c")) {
            _ = try node.receive(Peer.gossip(from: "b"), from: "c:7946", sender: "c", now: 0)
        }
        #expect(throws: GossipError.fromSelf) { _ = try node.receive(Peer.gossip(from: "a"), from: "x:1", sender: nil, now: 0) }
    }

    @Test("failed probes without nacks raise local health; acks lower it")
    func localHealth() throws {
        var node = makeNode(peers: ["b"])
        _ = drive(&node, from: 0, until: 3500, stepMs: 50, answering: false)  // nobody answers
        let raised = node.localHealth
        #expect(raised >= 1)
        // b was suspected meanwhile; it refutes, and answers from now on.
        _ = try node.receive(Peer.gossip(from: "b", .alive(id: "b", address: "b:7946", region: "r", incarnation: 1)), from: "b:7946", sender: "b", now: 3600)
        _ = drive(&node, from: 3600, until: 40_000, stepMs: 50)
        #expect(node.localHealth == 0)
        #expect(node.member("b")?.state == .alive)
        #expect(node.member("b")?.rttMs != nil)
    }

    @Test("a ping-req is relayed, and answered with a nack when the target stays silent")
    func indirectProbe() throws {
        var helper = makeNode("b", peers: ["a", "c"])
        let out = try helper.receive(
            Peer.bytes(from: "a", .pingReq(seq: 42, target: "c", targetAddress: "c:7946"), []), from: "a:7946", sender: "a", now: 0)
        guard case .ping(let relaySeq, "c", _)? = out.messages.first?.message.body else {
            Issue.record("no relayed ping")
            return
        }
        let nack = drive(&helper, from: 100, until: 600, stepMs: 100, silent: ["c"])
        #expect(nack.messages.contains { $0.to == "a:7946" && $0.message.body == .nack(seq: 42) })
        let ack = try helper.receive(Peer.bytes(from: "c", .ack(seq: relaySeq, coordinate: nil), []), from: "c:7946", sender: "c", now: 700)
        #expect(ack.messages.contains { $0.to == "a:7946" && $0.message.body == .ack(seq: 42, coordinate: nil) })
    }
}

extension GossipMessage {
    var encoded: [UInt8] { GossipCodec.encode(self) }
}
