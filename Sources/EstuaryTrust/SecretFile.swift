#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Files holding secrets (private keys): written 0600 by temp file + fsync + rename, so a crash
/// leaves the old or the new content and never a readable half; read only when neither group
/// nor others have any access to them.
public enum SecretFile {
    /// Writes `contents` to `path` atomically with mode 0600. The directory must exist.
    public static func write(_ contents: String, to path: String) throws {
        try AtomicFile.write(Array(contents.utf8), to: path, mode: 0o600)
    }

    /// Reads a secret file. Refuses (`TrustError.insecureFileMode`, naming the path and mode) a
    /// file that group or others may access: a key another user could have read is not secret.
    public static func read(_ path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw TrustError.io(path, "open", errno: errno) }
        defer { close(descriptor) }
        // fstat on the open descriptor: the mode checked is that of the file read.
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw TrustError.io(path, "stat", errno: errno) }
        let mode = UInt32(status.st_mode) & 0o7777
        if mode & 0o077 != 0 {
            throw TrustError(
                .insecureFileMode,
                "holds a secret but has mode \(octal(mode)), which lets group or others access it; run `chmod 600 \(path)`",
                path: path
            )
        }
        return String(decoding: try AtomicFile.readAll(descriptor, path: path), as: UTF8.self)
    }

    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// Whole-file writes that are atomic and durable: temp file in the same directory, fsync,
/// rename over the target, fsync of the directory.
enum AtomicFile {
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw TrustError.io(temporary, "create", errno: errno) }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(descriptor) }
            // The umask may have taken bits away; never added any, but be exact.
            guard fchmod(descriptor, mode) == 0 else { throw TrustError.io(temporary, "chmod", errno: errno) }
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { posixWrite(descriptor, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw TrustError.io(temporary, "write", errno: errno)
                }
                offset += written
            }
            guard fsync(descriptor) == 0 else { throw TrustError.io(temporary, "fsync", errno: errno) }
        }
        guard rename(temporary, path) == 0 else { throw TrustError.io(path, "rename", errno: errno) }
        renamed = true
        syncDirectory(of: path)
    }

    /// Makes the rename durable. Best effort: some file systems refuse fsync on directories.
    static func syncDirectory(of path: String) {
        let directory = parent(of: path)
        let descriptor = open(directory, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    /// Creates `path` and missing parents; the last component gets `mode`. An existing
    /// directory is left as it is.
    static func makeDirectory(_ path: String, mode: mode_t) throws {
        var status = stat()
        if stat(path, &status) == 0 {
            guard (status.st_mode & S_IFMT) == S_IFDIR else {
                throw TrustError(.io, "exists and is not a directory", path: path)
            }
            return
        }
        let parent = parent(of: path)
        if parent != path && parent != "." && parent != "/" {
            try makeDirectory(parent, mode: 0o755)
        }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw TrustError.io(path, "mkdir", errno: errno)
        }
        _ = chmod(path, mode)
    }

    static func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }

    static func read(_ path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw TrustError.io(path, "open", errno: errno) }
        defer { close(descriptor) }
        return String(decoding: try readAll(descriptor, path: path), as: UTF8.self)
    }

    /// Reads to the end; files holding PEM are small, so 1 MiB is a generous bound.
    static func readAll(_ descriptor: Int32, path: String, limit: Int = 1 << 20) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { posixRead(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw TrustError.io(path, "read", errno: errno)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
            if result.count > limit { throw TrustError(.io, "larger than \(limit) bytes", path: path) }
        }
    }
}

// `read`/`write` are shadowed inside types that define their own; name the libc ones.
@inline(__always)
private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

@inline(__always)
private func posixRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
