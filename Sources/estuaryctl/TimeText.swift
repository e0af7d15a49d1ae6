import Foundation

/// Times and durations as estuaryctl prints them: UTC with a `Z`, never local time, so that
/// output pasted from Shenzhen and Guangzhou machines lines up; or an age relative to now.
enum TimeText {
    /// Unix milliseconds as `2026-11-23 14:05:09Z`.
    static func utc(ms: Int64) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        return String(
            format: "%04lld-%02lld-%02lld %02lld:%02lld:%02lldZ",
            year, month, day, secondOfDay / 3600, secondOfDay % 3600 / 60, secondOfDay % 60
        )
    }

    /// `12s ago`, `5m ago`, `3h ago`, `2d ago` (`in 5s` for a clock slightly ahead of ours).
    static func age(ms: Int64, now: Int64 = nowMs()) -> String {
        let delta = now - ms
        if delta < 0 { return "in " + duration(seconds: Int((-delta + 999) / 1000), coarse: true) }
        return duration(seconds: Int(delta / 1000), coarse: true) + " ago"
    }

    /// `utc (age)`, the form used for single timestamps.
    static func both(ms: Int64, now: Int64 = nowMs()) -> String {
        "\(utc(ms: ms)) (\(age(ms: ms, now: now)))"
    }

    /// `45s`, `1h30m`, `2d3h`; `coarse` keeps only the largest unit.
    static func duration(seconds: Int, coarse: Bool = false) -> String {
        let units: [(String, Int)] = [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = max(0, seconds)
        var parts: [String] = []
        for (name, size) in units where rest >= size || (name == "s" && parts.isEmpty) {
            parts.append("\(rest / size)\(name)")
            rest %= size
            if coarse || rest == 0 { break }
        }
        return parts.joined()
    }

    static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// Proleptic Gregorian (year, month, day) for a count of days since 1970-01-01.
    static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
