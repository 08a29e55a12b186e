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
    /// The budget of the file's `he_tool.budgets` the importer applied (`ModelBudgets`), or nil
    /// when the file has none.
    public var budget: String?

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
        case .input, .flatten, .reshape, .zeroPad, .add, .concat: return 0
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

    /// The depth once the compiler's folding is done: affines (BatchNorm) and pooling's 1/k go
    /// into a neighbouring linear layer, and a polynomial's leading coefficient into the next one
    /// (a quadratic becomes x⊙(x + β): one level, a degree-d one ⌈log2 d⌉). The training
    /// toolkit reports this figure; a compiled plan adds the levels its layouts spend (masks,
    /// channel moves), which `compile` prints.
    public var foldedMultiplicativeDepth: Int {
        var depths = [Int](repeating: 0, count: layers.count)
        for (i, layer) in layers.enumerated() {
            let before = layer.inputs.map { depths[$0] }.max() ?? 0
            var own = 0
            switch layer.operation {
            case .conv2d, .dense: own = 1
            case let .polynomial(p):
                var levels = 0
                while (1 << levels) < p.degree { levels += 1 }
                own = max(levels, 1)
            default: own = 0
            }
            depths[i] = before + own
        }
        return depths[output]
    }

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

extension Graph {
    /// Checks what the executor relies on: layer 0 is the only input, every layer reads earlier
    /// layers in the number its operation takes, the output exists, and weights fit the shapes.
    /// Graphs from the importer always pass; a hand-built graph may not.
    public func validate() throws {
        func fail(_ why: String) -> ModelError { .invalidArgument("malformed graph: \(why)") }
        guard let first = layers.first, first.operation == .input, first.inputs.isEmpty else { throw fail("layer 0 must be the input") }
        guard layers.indices.contains(output) else { throw fail("output \(output) is not a layer") }
        for (i, layer) in layers.enumerated() where i > 0 {
            let arity: Int
            switch layer.operation {
            case .input: throw fail("layer \(i) is a second input")
            case .add: arity = 2
            case .concat: arity = max(2, layer.inputs.count)
            default: arity = 1
            }
            guard layer.inputs.count == arity, layer.inputs.allSatisfy({ $0 >= 0 && $0 < i }) else {
                throw fail("layer \(i) ('\(layer.name)') must read \(arity) earlier layer(s), reads \(layer.inputs)")
            }
            let inShape = layers[layer.inputs[0]].shape
            let ok: Bool
            switch layer.operation {
            case let .conv2d(c):
                ok = c.weights.shape.count == 4 && inShape.count == 3 && c.inChannels == inShape[0] && c.bias.count == c.outChannels
                    && layer.shape.count == 3 && layer.shape[0] == c.outChannels && c.strideH > 0 && c.strideW > 0
                    && layer.shape[1] == (inShape[1] + c.padding.top + c.padding.bottom - c.kernelH) / c.strideH + 1
                    && layer.shape[2] == (inShape[2] + c.padding.left + c.padding.right - c.kernelW) / c.strideW + 1
            case let .dense(d):
                ok = d.weights.shape.count == 2 && inShape == [d.inFeatures] && layer.shape == [d.outFeatures] && d.bias.count == d.outFeatures
            case let .affine(a):
                ok = inShape == layer.shape && [1, inShape.first ?? 1].contains(a.scale.count) && [1, inShape.first ?? 1].contains(a.shift.count)
            case let .polynomial(p):
                ok = inShape == layer.shape && p.coefficients.allSatisfy { [1, inShape.first ?? 1].contains($0.count) }
            case let .averagePool(p):
                ok = inShape.count == 3 && layer.shape.count == 3 && layer.shape[0] == inShape[0] && p.strideH > 0 && p.strideW > 0
                    && layer.shape[1] == (inShape[1] + p.padding.top + p.padding.bottom - p.kernelH) / p.strideH + 1
                    && layer.shape[2] == (inShape[2] + p.padding.left + p.padding.right - p.kernelW) / p.strideW + 1
            case .globalAveragePool: ok = inShape.count == 3 && layer.shape == [inShape[0], 1, 1]
            case .flatten, .reshape: ok = inShape.reduce(1, *) == layer.shape.reduce(1, *)
            case let .zeroPad(p):
                ok = inShape.count == 3 && layer.shape == [inShape[0], inShape[1] + p.top + p.bottom, inShape[2] + p.left + p.right]
            case .add: ok = inShape == layer.shape && layers[layer.inputs[1]].shape == layer.shape
            case .concat:
                let parts = layer.inputs.map { layers[$0].shape }
                ok = !layer.shape.isEmpty && parts.allSatisfy { $0.count == layer.shape.count && $0.dropFirst() == layer.shape.dropFirst() }
                    && parts.reduce(0) { $0 + $1[0] } == layer.shape[0]
            case .input: ok = false
            }
            guard ok else { throw fail("layer \(i) ('\(layer.name)', \(layer.operation.kind)) does not fit its input of shape \(formatShape(inShape)) and output \(formatShape(layer.shape))") }
        }
    }
}
