/// What one member believes about another (SWIM's member states).
public enum MemberState: String, Sendable, Hashable, CaseIterable {
    case alive, suspect, dead, left
}

/// One member as this node sees it.
public struct MemberView: Sendable, Hashable {
    /// Coordinator id.
    public var id: String
    /// "host:port" of its mesh port.
    public var address: String
    public var region: String
    public var state: MemberState
    public var incarnation: UInt64
    /// This node's clock when it last changed the member's state.
    public var stateChangedAtMs: Int64
    /// Smoothed RTT measured by this node's own probes of that member.
    public var rttMs: Double?
    public var coordinate: VivaldiCoordinate?

    public init(
        id: String, address: String, region: String, state: MemberState, incarnation: UInt64,
        stateChangedAtMs: Int64, rttMs: Double? = nil, coordinate: VivaldiCoordinate? = nil
    ) {
        self.id = id
        self.address = address
        self.region = region
        self.state = state
        self.incarnation = incarnation
        self.stateChangedAtMs = stateChangedAtMs
        self.rttMs = rttMs
        self.coordinate = coordinate
    }
}

/// The free and total capacity of one site, as its owning coordinator (`origin`) publishes it.
/// Summaries merge last-writer-wins by site, ordered by (version, origin).
public struct CapacitySummary: Sendable, Hashable {
    public var site: String
    public var origin: String
    public var version: UInt64
    public var region: String
    /// Accelerator class → free units.
    public var freeUnits: [String: Int]
    public var totalUnits: [String: Int]
    /// Integer minor units (fen) per unit-hour of the typical class.
    public var priceIndexMinor: Int64
    /// Basis points 0...10000.
    public var greenShareBP: Int
    public var reachable: Bool

    public init(
        site: String, origin: String, version: UInt64 = 0, region: String, freeUnits: [String: Int],
        totalUnits: [String: Int], priceIndexMinor: Int64, greenShareBP: Int, reachable: Bool = true
    ) {
        self.site = site
        self.origin = origin
        self.version = version
        self.region = region
        self.freeUnits = freeUnits
        self.totalUnits = totalUnits
        self.priceIndexMinor = priceIndexMinor
        self.greenShareBP = greenShareBP
        self.reachable = reachable
    }

    /// Same content, whatever the version: publishing an unchanged summary sends nothing.
    func sameContent(as other: CapacitySummary) -> Bool {
        var a = self
        a.version = other.version
        a.origin = other.origin
        return a == other && origin == other.origin
    }
}

/// Something the shell (or the coordinator's scheduler) may want to know.
public enum GossipEvent: Sendable, Hashable {
    case memberJoined(MemberView)
    case memberSuspected(id: String)
    /// Refuted a suspicion, or came back after being dead or left.
    case memberAlive(MemberView)
    case memberFailed(id: String)
    case memberLeft(id: String)
    case memberReaped(id: String)
    case capacityChanged(CapacitySummary)
    case capacityRemoved(site: String)
}

/// What the shell must do: send bytes to a member's mesh address, or pass an event on.
public enum GossipEffect: Sendable, Hashable {
    case send(to: String, bytes: [UInt8])
    case event(GossipEvent)
}
