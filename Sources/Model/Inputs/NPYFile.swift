import Foundation

/// A NumPy `.npy` array (format versions 1–3): float32, float64 or uint8, C order, little- or
/// big-endian. Values are read as `Double` and kept as they are (an `.npy` input is already in
/// the model's input space).
public enum NPYFile {
    /// Largest number of elements read (2^28 values, 2 GiB as `Double`).
    public static let maximumElements = 1 << 28
    /// Largest rank read.
    public static let maximumRank = 16
    /// Largest header (NumPy writes a few hundred bytes; version 1 caps it at 65,535).
    public static let maximumHeaderLength = 1 << 16

    /// Decodes a whole `.npy` file held in memory into a tensor of the array's shape.
    /// - Throws: `ModelError.invalidFile` naming what is wrong (magic, header, dtype, length).
    public static func decode(_ data: Data, name: String = "array") throws -> Tensor {
        let b = [UInt8](data)
        let magic: [UInt8] = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // \x93NUMPY
        guard b.count >= 10, Array(b[0..<6]) == magic else {
            throw ModelError.invalidFile("\(name) is not a NumPy .npy file (no \\x93NUMPY magic)")
        }
        let major = b[6]
        let headerLength: Int, start: Int
        switch major {
        case 1: headerLength = Int(b[8]) | Int(b[9]) << 8; start = 10
        case 2, 3:
            guard b.count >= 12 else { throw ModelError.invalidFile("\(name): truncated .npy header") }
            headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12
        default: throw ModelError.invalidFile("\(name): .npy format version \(major) is not supported (1–3 are)")
        }
        guard headerLength <= maximumHeaderLength else {
            throw ModelError.invalidFile("\(name): the .npy header claims \(headerLength) bytes; headers of real arrays are under \(maximumHeaderLength) (the file is corrupted)")
        }
        guard b.count >= start + headerLength else { throw ModelError.invalidFile("\(name): the .npy header is truncated") }
        let header = String(decoding: b[start..<(start + headerLength)], as: UTF8.self)
        let descr = try field("descr", in: header, name: name)
        let fortran = try field("fortran_order", in: header, name: name)
        let shapeText = try field("shape", in: header, name: name)
        guard fortran == "False" else {
            throw ModelError.invalidFile("\(name) is in Fortran order; save it in C order (np.ascontiguousarray) ")
        }
        let shape = try parseShape(shapeText, name: name)
        let (kind, width, bigEndian) = try parseDescr(descr, name: name)
        // Empty axes count as 1 here: a shape (0, 2^40, 2^40) holds nothing but its strides overflow.
        guard shape.count <= maximumRank else {
            throw ModelError.invalidFile("\(name): the .npy array has rank \(shape.count); he-tool reads arrays of rank at most \(maximumRank)")
        }
        var bound = 1
        for d in shape {
            let (p, o) = bound.multipliedReportingOverflow(by: max(d, 1))
            guard !o, p <= maximumElements else {
                throw ModelError.invalidFile("\(name): the .npy shape \(shape) exceeds he-tool's limit of \(maximumElements) elements (empty axes counted as 1)")
            }
            bound = p
        }
        let count = shape.contains(0) ? 0 : bound
        let body = start + headerLength
        guard b.count - body == count * width else {
            throw ModelError.invalidFile("\(name): shape \(shape) of \(descr) needs \(count * width) bytes of data but the file holds \(b.count - body); it is truncated or corrupted")
        }
        var values = [Double](repeating: 0, count: count)
        for i in 0..<count {
            var w: UInt64 = 0
            for k in 0..<width {
                let byte = UInt64(b[body + i * width + (bigEndian ? width - 1 - k : k)])
                w |= byte << (8 * UInt64(k))
            }
            switch kind {
            case "f4": values[i] = Double(Float(bitPattern: UInt32(w)))
            case "f8": values[i] = Double(bitPattern: w)
            default: values[i] = Double(w)
            }
            guard values[i].isFinite else { throw ModelError.invalidFile("\(name): element \(i) is not a finite number") }
        }
        return Tensor(shape: shape, values: values)
    }

    /// Reads and decodes the file at `url`.
    public static func load(_ url: URL) throws -> Tensor {
        try decode(try FileReading.read(url, limit: 1 << 32), name: url.lastPathComponent)
    }

    /// The text of `'key': value` in the header dictionary (a tuple value up to its ')').
    private static func field(_ key: String, in header: String, name: String) throws -> String {
        guard let range = header.range(of: "'\(key)':") else {
            throw ModelError.invalidFile("\(name): the .npy header has no '\(key)'")
        }
        let rest = header[range.upperBound...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { throw ModelError.invalidFile("\(name): malformed shape in the .npy header") }
            return String(rest[rest.startIndex...close])
        }
        let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
        return rest[..<end].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
    }

    private static func parseShape(_ text: String, name: String) throws -> [Int] {
        let inner = text.dropFirst().dropLast()
        return try inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map {
            guard let v = Int($0), v >= 0 else { throw ModelError.invalidFile("\(name): bad extent '\($0)' in the .npy shape") }
            return v
        }
    }

    private static func parseDescr(_ descr: String, name: String) throws -> (String, Int, Bool) {
        guard descr.count == 3 else { throw ModelError.invalidFile("\(name): unsupported .npy dtype '\(descr)'") }
        let order = descr.first!
        let kind = String(descr.dropFirst())
        let bigEndian = order == ">"
        switch kind {
        case "f4": return (kind, 4, bigEndian)
        case "f8": return (kind, 8, bigEndian)
        case "u1": return (kind, 1, false)
        default:
            throw ModelError.invalidFile("\(name) has dtype '\(descr)'; he-tool reads float32, float64 and uint8 arrays (convert with a.astype(np.float32))")
        }
    }
}
