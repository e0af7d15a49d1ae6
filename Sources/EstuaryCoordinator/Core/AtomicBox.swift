import Synchronization

/// A shareable reference to an atomic value (`Atomic` itself is non-copyable).
final class AtomicBox<Value: AtomicRepresentable>: Sendable where Value: Sendable {
    let value: Atomic<Value>
    init(_ initial: Value) { value = Atomic(initial) }
}
