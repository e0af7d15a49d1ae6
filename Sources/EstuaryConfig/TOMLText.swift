import TOMLKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one place that turns TOML text into a table, and TOMLKit's parse error into a position
/// and a message that job-file and site-profile errors report.
enum TOMLText {
    struct SyntaxError: Error {
        var line: Int
        var column: Int
        var message: String
    }

    /// Why a configuration file could not be read.
    struct ReadError: Error {
        var reason: String
    }

    static func parse(_ text: String) throws(SyntaxError) -> TOMLTable {
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw SyntaxError(line: error.source.begin.line, column: error.source.begin.column, message: error.description)
        } catch {
            throw SyntaxError(line: 1, column: 1, message: "\(error)")
        }
    }

    /// The whole file at `path` as UTF-8 text; configuration files larger than 4 MiB are refused.
    static func readFile(_ path: String) throws(ReadError) -> String {
        guard let file = fopen(path, "r") else {
            throw ReadError(reason: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
            if count < chunk.count { break }
            if bytes.count > 4 << 20 { throw ReadError(reason: "larger than 4 MiB") }
        }
        if ferror(file) != 0 { throw ReadError(reason: "read error") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A TOML date-time at `offsetMinutes` from UTC as Unix milliseconds (days from 1970-01-01
    /// by H. Hinnant's `days_from_civil`, proleptic Gregorian).
    static func epochMilliseconds(_ dateTime: TOMLDateTime, offsetMinutes: Int) -> Int64 {
        let month = Int64(dateTime.date.month), day = Int64(dateTime.date.day)
        let year = Int64(dateTime.date.year) - (month <= 2 ? 1 : 0)
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let time = dateTime.time
        let seconds = days * 86_400 + Int64(time.hour * 3600 + time.minute * 60 + time.second) - Int64(offsetMinutes) * 60
        return seconds * 1000 + Int64(time.nanoSecond / 1_000_000)
    }
}

extension TOMLType {
    /// "an integer", "a string" …, as problem messages name what they found.
    var phrase: String {
        switch self {
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .array: "an array"
        case .table: "a table"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }
}
