/// Push-pull anti-entropy. Instead of both sides' full state (memberlist), the request carries a
/// digest (order-independent hashes of members and sites in 32 buckets each, 512 bytes); only
/// entries in buckets that differ travel back and forth. A converged pair exchanges about 1 KB.
extension GossipNode {
    mutating func startPushPull(now: Int64) {
        if let peer = randomMembers(1, now: now, filter: { $0.state == .alive }).first {
            send(to: peer.address, .pushPullRequest(join: false, digest: digest()), piggyback: false)
        } else if !seeds.isEmpty {
            // Alone: try the seeds again (they may have started after us).
            let seed = seeds[rng.below(seeds.count)]
            send(to: seed, .pushPullRequest(join: true, digest: digest()), updates: [aliveUpdateOfSelf], piggyback: false)
        }
    }

    mutating func reconnect(now: Int64) {
        var dead = randomMembers(1, now: now) { $0.state == .dead }
        if dead.isEmpty {
            let all = order.compactMap { others[$0] }.filter { $0.state == .dead }
            if !all.isEmpty { dead = [all[rng.below(all.count)]] }
        }
        guard let peer = dead.first else { return }
        send(to: peer.address, .pushPullRequest(join: false, digest: digest()), piggyback: false)
    }

    func digest() -> StateDigest {
        var d = StateDigest.empty
        d.members[StateDigest.bucket(of: id)] &+= memberHash(id, incarnation, leaving ? .left : .alive)
        for (memberId, m) in others {
            d.members[StateDigest.bucket(of: memberId)] &+= memberHash(memberId, m.incarnation, m.state)
        }
        for (site, entry) in sites {
            d.sites[StateDigest.bucket(of: site)] &+= siteHash(entry.record)
        }
        return d
    }

    private func memberHash(_ memberId: String, _ inc: UInt64, _ state: MemberState) -> UInt64 {
        let code: UInt64 =
            switch state {
            case .alive: 0
            case .suspect: 1
            case .dead: 2
            case .left: 3
            }
        return mix(fnv1a(memberId), inc << 2 | code)
    }

    private func siteHash(_ record: CapacityRecord) -> UInt64 {
        mix(mix(fnv1a(record.summary.site), record.summary.version), fnv1a(record.summary.origin) ^ (record.removed ? 1 : 0))
    }

    /// Our entries in the buckets where `theirs` differs from `mine`, within the push-pull
    /// size limit.
    func entries(differingFrom theirs: StateDigest, mine: StateDigest) -> [GossipMessage.Update] {
        var memberBuckets = Set<Int>()
        var siteBuckets = Set<Int>()
        for i in 0..<StateDigest.buckets {
            if theirs.members[i] != mine.members[i] { memberBuckets.insert(i) }
            if theirs.sites[i] != mine.sites[i] { siteBuckets.insert(i) }
        }
        var updates: [GossipMessage.Update] = []
        var budget = configuration.maxPushPullBytes - 1200
        func add(_ u: GossipMessage.Update) {
            let size = GossipCodec.encodedSize(u)
            guard size <= budget else { return }
            budget -= size
            updates.append(u)
        }
        if memberBuckets.contains(StateDigest.bucket(of: id)) {
            add(leaving ? .left(id: id, incarnation: incarnation) : aliveUpdateOfSelf)
        }
        if !memberBuckets.isEmpty {
            for memberId in order where memberBuckets.contains(StateDigest.bucket(of: memberId)) {
                guard let m = others[memberId] else { continue }
                switch m.state {
                case .alive: add(.alive(id: m.id, address: m.address, region: m.region, incarnation: m.incarnation))
                case .suspect: add(.suspect(id: m.id, incarnation: m.incarnation, from: id))
                case .dead: add(.dead(id: m.id, incarnation: m.incarnation, from: id))
                case .left: add(.left(id: m.id, incarnation: m.incarnation))
                }
            }
        }
        if !siteBuckets.isEmpty {
            for (site, entry) in sites.sorted(by: { $0.key < $1.key }) where siteBuckets.contains(StateDigest.bucket(of: site)) {
                add(.capacity(entry.record))
            }
        }
        return updates
    }
}
