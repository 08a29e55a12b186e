import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading a whole regular file with a size limit: the one copy the CKKS layer (he-tool's own
/// files) and the Model layer (ONNX, images, tensors) share; each turns a `Failure` into its
/// own error with its own advice.
///
/// The path is checked with `stat` before it is opened, then opened with `O_NONBLOCK` and
/// checked again with `fstat` (the path may have been swapped in between): a FIFO would block
/// the open until a writer comes, `/dev/zero` would never end, a directory is not a file. Each
/// is refused by name before a byte is read.
public enum RegularFile {
    /// Why a file was not read.
    public enum Failure: Error, Equatable {
        /// No file at the path.
        case missing
        /// The path is not a regular file; `what` names what it is ("a FIFO (named pipe)", …).
        case notRegular(what: String)
        /// Larger than the limit.
        case tooLarge(size: Int)
        /// It shrank while it was read.
        case shrank(read: Int, of: Int)
        /// A system call failed: `operation` ("cannot open", …) and the errno's explanation.
        case system(operation: String, reason: String)
    }

    /// The bytes of the regular file at `path`, at most `limit` of them.
    /// - Throws: `Failure`.
    public static func read(path: String, limit: Int) throws -> [UInt8] {
        let file = try Handle(path: path)
        guard file.size <= limit else { throw Failure.tooLarge(size: file.size) }
        return try file.read(at: 0, count: file.size)
    }

    /// Throws `notRegular` unless `status` is a regular file's.
    static func requireRegular(_ status: stat) throws {
        let what: String
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: what = "a directory"
        case S_IFIFO: what = "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: what = "a device"
        case S_IFSOCK: what = "a socket"
        default: what = "not a regular file"
        }
        throw Failure.notRegular(what: what)
    }

    static func systemFailure(_ operation: String) -> Failure {
        .system(operation: operation, reason: String(cString: strerror(errno)))
    }
}
