/// SWIM failure detection with Lifeguard's local health: one probe per (scaled) interval, an
/// indirect probe through k members when the direct one gets no ack, nacks from those members.
extension GossipNode {
    /// Lifeguard's local health multiplier: 1 when healthy, up to `awarenessMax`.
    var healthScale: Int64 { configuration.lifeguard ? Int64(awareness + 1) : 1 }

    mutating func adjustAwareness(_ delta: Int) {
        guard configuration.lifeguard else { return }
        awareness = min(max(awareness + delta, 0), configuration.awarenessMax - 1)
    }

    mutating func advanceProbe(now: Int64) {
        if var p = probe {
            if !p.acked, !p.indirectSent, now >= p.indirectAt {
                p.indirectSent = true
                p.expectedNacks = sendIndirectProbes(p, now: now)
            }
            probe = p
            if p.acked {
                probe = nil
            } else if now >= p.deadline {
                probe = nil
                probeFailed(p, now: now)
            }
        }
        guard probe == nil, now >= nextProbeAt else { return }
        let interval = configuration.probeIntervalMs * healthScale
        nextProbeAt = now + interval
        guard let target = nextProbeTarget() else { return }
        let seq = takeSeq()
        probe = Probe(
            seq: seq, target: target.id, sentAt: now, indirectAt: now + configuration.probeTimeoutMs * healthScale,
            deadline: now + interval)
        send(to: target.address, .ping(seq: seq, target: target.id, coordinate: vivaldi.coordinate))
    }

    mutating func takeSeq() -> UInt64 {
        defer { nextSeq &+= 1 }
        return nextSeq
    }

    /// The next member of a shuffled round (SWIM's round-robin probe order: every member is
    /// probed within one round of N intervals, not merely in expectation).
    mutating func nextProbeTarget() -> MemberView? {
        for _ in 0..<2 {
            while probeCursor < probeList.count {
                let candidate = probeList[probeCursor]
                probeCursor += 1
                if let m = others[candidate], m.state == .alive || m.state == .suspect { return m }
            }
            probeList = order
            probeList.shuffle(using: &rng)
            probeCursor = 0
        }
        return nil
    }

    /// Sends ping-req to k members; returns how many nacks to expect.
    mutating func sendIndirectProbes(_ p: Probe, now: Int64) -> Int {
        guard let target = others[p.target] else { return 0 }
        let helpers = randomMembers(configuration.indirectChecks, now: now, excluding: [p.target]) { $0.state == .alive }
        for helper in helpers {
            send(to: helper.address, .pingReq(seq: p.seq, target: target.id, targetAddress: target.address))
        }
        return configuration.lifeguard ? helpers.count : 0
    }

    mutating func probeFailed(_ p: Probe, now: Int64) {
        // Lifeguard: a failed probe counts against our own health only as far as the helpers
        // did not answer either (missing nacks mean the problem may be ours).
        if p.expectedNacks > 0 {
            if p.nacks < p.expectedNacks { adjustAwareness(p.expectedNacks - p.nacks) }
        } else {
            adjustAwareness(1)
        }
        guard let target = others[p.target], target.state == .alive || target.state == .suspect else { return }
        apply(.suspect(id: target.id, incarnation: target.incarnation, from: id), relayedBy: id, antiEntropy: false, now: now)
    }

    mutating func expireRelays(now: Int64) {
        guard !relays.isEmpty else { return }
        for (seq, relay) in relays {
            if now >= relay.expireAt {
                relays[seq] = nil
            } else if !relay.nackSent, now >= relay.nackAt {
                relays[seq]?.nackSent = true
                if configuration.lifeguard { send(to: relay.requesterAddress, .nack(seq: relay.originalSeq), piggyback: false) }
            }
        }
    }

    mutating func expireSuspicions(now: Int64) {
        guard !suspicions.isEmpty else { return }
        for (memberId, suspicion) in suspicions where now >= suspicion.deadlineMs {
            suspicions[memberId] = nil
            apply(.dead(id: memberId, incarnation: suspicion.incarnation, from: id), relayedBy: id, antiEntropy: false, now: now)
        }
    }

    // MARK: messages

    mutating func handle(_ message: GossipMessage, now: Int64) {
        switch message.body {
        case .ping(let seq, let target, let coordinate):
            guard target == id, !leaving else { return }
            if coordinate.isValid, others[message.senderId] != nil { others[message.senderId]?.coordinate = coordinate }
            send(to: message.senderAddress, .ack(seq: seq, coordinate: vivaldi.coordinate))
        case .pingReq(let seq, let target, let targetAddress):
            guard !leaving, target != id else { return }
            let ourSeq = takeSeq()
            let timeout = configuration.probeTimeoutMs * healthScale
            relays[ourSeq] = Relay(
                requesterAddress: message.senderAddress, originalSeq: seq, nackAt: now + timeout,
                expireAt: now + configuration.probeIntervalMs * healthScale)
            send(to: targetAddress, .ping(seq: ourSeq, target: target, coordinate: vivaldi.coordinate))
        case .ack(let seq, let coordinate):
            if var p = probe, p.seq == seq {
                if !p.acked {
                    p.acked = true
                    probe = p
                    adjustAwareness(-1)
                    if message.senderId == p.target, !p.indirectSent || now - p.sentAt < configuration.probeIntervalMs {
                        recordRTT(of: p.target, sample: Double(now - p.sentAt), coordinate: coordinate)
                    }
                }
            } else if let relay = relays.removeValue(forKey: seq) {
                send(to: relay.requesterAddress, .ack(seq: relay.originalSeq, coordinate: nil), piggyback: false)
            }
        case .nack(let seq):
            if var p = probe, p.seq == seq {
                p.nacks += 1
                probe = p
            }
        case .gossip:
            break
        case .pushPullRequest(_, let theirs):
            let mine = digest()
            send(to: message.senderAddress, .pushPullResponse(digest: mine), updates: entries(differingFrom: theirs, mine: mine), piggyback: false)
        case .pushPullResponse(let theirs):
            let mine = digest()
            let updates = entries(differingFrom: theirs, mine: mine)
            if !updates.isEmpty { send(to: message.senderAddress, .pushPullPush, updates: updates, piggyback: false) }
        case .pushPullPush:
            break
        }
    }

    mutating func recordRTT(of memberId: String, sample: Double, coordinate: VivaldiCoordinate?) {
        guard var m = others[memberId] else { return }
        m.rttMs = m.rttMs.map { 0.8 * $0 + 0.2 * sample } ?? sample
        if let coordinate, coordinate.isValid {
            m.coordinate = coordinate
            vivaldi.update(peer: memberId, other: coordinate, rttMs: sample, rng: &rng)
        }
        others[memberId] = m
    }

    /// Sends queued updates to `gossipFanout` random members (recently dead ones included, so
    /// that a member wrongly declared dead hears of it and refutes).
    mutating func gossip(now: Int64) {
        guard !broadcasts.isEmpty else { return }
        let window = 30 * configuration.probeIntervalMs
        let targets = randomMembers(configuration.gossipFanout, now: now) {
            $0.state == .alive || $0.state == .suspect || ($0.state == .dead && now - $0.stateChangedAtMs < window)
        }
        for target in targets where !broadcasts.isEmpty {
            var message = GossipMessage(senderId: id, senderAddress: address, body: .gossip, updates: [])
            var header = ByteWriter()
            GossipCodec.encodeHeader(message, into: &header)
            message.updates = broadcasts.take(
                budget: configuration.maxMessageBytes - header.bytes.count - 3,
                limit: configuration.retransmitLimit(members: liveCount))
            guard !message.updates.isEmpty else { continue }
            output.append(.send(to: target.address, bytes: GossipCodec.encode(message)))
        }
    }
}
