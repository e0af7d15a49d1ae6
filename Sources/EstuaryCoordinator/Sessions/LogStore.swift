#if canImport(Glibc)
import Glibc
#endif
import EstuaryModel
import Foundation

/// Captured job output, one file per job and stream under `<data dir>/logs/`. Chunks arrive
/// with their offset and are written there (pwrite), so a resent chunk changes nothing.
struct LogStore: Sendable {
    let directory: String
    let maxBytesPerStream: Int64

    init(dataDirectory: String, maxBytesPerStream: Int64) throws {
        directory = (dataDirectory as NSString).appendingPathComponent("logs")
        self.maxBytesPerStream = maxBytesPerStream
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func path(_ job: JobID, _ stream: LogStreamKind) -> String {
        // Job ids are validated identifiers ([A-Za-z0-9._-], not "." or ".."), safe as file names.
        "\(directory)/\(job.rawValue).\(stream.rawValue)"
    }

    enum WriteOutcome { case written, truncated, invalid }

    /// Writes `data` at `offset`; bytes beyond the per-stream cap are dropped.
    func write(job: JobID, stream: LogStreamKind, offset: UInt64, data: [UInt8]) -> WriteOutcome {
        guard job.isWellFormed, offset <= UInt64(Int64.max) else { return .invalid }
        let start = Int64(offset)
        guard start < maxBytesPerStream else { return .truncated }
        let count = Int(min(Int64(data.count), maxBytesPerStream - start))
        let fd = open(path(job, stream), O_WRONLY | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return .invalid }
        defer { close(fd) }
        var written = 0
        data.withUnsafeBytes { raw in
            while written < count {
                let n = pwrite(fd, raw.baseAddress! + written, count - written, off_t(start) + off_t(written))
                if n <= 0 { break }
                written += n
            }
        }
        return count < data.count ? .truncated : .written
    }

    /// Up to `limit` bytes from `offset`, and the current size.
    func read(job: JobID, stream: LogStreamKind, offset: Int64, limit: Int) -> (data: [UInt8], size: Int64) {
        let fd = open(path(job, stream), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return ([], 0) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return ([], 0) }
        let size = Int64(info.st_size)
        guard offset < size, limit > 0 else { return ([], size) }
        let want = Int(min(Int64(limit), size - offset))
        var buffer = [UInt8](repeating: 0, count: want)
        let got = buffer.withUnsafeMutableBytes { raw in pread(fd, raw.baseAddress!, want, off_t(offset)) }
        return (got > 0 ? Array(buffer.prefix(got)) : [], size)
    }
}
