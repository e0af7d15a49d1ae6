import EstuaryWire
import Foundation
import NIOCore
import Testing

/// Rewrites Protocol/vectors/*.json from `Fixtures`. Off by default: the checked-in files are the
/// truth. Run `ESTUARY_WRITE_VECTORS=1 swift test --filter EstuaryWireTests.VectorGenerator`
/// after a deliberate change to the format or the fixtures, review the diff, commit it.
@Suite("vector generator", .enabled(if: ProcessInfo.processInfo.environment["ESTUARY_WRITE_VECTORS"] == "1"))
struct VectorGenerator {
    @Test("writes the valid and invalid frame vectors")
    func write() throws {
        try FileManager.default.createDirectory(at: VectorFiles.directory, withIntermediateDirectories: true)
        try render(valid: try validEntries()).write(to: VectorFiles.validURL, atomically: true, encoding: .utf8)
        try render(invalid: try invalidEntries()).write(to: VectorFiles.invalidURL, atomically: true, encoding: .utf8)
    }

    private func validEntries() throws -> [(name: String, description: String, frame: [UInt8], envelope: Estuary_V1_Envelope)] {
        let encoder = FrameEncoder(compression: .zstd)
        let cases: [(String, String, Estuary_V1_Envelope)] = [
            ("hello", "First upstream envelope: versions [1], site, zstd offered, two known jobs, outbox epoch and next seq. Never compressed.", Fixtures.hello),
            ("welcome", "First downstream envelope: version 1, zstd, 4 MiB limit, resume_from 40 (resend upstream seq > 40), 5 s report interval. Never compressed.", Fixtures.welcome),
            ("capacity-full", "Full CapacityReport with 3 pools; unsequenced (seq 0). Below 1024 bytes, so sent uncompressed.", Fixtures.capacityFull),
            ("job-assign", "Downstream JobAssign, seq 1, acking upstream 43; env map entries in key order (deterministic encoding).", Fixtures.jobAssign),
            ("job-cancel", "Downstream JobCancel, seq 2.", Fixtures.jobCancel),
            ("job-update-succeeded", "Upstream JobUpdate seq 41: SUCCEEDED with has_exit_code and exit_code 0 (0 is only meaningful with has_exit_code).", Fixtures.jobUpdateSucceeded),
            ("job-update-failed-signal", "Upstream JobUpdate seq 42: FAILED, exit code 137, signal 9, attempt 2.", Fixtures.jobUpdateFailed),
            ("usage-batch", "Upstream UsageBatch seq 43 with two records, ids u-<job>-<attempt>, agent-clock ms.", Fixtures.usageBatch),
            ("log-chunk", "Unsequenced LogChunk: stderr bytes written at offset 4096.", Fixtures.logChunk),
            ("drain", "Drain: reconnect after 15 s plus full jitter.", Fixtures.drain),
            ("error", "Fatal Error PROTOCOL_VIOLATION; the sender ends the stream after it.", Fixtures.error),
            ("pure-ack", "Envelope without a body: acks upstream seq 43. Its payload is 2 bytes.", Fixtures.pureAck),
            ("capacity-large-site-zstd", "Full CapacityReport of a large Slurm site (48 pools), zstd-compressed (flag bit 0) because it is >= 1024 bytes and compression saves bytes. The compressed bytes depend on the zstd version; receivers compare the decompressed payload.", Fixtures.capacityLargeSite),
        ]
        return try cases.map { name, description, envelope in
            (name, description, try encoder.encode(envelope).bytes, envelope)
        }
    }

    private func invalidEntries() throws -> [(name: String, description: String, limit: Int, acceptCompressed: Bool, frame: [UInt8], error: FrameError)] {
        let plain = FrameEncoder()
        let limit = FrameLimits.defaultMaxFrameBytes
        let cancel = try plain.encode(Fixtures.jobCancel).bytes
        let capacity = try plain.encode(Fixtures.capacityFull).bytes
        let ackPayload = Array(try plain.encode(Fixtures.pureAck).bytes.dropFirst(5))
        let logPayload = Array(try plain.encode(Fixtures.logChunk).bytes.dropFirst(5))
        func frame(_ flags: UInt8, _ payload: [UInt8]) -> [UInt8] {
            [flags] + withUnsafeBytes(of: UInt32(payload.count).bigEndian, Array.init) + payload
        }
        let zstdMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
        // Single-segment frame, 1-byte content size 16, then a block of the reserved type 3.
        let reservedBlock = zstdMagic + [0x20, 0x10, 0x07, 0x00, 0x00]
        // No content size (descriptor 0x00, window byte 0x00), one raw last block "hello".
        let unknownSize = zstdMagic + [0x00, 0x00, 0x29, 0x00, 0x00] + Array("hello".utf8)
        // Declares 3 bytes, then a raw last block of 5 bytes.
        let sizeMismatch = zstdMagic + [0x20, 0x03, 0x29, 0x00, 0x00] + Array("hello".utf8)
        let bomb = try Zstd.compress([UInt8](repeating: 0, count: limit + 1))
        let compressedLog = try Zstd.compress(logPayload)
        return [
            ("truncated-header", "Stream ends after 3 bytes of a 5-byte header.", limit, false, [0x00, 0x00, 0x00], .truncated(have: 3, need: 5)),
            ("truncated-payload", "Stream ends 11 bytes into the job-cancel frame.", limit, false, Array(cancel.prefix(11)), .truncated(have: 11, need: cancel.count)),
            ("oversized-length", "Header declares 4194305 bytes, one above the default 4 MiB limit; refused from the header alone, before any payload arrives.", limit, false, [0x00, 0x00, 0x40, 0x00, 0x01, 0x0A, 0x0B], .oversized(length: limit + 1, limit: limit)),
            ("oversized-negotiated-limit", "The capacity-full frame under a negotiated limit of 64 bytes.", 64, false, capacity, .oversized(length: capacity.count - 5, limit: 64)),
            ("reserved-flag-bit-1", "Flag byte 0x02: bit 1 is reserved in version 1.", limit, true, frame(0x02, ackPayload), .reservedFlags(0x02)),
            ("reserved-flag-bit-7", "Flag byte 0x81: zstd plus reserved bit 7.", limit, true, frame(0x81, ackPayload), .reservedFlags(0x81)),
            ("compressed-not-negotiated", "A valid zstd-compressed log chunk before zstd was negotiated (e.g. before Welcome).", limit, false, frame(0x01, compressedLog), .compressedButNotNegotiated),
            ("corrupt-zstd", "zstd frame whose block has the reserved block type 3.", limit, true, frame(0x01, reservedBlock), .decompressionFailed("")),
            ("zstd-unknown-size", "zstd frame that does not state its decompressed size; receivers refuse it rather than guess a buffer size.", limit, true, frame(0x01, unknownSize), .decompressionFailed("")),
            ("zstd-size-mismatch", "zstd frame declaring 3 bytes whose block holds 5.", limit, true, frame(0x01, sizeMismatch), .decompressionFailed("")),
            ("zstd-trailing-data", "A valid zstd frame followed by 4 more bytes inside the payload.", limit, true, frame(0x01, compressedLog + [0xDE, 0xAD, 0xBE, 0xEF]), .decompressionFailed("")),
            ("decompression-bomb", "\(bomb.count) compressed bytes declaring 4194305 decompressed bytes; refused before decompressing.", limit, true, frame(0x01, bomb), .decompressedTooLarge(limit: limit)),
            ("garbage-protobuf", "Payload ff ff ff ff is not a protobuf message.", limit, false, frame(0x00, [0xFF, 0xFF, 0xFF, 0xFF]), .malformedEnvelope("")),
            ("truncated-protobuf", "Payload 08 starts the seq varint and ends.", limit, false, frame(0x00, [0x08]), .malformedEnvelope("")),
            ("compressed-garbage-protobuf", "Valid zstd whose content is not a protobuf message.", limit, true, frame(0x01, try Zstd.compress([0xFF, 0xFF, 0xFF, 0xFF])), .malformedEnvelope("")),
        ]
    }

    // MARK: rendering (fixed key order so the files read top-down)

    private func render(valid: [(name: String, description: String, frame: [UInt8], envelope: Estuary_V1_Envelope)]) throws -> String {
        let entries = try valid.map { entry in
            let envelope = try JSONSerialization.jsonObject(with: try entry.envelope.jsonUTF8Data())
            return object([
                ("name", try json(entry.name)),
                ("description", try json(entry.description)),
                ("flags", "\(entry.frame[0])"),
                ("payload_length", "\(entry.frame.count - 5)"),
                ("hex", try json(VectorFiles.frameHex(entry.frame))),
                ("envelope", try json(envelope)),
            ])
        }
        return document(
            comment: "Valid estuary.v1 frames. hex = flag byte, big-endian payload length, payload. envelope = the payload as protobuf JSON. Decoding hex must give envelope; encoding envelope (deterministic ordering) must give hex, except that zstd payloads are compared after decompression. See Protocol/PROTOCOL.md section 14.",
            entries: entries
        )
    }

    private func render(invalid: [(name: String, description: String, limit: Int, acceptCompressed: Bool, frame: [UInt8], error: FrameError)]) throws -> String {
        let entries = try invalid.map { entry in
            let expected = entry.error.expectation
            var error: [String: Any] = ["kind": expected.kind]
            for (key, value) in expected.details { error[key] = value }
            return object([
                ("name", try json(entry.name)),
                ("description", try json(entry.description)),
                ("max_frame_bytes", "\(entry.limit)"),
                ("accept_compressed", "\(entry.acceptCompressed)"),
                ("hex", try json(VectorFiles.frameHex(entry.frame))),
                ("error", try json(error)),
            ])
        }
        return document(
            comment: "Invalid estuary.v1 streams. Feed hex to a decoder with max_frame_bytes and accept_compressed, drain it and finish the stream: the first error must be error.kind (with the listed numbers). Every one is fatal for the session. See Protocol/PROTOCOL.md section 14.",
            entries: entries
        )
    }

    private func document(comment: String, entries: [String]) -> String {
        "{\n  \"comment\": \((try? json(comment)) ?? "\"\""),\n  \"vectors\": [\n" + entries.joined(separator: ",\n") + "\n  ]\n}\n"
    }

    private func object(_ pairs: [(String, String)]) -> String {
        let body = pairs.map { key, value in
            "      \"\(key)\": " + value.replacingOccurrences(of: "\n", with: "\n      ")
        }
        return "    {\n" + body.joined(separator: ",\n") + "\n    }"
    }

    private func json(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(
            withJSONObject: value, options: [.fragmentsAllowed, .prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        )
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\" : ", with: "\": ")
    }
}
