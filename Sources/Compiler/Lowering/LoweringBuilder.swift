import Foundation

extension NetworkLowering {
    /// A tensor of the network as the lowering tracks it: the value it is computed in (0 the
    /// input, k + 1 the output of step k), the pending per-channel map still to apply, and what
    /// a join needs to know about how it was made.
    struct Value {
        var id: Int
        /// [C, H, W] of the computed tensor.
        var shape: [Int]
        var pending: Pending
        /// The image a flatten came from (the next dense layer reads that image).
        var flattenedFrom: [Int]?
        /// Convolutions on the path from the input, mod 2: which tile dimension holds the
        /// channels (every interleaved convolution moves them to the other one).
        var parity: Int
        /// Levels the path consumes at least (`LoweredOperation.minimumDepth`): the shallower
        /// operand of a join pays for what the join needs.
        var depth: Int
        /// The step (a convolution) that computed `id`, when nothing else reads its output:
        /// its output channels may be rescaled for free.
        var convolution: Int?
    }

    /// The steps being emitted, with the joins' matching rules.
    struct Builder {
        var steps: [LoweredStep] = []

        /// Appends a one-operand step reading `input`; the new value keeps the pending map.
        mutating func append(_ op: LoweredOperation, input: Value, outputShape: [Int], source: String) -> Value {
            steps.append(LoweredStep(operation: op, inputShape: input.shape, outputShape: outputShape, sources: [source], inputs: [input.id]))
            var v = input
            v.id = steps.count
            v.shape = outputShape
            v.flattenedFrom = nil
            v.convolution = nil
            v.depth += op.minimumDepth
            return v
        }

        /// A convolution reading `input` with its pending map absorbed: the weights take the
        /// scales, the γs join the bias (no padding: every tap reads the image) or are added
        /// before it (zero padding: the padded zeros must stay zeros).
        mutating func convolution(weights: [Double], shape: [Int], bias: [Double], stride: Int, padding: Int,
                                  input: Value, source: String) throws -> Value {
            let f = shape[0], c = shape[1], k = shape[2]
            let image = input.shape
            guard c == image[0] else {
                throw CompilerError.unsupported("layer '\(source)' reads \(c) channels but gets \(image[0])")
            }
            let oh = (image[1] + 2 * padding - k) / stride + 1, ow = (image[2] + 2 * padding - k) / stride + 1
            guard image[1] + 2 * padding >= k, oh >= 1, ow >= 1 else {
                throw CompilerError.unsupported("layer '\(source)': the kernel is larger than the padded image")
            }
            let pending = input.pending
            var w = weights, b = bias.isEmpty ? [Double](repeating: 0, count: f) : bias
            let taps = k * k
            var x = input
            if pending.gamma.contains(where: { $0 != 0 }) {
                if padding == 0 {
                    for fi in 0..<f {
                        for ci in 0..<c {
                            let sum = (0..<taps).reduce(0.0) { $0 + weights[(fi * c + ci) * taps + $1] }
                            b[fi] += sum * pending.scale[ci] * pending.gamma[ci]
                        }
                    }
                } else {
                    x = append(.addChannelConstants(gamma: pending.gamma), input: x, outputShape: image, source: source)
                }
            }
            for fi in 0..<f {
                for ci in 0..<c where pending.scale[ci] != 1 {
                    for t in 0..<taps { w[(fi * c + ci) * taps + t] *= pending.scale[ci] }
                }
            }
            var y = append(.convolution(filters: w, shape: shape, bias: b, stride: stride, padding: padding),
                           input: x, outputShape: [f, oh, ow], source: source)
            y.pending = Pending(channels: f)
            y.parity = 1 - x.parity
            y.convolution = steps.count - 1
            return y
        }

        /// A 1×1 identity convolution: moves the channels to the other tile dimension and
        /// absorbs the pending map (one level).
        mutating func identity(_ v: Value, source: String) throws -> Value {
            let c = v.shape[0]
            var filters = [Double](repeating: 0, count: c * c)
            for i in 0..<c { filters[i * c + i] = 1 }
            return try convolution(weights: filters, shape: [c, c, 1, 1], bias: [], stride: 1, padding: 0, input: v,
                                   source: "\(source) (channel move)")
        }

        /// Multiplies the output channels of the convolution that computed `v` by `r`:
        /// scale·(y + γ) = (scale/r)·(r·y + r·γ), so the pending map changes and the value does not.
        mutating func rescaleConvolution(of v: inout Value, by r: [Double]) {
            guard let k = v.convolution, case let .convolution(filters, shape, bias, stride, padding) = steps[k].operation else {
                preconditionFailure("not a convolution output")
            }
            let block = filters.count / shape[0]
            var w = filters, b = bias
            for f in 0..<shape[0] {
                for j in 0..<block { w[f * block + j] *= r[f] }
                b[f] *= r[f]
            }
            steps[k].operation = .convolution(filters: w, shape: shape, bias: b, stride: stride, padding: padding)
            for c in r.indices {
                v.pending.scale[c] /= r[c]
                v.pending.gamma[c] *= r[c]
            }
        }

        /// u + v: channels in one tile dimension, one pending scale per channel, then the sum.
        mutating func add(_ first: Value, _ second: Value, source: String, layer: String) throws -> Value {
            var u = first, v = second
            guard u.shape == v.shape, u.flattenedFrom == v.flattenedFrom, u.pending.scale.count == v.pending.scale.count else {
                throw CompilerError.unsupported("layer \(layer): an addition of \(u.shape) and \(v.shape) (after different reshapes); add tensors of one shape before flattening")
            }
            if u.parity != v.parity {
                if u.depth < v.depth { u = try identity(u, source: source) } else { v = try identity(v, source: source) }
            }
            if !Self.same(u.pending.scale, v.pending.scale) {
                if v.convolution != nil {
                    rescaleConvolution(of: &v, by: zip(v.pending.scale, u.pending.scale).map { $0 / $1 })
                } else if u.convolution != nil {
                    rescaleConvolution(of: &u, by: zip(u.pending.scale, v.pending.scale).map { $0 / $1 })
                } else if u.depth < v.depth {
                    u = scaled(u, to: v.pending.scale, source: source)
                } else {
                    v = scaled(v, to: u.pending.scale, source: source)
                }
            }
            steps.append(LoweredStep(operation: .add, inputShape: u.shape, outputShape: u.shape, sources: [source], inputs: [u.id, v.id]))
            return Value(id: steps.count, shape: u.shape,
                         pending: Pending(scale: u.pending.scale, gamma: zip(u.pending.gamma, v.pending.gamma).map { $0 + $1 }),
                         flattenedFrom: u.flattenedFrom, parity: u.parity, depth: max(u.depth, v.depth), convolution: nil)
        }

        /// The operands along the channels; each keeps its own pending map (they concatenate).
        mutating func concat(_ operands: [Value], source: String, layer: String) throws -> Value {
            guard operands.allSatisfy({ $0.flattenedFrom == nil && $0.shape.dropFirst() == operands[0].shape.dropFirst() }) else {
                throw CompilerError.unsupported("layer \(layer): a concatenation of \(operands.map(\.shape)) (after a flatten, or of different image sizes); concatenate images of one size")
            }
            let parity = operands.max { $0.depth < $1.depth }!.parity
            var parts: [Value] = []
            for v in operands { parts.append(v.parity == parity ? v : try identity(v, source: source)) }
            let channels = parts.reduce(0) { $0 + $1.shape[0] }
            let shape = [channels] + Array(parts[0].shape.dropFirst())
            steps.append(LoweredStep(operation: .concat, inputShape: parts[0].shape, outputShape: shape, sources: [source], inputs: parts.map(\.id)))
            return Value(id: steps.count, shape: shape,
                         pending: Pending(scale: parts.flatMap(\.pending.scale), gamma: parts.flatMap(\.pending.gamma)),
                         flattenedFrom: nil, parity: parity, depth: parts.map(\.depth).max()!, convolution: nil)
        }

        /// v multiplied per channel so that its pending scale becomes `target` (one level).
        mutating func scaled(_ v: Value, to target: [Double], source: String) -> Value {
            let r = zip(v.pending.scale, target).map { $0 / $1 }
            var y = append(.scaleChannels(factors: r), input: v, outputShape: v.shape, source: source)
            y.pending = Pending(scale: target, gamma: zip(v.pending.gamma, r).map { $0 * $1 })
            return y
        }

        static func same(_ a: [Double], _ b: [Double]) -> Bool {
            zip(a, b).allSatisfy { abs($0 - $1) <= 1e-12 * max(abs($0), abs($1)) }
        }
    }
}

extension LoweredOperation {
    /// Levels the operation consumes at least (one pixel per tile: no garbage to clear).
    public var minimumDepth: Int {
        switch self {
        case .convolution, .square, .shiftedProduct, .scaleChannels: return 1
        case .addChannelConstants, .windowSum, .add, .concat: return 0
        case let .polynomial(rows):
            var d = 0
            while (1 << d) < rows.count { d += 1 }
            return d
        }
    }
}

extension NetworkLowering.Result {
    /// Readers of each value (0 the input, k + 1 step k's output; the last counts the result).
    public var consumerCounts: [Int] {
        var counts = [Int](repeating: 0, count: steps.count + 1)
        for step in steps { for v in step.inputs { counts[v] += 1 } }
        counts[steps.count] += 1
        return counts
    }

    /// True when every step reads only the one before it.
    public var isChain: Bool { steps.indices.allSatisfy { steps[$0].inputs == [$0] } }

    /// The steps grouped at the points where a single value is live (the previous step's
    /// output): a chain's steps one by one, a residual block whole. Each group reads only the
    /// value its first step reads and what the group computes.
    public var blocks: [Range<Int>] {
        var lastUse = Array(0...steps.count)
        for (i, step) in steps.enumerated() { for v in step.inputs { lastUse[v] = max(lastUse[v], i) } }
        var result: [Range<Int>] = []
        var start = 0
        for i in steps.indices {
            // After step i, values 0 … i + 1 exist; a cut when only i + 1 is still to be read.
            let live = (0...i).filter { lastUse[$0] > i }
            if live.isEmpty {
                result.append(start..<(i + 1))
                start = i + 1
            }
        }
        if start < steps.count { result.append(start..<steps.count) }
        return result
    }

    /// Runs the lowered network in plain `Double` on one packed sample (what the first step
    /// reads), freeing each value after its last reader: the reference of the encrypted run.
    public func run(_ packedSample: [Double]) -> [Double] {
        var remaining = consumerCounts
        var values: [Int: [Double]] = [0: packedSample]
        for (i, step) in steps.enumerated() {
            values[i + 1] = step.apply(operands: step.inputs.map { values[$0]! })
            for v in step.inputs {
                remaining[v] -= 1
                if remaining[v] == 0 { values[v] = nil }
            }
        }
        return values[steps.count]!
    }
}
