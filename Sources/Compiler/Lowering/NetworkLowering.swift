import Foundation
import Model

/// Lowers an imported network to the chain of tile-tensor operations the optimizer lays out:
/// linear layers become convolutions, and every constant factor that can move forward into
/// the next linear layer does so (the quadratic's leading coefficient, the pooling's 1/k²,
/// a leftover per-channel affine), so that a·x² + b·x + c costs one level instead of two and
/// an average pooling costs none on one-pixel tiles.
///
/// What moves is kept as a pending per-channel map y_true = a_c·(y + γ_c) on the value y that
/// is actually computed. A convolution absorbs it exactly: its weights are multiplied by a_c,
/// and γ_c either joins its bias (no padding: every tap reads the image) or is added before it
/// (zero padding: the padded zeros must stay zeros). A polynomial absorbs it by substitution.
/// What is still pending after the last layer is applied by the client to the decrypted output.
public enum NetworkLowering {
    /// The lowered chain and the per-output-channel map the client applies after decryption
    /// (identity unless the network ends in a pooling or an affine layer).
    public struct Result: Equatable, Sendable {
        public var steps: [LoweredStep]
        /// [C, H, W] of what the first step reads: the sample, or its packing.
        public var inputShape: [Int]
        /// The client-side packing of a strided first convolution (nil: samples go in as they are).
        public var packing: SpaceToDepth?
        /// [C, H, W] of one output sample before the client's map.
        public var outputShape: [Int]
        public var outputScale: [Double]
        public var outputShift: [Double]

        /// [C, H, W] of one sample as the user gives it.
        public var sampleShape: [Int] { packing?.sampleShape ?? inputShape }

        /// What the first step reads for one sample of C·H·W values.
        public func packed(_ sample: [Double]) -> [Double] { packing?.apply(sample) ?? sample }
    }

    /// Lowers `graph`, a directed acyclic graph of layers (one sample is C×H×W or a vector):
    /// chains, residual additions (`Add`, and `Sub`, which the importer makes an addition of a
    /// negated operand) and channel concatenations. Layers the output does not depend on are
    /// left out.
    ///
    /// At a join the operands' pending maps must agree: an `Add` needs one scale per channel on
    /// both sides (the γs add), which the lowering arranges by rescaling the output channels of
    /// the convolution that produced one operand (exact, free) or, when neither operand comes
    /// straight from a convolution nobody else reads, by a per-channel product on the shallower
    /// one (`scaleChannels`, one level). Both operands must also hold their channels in the same
    /// tile dimension, which alternates with every convolution (`InterleavedTiling`): when
    /// the numbers of convolutions on the two paths differ in parity, the shallower operand gets
    /// a 1×1 identity convolution (which absorbs its pending map, and the scale ratio with it).
    /// - Parameter packStridedInput: a first convolution with stride > 1 that alone reads the
    ///   input reads its space-to-depth packing (`SpaceToDepth`) as a stride-1 convolution.
    /// - Throws: `CompilerError.unsupported` naming the layer the encrypted kernels cannot run.
    public static func lower(_ graph: Graph, packStridedInput: Bool = true) throws -> Result {
        try graph.validate()
        let layers = graph.layers
        var readers = [[Int]](repeating: [], count: layers.count)
        for (i, layer) in layers.enumerated() { for j in Set(layer.inputs) { readers[j].append(i) } }
        let consumers = graph.consumerCounts
        var needed = [Bool](repeating: false, count: layers.count)
        needed[graph.output] = true
        for i in layers.indices.reversed() where needed[i] { for j in layers[i].inputs { needed[j] = true } }

        var builder = Builder()
        var inputShape = imageShape(graph.inputShape)
        var packing: SpaceToDepth?
        var values = [Value?](repeating: nil, count: layers.count)
        values[0] = Value(id: 0, shape: inputShape, pending: Pending(channels: inputShape[0]), flattenedFrom: nil,
                          parity: 0, depth: 0, convolution: nil)
        for index in 1..<layers.count where needed[index] {
            let layer = layers[index]
            let name = "\(index) '\(layer.name)'"
            // The operand values, each usable as an exclusive convolution output only when its
            // layer has no other reader.
            let operands: [Value] = layer.inputs.map { j in
                var v = values[j]!
                if consumers[j] > 1 { v.convolution = nil }
                return v
            }
            var x = operands.first!
            var shape = x.shape
            switch layer.operation {
            case .input:
                throw CompilerError.unsupported("a second input layer at \(index)")
            case let .conv2d(conv):
                guard conv.kernelH == conv.kernelW, conv.strideH == conv.strideW,
                      conv.padding.top == conv.padding.left, conv.padding.top == conv.padding.bottom,
                      conv.padding.top == conv.padding.right, shape[1] == shape[2] else {
                    throw CompilerError.unsupported("layer \(name): the encrypted convolution needs a square image, a square kernel, equal strides and the same padding on every side")
                }
                var weights = (values: conv.weights.values, shape: conv.weights.shape)
                var stride = conv.strideH, padding = conv.padding.top
                if packStridedInput, layer.inputs == [0], consumers[0] == 1, stride > 1, conv.kernelH <= shape[1] + 2 * padding {
                    let pack = SpaceToDepth(kernel: conv.kernelH, stride: stride, padding: padding, sampleShape: shape)
                    weights = pack.filters(weights.values, shape: weights.shape)
                    (stride, padding, shape, inputShape, packing) = (1, 0, pack.packedShape, pack.packedShape, pack)
                    x.shape = shape
                    x.pending = Pending(channels: shape[0])
                }
                x = try builder.convolution(weights: weights.values, shape: weights.shape, bias: conv.bias,
                                            stride: stride, padding: padding, input: x, source: layer.name)
            case let .dense(dense):
                let f = dense.outFeatures
                let imageShape = x.flattenedFrom ?? shape
                guard imageShape[0] * imageShape[1] * imageShape[2] == dense.inFeatures else {
                    throw CompilerError.unsupported("layer \(name): \(dense.inFeatures) inputs, but the tensor before it has \(imageShape)")
                }
                guard imageShape[1] == imageShape[2] else {
                    throw CompilerError.unsupported("layer \(name): a dense layer after a non-square \(imageShape[1])×\(imageShape[2]) image")
                }
                let k = imageShape[1]
                x.shape = imageShape
                // Row-major [F, C·H·W] is [F, C, H, W]: the convolution covering the whole image.
                x = try builder.convolution(weights: dense.weights.values, shape: [f, imageShape[0], k, k], bias: dense.bias,
                                            stride: 1, padding: 0, input: x, source: layer.name)
            case let .polynomial(raw):
                let activation = PolynomialActivation(coefficients: try raw.coefficients.map {
                    try perChannel($0, image: shape, layer: name)
                })
                let coefficients = x.pending.substitute(into: activation, channels: shape[0])
                let lowered = polynomial(coefficients, channels: shape[0], foldForward: foldsForward(index, layers: layers, readers: readers))
                x.pending = Pending(channels: shape[0])
                for op in lowered.operations {
                    x = builder.append(op, input: x, outputShape: shape, source: layer.name)
                }
                if let fold = lowered.pending { x.pending = fold }
            case let .averagePool(pool):
                guard pool.kernelH == pool.kernelW, pool.strideH == pool.strideW, pool.padding.isZero, shape[1] == shape[2] else {
                    throw CompilerError.unsupported("layer \(name): the encrypted average pooling needs a square window, equal strides, no padding and a square image")
                }
                let k = pool.kernelH, s = pool.strideH
                let out = [shape[0], (shape[1] - k) / s + 1, (shape[2] - k) / s + 1]
                x = builder.append(.windowSum(window: k, stride: s), input: x, outputShape: out, source: layer.name)
                x.pending.poolThrough(window: k)
            case .globalAveragePool:
                guard shape[1] == shape[2] else {
                    throw CompilerError.unsupported("layer \(name): global average pooling of a non-square image")
                }
                let k = shape[1]
                if k > 1 {
                    x = builder.append(.windowSum(window: k, stride: k), input: x, outputShape: [shape[0], 1, 1], source: layer.name)
                    x.pending.poolThrough(window: k)
                }
                x.shape = [shape[0], 1, 1]
            case let .affine(raw):
                let affine = ChannelAffine(scale: try perChannel(raw.scale, image: shape, layer: name),
                                           shift: try perChannel(raw.shift, image: shape, layer: name))
                try x.pending.compose(affine, channels: shape[0], layer: name)
            case .flatten, .reshape:
                // A flatten only renames: the next dense layer reads the image it came from.
                if x.flattenedFrom == nil, shape[1] * shape[2] > 1 { x.flattenedFrom = shape }
                let target = imageShape(layer.shape)
                if target[1] * target[2] == 1 {
                    // To a vector: the elements keep their row-major order.
                    guard target[0] == shape.reduce(1, *) else {
                        throw CompilerError.unsupported("layer \(name): a reshape that changes the element count")
                    }
                } else if target != shape {
                    throw CompilerError.unsupported("layer \(name): a reshape to \(layer.shape) that moves elements")
                }
            case .zeroPad:
                throw CompilerError.unsupported("layer \(name): a zero padding that is not part of a convolution")
            case .add:
                x = try builder.add(operands[0], operands[1], source: layer.name, layer: name)
            case .concat:
                x = try builder.concat(operands, source: layer.name, layer: name)
            }
            values[index] = x
        }
        guard let result = values[graph.output] else { throw CompilerError.unsupported("the output layer is not computed") }
        let steps = builder.steps
        guard steps.contains(where: { if case .convolution = $0.operation { return true } else { return false } }) else {
            throw CompilerError.unsupported("the network has no linear layer")
        }
        guard result.id == steps.count else {
            throw CompilerError.unsupported("the output '\(layers[graph.output].name)' is not the last value the network computes")
        }
        let scale = result.pending.scale, shift = zip(result.pending.scale, result.pending.gamma).map { $0 * $1 }
        return Result(steps: steps, inputShape: inputShape, packing: packing, outputShape: steps.last!.outputShape,
                      outputScale: scale, outputShift: shift)
    }

    /// Whether an activation's leading coefficient may move forward: every path from its output
    /// reaches a linear layer or a join through layers a pending map passes (pooling, affine,
    /// flatten); a join matches or materializes what arrives.
    static func foldsForward(_ index: Int, layers: [Layer], readers: [[Int]]) -> Bool {
        guard !readers[index].isEmpty else { return false }
        return readers[index].allSatisfy { r in
            switch layers[r].operation {
            case .conv2d, .dense, .add, .concat: return true
            case .averagePool, .globalAveragePool, .flatten, .reshape, .affine: return foldsForward(r, layers: layers, readers: readers)
            default: return false
            }
        }
    }

    /// [C, H, W] for a sample shape (a vector of N is [N, 1, 1]).
    static func imageShape(_ shape: [Int]) -> [Int] {
        switch shape.count {
        case 1: return [shape[0], 1, 1]
        case 2: return [1, shape[0], shape[1]]
        default: return Array(shape.suffix(3))
        }
    }

    /// Per-channel values of an elementwise layer on an image [C, H, W]: one shared value, one
    /// per channel, or (after a flatten) one per feature that is the same across each channel's
    /// H·W features. Features that differ inside a channel cannot be packed per channel.
    static func perChannel(_ values: [Double], image: [Int], layer: String) throws -> [Double] {
        let c = image[0], hw = image[1] * image[2]
        if values.count == 1 || values.count == c { return values }
        guard values.count == c * hw else {
            throw CompilerError.unsupported("layer \(layer): \(values.count) coefficients for a tensor of \(image)")
        }
        let reduced = (0..<c).map { values[$0 * hw] }
        guard (0..<(c * hw)).allSatisfy({ values[$0] == reduced[$0 / hw] }) else {
            throw CompilerError.unsupported("layer \(layer): per-feature coefficients after a flatten that differ within a channel (\(image)); apply the activation before flattening")
        }
        return reduced
    }

    /// The operations of a polynomial with per-channel coefficient rows, and what moves forward.
    private static func polynomial(_ rows: [[Double]], channels: Int, foldForward: Bool) -> (operations: [LoweredOperation], pending: Pending?) {
        func value(_ k: Int, _ ch: Int) -> Double { k < rows.count ? (rows[k].count == 1 ? rows[k][0] : rows[k][ch]) : 0 }
        let degree = rows.count - 1
        let a = (0..<channels).map { value(2, $0) }, b = (0..<channels).map { value(1, $0) }, c = (0..<channels).map { value(0, $0) }
        if degree == 2, foldForward, a.allSatisfy({ $0 != 0 && $0.isFinite }) {
            let beta = zip(b, a).map { $0 / $1 }, gamma = zip(c, a).map { $0 / $1 }
            let op: LoweredOperation = beta.allSatisfy({ $0 == 0 }) ? .square : .shiftedProduct(beta: beta)
            return ([op], Pending(scale: a, gamma: gamma))
        }
        if degree <= 1, foldForward, b.allSatisfy({ $0 != 0 && $0.isFinite }) {
            return ([], Pending(scale: b, gamma: zip(c, b).map { $0 / $1 }))
        }
        let compact = rows.map { row in row.allSatisfy({ $0 == row[0] }) ? [row[0]] : row }
        if compact == [[0], [0], [1]] { return ([.square], nil) }
        return ([.polynomial(coefficients: compact)], nil)
    }
}

/// The per-channel map y_true = scale_c·(y + γ_c) not yet applied to the computed value y.
struct Pending: Equatable {
    var scale: [Double]
    var gamma: [Double]

    init(channels: Int) {
        scale = [Double](repeating: 1, count: channels)
        gamma = [Double](repeating: 0, count: channels)
    }

    init(scale: [Double], gamma: [Double]) {
        self.scale = scale
        self.gamma = gamma
    }

    /// A k×k window sum of scale·(y + γ) is (scale/k²)·(Σy + k²·γ).
    mutating func poolThrough(window k: Int) {
        let k2 = Double(k * k)
        scale = scale.map { $0 / k2 }
        gamma = gamma.map { $0 * k2 }
    }

    /// s·(scale·(y + γ)) + t = (s·scale)·(y + γ + t/(s·scale)).
    mutating func compose(_ affine: ChannelAffine, channels: Int, layer: String) throws {
        for ch in 0..<channels {
            let s = affine.scale(ch) * scale[ch]
            guard s != 0, s.isFinite else {
                throw CompilerError.unsupported("layer \(layer): a per-channel scaling by zero cannot be folded")
            }
            gamma[ch] += affine.shift(ch) / s
            scale[ch] = s
        }
    }

    /// The coefficients of p(scale·(x + γ)) per channel (binomial expansion), rows by power.
    func substitute(into p: PolynomialActivation, channels: Int) -> [[Double]] {
        let identity = scale.allSatisfy { $0 == 1 } && gamma.allSatisfy { $0 == 0 }
        if identity { return (0...p.degree).map { k in (0..<channels).map { p.coefficient(k, channel: $0) } } }
        var rows = [[Double]](repeating: [Double](repeating: 0, count: channels), count: p.degree + 1)
        for ch in 0..<channels {
            let s = scale[ch], g = gamma[ch]
            // p(s·x + s·g) = Σ_k c_k Σ_j C(k, j) s^k x^j g^(k−j).
            for k in 0...p.degree {
                let ck = p.coefficient(k, channel: ch)
                guard ck != 0 else { continue }
                var binomial = 1.0
                for j in 0...k {
                    rows[j][ch] += ck * binomial * pow(s, Double(k)) * pow(g, Double(k - j))
                    binomial = binomial * Double(k - j) / Double(j + 1)
                }
            }
        }
        return rows
    }
}
