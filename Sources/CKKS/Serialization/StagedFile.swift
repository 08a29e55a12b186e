import Foundation
import Glibc

/// A file written in full to a temporary name beside its destination and flushed to disk, not
/// yet in place: `commit()` renames it over the destination, `discard()` (or deinit) removes it.
///
/// Writing several files as one (`he-tool keygen`'s secret key and evaluation keys) stages them
/// all first, so that a full disk or a missing directory leaves every destination untouched;
/// `commitAll` then renames them, restoring what it replaced if a later rename fails.
public final class StagedFile {
    /// Where the file goes.
    public let destination: URL
    private let temporary: String
    private var pending = true

    /// Writes `bytes` to a new temporary file in `url`'s directory and flushes it.
    /// - Parameter ownerOnly: mode 0600 whatever the umask (secret keys); otherwise 0666 less the umask.
    /// - Throws: `CKKSError.fileSystem` naming the path (missing directory, no permission, disk
    ///   full, `url` naming no file).
    public convenience init(_ bytes: [UInt8], to url: URL, ownerOnly: Bool) throws {
        try self.init(to: url, ownerOnly: ownerOnly) { try $0.append(bytes) }
    }

    /// Writes a new temporary file in `url`'s directory piece by piece through `write` (a file
    /// too large to build in memory, such as a key set of tens of GB made one key at a time),
    /// then flushes it. When `write` throws, the temporary file is removed and the error passed on.
    public init(to url: URL, ownerOnly: Bool, write: (inout Writer) throws -> Void) throws {
        guard url.isFileURL else { throw CKKSError.fileSystem("\(url) is not a file URL") }
        let path = url.path
        let name = url.lastPathComponent
        guard !name.isEmpty, name != "/", name != ".", name != ".." else {
            throw CKKSError.fileSystem("\(path) does not name a file")
        }
        var status = stat()
        if stat(path, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
            throw CKKSError.fileSystem("\(path) exists and is not a regular file; give the path of a file to write")
        }
        destination = url
        let directory = url.deletingLastPathComponent().path
        var generator = SystemRandomNumberGenerator()
        temporary = (directory.hasSuffix("/") ? directory : directory + "/")
            + ".\(name).tmp-\(String(generator.next(), radix: 16))"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, ownerOnly ? 0o600 : 0o666)
        guard fd >= 0 else {
            pending = false
            throw Self.failure("cannot create a temporary file in \(directory) to write \(path)")
        }
        var open = true
        do {
            defer { if open { _ = Glibc.close(fd) } }
            if ownerOnly, Glibc.fchmod(fd, 0o600) != 0 { throw Self.failure("cannot make \(path) owner-only") }
            var writer = Writer(fd: fd, path: path)
            try write(&writer)
            guard Glibc.fsync(fd) == 0 else { throw Self.failure("cannot flush \(path) to disk") }
            open = false
            guard Glibc.close(fd) == 0 else { throw Self.failure("cannot close \(path)") }
        } catch {
            discard()
            throw error
        }
    }

    /// Appends to a staged file and overwrites what it already wrote (a header whose checksum
    /// is known only at the end).
    public struct Writer {
        let fd: Int32
        let path: String
        /// Bytes written so far (the file's length).
        public private(set) var count = 0

        /// Appends `bytes`.
        public mutating func append(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try append($0) }
        }

        /// Appends the bytes of `raw`.
        public mutating func append(_ raw: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw StagedFile.failure("cannot write \(path)")
                }
                offset += written
            }
            count += raw.count
        }

        /// Overwrites bytes already written, from `offset` on.
        public func overwrite(_ bytes: [UInt8], at offset: Int) throws {
            precondition(offset >= 0 && offset + bytes.count <= count, "overwriting past what was written")
            try bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let written = Glibc.pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw StagedFile.failure("cannot write \(path)")
                    }
                    done += written
                }
            }
        }
    }

    deinit { discard() }

    /// Renames the staged file over its destination and flushes the directory. A reader of the
    /// destination sees the old file or the new one, never a part.
    public func commit() throws {
        guard pending else { throw CKKSError.fileSystem("\(destination.path) was already written or discarded") }
        guard Glibc.rename(temporary, destination.path) == 0 else {
            let error = Self.failure("cannot replace \(destination.path)")
            discard()
            throw error
        }
        pending = false
        Self.flushDirectory(of: destination)
    }

    /// Removes the staged file, leaving the destination as it was.
    public func discard() {
        guard pending else { return }
        pending = false
        _ = Glibc.unlink(temporary)
    }

    /// Commits every staged file, or none: when a rename fails, the files already renamed are
    /// put back as they were (a destination that did not exist is removed again).
    public static func commitAll(_ files: [StagedFile]) throws {
        var backups: [(StagedFile, String?)] = []
        do {
            for file in files {
                let path = file.destination.path
                var backup: String? = path + ".bak-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
                if Glibc.link(path, backup!) != 0 { backup = nil }   // no old file (or no hard links): nothing to restore
                backups.append((file, backup))
                try file.commit()
            }
        } catch {
            for (file, backup) in backups.reversed() where !file.pending {
                if let backup { _ = Glibc.rename(backup, file.destination.path) } else { _ = Glibc.unlink(file.destination.path) }
            }
            for (_, backup) in backups { if let backup { _ = Glibc.unlink(backup) } }
            files.forEach { $0.discard() }
            throw error
        }
        for (_, backup) in backups { if let backup { _ = Glibc.unlink(backup) } }
    }

    /// Makes a rename durable; a directory that cannot be opened or flushed (some file systems)
    /// leaves the file written and renamed, so this is best effort.
    private static func flushDirectory(of url: URL) {
        let directoryFD = Glibc.open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = Glibc.fsync(directoryFD)
            _ = Glibc.close(directoryFD)
        }
    }

    fileprivate static func failure(_ what: String) -> CKKSError {
        CKKSError.fileSystem("\(what): \(String(cString: strerror(errno)))")
    }
}
