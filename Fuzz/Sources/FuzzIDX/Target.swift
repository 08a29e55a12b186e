// Fuzz target: the IDX reader (IDXFile(data:), gzip or not, and its images) and the loader that
// makes model inputs of an IDX file (InputLoader.load, as `predict` and `bench` do).
import Foundation
import FuzzCommon
import Model

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(inputBytes(data, size))
    if let file = try? IDXFile(data: bytes, name: "fuzz.idx") {
        for i in 0..<min(file.count, 3) { _ = try? file.image(i) }
    }
    _ = try? InputLoader.load(data: bytes, name: "fuzz.idx", sampleShape: [1, 28, 28], preprocessing: .unitRange, limit: 3)
    return 0
}

/// An IDX3 file of `images` (28×28 bytes each).
func idx3(_ images: [[UInt8]], rows: Int = 28, columns: Int = 28) -> [UInt8] {
    func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    return [0, 0, 8, 3] + be32(images.count) + be32(rows) + be32(columns) + images.flatMap { $0 }
}

/// `bytes` in a gzip member of stored (uncompressed) deflate blocks.
func gzipStored(_ bytes: [UInt8]) -> [UInt8] {
    var table = [UInt32](repeating: 0, count: 256)
    for n in 0..<256 {
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        table[n] = c
    }
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    crc ^= 0xFFFF_FFFF
    var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
    var offset = 0
    repeat {
        let n = min(65535, bytes.count - offset)
        let last: UInt8 = offset + n == bytes.count ? 1 : 0
        out += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        out += bytes[offset..<(offset + n)]
        offset += n
    } while offset < bytes.count
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
    return out + le32(crc) + le32(UInt32(truncatingIfNeeded: bytes.count))
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, seeds: {
            let images = try repositoryFiles("Examples/mnist", suffix: ".png").prefix(2).map { png -> [UInt8] in
                let image = try PNGDecoder.decode(Data(png.bytes), name: png.name)
                return image.samples.map { UInt8(min($0, 255)) }
            }
            let file = idx3(Array(images))
            let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 2, 7, 2]
            return [("two-images.idx3", file), ("two-images.idx3.gz", gzipStored(file)),
                    ("tiny-2x3.idx3", idx3([[1, 2, 3, 4, 5, 6]], rows: 2, columns: 3)), ("labels.idx1", labels)]
        })
    }
}
