/// Capacity summaries: last-writer-wins per site by (version, origin); removals are tombstones.
extension GossipNode {
    /// Replaces the summaries of the sites this node owns (their `origin` is set to this node):
    /// changed or new ones get version max(last + 1, now) and are gossiped, unchanged ones send
    /// nothing, and own sites missing from the list are withdrawn (a tombstone is gossiped).
    public mutating func publish(_ summaries: [CapacitySummary], now: Int64) -> [GossipEffect] {
        var published: Set<String> = []
        for var summary in summaries where !summary.site.isEmpty {
            guard published.insert(summary.site).inserted else { continue }
            summary.origin = id
            if let existing = sites[summary.site], !existing.record.removed, existing.record.summary.origin == id,
                existing.record.summary.sameContent(as: summary)
            {
                continue
            }
            summary.version = nextOwnVersion(now: now)
            store(CapacityRecord(summary: summary, removed: false), now: now)
        }
        // Sites of ours no longer published are withdrawn.
        for (site, entry) in sites.sorted(by: { $0.key < $1.key })
        where entry.record.summary.origin == id && !entry.record.removed && !published.contains(site) {
            var tombstone = entry.record
            tombstone.summary.version = nextOwnVersion(now: now)
            tombstone.removed = true
            store(tombstone, now: now)
        }
        return drain()
    }

    /// max(last + 1, now): monotonic across restarts as long as the clock is.
    private mutating func nextOwnVersion(now: Int64) -> UInt64 {
        lastOwnVersion = max(lastOwnVersion + 1, UInt64(max(now, 0)))
        return lastOwnVersion
    }

    mutating func applyCapacity(_ record: CapacityRecord, antiEntropy: Bool, now: Int64) {
        guard !record.summary.site.isEmpty, !record.summary.origin.isEmpty else { return }
        let existing = sites[record.summary.site]
        if let existing, !record.supersedes(existing.record) { return }
        if record.summary.origin == id { lastOwnVersion = max(lastOwnVersion, record.summary.version) }
        // As for members: a site first heard of through anti-entropy is not gossiped on.
        store(record, now: now, broadcast: !(antiEntropy && existing == nil))
    }

    private mutating func store(_ record: CapacityRecord, now: Int64, broadcast: Bool = true) {
        let site = record.summary.site
        let previous = sites[site]
        let wasRemoved = previous?.record.removed ?? true
        sites[site] = SiteEntry(record: record, changedAtMs: now)
        if record.removed, !(previous?.record.removed ?? false) { reapable += 1 }
        if !record.removed, previous?.record.removed ?? false { reapable -= 1 }
        if record.removed {
            if !wasRemoved { emit(.capacityRemoved(site: site)) }
        } else {
            emit(.capacityChanged(view(of: record)))
        }
        if broadcast { broadcasts.enqueue(.capacity(record)) }
    }

    /// The summary as this node presents it: unreachable while its origin is dead or gone.
    func view(of record: CapacityRecord) -> CapacitySummary {
        var summary = record.summary
        let origin = summary.origin
        if origin != id, let m = others[origin], m.state == .dead || m.state == .left { summary.reachable = false }
        return summary
    }

    /// An origin died or came back: its sites' reachability changes.
    mutating func originLivenessChanged(_ memberId: String) {
        for entry in sites.values.sorted(by: { $0.record.summary.site < $1.record.summary.site })
        where entry.record.summary.origin == memberId && !entry.record.removed && entry.record.summary.reachable {
            emit(.capacityChanged(view(of: entry.record)))
        }
    }
}
