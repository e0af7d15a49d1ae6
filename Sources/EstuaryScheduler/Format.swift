/// Operator-facing number formatting without Foundation (and without locale surprises).
enum Format {
    /// Fen as CNY with two decimals and thousands separators: 240000 → "2,400.00".
    static func cny(_ fen: Int64) -> String {
        let negative = fen < 0
        let magnitude = fen.magnitude
        let yuan = magnitude / 100
        let cents = magnitude % 100
        return (negative ? "-" : "") + grouped(yuan) + "." + (cents < 10 ? "0" : "") + String(cents)
    }

    static func grouped(_ value: UInt64) -> String {
        let digits = String(value)
        let count = digits.utf8.count
        guard count > 3 else { return digits }
        return String(unsafeUninitializedCapacity: count + (count - 1) / 3) { buffer in
            var written = 0
            for (index, byte) in digits.utf8.enumerated() {
                if index > 0 && (count - index) % 3 == 0 {
                    buffer[written] = UInt8(ascii: ",")
                    written += 1
                }
                buffer[written] = byte
                written += 1
            }
            return written
        }
    }

    /// Basis points as a percentage: 3000 → "30%", 3250 → "32.5%".
    static func percent(basisPoints bp: Int) -> String {
        let whole = bp / 100
        var fraction = abs(bp % 100)
        if fraction == 0 { return "\(whole)%" }
        var digits = 2
        if fraction % 10 == 0 {
            fraction /= 10
            digits = 1
        }
        let padded = digits == 2 && fraction < 10 ? "0\(fraction)" : "\(fraction)"
        return "\(whole).\(padded)%"
    }

    /// A figure from a job file: 300 → "300", 62.5 → "62.5".
    static func number(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Fixed decimals, rounded half away from zero: (12.06, 1) → "12.1".
    static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return String(value) }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return String(value) }
        let units = UInt64(scaled)
        let divisor = UInt64(scale)
        let whole = String(units / divisor)
        let sign = value < 0 && units != 0 ? "-" : ""
        guard decimals > 0 else { return sign + whole }
        var fraction = String(units % divisor)
        while fraction.utf8.count < decimals { fraction = "0" + fraction }
        return sign + whole + "." + fraction
    }

    /// A wait as people say it: "45 s", "12 min", "3 h 5 min", "2 d 4 h".
    static func duration(ms: Int64) -> String {
        let seconds = max(0, ms) / 1000
        if seconds < 60 { return "\(seconds) s" }
        let minutes = seconds / 60
        if minutes < 60 { return "\(minutes) min" }
        let hours = minutes / 60
        if hours < 48 { return minutes % 60 == 0 ? "\(hours) h" : "\(hours) h \(minutes % 60) min" }
        return hours % 24 == 0 ? "\(hours / 24) d" : "\(hours / 24) d \(hours % 24) h"
    }

    /// Local wall-clock time "HH:MM" for a UTC instant and an offset in minutes.
    static func localClock(atMs ms: Int64, utcOffsetMinutes: Int) -> String {
        let minuteOfDay = Int(floorMod(floorDiv(ms, 60_000) + Int64(utcOffsetMinutes), 1440))
        let hours = minuteOfDay / 60
        let minutes = minuteOfDay % 60
        return (hours < 10 ? "0" : "") + String(hours) + ":" + (minutes < 10 ? "0" : "") + String(minutes)
    }
}

@inline(__always)
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

@inline(__always)
func floorMod(_ a: Int64, _ b: Int64) -> Int64 {
    a - floorDiv(a, b) * b
}
