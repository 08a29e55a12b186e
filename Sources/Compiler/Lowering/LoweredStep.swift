/// One operation of a network lowered to what the tile-tensor kernels compute on an image
/// tensor [C, H, W] (per sample): every linear layer is a convolution (a dense layer after a
/// flatten is the convolution whose kernel covers the whole image; a dense layer on a vector is
/// a 1×1 convolution), activations are elementwise, and constant factors that can move into a
/// neighbouring linear layer have been moved there (the quadratic's a, the pooling's 1/k²).
public enum LoweredOperation: Equatable, Sendable {
    /// Convolution with filters [F, C, K, K] (row-major `filters`), zero padding and stride.
    case convolution(filters: [Double], shape: [Int], bias: [Double], stride: Int, padding: Int)
    /// x² elementwise.
    case square
    /// x ⊙ (x + β_c) with one β per channel: a·x² + b·x + c with a folded forward (β = b/a).
    case shiftedProduct(beta: [Double])
    /// x + γ_c per channel: the c/a of a folded quadratic when the next layer pads with zeros
    /// (so it cannot become part of that layer's bias).
    case addChannelConstants(gamma: [Double])
    /// Σ_k coefficients[k][c]·x^k (rows of one value are shared by all channels), at the
    /// minimal depth ⌈log2(degree + 1)⌉ (the tile-tensor layer's BSGS tree).
    case polynomial(coefficients: [[Double]])
    /// Window sums (k×k, stride s, no padding); the 1/k² is folded into the next linear layer.
    case windowSum(window: Int, stride: Int)
    /// x ⊙ f_c: one factor per channel (a plaintext product, one level). What a join inserts when
    /// its operands carry different folded scales and no convolution can absorb the ratio.
    case scaleChannels(factors: [Double])
    /// The elementwise sum of two tensors of one shape from different branches (a residual
    /// connection); levels and scales are matched first (`TileTensor.aligned`).
    case add
    /// The operands one after the other along the channels (DenseNet, Inception).
    case concat

    /// Short name for reports (the structure's).
    public var kind: String { structure.description }
}

/// A lowered operation with the image shape it reads and writes, and the source layers it
/// stands for (for reports).
public struct LoweredStep: Equatable, Sendable {
    public var operation: LoweredOperation
    /// [C, H, W] read.
    public var inputShape: [Int]
    /// [C, H, W] written.
    public var outputShape: [Int]
    /// Names of the network layers this step computes.
    public var sources: [String]
    /// The values the step reads, in operand order: 0 is the network's (packed) input, k + 1 the
    /// output of step k. A chain's step i reads [i]; a join reads two or more earlier values.
    public var inputs: [Int]

    public init(operation: LoweredOperation, inputShape: [Int], outputShape: [Int], sources: [String], inputs: [Int]) {
        self.operation = operation
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.sources = sources
        self.inputs = inputs
    }

    /// The number of weight values the step holds (filters, biases, per-channel values,
    /// polynomial coefficients).
    public var weightCount: Int {
        switch operation {
        case let .convolution(filters, _, bias, _, _): return filters.count + bias.count
        case let .shiftedProduct(values), let .addChannelConstants(values), let .scaleChannels(values): return values.count
        case let .polynomial(coefficients): return coefficients.reduce(0) { $0 + $1.count }
        case .square, .windowSum, .add, .concat: return 0
        }
    }

    /// The operands a step of this operation reads (nil: two or more).
    public var arity: Int? {
        switch operation {
        case .add: return 2
        case .concat: return nil
        default: return 1
        }
    }

    /// Runs the step in plain `Double` on its operands (one sample each, row-major).
    public func apply(operands: [[Double]]) -> [Double] {
        switch operation {
        case .add: return zip(operands[0], operands[1]).map { $0 + $1 }
        case .concat: return operands.flatMap { $0 }
        default: return apply(operands[0])
        }
    }

    /// Runs the step in plain `Double` on one sample [C, H, W] (row-major): the reference the
    /// lowering is tested against and what the optimizer's magnitude bounds come from.
    public func apply(_ x: [Double]) -> [Double] {
        let c = inputShape[0], h = inputShape[1], w = inputShape[2]
        switch operation {
        case let .convolution(filters, shape, bias, s, p):
            let f = shape[0], k = shape[2]
            let oh = outputShape[1], ow = outputShape[2]
            var out = [Double](repeating: 0, count: f * oh * ow)
            for fi in 0..<f {
                for y in 0..<oh {
                    for xx in 0..<ow {
                        var acc = bias[fi]
                        for ci in 0..<c {
                            for dy in 0..<k {
                                let iy = y * s + dy - p
                                guard iy >= 0, iy < h else { continue }
                                for dx in 0..<k {
                                    let ix = xx * s + dx - p
                                    guard ix >= 0, ix < w else { continue }
                                    acc += filters[((fi * c + ci) * k + dy) * k + dx] * x[(ci * h + iy) * w + ix]
                                }
                            }
                        }
                        out[(fi * oh + y) * ow + xx] = acc
                    }
                }
            }
            return out
        case .square:
            return x.map { $0 * $0 }
        case let .shiftedProduct(beta):
            return x.indices.map { i in x[i] * (x[i] + beta[i / (h * w)]) }
        case let .addChannelConstants(gamma):
            return x.indices.map { i in x[i] + gamma[i / (h * w)] }
        case let .polynomial(coefficients):
            return x.indices.map { i in
                let ch = i / (h * w)
                var acc = 0.0
                for row in coefficients.reversed() { acc = acc * x[i] + (row.count == 1 ? row[0] : row[ch]) }
                return acc
            }
        case let .scaleChannels(factors):
            return x.indices.map { i in x[i] * factors[i / (h * w)] }
        case .add, .concat:
            preconditionFailure("a join reads several operands: apply(operands:)")
        case let .windowSum(k, s):
            let oh = outputShape[1], ow = outputShape[2]
            var out = [Double](repeating: 0, count: c * oh * ow)
            for ci in 0..<c {
                for y in 0..<oh {
                    for xx in 0..<ow {
                        var acc = 0.0
                        for dy in 0..<k { for dx in 0..<k { acc += x[(ci * h + y * s + dy) * w + xx * s + dx] } }
                        out[(ci * oh + y) * ow + xx] = acc
                    }
                }
            }
            return out
        }
    }
}
