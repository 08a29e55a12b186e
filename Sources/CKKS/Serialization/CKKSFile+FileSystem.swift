import Foundation
import Glibc
import RegularFiles

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

    /// The contents of the file at `url`, for the `read…` functions (`RegularFile.read`: FIFOs,
    /// devices and directories refused before they are opened).
    /// - Throws: `CKKSError.fileSystem` naming the path when it is missing, not a regular
    ///   file, unreadable, or larger than `maximumFileSize` (no he-tool file can be larger).
    public static func read(from url: URL) throws -> [UInt8] {
        guard url.isFileURL else { throw CKKSError.fileSystem("\(url) is not a file URL") }
        let path = url.path
        do {
            return try RegularFile.read(path: path, limit: maximumFileSize)
        } catch let failure as RegularFile.Failure {
            throw fileSystemError(failure, path: path)
        }
    }
}
