import Foundation

/// One model input with the name it is reported under (file, file[i] for batches).
public struct NamedSample: Sendable {
    public var name: String
    /// One sample, of the graph's input shape.
    public var tensor: Tensor
    public init(name: String, tensor: Tensor) { self.name = name; self.tensor = tensor }
}

/// Turns input files into model inputs, recognising the format by content: PNG (preprocessed),
/// IDX images (each image preprocessed), `.npy` (used as it is: N×sample or one sample).
public enum InputLoader {
    public enum Format: String, Sendable { case png, idx, npy }

    /// The format of `data`, from its first bytes (gzip is taken for IDX).
    public static func format(of data: Data, name: String) throws -> Format {
        let b = [UInt8](data.prefix(8))
        if b.starts(with: [0x89, 0x50, 0x4e, 0x47]) { return .png }
        if b.starts(with: [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]) { return .npy }
        if b.starts(with: [0x1f, 0x8b]) || b.starts(with: [0, 0, 0x08]) { return .idx }
        throw ModelError.invalidFile("\(name) is neither a PNG image, an IDX file (gzip or not) nor a NumPy .npy array")
    }

    /// The samples in the file at `url`, at most `limit` of them (IDX files hold thousands).
    public static func load(_ url: URL, sampleShape: [Int], preprocessing: Preprocessing, limit: Int? = nil) throws -> [NamedSample] {
        try load(data: try FileReading.read(url, limit: 1 << 32), name: url.lastPathComponent,
                 sampleShape: sampleShape, preprocessing: preprocessing, limit: limit)
    }

    public static func load(data: Data, name: String, sampleShape: [Int], preprocessing: Preprocessing, limit: Int? = nil) throws -> [NamedSample] {
        switch try format(of: data, name: name) {
        case .png:
            let image = try PNGDecoder.decode(data, name: name)
            return [NamedSample(name: name, tensor: try preprocessing.tensor(from: image, sampleShape: sampleShape, name: name))]
        case .idx:
            let file = try IDXFile(data: data, name: name)
            guard file.dimensions.count == 3 else {
                throw ModelError.inputMismatch("\(name) is an IDX file of rank \(file.dimensions.count) (labels?); give the images file (idx3)")
            }
            let n = min(file.count, limit ?? file.count)
            return try (0..<n).map { i in
                let label = "\(name)[\(i)]"
                return NamedSample(name: label, tensor: try preprocessing.tensor(from: try file.image(i), sampleShape: sampleShape, name: label))
            }
        case .npy:
            let array = try NPYFile.decode(data, name: name)
            let sampleCount = sampleShape.reduce(1, *)
            if array.shape == sampleShape { return [NamedSample(name: name, tensor: array)] }
            guard array.shape.count == sampleShape.count + 1, Array(array.shape.dropFirst()) == sampleShape else {
                throw ModelError.inputMismatch("\(name) has shape \(formatShape(array.shape)) but the model takes N×\(formatShape(sampleShape)) (or one sample \(formatShape(sampleShape)))")
            }
            let n = min(array.shape[0], limit ?? array.shape[0])
            return (0..<n).map { i in
                NamedSample(name: "\(name)[\(i)]", tensor: Tensor(shape: sampleShape, values: Array(array.values[(i * sampleCount)..<((i + 1) * sampleCount)])))
            }
        }
    }

    /// The samples stacked into one batch tensor N×sample.
    public static func batch(_ samples: [NamedSample]) -> Tensor {
        guard let first = samples.first else { return Tensor(zeros: [0]) }
        return Tensor(shape: [samples.count] + first.tensor.shape, values: samples.flatMap(\.tensor.values))
    }
}
