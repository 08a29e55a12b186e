import Foundation

/// An IDX file (the MNIST / Fashion-MNIST format), gzip-compressed or not: big-endian header
/// `0 0 type rank`, `rank` big-endian 32-bit extents, then unsigned bytes. Images are idx3
/// (N×rows×cols), labels idx1 (N).
public struct IDXFile: Equatable, Sendable {
    public var dimensions: [Int]
    public var bytes: [UInt8]

    /// Largest data section read: 2^30 bytes (the MNIST training images hold 47 MB).
    public static let maximumBytes = 1 << 30

    /// Decodes `data`. A gzip-compressed file is inflated incrementally: the header first, then
    /// exactly the bytes it announces (after checking them against `maximumBytes`), so a
    /// compressed file never inflates past what its header says it holds.
    public init(data raw: Data, name: String = "IDX file") throws {
        if Gzip.isCompressed(raw) {
            let reader = try Gzip.Reader(raw, name: name)
            let start = try reader.read(4, for: "the IDX header")
            let rank = try Self.checkStart(start, name: name)
            let dims = try Self.dimensions(try reader.read(4 * rank, for: "the IDX header of rank \(rank)"), name: name)
            let total = try Self.dataSize(dims, name: name)
            bytes = try reader.read(total, for: "the \(Self.describe(dims)) data the header announces")
            try reader.requireEnd(announced: dims.count == 1 ? "\(total) bytes of data" : "\(Self.describe(dims)) = \(total) bytes of data")
            dimensions = dims
            return
        }
        let b = [UInt8](raw)
        let rank = try Self.checkStart(Array(b.prefix(4)), name: name)
        guard b.count >= 4 + 4 * rank else {
            throw ModelError.invalidFile("\(name): IDX rank \(rank) with a \(b.count)-byte file; the header is truncated or corrupted")
        }
        let dims = try Self.dimensions(Array(b[4..<(4 + 4 * rank)]), name: name)
        let total = try Self.dataSize(dims, name: name)
        let header = 4 + 4 * rank
        guard b.count - header == total else {
            throw ModelError.invalidFile("\(name): the header announces \(Self.describe(dims)) = \(total) bytes of data but the file holds \(b.count - header); it is truncated or corrupted")
        }
        dimensions = dims
        bytes = Array(b[header...])
    }

    /// Checks the magic `0 0 0x08 rank` and returns the rank (1…4).
    private static func checkStart(_ b: [UInt8], name: String) throws -> Int {
        guard b.count >= 4, b[0] == 0, b[1] == 0 else {
            throw ModelError.invalidFile("\(name) is not an IDX file (it should start with two zero bytes, a type byte and a rank)")
        }
        guard b[2] == 0x08 else {
            throw ModelError.invalidFile("\(name) holds IDX data of type 0x\(String(b[2], radix: 16)); he-tool reads unsigned bytes (0x08), the type of MNIST and Fashion-MNIST")
        }
        let rank = Int(b[3])
        guard (1...4).contains(rank) else {
            throw ModelError.invalidFile("\(name): IDX rank \(rank); he-tool reads ranks 1…4 (the header is corrupted)")
        }
        return rank
    }

    /// The big-endian 32-bit extents of the header.
    private static func dimensions(_ b: [UInt8], name: String) throws -> [Int] {
        stride(from: 0, to: b.count, by: 4).map { o in Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }
    }

    /// The data size the extents announce, checked against `maximumBytes` with checked products.
    private static func dataSize(_ dims: [Int], name: String) throws -> Int {
        var total = 1
        for d in dims {
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maximumBytes else {
                throw ModelError.invalidFile("\(name): the header announces \(describe(dims)) bytes of data, more than the \(maximumBytes) he-tool reads; the file is corrupted or not an image set")
            }
            total = p
        }
        return total
    }

    private static func describe(_ dims: [Int]) -> String { dims.map(String.init).joined(separator: "×") }

    /// Reads and decodes the file at `url`.
    public init(contentsOf url: URL) throws {
        try self.init(data: try FileReading.read(url, limit: Self.maximumBytes + 64), name: url.lastPathComponent)
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
