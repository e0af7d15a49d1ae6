/// Updates waiting to be piggybacked, each sent a limited number of times (memberlist's
/// TransmitLimitedQueue): the least-sent go first, and a newer update about the same member or
/// site replaces the older one.
struct BroadcastQueue: Sendable {
    private struct Item: Sendable {
        var update: GossipMessage.Update
        var size: Int
        var transmits: Int
        var order: UInt64
    }

    private var items: [BroadcastKey: Item] = [:]
    private var nextOrder: UInt64 = 0

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    mutating func enqueue(_ update: GossipMessage.Update) {
        nextOrder += 1
        items[update.key] = Item(update: update, size: GossipCodec.encodedSize(update), transmits: 0, order: nextOrder)
    }

    mutating func removeAll() { items.removeAll() }

    /// Takes updates that fit in `budget` bytes, counting one transmission each; updates sent
    /// `limit` times leave the queue.
    mutating func take(budget: Int, limit: Int) -> [GossipMessage.Update] {
        guard !items.isEmpty, budget > 0 else { return [] }
        let ordered = items.sorted { a, b in
            a.value.transmits != b.value.transmits ? a.value.transmits < b.value.transmits : a.value.order > b.value.order
        }
        var left = budget
        var taken: [GossipMessage.Update] = []
        for (key, item) in ordered {
            if left < 3 { break }
            guard item.size <= left else { continue }
            left -= item.size
            taken.append(item.update)
            if item.transmits + 1 >= limit {
                items[key] = nil
            } else {
                items[key]?.transmits += 1
            }
        }
        return taken
    }
}
