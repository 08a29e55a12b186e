import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading whole input files (ONNX models, images, IDX and `.npy` files) with a size limit and
/// errors that name the path.
///
/// A path is checked with `stat` before it is opened, then opened with `O_NONBLOCK` and checked
/// again with `fstat` (the path may have been swapped in between): a FIFO would block the open
/// until a writer comes, `/dev/zero` would never end, a directory is not a file. Each is refused
/// by name, before a byte is read. The same approach as the CKKS layer's `CKKSFile.read(from:)`
/// (Model imports none of the engine's layers, so it keeps its own copy).
enum FileReading {
    static func read(_ url: URL, limit: Int) throws -> Data {
        let path = url.path
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT { throw ModelError.fileSystem("\(path) does not exist") }
            throw failure("cannot inspect \(path)")
        }
        try requireRegular(status, path)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ENOENT { throw ModelError.fileSystem("\(path) does not exist") }
            throw failure("cannot open \(path)")
        }
        defer { _ = close(fd) }
        guard fstat(fd, &status) == 0 else { throw failure("cannot inspect \(path)") }
        try requireRegular(status, path)
        let size = Int(status.st_size)
        guard size <= limit else {
            throw ModelError.fileSystem("\(path) is \(size) bytes, more than the \(limit) he-tool reads")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let count = bytes.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + done, size - done) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read \(path)")
            }
            guard count > 0 else {
                throw ModelError.fileSystem("\(path) became shorter while it was read (\(done) of \(size) bytes)")
            }
            done += count
        }
        return Data(bytes)
    }

    /// Throws unless `status` is a regular file's, naming what `path` is instead.
    static func requireRegular(_ status: stat, _ path: String) throws {
        let what: String
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: what = "a directory"
        case S_IFIFO: what = "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: what = "a device"
        case S_IFSOCK: what = "a socket"
        default: what = "not a regular file"
        }
        throw ModelError.fileSystem("\(path) is \(what), not a regular file: give the path of a model, image or tensor file")
    }

    /// A `fileSystem` error with the current errno's explanation.
    private static func failure(_ what: String) -> ModelError {
        ModelError.fileSystem("\(what): \(String(cString: strerror(errno)))")
    }
}
