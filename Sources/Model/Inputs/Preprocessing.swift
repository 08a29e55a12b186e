import Foundation

/// How an image becomes the model's input: samples scaled to [0, 1] (divided by 255 or 65535),
/// then (x − mean[c]) / std[c] per channel, laid out C×H×W. Read from the ONNX metadata key
/// `he_tool.preprocessing` (JSON `{"mean": [...], "std": [...]}`, one entry or one per channel)
/// or given by flags; without either, images are just scaled to [0, 1].
public struct Preprocessing: Equatable, Sendable {
    /// The metadata_props key the training toolkit writes.
    public static let metadataKey = "he_tool.preprocessing"

    public var mean: [Double]
    public var std: [Double]

    /// Scaling to [0, 1] only.
    public static let unitRange = Preprocessing(mean: [0], std: [1])

    public init(mean: [Double], std: [Double]) {
        self.mean = mean
        self.std = std
    }

    /// Checks the values: non-empty, finite, std > 0.
    public func validated() throws -> Preprocessing {
        guard !mean.isEmpty, !std.isEmpty, mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw ModelError.invalidArgument("preprocessing needs finite means and positive standard deviations, got mean \(mean), std \(std)")
        }
        return self
    }

    /// The graph's preprocessing from its metadata, or scaling to [0, 1] when it has none.
    public static func fromMetadata(of graph: Graph) throws -> Preprocessing {
        guard let text = graph.metadata[metadataKey] else { return .unitRange }
        struct Entry: Decodable { var mean: [Double]?; var std: [Double]? }
        guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(text.utf8)) else {
            throw ModelError.invalidArgument("metadata \(metadataKey) is not JSON of the form {\"mean\": [...], \"std\": [...]}: \(text)")
        }
        return try Preprocessing(mean: entry.mean ?? [0], std: entry.std ?? [1]).validated()
    }

    /// The model input of one image: channels checked against the model's C×H×W (or a vector of
    /// C·H·W features), alpha dropped, scaled and normalized.
    public func tensor(from image: DecodedImage, sampleShape shape: [Int], name: String) throws -> Tensor {
        let (c, h, w) = (image.colorChannels, image.height, image.width)
        let expected: (Int, Int, Int)
        if shape.count == 3 {
            expected = (shape[0], shape[1], shape[2])
        } else if shape.count == 1, shape[0] == c * h * w {
            expected = (c, h, w)
        } else {
            throw ModelError.inputMismatch("\(name) is a \(w)×\(h) image with \(c) channel(s) but the model takes inputs of shape \(formatShape(shape)), not an image")
        }
        guard expected.1 == h, expected.2 == w else {
            throw ModelError.inputMismatch("\(name) is \(w)×\(h) pixels but the model expects \(expected.2)×\(expected.1) (width×height); resize it first")
        }
        guard expected.0 == c else {
            throw ModelError.inputMismatch("\(name) has \(c) colour channel(s) (\(c == 1 ? "grey" : "RGB")) but the model expects \(expected.0) (\(expected.0 == 1 ? "grey" : "RGB")); convert the image first")
        }
        for (label, list) in [("mean", mean), ("std", std)] where list.count != 1 && list.count != c {
            throw ModelError.inputMismatch("the preprocessing has \(list.count) \(label) values but the model has \(c) channel(s)")
        }
        let scale = 1 / Double(image.maxValue)
        var values = [Double](repeating: 0, count: c * h * w)
        for ch in 0..<c {
            let m = mean.count == 1 ? mean[0] : mean[ch]
            let s = std.count == 1 ? std[0] : std[ch]
            for y in 0..<h {
                for x in 0..<w {
                    values[(ch * h + y) * w + x] = (Double(image.sample(x: x, y: y, channel: ch)) * scale - m) / s
                }
            }
        }
        return Tensor(shape: shape, values: values)
    }
}
