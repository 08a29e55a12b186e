/// A network as the engine sees it: typed layers in topological order (layer 0 is the input),
/// a shape on every edge, and the one output. Built by `ONNXImporter`, run by `PlainExecutor`,
/// and (later) compiled to a CKKS plan.
public struct Graph: Equatable, Sendable {
    /// Layers in evaluation order; every layer reads only earlier layers.
    public var layers: [Layer]
    /// Index of the layer whose output is the network's output.
    public var output: Int
    /// Batch size fixed by the model file, or nil when the file leaves it dynamic (any batch).
    public var batchSize: Int?
    /// Names of the ONNX input and output tensors.
    public var inputName: String
    public var outputName: String
    /// Things the importer did that a user should know (a final Softmax dropped, …).
    public var notes: [String]
    /// The ONNX file's metadata_props (preprocessing, trained activation ranges, …).
    public var metadata: [String: String]

    public init(layers: [Layer], output: Int, batchSize: Int?, inputName: String, outputName: String,
                notes: [String] = [], metadata: [String: String] = [:]) {
        self.layers = layers; self.output = output; self.batchSize = batchSize
        self.inputName = inputName; self.outputName = outputName
        self.notes = notes; self.metadata = metadata
    }

    /// Shape of one input sample (e.g. [1, 28, 28]).
    public var inputShape: [Int] { layers[0].shape }
    /// Shape of one output sample (e.g. [10]).
    public var outputShape: [Int] { layers[output].shape }

    /// Number of trainable numbers: weights, biases, affine and polynomial coefficients.
    public var parameterCount: Int {
        layers.reduce(0) { total, layer in
            switch layer.operation {
            case let .conv2d(c): return total + c.weights.count + c.bias.count
            case let .dense(d): return total + d.weights.count + d.bias.count
            case let .affine(a): return total + a.scale.count + a.shift.count
            case let .polynomial(p): return total + p.coefficients.reduce(0) { $0 + $1.count }
            default: return total
            }
        }
    }

    /// Levels each layer uses under CKKS: 1 for every plaintext product (conv2d, dense, affine,
    /// the 1/k of a pooling), the polynomial's own depth, 0 for additions and shape changes.
    public func depth(of layer: Layer) -> Int {
        switch layer.operation {
        case .conv2d, .dense, .affine, .averagePool, .globalAveragePool: return 1
        case let .polynomial(p): return p.multiplicativeDepth
        case .input, .flatten, .reshape, .zeroPad, .add: return 0
        }
    }

    /// Levels consumed from the input to the end of each layer (longest path).
    public var cumulativeDepths: [Int] {
        var depths = [Int](repeating: 0, count: layers.count)
        for (i, layer) in layers.enumerated() {
            let before = layer.inputs.map { depths[$0] }.max() ?? 0
            depths[i] = before + depth(of: layer)
        }
        return depths
    }

    /// Multiplicative depth of the whole network: the levels a ciphertext must have.
    public var multiplicativeDepth: Int { cumulativeDepths[output] }

    /// How many layers read each layer's output (the network output counts as one reader).
    public var consumerCounts: [Int] {
        var counts = [Int](repeating: 0, count: layers.count)
        for layer in layers { for i in layer.inputs { counts[i] += 1 } }
        counts[output] += 1
        return counts
    }

    /// Indices of the polynomial layers, in evaluation order.
    public var polynomialLayers: [Int] {
        layers.indices.filter { if case .polynomial = layers[$0].operation { return true } else { return false } }
    }
}
