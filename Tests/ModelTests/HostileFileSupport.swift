import Foundation
@testable import Model

/// Hostile files built in the tests: gzip streams (stored, or a bomb of zeros written as
/// fixed-Huffman matches), PNG chunks with their CRCs, `.npy` headers and ONNX shape constants.
enum HostileFiles {
    // MARK: CRC-32 (PNG chunks, gzip trailers)

    static func crc32<S: Sequence>(_ bytes: S, start: UInt32 = 0) -> UInt32 where S.Element == UInt8 {
        var c = ~start
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    static func littleEndian(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }

    // MARK: gzip

    private static let gzipHeader: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]

    /// A valid gzip file of `data` in stored (uncompressed) deflate blocks.
    static func gzipStored(_ data: [UInt8]) -> Data {
        var out = gzipHeader
        var offset = 0
        repeat {
            let n = min(65535, data.count - offset)
            let last: UInt8 = offset + n == data.count ? 1 : 0
            out += [last, UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
            out += data[offset..<(offset + n)]
            offset += n
        } while offset < data.count
        out += littleEndian(crc32(data)) + littleEndian(UInt32(truncatingIfNeeded: data.count))
        return Data(out)
    }

    /// A gzip file that inflates to `prefix` followed by `zeros` zero bytes, in one fixed-Huffman
    /// block of length-258 matches: about 13 bits per 258 bytes (1 GiB of zeros in 6.6 MB). The
    /// trailer's CRC is left 0 above 1 MiB of zeros (computing it over gigabytes would be slow).
    static func gzipBomb(prefix: [UInt8], zeros: Int) -> Data {
        var w = BitWriter()
        w.bits(1, 1)  // BFINAL
        w.bits(1, 2)  // BTYPE = 01, fixed Huffman
        func literal(_ v: UInt8) { v < 144 ? w.code(0x30 + Int(v), 8) : w.code(0x190 + Int(v) - 144, 9) }
        for b in prefix { literal(b) }
        var left = zeros
        if left > 0 { literal(0); left -= 1 }
        while left >= 258 {
            w.code(0xC5, 8)  // length code 285: 258 bytes
            w.code(0, 5)     // distance code 0: distance 1
            left -= 258
        }
        for _ in 0..<left { literal(0) }
        w.code(0, 7)  // end of block
        var out = gzipHeader + w.flushed
        let crc = zeros <= 1 << 20 ? crc32(prefix + [UInt8](repeating: 0, count: zeros)) : 0
        out += littleEndian(crc) + littleEndian(UInt32(truncatingIfNeeded: prefix.count + zeros))
        return Data(out)
    }

    /// Bits least significant first, as deflate packs them.
    struct BitWriter {
        var bytes: [UInt8] = []
        private var current: UInt32 = 0
        private var filled = 0

        mutating func bits(_ value: Int, _ count: Int) {
            for k in 0..<count {
                current |= UInt32((value >> k) & 1) << UInt32(filled)
                filled += 1
                if filled == 8 { bytes.append(UInt8(current)); current = 0; filled = 0 }
            }
        }

        /// A Huffman code: most significant bit first.
        mutating func code(_ value: Int, _ length: Int) {
            for k in stride(from: length - 1, through: 0, by: -1) { bits((value >> k) & 1, 1) }
        }

        var flushed: [UInt8] { filled == 0 ? bytes : bytes + [UInt8(current)] }
    }

    // MARK: PNG

    /// A PNG signature and chunks; `crc: false` leaves each CRC 0.
    static func png(_ chunks: [(String, [UInt8])]) -> Data {
        var out: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
        for (type, body) in chunks {
            let typed = Array(type.utf8) + body
            out += bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
        }
        return Data(out)
    }

    /// An IHDR body: width, height, bit depth 8, colour type `color` (0 grey, 2 RGB, 6 RGBA).
    static func ihdr(width: UInt32, height: UInt32, color: UInt8 = 0) -> [UInt8] {
        bigEndian(width) + bigEndian(height) + [8, color, 0, 0, 0]
    }

    // MARK: .npy

    /// An .npy version-1 file with the given header dictionary text and data bytes.
    static func npy(header: String, data: [UInt8], version: UInt8 = 1) -> Data {
        var text = Array(header.utf8)
        while (10 + text.count + 1) % 64 != 0 { text.append(0x20) }
        text.append(0x0a)
        var out: [UInt8] = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]
        out += [UInt8(text.count & 0xff), UInt8(text.count >> 8)]
        return Data(out + text + data)
    }

    // MARK: ONNX

    /// An int64 initializer (shapes, pads, axes) in raw little-endian bytes.
    static func int64s(_ name: String, _ values: [Int64]) -> Onnx_TensorProto {
        ONNXBuilder.raw(name, [Int64(values.count)], type: 7, bytes: values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
    }

    /// A float initializer with `dims` and no data at all (valid only when an axis is 0).
    static func emptyFloats(_ name: String, _ dims: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name; t.dims = dims; t.dataType = 1
        return t
    }

    static func ints(_ name: String, _ values: [Int64]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name; a.ints = values; a.type = .ints
        return a
    }
}
