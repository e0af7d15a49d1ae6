import EstuaryModel
import EstuaryWire
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Turns the growth of jobs' `stdout`/`stderr` files into `LogChunk` envelopes. Chunks are
/// best-effort and idempotent by offset (the coordinator writes `data` at `offset`), so the
/// offsets live in memory: after a restart a job's output is sent again from 0.
///
/// A job is followed while it is active and, once it has ended, until its terminal JobUpdate
/// is acknowledged (live or through `Welcome.resume_from`), so the map holds no finished jobs.
struct LogShipper {
    /// Largest `LogChunk.data` (PROTOCOL.md: ≤ 64 KiB).
    static let maxChunkBytes = 64 << 10
    /// Output beyond this offset of a stream is never shipped: the coordinator keeps at most
    /// 64 MiB per stream per job and marks the log truncated (PROTOCOL.md §10.4,
    /// `CoordinatorConfiguration.maxLogBytesPerStream`), so more would only cost memory and
    /// bandwidth.
    static let maxBytesPerStream: UInt64 = 64 << 20

    struct Key: Hashable {
        var jobID: JobID
        var attempt: Int
    }

    private struct Tracked {
        var directory: String
        var offsets: [Estuary_V1_LogStream: UInt64] = [:]
        /// The seq of the job's terminal JobUpdate, once it has ended.
        var terminalSeq: UInt64?
        /// A final flush (before the terminal update) has begun at least once.
        var finalFlushStarted = false
    }

    private var tracked: [Key: Tracked] = [:]

    /// Starts (or keeps) following a job's output files.
    mutating func follow(_ key: Key, directory: String) {
        if tracked[key] == nil { tracked[key] = Tracked(directory: directory) }
    }

    /// Stops following a job.
    mutating func forget(_ key: Key) { tracked[key] = nil }

    /// The job ended; it is forgotten once `terminalSeq` is acknowledged.
    mutating func finished(_ key: Key, terminalSeq: UInt64) { tracked[key]?.terminalSeq = terminalSeq }

    /// Forgets the ended jobs whose terminal update the coordinator has applied.
    mutating func acknowledged(upTo ack: UInt64) {
        tracked = tracked.filter { _, job in job.terminalSeq.map { $0 > ack } ?? true }
    }

    func isFollowing(_ key: Key) -> Bool { tracked[key] != nil }

    var followedKeys: [Key] { Array(tracked.keys) }

    /// Prepares the final flush of a job that is about to have its terminal update sent. The
    /// first flush continues from what was shipped live; a later one (the update is being resent,
    /// so the earlier flush may not have arrived) starts again from 0.
    mutating func beginFinalFlush(_ key: Key) {
        guard var job = tracked[key] else { return }
        if job.finalFlushStarted { job.offsets = [:] }
        job.finalFlushStarted = true
        tracked[key] = job
    }

    /// New output of one job since the last call: at most `maxChunksPerStream` chunks per stream
    /// and `maxChunks` in all, never beyond `maxBytesPerStream` of a stream.
    mutating func chunks(for key: Key, maxChunksPerStream: Int, maxChunks: Int = .max) -> [Estuary_V1_Envelope] {
        guard var job = tracked[key] else { return [] }
        var envelopes: [Estuary_V1_Envelope] = []
        for stream in [Estuary_V1_LogStream.stdout, .stderr] {
            let file = JobDirectoryIO.path(job.directory, stream == .stdout ? ShimFiles.stdout : ShimFiles.stderr)
            var offset = job.offsets[stream] ?? 0
            var sent = 0
            while sent < maxChunksPerStream, envelopes.count < maxChunks, offset < Self.maxBytesPerStream {
                let count = Int(min(UInt64(Self.maxChunkBytes), Self.maxBytesPerStream - offset))
                guard let data = Self.read(file, at: offset, count: count), !data.isEmpty else { break }
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
