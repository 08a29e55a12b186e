import Foundation

/// An IDX file (the MNIST / Fashion-MNIST format), gzip-compressed or not: big-endian header
/// `0 0 type rank`, `rank` big-endian 32-bit extents, then unsigned bytes. Images are idx3
/// (N×rows×cols), labels idx1 (N).
public struct IDXFile: Equatable, Sendable {
    public var dimensions: [Int]
    public var bytes: [UInt8]

    /// Decodes `data` (gunzipping first when it starts with the gzip magic).
    public init(data raw: Data, name: String = "IDX file") throws {
        let data = Gzip.isCompressed(raw) ? try Gzip.decompress(raw, name: name) : raw
        let b = [UInt8](data)
        guard b.count >= 4, b[0] == 0, b[1] == 0 else {
            throw ModelError.invalidFile("\(name) is not an IDX file (it should start with two zero bytes, a type byte and a rank)")
        }
        guard b[2] == 0x08 else {
            throw ModelError.invalidFile("\(name) holds IDX data of type 0x\(String(b[2], radix: 16)); he-tool reads unsigned bytes (0x08), the type of MNIST and Fashion-MNIST")
        }
        let rank = Int(b[3])
        guard (1...4).contains(rank), b.count >= 4 + 4 * rank else {
            throw ModelError.invalidFile("\(name): IDX rank \(rank) with a \(b.count)-byte file; the header is truncated or corrupted")
        }
        var dims: [Int] = []
        var total = 1
        for i in 0..<rank {
            let o = 4 + 4 * i
            let d = Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
            dims.append(d)
            total = total.multipliedReportingOverflow(by: d).overflow ? Int.max : total * d
        }
        let header = 4 + 4 * rank
        guard b.count - header == total else {
            throw ModelError.invalidFile("\(name): the header announces \(dims.map(String.init).joined(separator: "×")) = \(total) bytes of data but the file holds \(b.count - header); it is truncated or corrupted")
        }
        dimensions = dims
        bytes = Array(b[header...])
    }

    /// Reads and decodes the file at `url`.
    public init(contentsOf url: URL) throws {
        try self.init(data: try FileReading.read(url, limit: 1 << 30), name: url.lastPathComponent)
    }

    /// Image `i` of an idx3 file as a grey `DecodedImage`.
    public func image(_ i: Int) throws -> DecodedImage {
        guard dimensions.count == 3 else { throw ModelError.invalidFile("an IDX file of rank \(dimensions.count) holds no images (idx3: N×rows×cols)") }
        guard i >= 0, i < dimensions[0] else { throw ModelError.invalidArgument("image \(i) does not exist; the file holds \(dimensions[0])") }
        let size = dimensions[1] * dimensions[2]
        return DecodedImage(width: dimensions[2], height: dimensions[1], channels: 1, hasAlpha: false, maxValue: 255,
                            samples: bytes[(i * size)..<((i + 1) * size)].map(UInt16.init))
    }

    /// Number of items (images or labels).
    public var count: Int { dimensions.first ?? 0 }

    /// The labels of an idx1 file.
    public var labels: [Int] { dimensions.count == 1 ? bytes.map(Int.init) : [] }
}
