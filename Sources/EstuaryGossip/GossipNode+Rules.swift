/// How updates about members change this node's view (SWIM's incarnation rules, memberlist's
/// state.go re-derived): higher incarnations win; at equal incarnation suspect beats alive and
/// dead beats suspect; a member refutes any accusation about itself with a higher incarnation.
extension GossipNode {
    mutating func apply(_ update: GossipMessage.Update, relayedBy sender: String, antiEntropy: Bool, now: Int64) {
        switch update {
        case .alive(let memberId, let memberAddress, let memberRegion, let inc):
            applyAlive(memberId, memberAddress, memberRegion, inc, antiEntropy: antiEntropy, now: now)
        case .suspect(let memberId, let inc, let from):
            applySuspect(memberId, inc, from: from, now: now)
        case .dead(let memberId, let inc, let from):
            // A peer's full state saying "dead" is only a reason to suspect (memberlist does
            // the same): the member may be alive and merely cut off from that peer.
            if antiEntropy {
                applySuspect(memberId, inc, from: sender, now: now)
            } else {
                applyDead(memberId, inc, from: from, now: now)
            }
        case .left(let memberId, let inc):
            applyLeft(memberId, inc, now: now)
        case .capacity(let record):
            applyCapacity(record, antiEntropy: antiEntropy, now: now)
        }
    }

    /// Answers an accusation about ourselves: a new incarnation above the accused one.
    mutating func refute(accused: UInt64) {
        guard !leaving else { return }
        incarnation = max(incarnation, accused) + 1
        broadcasts.enqueue(aliveUpdateOfSelf)
        adjustAwareness(1)
    }

    /// News from anti-entropy about a member we did not know at all is not gossiped on: the
    /// peer that told us has it already, and a joiner would otherwise re-gossip the whole mesh.
    mutating func applyAlive(
        _ memberId: String, _ memberAddress: String, _ memberRegion: String, _ inc: UInt64, antiEntropy: Bool, now: Int64
    ) {
        if memberId == id {
            // An alive from an earlier life (we restarted with incarnation 0): go above it.
            if inc > incarnation { refute(accused: inc) }
            return
        }
        guard var m = others[memberId] else {
            let view = MemberView(
                id: memberId, address: memberAddress, region: memberRegion, state: .alive, incarnation: inc, stateChangedAtMs: now)
            insertMember(view)
            emit(.memberJoined(view))
            if antiEntropy { return }
            broadcasts.enqueue(.alive(id: memberId, address: memberAddress, region: memberRegion, incarnation: inc))
            return
        }
        guard inc > m.incarnation else { return }
        let previous = m.state
        if m.address != memberAddress {
            addressIndex[m.address] = nil
            addressIndex[memberAddress] = memberId
        }
        m.address = memberAddress
        m.region = memberRegion
        m.incarnation = inc
        m.state = .alive
        if previous != .alive { m.stateChangedAtMs = now }
        others[memberId] = m
        suspicions[memberId] = nil
        if previous == .dead || previous == .left {
            liveCount += 1
            reapable -= 1
            vivaldi.forget(memberId)
        }
        if previous != .alive {
            emit(.memberAlive(m))
            if previous == .dead || previous == .left { originLivenessChanged(memberId) }
        }
        broadcasts.enqueue(.alive(id: memberId, address: memberAddress, region: memberRegion, incarnation: inc))
    }

    mutating func applySuspect(_ memberId: String, _ inc: UInt64, from: String, now: Int64) {
        if memberId == id {
            if inc >= incarnation { refute(accused: inc) }
            return
        }
        guard var m = others[memberId], inc >= m.incarnation else { return }
        switch m.state {
        case .dead, .left:
            return
        case .suspect:
            // Lifeguard: an independent suspicion shortens the timeout; pass it on.
            if var s = suspicions[memberId], s.confirm(from: from) {
                suspicions[memberId] = s
                broadcasts.enqueue(.suspect(id: memberId, incarnation: inc, from: from))
            }
        case .alive:
            m.state = .suspect
            m.incarnation = inc
            m.stateChangedAtMs = now
            others[memberId] = m
            let minMs = configuration.suspicionMin(members: liveCount)
            let maxMs = configuration.lifeguard ? minMs * Int64(configuration.suspicionMaxTimeoutMultiplier) : minMs
            // Lifeguard's K: confirmations expected before the timeout reaches its minimum.
            let expected = configuration.lifeguard ? max(0, min(3, liveCount - 2)) : 0
            suspicions[memberId] = Suspicion(
                incarnation: inc, from: from, startMs: now, minMs: minMs, maxMs: maxMs, expected: expected)
            emit(.memberSuspected(id: memberId))
            broadcasts.enqueue(.suspect(id: memberId, incarnation: inc, from: from))
        }
    }

    mutating func applyDead(_ memberId: String, _ inc: UInt64, from: String, now: Int64) {
        if memberId == id {
            if inc >= incarnation { refute(accused: inc) }
            return
        }
        guard var m = others[memberId], inc >= m.incarnation, m.state != .dead, m.state != .left else { return }
        m.state = .dead
        m.incarnation = inc
        m.stateChangedAtMs = now
        others[memberId] = m
        markGone(memberId)
        emit(.memberFailed(id: memberId))
        broadcasts.enqueue(.dead(id: memberId, incarnation: inc, from: from))
    }

    mutating func applyLeft(_ memberId: String, _ inc: UInt64, now: Int64) {
        if memberId == id {
            if !leaving, inc >= incarnation { refute(accused: inc) }
            return
        }
        guard var m = others[memberId], inc >= m.incarnation, m.state != .left else { return }
        let wasLive = m.state == .alive || m.state == .suspect
        m.state = .left
        m.incarnation = inc
        m.stateChangedAtMs = now
        others[memberId] = m
        if wasLive { markGone(memberId) }
        emit(.memberLeft(id: memberId))
        broadcasts.enqueue(.left(id: memberId, incarnation: inc))
    }

    /// Bookkeeping shared by dead and left.
    private mutating func markGone(_ memberId: String) {
        suspicions[memberId] = nil
        liveCount -= 1
        reapable += 1
        if probe?.target == memberId { probe = nil }
        originLivenessChanged(memberId)
    }

    /// Forgets members dead or left for longer than `deadReapMs`, with their sites, and old
    /// site tombstones.
    mutating func reap(now: Int64) {
        let horizon = now - configuration.deadReapMs
        var gone: [String] = []
        for (memberId, m) in others where (m.state == .dead || m.state == .left) && m.stateChangedAtMs <= horizon {
            gone.append(memberId)
        }
        if !gone.isEmpty {
            let goneSet = Set(gone)
            for memberId in gone.sorted() {
                if let m = others.removeValue(forKey: memberId), addressIndex[m.address] == memberId {
                    addressIndex[m.address] = nil
                }
                reapable -= 1
                vivaldi.forget(memberId)
                emit(.memberReaped(id: memberId))
            }
            order.removeAll { goneSet.contains($0) }
            for (site, entry) in sites where goneSet.contains(entry.record.summary.origin) {
                sites[site] = nil
                if entry.record.removed {
                    reapable -= 1
                } else {
                    emit(.capacityRemoved(site: site))
                }
            }
        }
        for (site, entry) in sites where entry.record.removed && entry.changedAtMs <= horizon {
            sites[site] = nil
            reapable -= 1
        }
    }
}
