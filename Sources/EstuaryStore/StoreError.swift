/// Errors of the coordinator's store.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case corruptRow(table: String, key: String, reason: String)
    case internalInconsistency(String)
    /// A journal row for a period already closed: its postings are frozen.
    case periodClosed(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open the store at \(path): \(reason)"
        case .corruptRow(let table, let key, let reason): "corrupt row \(key) in \(table): \(reason)"
        case .internalInconsistency(let what): "internal store inconsistency: \(what)"
        case .periodClosed(let period): "the period \(period) is closed: its postings are frozen"
        }
    }
}
