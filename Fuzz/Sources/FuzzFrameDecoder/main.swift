// Fuzzes EstuaryWire's streaming `FrameDecoder` (PROTOCOL.md §3) with zstd negotiated, and the
// conversions applied to every envelope it yields.
//
// Input layout: one control byte, then the stream (frames, as a peer would send them).
//   bits 0–3  how the stream is cut into `append` calls (1, 2, 3, 4, 5, 7, 8, 13, 16, 64, 512 or
//             4096 bytes, or varying sizes drawn from the stream itself)
//   bit 4     1 = compression NOT negotiated (compressed frames must be refused)
//   bits 5–6  frame limit: 4 MiB (the default), 64 KiB, 1 KiB, 64 bytes
// Most seeds in Fuzz/Corpus/FuzzFrameDecoder start with 0x0B (4 KiB appends, zstd, 4 MiB).
//
// Checked: no crash, no hang, no allocation past the limit (ASan's allocator and libFuzzer's
// -rss_limit_mb/-malloc_limit_mb), and that cutting the stream differently never changes what
// comes out: the envelopes and the error are the same as when the whole stream arrives at once.
// Every envelope is then re-framed with FrameEncoder (zstd) and must decode back unchanged.

import EstuaryWire
import FuzzSupport
import NIOCore

enum Outcome: Equatable {
    case envelope(Estuary_V1_Envelope)
    case error(FrameError)
}

/// Feeds `stream` in `chunks`, draining after every append the way the session handler does,
/// and returns everything the decoder produced plus what `finish()` said.
func decode(_ stream: ArraySlice<UInt8>, chunks: [Int], limits: FrameLimits, compressed: Bool) -> (outcomes: [Outcome], finish: FrameError?) {
    var decoder = FrameDecoder(limits: limits, acceptCompressed: compressed)
    var outcomes: [Outcome] = []
    var offset = stream.startIndex
    var appended = 0
    var failed: FrameError?
    var chunkIndex = 0
    while offset < stream.endIndex, failed == nil {
        let size = min(chunks[chunkIndex % chunks.count], stream.endIndex - offset)
        chunkIndex += 1
        decoder.append(ByteBuffer(bytes: stream[offset..<offset + size]))
        offset += size
        appended += size
        fuzzCheck(decoder.bufferedBytes <= appended, "buffers \(decoder.bufferedBytes) bytes of \(appended) appended")
        while true {
            do {
                guard let envelope = try decoder.next() else { break }
                outcomes.append(.envelope(envelope))
            } catch {
                outcomes.append(.error(error))
                failed = error
                break
            }
        }
    }
    if let failed {
        // Errors are sticky (PROTOCOL.md §3.6): every later call throws the same error.
        do {
            _ = try decoder.next()
            fuzzCheck(false, "next() succeeded after \(failed)")
        } catch {
            fuzzCheck(error == failed, "next() threw \(error) after \(failed)")
        }
        fuzzCheck(decoder.bufferedBytes == 0, "a failed decoder still buffers \(decoder.bufferedBytes) bytes")
    }
    var finishError: FrameError?
    do {
        try decoder.finish()
        fuzzCheck(failed != nil || decoder.bufferedBytes == 0, "finish() accepted \(decoder.bufferedBytes) undecoded bytes")
    } catch {
        finishError = error
        if let failed {
            fuzzCheck(error == failed, "finish() threw \(error) after \(failed)")
        } else if case .truncated(let have, let need) = error {
            fuzzCheck(have == decoder.bufferedBytes && have < need, "finish(): truncated(have: \(have), need: \(need)) with \(decoder.bufferedBytes) buffered")
        } else {
            fuzzCheck(false, "finish() threw \(error) on a drained decoder")
        }
    }
    return (outcomes, finishError)
}

private let chunkSizes = [1, 2, 3, 4, 5, 7, 8, 13, 16, 64, 512, 4096]
private let frameLimits = [FrameLimits.defaultMaxFrameBytes, 64 << 10, 1 << 10, 64]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    guard let control = input.first else { return 0 }
    let stream = input.dropFirst()
    let compressed = control & 0x10 == 0
    let limits = FrameLimits(maxFrameBytes: frameLimits[Int(control >> 5) & 3])

    let chunkMode = Int(control & 0x0F)
    let chunks: [Int]
    if chunkMode < chunkSizes.count {
        chunks = [chunkSizes[chunkMode]]
    } else {
        // Sizes 1…16 taken from the stream's own bytes: irregular cuts that still depend only on the input.
        chunks = stream.prefix(32).map { Int($0 & 0x0F) + 1 } + [1]
    }

    let whole = decode(stream, chunks: [max(stream.count, 1)], limits: limits, compressed: compressed)
    let cut = decode(stream, chunks: chunks, limits: limits, compressed: compressed)
    fuzzCheck(whole.outcomes == cut.outcomes, "cutting the stream into \(chunks) changed the result")
    fuzzCheck(whole.finish == cut.finish, "cutting the stream changed finish(): \(String(describing: whole.finish)) vs \(String(describing: cut.finish))")

    for outcome in whole.outcomes {
        switch outcome {
        case .envelope(let envelope):
            exercise(envelope)
            reframe(envelope, limits: limits)
        case .error(let error):
            // What the session sends back before closing.
            let reply = Estuary_V1_Envelope(frameError: error)
            fuzzCheck((try? FrameEncoder().encode(reply)) != nil, "the fatal Error reply for \(error) cannot be framed")
        }
    }
    return 0
}

/// An envelope that came out of the decoder, framed again by our own encoder with zstd, must
/// decode to the same envelope (PROTOCOL.md §3: "what one side writes the other reads").
func reframe(_ envelope: Estuary_V1_Envelope, limits: FrameLimits) {
    var encoderLimits = limits
    encoderLimits.compressionThreshold = 0
    let encoder = FrameEncoder(limits: encoderLimits, compression: .zstd)
    let frame: ByteBuffer
    do {
        frame = try encoder.encode(envelope)
    } catch .oversized {
        return  // re-encoding can be longer than the input (e.g. 5-byte negative int32 varints)
    } catch {
        fuzzCheck(false, "FrameEncoder failed on a decoded envelope: \(error)")
        return
    }
    var decoder = FrameDecoder(limits: limits, acceptCompressed: true)
    decoder.append(frame)
    do {
        let back = try decoder.next()
        fuzzCheck(back == envelope, "re-framed envelope decodes differently")
        fuzzCheck(decoder.bufferedBytes == 0, "one frame left \(decoder.bufferedBytes) bytes")
    } catch {
        fuzzCheck(false, "our own frame is refused: \(error)")
    }
}
