import EstuaryModel
import EstuaryWire
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Turns the growth of jobs' `stdout`/`stderr` files into `LogChunk` envelopes. Chunks are
/// best-effort and idempotent by offset (the coordinator writes `data` at `offset`), so the
/// offsets live in memory: after a restart a job's output is sent again from 0.
struct LogShipper {
    /// Largest `LogChunk.data` (PROTOCOL.md: ≤ 64 KiB).
    static let maxChunkBytes = 64 << 10

    struct Key: Hashable {
        var jobID: JobID
        var attempt: Int
    }

    private struct Tracked {
        var directory: String
        var offsets: [Estuary_V1_LogStream: UInt64] = [:]
    }

    private var tracked: [Key: Tracked] = [:]

    /// Starts (or keeps) following a job's output files.
    mutating func follow(_ key: Key, directory: String) {
        if tracked[key] == nil { tracked[key] = Tracked(directory: directory) }
    }

    /// Stops following a job (after its last output was sent).
    mutating func forget(_ key: Key) { tracked[key] = nil }

    var followedKeys: [Key] { Array(tracked.keys) }

    /// New output of one job since the last call, at most `maxChunksPerStream` chunks per
    /// stream (nil: everything up to the current end of the files).
    mutating func chunks(for key: Key, maxChunksPerStream: Int?) -> [Estuary_V1_Envelope] {
        guard var job = tracked[key] else { return [] }
        var envelopes: [Estuary_V1_Envelope] = []
        for stream in [Estuary_V1_LogStream.stdout, .stderr] {
            let file = JobDirectoryIO.path(job.directory, stream == .stdout ? ShimFiles.stdout : ShimFiles.stderr)
            var offset = job.offsets[stream] ?? 0
            var sent = 0
            while maxChunksPerStream.map({ sent < $0 }) ?? true {
                guard let data = Self.read(file, at: offset, count: Self.maxChunkBytes), !data.isEmpty else { break }
                var chunk = Estuary_V1_LogChunk()
                chunk.jobID = key.jobID.rawValue
                chunk.stream = stream
                chunk.offset = offset
                chunk.data = data
                envelopes.append(Estuary_V1_Envelope(body: .logChunk(chunk)))
                offset += UInt64(data.count)
                sent += 1
            }
            job.offsets[stream] = offset
        }
        tracked[key] = job
        return envelopes
    }

    /// Up to `count` bytes of `path` from `offset`; nil if the file does not exist (yet).
    private static func read(_ path: String, at offset: UInt64, count: Int) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled))
            }
            if got < 0, errno == EINTR { continue }
            if got <= 0 { break }
            filled += got
        }
        return Data(buffer[0..<filled])
    }
}
