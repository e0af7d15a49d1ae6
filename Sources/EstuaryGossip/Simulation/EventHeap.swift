/// A binary min-heap of scheduled simulation events, ordered by (time, insertion order) so
/// that equal times replay in the same order on every run.
struct EventHeap<Payload: Sendable>: Sendable {
    struct Entry: Sendable {
        var time: Int64
        var order: UInt64
        var payload: Payload

        func precedes(_ other: Entry) -> Bool { time != other.time ? time < other.time : order < other.order }
    }

    private var entries: [Entry] = []
    private var counter: UInt64 = 0

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var nextTime: Int64? { entries.first?.time }

    mutating func push(_ time: Int64, _ payload: Payload) {
        counter += 1
        entries.append(Entry(time: time, order: counter, payload: payload))
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[i].precedes(entries[parent]) else { break }
            entries.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !entries.isEmpty else { return nil }
        entries.swapAt(0, entries.count - 1)
        let top = entries.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var best = i
            if l < entries.count, entries[l].precedes(entries[best]) { best = l }
            if r < entries.count, entries[r].precedes(entries[best]) { best = r }
            if best == i { break }
            entries.swapAt(i, best)
            i = best
        }
        return top
    }
}
