import EstuaryModel
import Foundation
import Hummingbird

/// JSON in and out of the API: one encoder configuration, one error rendering.
enum APIJSON {
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        do {
            let data = try encoder.encode(value)
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        } catch {
            // Our views are plain Codable structs; encoding cannot fail short of a programming error.
            let fallback = #"{"error":{"code":"internal","message":"response could not be encoded"}}"#
            return Response(status: .internalServerError, headers: headers, body: .init(byteBuffer: ByteBuffer(string: fallback)))
        }
    }

    static func response(_ error: APIError) -> Response {
        response(error.body, status: error.status, headers: error.headers)
    }

    /// Decodes a request body, turning decoder failures into a 400 that names the field.
    ///
    /// - Parameter integerFields: paths of the integer fields of `Value`. Foundation reports a
    ///   number that does not fit an `Int` (`8.5`, `1e30`) as "not valid JSON" with no path;
    ///   these paths let the error name the field instead.
    static func decode<Value: Decodable>(
        _ type: Value.Type, from body: ByteBuffer, integerFields: [[String]] = []
    ) throws(APIError) -> Value {
        if JSONDepth.exceeds(APIConfiguration.maxJSONDepth, body.readableBytesView) {
            throw .invalid(field: "body", "nests deeper than \(APIConfiguration.maxJSONDepth) levels")
        }
        let data = Data(body.readableBytesView)
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
                let object = try? JSONSerialization.jsonObject(with: data)
            {
                let problems = nonIntegers(in: object, at: integerFields)
                throw .invalid(problems.isEmpty ? [FieldError(field: "body", message: "holds a value out of range for its field")] : problems)
            }
            throw .invalid([error.fieldError])
        } catch {
            throw .invalid(field: "body", "is not valid JSON")
        }
    }

    /// The listed paths whose value is a number but not an integer that fits in `Int`.
    static func nonIntegers(in object: Any, at paths: [[String]]) -> [FieldError] {
        paths.compactMap { path in
            var current: Any? = object
            for key in path { current = (current as? [String: Any])?[key] }
            guard let number = current as? NSNumber, !(current is Bool) else { return nil }
            if Int(exactly: number.doubleValue) != nil, number.doubleValue.magnitude < 9.0e18 { return nil }
            return FieldError(field: path.joined(separator: "."), message: "expected an integer, found \(number)")
        }
    }
}

/// How deeply a JSON text nests, counted without parsing it, so that a hostile body of a
/// million `[` is refused in one linear pass instead of reaching a recursive decoder.
enum JSONDepth {
    static func exceeds(_ limit: Int, _ bytes: some Sequence<UInt8>) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return false
    }
}
