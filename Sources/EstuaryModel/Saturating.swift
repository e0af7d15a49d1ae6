/// Arithmetic that sticks at the bounds instead of trapping, for times and estimates built from
/// untrusted input (a deadline of `Int64.max` ms is valid JSON). Never for money: balances must
/// be exact, and overflow there is an error to report.
extension Int64 {
    @inlinable @inline(__always)
    public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    @inlinable @inline(__always)
    public func saturatingMultiply(_ other: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? ((self < 0) != (other < 0) ? .min : .max) : product
    }
}

extension Int {
    @inlinable @inline(__always)
    public func saturatingMultiply(_ other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? ((self < 0) != (other < 0) ? .min : .max) : product
    }
}
