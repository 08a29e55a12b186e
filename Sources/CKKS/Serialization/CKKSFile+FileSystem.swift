import Foundation
import Glibc

/// Writing and reading files: atomic replacement, owner-only modes for secrets, size limits.
extension CKKSFile {
    /// Writes `bytes` to `url` atomically: into a new temporary file in the same directory,
    /// flushed to disk (fsync), then renamed over `url`, and the directory flushed. A reader
    /// of `url` sees the old file or the new one, never a part; on failure `url` is untouched
    /// and the temporary file is removed.
    /// - Parameters:
    ///   - ownerOnly: create the file with mode 0600 (read and write for the owner only),
    ///     whatever the umask; otherwise 0666 less the umask. Secret keys always need it.
    /// - Throws: `CKKSError.fileSystem` naming the path (missing directory, no permission,
    ///   disk full, `url` a directory …).
    public static func write(_ bytes: [UInt8], to url: URL, ownerOnly: Bool) throws {
        let staged = try StagedFile(bytes, to: url, ownerOnly: ownerOnly)
        try staged.commit()
    }

    /// Serializes `key` and writes it owner-only (mode 0600), atomically; the serialized copy
    /// in memory is zeroed afterwards.
    public static func writeSecretKey(_ key: SecretKey, to url: URL) throws {
        var bytes = try serialize(key)
        defer { bytes.withUnsafeMutableBytes { if let base = $0.baseAddress { explicit_bzero(base, $0.count) } } }
        try write(bytes, to: url, ownerOnly: true)
    }

    /// The contents of the file at `url`, for the `read…` functions.
    /// - Throws: `CKKSError.fileSystem` naming the path when it is missing, not a regular
    ///   file, unreadable, or larger than `maximumFileSize` (no he-tool file can be larger).
    public static func read(from url: URL) throws -> [UInt8] {
        guard url.isFileURL else { throw CKKSError.fileSystem("\(url) is not a file URL") }
        let path = url.path
        // stat before open: opening a FIFO for reading blocks until a writer comes, and a device
        // never ends. O_NONBLOCK and the fstat after open close the race with a swapped path.
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT { throw CKKSError.fileSystem("no file at \(path)") }
            throw failure("cannot inspect \(path)")
        }
        try requireRegular(status, path)
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ENOENT { throw CKKSError.fileSystem("no file at \(path)") }
            throw failure("cannot open \(path)")
        }
        defer { _ = Glibc.close(fd) }
        guard Glibc.fstat(fd, &status) == 0 else { throw failure("cannot inspect \(path)") }
        try requireRegular(status, path)
        let size = Int(status.st_size)
        guard size <= maximumFileSize else {
            throw CKKSError.fileSystem("\(path) has \(size) bytes; no he-tool file has more than \(maximumFileSize)")
        }
        return try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = 0
            while initialized < size {
                let count = Glibc.read(fd, buffer.baseAddress! + initialized, size - initialized)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw failure("cannot read \(path)")
                }
                guard count > 0 else {
                    throw CKKSError.fileSystem("\(path) became shorter while it was read (\(initialized) of \(size) bytes)")
                }
                initialized += count
            }
        }
    }

    /// Throws unless `status` is a regular file's, naming what `path` is instead.
    private static func requireRegular(_ status: stat, _ path: String) throws {
        let what: String
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: what = "a directory"
        case S_IFIFO: what = "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: what = "a device"
        case S_IFSOCK: what = "a socket"
        default: what = "not a regular file"
        }
        throw CKKSError.fileSystem("\(path) is \(what), not a regular file: give the path of an he-tool file")
    }

    /// A `fileSystem` error with the current errno's explanation.
    private static func failure(_ what: String) -> CKKSError {
        CKKSError.fileSystem("\(what): \(String(cString: strerror(errno)))")
    }
}
