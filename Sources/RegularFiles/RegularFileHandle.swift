import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension RegularFile {
    /// An open regular file read by ranges (`pread`), for files too large to hold: the path is
    /// checked as `read(path:limit:)` checks it. A range past the end (the file shrank) is a
    /// `Failure`, never a fault (no memory mapping).
    public final class Handle: @unchecked Sendable {
        public let path: String
        /// The size when opened.
        public let size: Int
        private let fd: Int32

        public init(path: String) throws {
            var status = stat()
            guard stat(path, &status) == 0 else {
                if errno == ENOENT { throw Failure.missing }
                throw systemFailure("cannot inspect")
            }
            try requireRegular(status)
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else {
                if errno == ENOENT { throw Failure.missing }
                throw systemFailure("cannot open")
            }
            guard fstat(fd, &status) == 0 else { _ = close(fd); throw systemFailure("cannot inspect") }
            do { try requireRegular(status) } catch { _ = close(fd); throw error }
            self.path = path
            self.fd = fd
            self.size = Int(status.st_size)
        }

        deinit { _ = close(fd) }

        /// The `count` bytes at `offset`.
        /// - Throws: `Failure.shrank` when the file ends before them.
        public func read(at offset: Int, count: Int) throws -> [UInt8] {
            try read(at: offset, count: count, pieces: 1) { _, body in try body(0) }
        }

        /// Fills `buffer` with the bytes at `offset` (no allocation: a caller's own memory).
        /// - Throws: `Failure.shrank` when the file ends before the buffer is full.
        public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
            precondition(offset >= 0, "a range inside the file")
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                let n = pread(fd, base + done, buffer.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw systemFailure("cannot read")
                }
                guard n > 0 else { throw Failure.shrank(read: offset + done, of: size) }
                done += n
            }
        }

        /// The `count` bytes at `offset`, read as `pieces` ranges that `run(pieces, body)` may read
        /// at once (`body(k)` reads piece k; a caller's thread pool): a large frame's pages are
        /// faulted in by several threads (CryptoNets' 708 MB input took 0.4 s on one).
        /// - Throws: `Failure.shrank` when the file ends before them.
        public func read(at offset: Int, count: Int, pieces: Int,
                         run: (Int, (Int) throws -> Void) throws -> Void) throws -> [UInt8] {
            precondition(offset >= 0 && count >= 0 && pieces >= 1, "a range inside the file")
            return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                initialized = 0
                let base = buffer.baseAddress
                let piece = (count + pieces - 1) / pieces
                try run(pieces) { k in
                    let start = min(count, k * piece), end = min(count, start + piece)
                    var done = start
                    while done < end {
                        let n = pread(fd, base! + done, end - done, off_t(offset + done))
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw systemFailure("cannot read")
                        }
                        guard n > 0 else { throw Failure.shrank(read: offset + done, of: size) }
                        done += n
                    }
                }
                initialized = count
            }
        }
    }
}
