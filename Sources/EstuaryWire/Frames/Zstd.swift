import CZstd

/// One-shot zstd compression over libzstd, with the bounds a network receiver needs:
/// decompression refuses frames that do not state their size, state a size above the caller's
/// limit, or carry anything after the first zstd frame, so a peer can never make us allocate
/// more than the limit.
public enum Zstd {
    /// What went wrong in a zstd call, in words a log reader can use.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// libzstd refused to compress (e.g. an invalid level).
        case compressionFailed(String)
        /// The input is not a single well-formed zstd frame.
        case notAFrame(String)
        /// The frame header does not state the decompressed size.
        case unknownContentSize
        /// The frame states a decompressed size above the limit.
        case contentTooLarge(declared: UInt64, limit: Int)
        /// The frame's data is corrupt or does not match its stated size.
        case corrupt(String)

        public var description: String {
            switch self {
            case .compressionFailed(let reason): "zstd compression failed: \(reason)"
            case .notAFrame(let reason): "not a single zstd frame: \(reason)"
            case .unknownContentSize: "zstd frame does not state its decompressed size"
            case .contentTooLarge(let declared, let limit):
                "zstd frame declares \(declared) decompressed bytes, above the limit of \(limit)"
            case .corrupt(let reason): "zstd frame is corrupt: \(reason)"
            }
        }
    }

    /// The largest compressed size of `count` input bytes.
    public static func compressBound(_ count: Int) -> Int {
        ZSTD_compressBound(count)
    }

    /// Compresses `source` into `destination`, which should hold `compressBound(source.count)`
    /// bytes; returns the compressed length.
    public static func compress(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, level: Int32
    ) throws(Failure) -> Int {
        let written = ZSTD_compress(destination.baseAddress, destination.count, source.baseAddress, source.count, level)
        if ZSTD_isError(written) != 0 { throw .compressionFailed(errorName(written)) }
        return written
    }

    /// Compresses `bytes` into a new array.
    public static func compress(_ bytes: [UInt8], level: Int32 = 3) throws(Failure) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: compressBound(bytes.count))
        let written: Int
        do {
            written = try bytes.withUnsafeBytes { source in
                try output.withUnsafeMutableBytes { destination in
                    try compress(source, into: destination, level: level)
                }
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .compressionFailed("\(error)")
        }
        output.removeSubrange(written...)
        return output
    }

    /// The decompressed size that `source` (one zstd frame, nothing after it) declares, checked
    /// against `limit`.
    public static func declaredContentSize(_ source: UnsafeRawBufferPointer, limit: Int) throws(Failure) -> Int {
        let declared = ZSTD_getFrameContentSize(source.baseAddress, source.count)
        switch declared {
        case contentSizeUnknown: throw .unknownContentSize
        case contentSizeError: throw .notAFrame("bad frame header")
        default: break
        }
        guard declared <= UInt64(limit) else { throw .contentTooLarge(declared: declared, limit: limit) }
        let frameLength = ZSTD_findFrameCompressedSize(source.baseAddress, source.count)
        if ZSTD_isError(frameLength) != 0 { throw .corrupt(errorName(frameLength)) }
        guard frameLength == source.count else {
            throw .notAFrame("\(source.count - frameLength) bytes follow the first frame")
        }
        return Int(declared)
    }

    /// Decompresses one zstd frame whose header states a size of at most `limit` bytes.
    public static func decompress(_ source: UnsafeRawBufferPointer, limit: Int) throws(Failure) -> [UInt8] {
        let size = try declaredContentSize(source, limit: limit)
        var result = 0
        let output = [UInt8](unsafeUninitializedCapacity: max(size, 1)) { destination, initialized in
            result = ZSTD_decompress(destination.baseAddress, size, source.baseAddress, source.count)
            initialized = ZSTD_isError(result) == 0 ? min(result, size) : 0
        }
        if ZSTD_isError(result) != 0 { throw .corrupt(errorName(result)) }
        guard result == size else { throw .corrupt("declared \(size) bytes but produced \(result)") }
        return output
    }

    /// Decompresses one zstd frame held in an array.
    public static func decompress(_ bytes: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        do {
            return try bytes.withUnsafeBytes { source in try decompress(source, limit: limit) }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .corrupt("\(error)")
        }
    }

    // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are macros Swift does not import.
    private static let contentSizeUnknown = UInt64.max
    private static let contentSizeError = UInt64.max - 1

    private static func errorName(_ code: Int) -> String {
        guard let name = ZSTD_getErrorName(code) else { return "error \(code)" }
        return String(cString: name)
    }
}
