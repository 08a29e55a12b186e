import CZlib
import Foundation

/// gzip decompression through zlib (for `.gz` IDX files), incremental: a reader asks for the
/// bytes it needs and no more is ever inflated, so a small file that would inflate to gigabytes
/// (a "gzip bomb") costs only what its header says it holds.
enum Gzip {
    static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    /// An inflating reader over one gzip member.
    final class Reader {
        private var stream = z_stream()
        private let input: UnsafeMutableBufferPointer<UInt8>
        private let name: String
        private var ended = false
        /// Bytes produced so far.
        private(set) var produced = 0

        init(_ data: Data, name: String) throws {
            self.name = name
            input = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(data.count, 1))
            _ = input.initialize(from: data)
            // 16 + 15: a gzip wrapper around a deflate stream with a 32 KiB window.
            guard inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                input.deallocate()
                throw ModelError.invalidFile("\(name): zlib could not start decompressing")
            }
            stream.next_in = input.baseAddress
            stream.avail_in = UInt32(data.count)
        }

        deinit {
            inflateEnd(&stream)
            input.deallocate()
        }

        /// Exactly `count` more bytes of the decompressed stream.
        /// - Throws: `ModelError.invalidFile` when the stream ends first (`what` says what the
        ///   bytes were for) or is corrupted.
        func read(_ count: Int, for what: @autoclosure () -> String) throws -> [UInt8] {
            var out: [UInt8] = []
            let chunk = 1 << 20
            while out.count < count {
                let want = min(chunk, count - out.count)
                let start = out.count
                out.append(contentsOf: repeatElement(0, count: want))
                let got = try out.withUnsafeMutableBufferPointer { try inflate(into: UnsafeMutableBufferPointer(rebasing: $0[start...])) }
                if got < want {
                    out.removeLast(want - got)
                    if ended {
                        throw ModelError.invalidFile("\(name): the decompressed data ends after \(produced) bytes but \(what()) needs \(count - out.count) more; the file is truncated or corrupted")
                    }
                }
            }
            return out
        }

        /// Throws unless the stream ends here: data beyond what the header announced is refused
        /// after inflating at most one more small block, not inflated to its end.
        func requireEnd(announced: String) throws {
            var probe = [UInt8](repeating: 0, count: 64)
            let got = try probe.withUnsafeMutableBufferPointer { try inflate(into: $0) }
            guard got == 0, ended else {
                throw ModelError.invalidFile("\(name) decompresses to more data than its header announces (\(announced)); the file is corrupted")
            }
        }

        /// Inflates into `buffer` until it is full or the stream ends; returns the bytes written.
        private func inflate(into buffer: UnsafeMutableBufferPointer<UInt8>) throws -> Int {
            var written = 0
            while written < buffer.count, !ended {
                stream.next_out = buffer.baseAddress! + written
                stream.avail_out = UInt32(buffer.count - written)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                let n = buffer.count - written - Int(stream.avail_out)
                written += n
                produced += n
                switch status {
                case Z_STREAM_END: ended = true
                case Z_OK: break
                case Z_BUF_ERROR where n == 0:
                    // No progress possible: the input is used up before the stream's end.
                    throw ModelError.invalidFile("\(name): the gzip stream ends early; the file is truncated")
                case Z_BUF_ERROR: break
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw ModelError.invalidFile("\(name): the gzip data is corrupted (zlib: \(message))")
                }
            }
            return written
        }
    }
}
