import CZlib
import Foundation

/// gzip decompression through zlib (for `.gz` IDX files), with a cap on the output size.
enum Gzip {
    static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    static func decompress(_ data: Data, name: String, limit: Int = 1 << 30) throws -> Data {
        var stream = z_stream()
        // 16 + 15: a gzip wrapper around a deflate stream with a 32 KiB window.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ModelError.invalidFile("\(name): zlib could not start decompressing")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let input = [UInt8](data)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { inBuffer in
            stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.avail_in = UInt32(inBuffer.count)
            while status != Z_STREAM_END {
                let produced = chunk.withUnsafeMutableBufferPointer { outBuffer -> Int in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = UInt32(outBuffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return outBuffer.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                guard output.count <= limit else { throw ModelError.invalidFile("\(name) decompresses to more than \(limit) bytes") }
                switch status {
                case Z_OK, Z_STREAM_END: break
                case Z_BUF_ERROR where produced == 0:
                    throw ModelError.invalidFile("\(name): the gzip stream ends early; the file is truncated")
                case Z_BUF_ERROR: break
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw ModelError.invalidFile("\(name): the gzip data is corrupted (zlib: \(message))")
                }
            }
        }
        return output
    }
}
