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
        guard url.isFileURL else { throw CKKSError.fileSystem("\(url) is not a file URL") }
        let path = url.path
        let name = url.lastPathComponent
        guard !name.isEmpty, name != "/", name != ".", name != ".." else {
            throw CKKSError.fileSystem("\(path) does not name a file")
        }
        let directory = url.deletingLastPathComponent().path
        var generator = SystemRandomNumberGenerator()
        let temporary = (directory.hasSuffix("/") ? directory : directory + "/")
            + ".\(name).tmp-\(String(generator.next(), radix: 16))"

        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, ownerOnly ? 0o600 : 0o666)
        guard fd >= 0 else { throw failure("cannot create a temporary file in \(directory) to write \(path)") }
        var open = true
        var renamed = false
        defer {
            if open { _ = Glibc.close(fd) }
            if !renamed { _ = Glibc.unlink(temporary) }
        }
        if ownerOnly, Glibc.fchmod(fd, 0o600) != 0 { throw failure("cannot make \(path) owner-only") }
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure("cannot write \(path)")
                }
                offset += written
            }
        }
        guard Glibc.fsync(fd) == 0 else { throw failure("cannot flush \(path) to disk") }
        open = false
        guard Glibc.close(fd) == 0 else { throw failure("cannot close \(path)") }
        guard Glibc.rename(temporary, path) == 0 else { throw failure("cannot replace \(path)") }
        renamed = true
        // Make the rename itself durable; a directory that cannot be opened or flushed (some
        // file systems) leaves the file written and renamed, so this is best effort.
        let directoryFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = Glibc.fsync(directoryFD)
            _ = Glibc.close(directoryFD)
        }
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
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw CKKSError.fileSystem("no file at \(path)") }
            throw failure("cannot open \(path)")
        }
        defer { _ = Glibc.close(fd) }
        var status = stat()
        guard Glibc.fstat(fd, &status) == 0 else { throw failure("cannot inspect \(path)") }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw CKKSError.fileSystem("\(path) is not a regular file")
        }
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

    /// A `fileSystem` error with the current errno's explanation.
    private static func failure(_ what: String) -> CKKSError {
        CKKSError.fileSystem("\(what): \(String(cString: strerror(errno)))")
    }
}
