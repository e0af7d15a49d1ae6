import EstuaryModel
import Hummingbird
import HummingbirdCore

/// Reading query parameters: each bad value is a 400 naming the parameter, all reported together.
struct APIParameters {
    private let query: FlatDictionary<Substring, Substring>
    private(set) var problems: [FieldError] = []

    init(_ request: Request) {
        self.query = request.uri.queryParameters
    }

    func string(_ name: String) -> String? {
        query[Substring(name)].map(String.init)
    }

    mutating func identifier<ID: EstuaryIdentifier>(_ name: String, as type: ID.Type) -> ID? {
        guard let text = string(name) else { return nil }
        let id = ID(rawValue: text)
        guard id.isWellFormed else {
            problems.append(FieldError(field: name, message: "\"\(text)\" is not an id (letters, digits, '.', '_' or '-')"))
            return nil
        }
        return id
    }

    /// A free-text parameter of at most `maxLength` bytes, without control characters.
    mutating func text(_ name: String, maxLength: Int) -> String? {
        guard let text = string(name) else { return nil }
        guard !text.isEmpty, text.utf8.count <= maxLength,
            !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            problems.append(FieldError(field: name, message: "must be 1 to \(maxLength) bytes without control characters"))
            return nil
        }
        return text
    }

    mutating func integer(_ name: String, in range: ClosedRange<Int64>) -> Int64? {
        guard let text = string(name) else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            problems.append(FieldError(field: name, message: "must be an integer between \(range.lowerBound) and \(range.upperBound), got \"\(text)\""))
            return nil
        }
        return value
    }

    mutating func oneOf<Value: RawRepresentable & CaseIterable>(_ name: String, as type: Value.Type) -> Value?
    where Value.RawValue == String {
        guard let text = string(name) else { return nil }
        guard let value = Value(rawValue: text) else {
            let allowed = Value.allCases.map(\.rawValue).joined(separator: ", ")
            problems.append(FieldError(field: name, message: "unknown value \"\(text)\"; one of \(allowed)"))
            return nil
        }
        return value
    }

    /// Throws the collected problems, if any.
    func check() throws(APIError) {
        if !problems.isEmpty { throw .invalid(problems) }
    }
}
