/// One NPU chip as the `npu-smi info` table shows it.
public struct AscendChip: Sendable, Hashable {
    /// The NPU (card) id, first column of the NPU row.
    public var npuID: Int
    /// The chip id within the NPU, first column of the chip row.
    public var chipID: Int
    /// The chip name, e.g. `910B3`, `910B4-1`, `910ProB`, `Ascend910`, `310P3`.
    public var name: String
    /// `OK`, `Warning`, `Alarm`, `Critical`, … as npu-smi prints it.
    public var health: String
    public var busID: String?
    /// The last total of the usage column, in MB: the HBM size on training parts (`65536` on
    /// a 910B3), the DDR size on inference parts that have no HBM.
    public var memoryMB: Int?

    public init(npuID: Int, chipID: Int, name: String, health: String, busID: String? = nil, memoryMB: Int? = nil) {
        self.npuID = npuID
        self.chipID = chipID
        self.name = name
        self.health = health
        self.busID = busID
        self.memoryMB = memoryMB
    }
}

/// Parses the box-drawn table that `npu-smi info` prints.
///
/// The table has a two-line header (`NPU Name | Health | …` then `Chip … | Bus-Id | …`), then per
/// NPU one row `id name | health | power temp …` followed by one row per chip
/// `chip [phy-id] | bus-id | aicore memory-usage hbm-usage`. Three layouts are read the same way:
/// the Ascend 910 (`npu-smi 1.x`, `910ProB`), the 910B (`npu-smi 23.x`+, `910B3`, one chip per NPU)
/// and the Atlas A3 (`Chip Phy-ID` header, `Ascend910`, two chips per NPU, the NPU row repeated
/// for each chip). Parsing stops at the process table (`NPU Chip | Process id | …`) that follows.
public enum NPUSMIParser {
    static let source = "npu-smi info"

    public static func parse(_ text: String) throws(DeviceDiscoveryError) -> [AscendChip] {
        var chips: [AscendChip] = []
        var sawHeader = false
        var pending: (npuID: Int, name: String, health: String, line: Int)?
        var pendingHasChip = false
        for (number, line) in numberedLines(text) {
            let row = line.trimmed
            guard row.hasPrefix("|") else { continue }  // borders (+---+, +===+) and stray text
            var cells = row.split(separator: "|", omittingEmptySubsequences: false).map(\.trimmed)
            cells.removeFirst()
            if cells.last == "" { cells.removeLast() }
            guard let first = cells.first else { continue }
            if row.isProcessTableHeader { break }
            if !sawHeader {
                if first.hasPrefix("NPU"), first.contains("Name") { sawHeader = true }
                continue
            }
            if first.hasPrefix("Chip") { continue }  // second header line
            let tokens = first.split(separator: " ", omittingEmptySubsequences: true)
            guard let id = tokens.first.flatMap({ Int($0) }) else {
                throw .malformedLine(source: source, line: number, reason: "expected an NPU or chip id, found \"\(first)\"")
            }
            if tokens.count >= 2, Int(tokens[1]) == nil {
                // NPU row: id, name | health | …
                if let pending, !pendingHasChip {
                    throw .malformedLine(source: source, line: pending.line, reason: "NPU \(pending.npuID) has no chip row")
                }
                guard cells.count >= 2 else {
                    throw .malformedLine(source: source, line: number, reason: "the NPU row has no health column")
                }
                pending = (id, tokens.dropFirst().joined(separator: " "), cells[1], number)
                pendingHasChip = false
            } else {
                // Chip row: chip [phy-id] | bus-id | aicore  memory-usage  hbm-usage
                guard let npu = pending else {
                    throw .malformedLine(source: source, line: number, reason: "a chip row before any NPU row")
                }
                let busID = cells.count >= 2 && !cells[1].isEmpty && cells[1] != "NA" ? cells[1] : nil
                let memory = cells.count >= 3 ? lastTotal(cells[2]) : nil
                chips.append(AscendChip(npuID: npu.npuID, chipID: id, name: npu.name, health: npu.health, busID: busID, memoryMB: memory))
                pendingHasChip = true
            }
        }
        if let pending, !pendingHasChip {
            throw .malformedLine(source: source, line: pending.line, reason: "NPU \(pending.npuID) has no chip row")
        }
        if !sawHeader, !text.trimmed.withoutNewlines.isEmpty {
            throw .unrecognisedOutput(source: source, reason: "no \"NPU  Name | Health\" table header")
        }
        return chips
    }

    /// `0    / 0          3416 / 65536` → 65536: the total of the last `used / total` pair.
    private static func lastTotal(_ cell: String) -> Int? {
        guard let slash = cell.lastIndex(of: "/") else { return nil }
        let after = cell[cell.index(after: slash)...].trimmed
        let digits = after.prefix { $0.isNumber }
        return Int(digits)
    }
}

extension String {
    /// The process table after the device table: `| NPU  Chip | Process id | Process name | …`.
    fileprivate var isProcessTableHeader: Bool { contains("Process id") || contains("Process name") }
    fileprivate var withoutNewlines: String { filter { $0 != "\n" && $0 != "\r" } }
}
