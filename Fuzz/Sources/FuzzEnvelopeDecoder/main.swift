// Fuzzes the protobuf decoding of `Estuary_V1_Envelope` (the payload of every frame) and the
// conversions the coordinator and the agent apply to the decoded bodies.
//
// Input: the serialized envelope, exactly as it appears in an uncompressed frame's payload.

import EstuaryWire
import FuzzSupport
import SwiftProtobuf

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelopeDecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = fuzzBytes(start, count)
    let envelope: Estuary_V1_Envelope
    do {
        envelope = try Estuary_V1_Envelope(serializedBytes: bytes)
    } catch {
        return 0  // most inputs are not envelopes
    }
    exercise(envelope)

    // What the decoder accepted re-encodes (deterministically, as FrameEncoder does) and decodes
    // back to an equal message, unknown fields included.
    var options = BinaryEncodingOptions()
    options.useDeterministicOrdering = true
    let encoded: [UInt8]
    do {
        encoded = try envelope.serializedBytes(options: options)
    } catch {
        fuzzCheck(false, "a decoded envelope does not serialize: \(error)")
        return 0
    }
    let again = try? Estuary_V1_Envelope(serializedBytes: encoded)
    fuzzCheck(again == envelope, "envelope does not survive encode/decode")
    let twice: [UInt8]? = try? again?.serializedBytes(options: options)
    fuzzCheck(twice == encoded, "deterministic encoding is not stable")
    return 0
}
