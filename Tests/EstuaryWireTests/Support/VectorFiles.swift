import EstuaryWire
import Foundation
import Testing

/// Protocol/vectors/valid.json and invalid.json: frames as hex beside what they mean.
enum VectorFiles {
    static var directory: URL {
        // Tests/EstuaryWireTests/Support/VectorFiles.swift → repository root.
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Protocol/vectors")
    }
    static var validURL: URL { directory.appendingPathComponent("valid.json") }
    static var invalidURL: URL { directory.appendingPathComponent("invalid.json") }

    struct Valid: CustomTestStringConvertible, Sendable {
        var name: String
        var description: String
        var flags: UInt8
        var payloadLength: Int
        var frame: [UInt8]
        var envelope: Estuary_V1_Envelope
        var testDescription: String { name }
    }

    struct Invalid: CustomTestStringConvertible, Sendable {
        var name: String
        var description: String
        var maxFrameBytes: Int
        var acceptCompressed: Bool
        var frame: [UInt8]
        var error: ExpectedError
        var testDescription: String { name }
    }

    /// The kind of a `FrameError` and its numeric details; the free-text reasons of
    /// `decompressionFailed` and `malformedEnvelope` are not part of the vectors.
    struct ExpectedError: Equatable, Sendable, CustomStringConvertible {
        var kind: String
        var details: [String: Int]
        var description: String { "\(kind)\(details.isEmpty ? "" : " \(details)")" }
    }

    static func loadValid() throws -> [Valid] {
        try entries(validURL).map { entry in
            let envelopeJSON = try JSONSerialization.data(withJSONObject: entry["envelope"] as Any)
            return Valid(
                name: entry["name"] as! String,
                description: entry["description"] as! String,
                flags: UInt8(entry["flags"] as! Int),
                payloadLength: entry["payload_length"] as! Int,
                frame: Hex.decode(entry["hex"] as! String)!,
                envelope: try Estuary_V1_Envelope(jsonUTF8Data: envelopeJSON)
            )
        }
    }

    static func loadInvalid() throws -> [Invalid] {
        try entries(invalidURL).map { entry in
            let error = entry["error"] as! [String: Any]
            return Invalid(
                name: entry["name"] as! String,
                description: entry["description"] as! String,
                maxFrameBytes: entry["max_frame_bytes"] as! Int,
                acceptCompressed: entry["accept_compressed"] as! Bool,
                frame: Hex.decode(entry["hex"] as! String)!,
                error: ExpectedError(
                    kind: error["kind"] as! String,
                    details: error.filter { $0.key != "kind" }.mapValues { $0 as! Int }
                )
            )
        }
    }

    private static func entries(_ url: URL) throws -> [[String: Any]] {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return root["vectors"] as! [[String: Any]]
    }

    /// Frame bytes as hex with the flag byte, the length and the payload separated by spaces.
    static func frameHex(_ frame: [UInt8]) -> String {
        guard frame.count >= 5 else { return Hex.encode(frame) }
        let parts = [Hex.encode(frame[0..<1]), Hex.encode(frame[1..<5]), Hex.encode(frame[5...])]
        return parts.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

extension FrameError {
    var expectation: VectorFiles.ExpectedError {
        switch self {
        case .oversized(let length, let limit): .init(kind: "oversized", details: ["length": length, "limit": limit])
        case .reservedFlags(let flags): .init(kind: "reserved_flags", details: ["flags": Int(flags)])
        case .compressedButNotNegotiated: .init(kind: "compressed_but_not_negotiated", details: [:])
        case .decompressionFailed: .init(kind: "decompression_failed", details: [:])
        case .decompressedTooLarge(let limit): .init(kind: "decompressed_too_large", details: ["limit": limit])
        case .malformedEnvelope: .init(kind: "malformed_envelope", details: [:])
        case .truncated(let have, let need): .init(kind: "truncated", details: ["have": have, "need": need])
        case .encodingFailed: .init(kind: "encoding_failed", details: [:])
        }
    }
}
