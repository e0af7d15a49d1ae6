import TOMLKit

/// The one place that turns TOML text into a table, and TOMLKit's parse error into a position
/// and a message that job-file and site-profile errors report.
enum TOMLText {
    struct SyntaxError: Error {
        var line: Int
        var column: Int
        var message: String
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
}
