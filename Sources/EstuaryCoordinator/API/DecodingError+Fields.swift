import EstuaryModel
import Foundation

extension DecodingError {
    /// The problem as a ``FieldError`` named by its JSON path (`resources.count`, `command[0]`),
    /// so that a client learns which field to fix rather than a decoder's internals.
    var fieldError: FieldError {
        switch self {
        case .keyNotFound(let key, let context):
            return FieldError(field: Self.path(context.codingPath + [key]), message: "is required")
        case .typeMismatch(let type, let context):
            var message = "expected \(Self.describe(type))"
            if let found = Self.foundType(in: context.debugDescription) { message += ", found \(found)" }
            return FieldError(field: Self.path(context.codingPath, empty: "body"), message: message)
        case .valueNotFound(let type, let context):
            return FieldError(field: Self.path(context.codingPath, empty: "body"), message: "expected \(Self.describe(type)), found null")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return FieldError(field: "body", message: "is not valid JSON")
            }
            return FieldError(field: Self.path(context.codingPath), message: "has an invalid value")
        @unknown default:
            return FieldError(field: "body", message: "could not be decoded")
        }
    }

    /// `resources.count`, `command[2]`, `env.PATH`.
    static func path(_ codingPath: [any CodingKey], empty: String = "body") -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return path.isEmpty ? empty : path
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "a boolean"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default:
            // Arrays and dictionaries of concrete types are not `[Any]`; fall back on their names.
            String(describing: type).hasPrefix("Array<") ? "an array"
                : String(describing: type).hasPrefix("Dictionary<") ? "an object" : "a value of another type"
        }
    }

    /// Foundation says "Expected to decode Int but found a string instead."; keep the second half.
    static func foundType(in text: String) -> String? {
        guard let range = text.range(of: "found ") else { return nil }
        var rest = text[range.upperBound...]
        if let end = rest.range(of: " instead") { rest = rest[..<end.lowerBound] }
        var found = rest.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
        for article in ["a ", "an "] where found.hasPrefix(article) { found.removeFirst(article.count) }
        switch found {
        case "": return nil
        case "string": return "a string"
        case "number": return "a number"
        case "bool", "boolean": return "a boolean"
        case "dictionary", "object": return "an object"
        case "array": return "an array"
        case "null", "null value": return "null"
        default: return found
        }
    }
}
