import TileTensors

/// Runs a lowered chain on tile tensors: the same code on the CKKS backend (the server's
/// evaluation), on the mock backend (the optimizer's counts and the tests' exact reference),
/// and for packing the client's input and unpacking its output.
public enum ChainExecution {
    /// The logical input tensor [C, 1, H, W, B] of a batch of samples (each C·H·W row-major).
    public static func inputTensor(_ samples: [[Double]], shape: [Int]) throws -> TileTensors.Tensor {
        let c = shape[0], h = shape[1], w = shape[2], b = samples.count
        var t = try TileTensors.Tensor(zeros: [c, 1, h, w, b])
        for (i, sample) in samples.enumerated() {
            guard sample.count == c * h * w else {
                throw CompilerError.mismatch("sample \(i) has \(sample.count) values, the plan reads \(c)×\(h)×\(w)")
            }
            for ci in 0..<c { for y in 0..<h { for x in 0..<w {
                t.values[(((ci * h + y) * w + x) * b) + i] = sample[(ci * h + y) * w + x]
            } } }
        }
        return t
    }

    /// Per sample, the C′·H′·W′ values of an output tensor in a chain layout (logical
    /// [1, C′, H′, W′, B] or [C′, 1, H′, W′, B]).
    public static func outputSamples(_ tensor: TileTensors.Tensor, channelDimension d: Int) -> [[Double]] {
        let s = tensor.shape
        let c = s[d], h = s[2], w = s[3], b = s[4]
        return (0..<b).map { i in
            var out = [Double](repeating: 0, count: c * h * w)
            for ci in 0..<c { for y in 0..<h { for x in 0..<w {
                var index = [0, 0, y, x, i]
                index[d] = ci
                out[(ci * h + y) * w + x] = tensor[index]
            } } }
            return out
        }
    }

    /// The same layout with `tiling`'s tile sizes: replicated, interleaved and plain dimensions
    /// stay what they are; garbage is not carried over (the conversion's masks clear it).
    public static func retiled(_ shape: TileShape, to tiling: InterleavedTiling) throws -> TileShape {
        try TileShape(zip(shape.dimensions, tiling.sizes).map { dim, t in
            dim.isReplicated ? try .replicated(tile: t) : try TileDimension(size: dim.size, tileSize: t, interleaved: dim.isInterleaved)
        })
    }

    /// The tensor in `tiling` (converted with masked rotations when its tile sizes differ).
    public static func retile<B: TensorBackend>(_ x: TileTensor<B>, to tiling: InterleavedTiling) throws -> TileTensor<B> {
        guard x.shape.tileSizes != tiling.sizes else { return x }
        return try x.converted(to: retiled(x.shape, to: tiling))
    }

    /// One step on a tensor in a chain layout. Consuming: an elementwise step releases each
    /// input tile once used when the caller hands `x` over (its last reference).
    public static func apply<B: TensorBackend>(_ step: LoweredStep, to x: consuming TileTensor<B>) throws -> TileTensor<B> {
        switch step.operation {
        case let .convolution(filters, shape, bias, stride, padding):
            let w = try TileTensors.Tensor(shape: shape, values: filters)
            let hasBias = bias.contains { $0 != 0 }
            return try (consume x).conv2dInterleaved(filters: w, bias: hasBias ? bias : nil, stride: stride, padding: padding)
        case .square:
            return try (consume x).squared()
        case let .shiftedProduct(beta):
            let (t, s) = try channelConstants(beta, for: x.shape)
            return try (consume x).multipliedByShifted(t, coefficientShape: s)
        case let .addChannelConstants(gamma):
            let (t, s) = try channelConstants(gamma, for: x.shape)
            return try (consume x).adding(plain: t, shape: s)
        case let .polynomial(rows):
            if rows.allSatisfy({ $0.count == 1 }) { return try x.polynomial(coefficients: rows.map { $0[0] }) }
            let channels = step.inputShape[0]
            let tensors = try rows.map { row in try channelConstants(row.count == 1 ? Array(repeating: row[0], count: channels) : row, for: x.shape) }
            return try x.polynomial(coefficients: tensors.map(\.0), coefficientShape: tensors[0].1)
        case let .windowSum(k, s):
            return try x.averagePooled(window: k, stride: s, dimensions: 2, 3, divide: false)
        case let .scaleChannels(factors):
            let (t, s) = try channelConstants(factors, for: x.shape)
            return try x.multiplied(byPlain: t, shape: s)
        case .add, .concat:
            return try apply(step, operands: [x])
        }
    }

    /// One step on its operands (each in the step's tiling): a join aligns levels and scales
    /// first (`TileTensor.aligned`). Consuming, as `apply(_:to:)`.
    public static func apply<B: TensorBackend>(_ step: LoweredStep, operands: consuming [TileTensor<B>]) throws -> TileTensor<B> {
        switch step.operation {
        case .add:
            guard operands.count == 2 else { throw CompilerError.invalidFile("an addition reads \(operands.count) operands") }
            return try TileTensor.sum(operands)
        case .concat:
            guard operands.count >= 2 else { throw CompilerError.invalidFile("a concatenation reads \(operands.count) operand") }
            return try TileTensor.concatenated(operands, along: InterleavedTiling.channelDimension(of: operands[0].shape))
        default:
            guard operands.count == 1 else { throw CompilerError.invalidFile("a one-operand step reads \(operands.count) operands") }
            let x = operands.removeLast()
            _ = consume operands
            return try apply(step, to: consume x)
        }
    }

    /// What a graph run reports after each step.
    public struct StepTrace<B: TensorBackend> {
        /// The step's index in the network.
        public var index: Int
        /// Its operands' layouts, in its tiling (the operands themselves may be released by the
        /// step: an elementwise step frees each input tile once used).
        public var operandShapes: [TileShape]
        /// Its operands' levels.
        public var operandLevels: [Int]
        /// Whether an operand was converted into the step's tiling.
        public var converted: Bool
        public var output: TileTensor<B>
        /// Bytes of every value alive once the step has run (its output included).
        public var liveBytes: Int
        /// Whether the step ran inside a chunked segment (`run`'s `chunks`) that ends at a later
        /// step: its output was made chunk by chunk and consumed, never whole; `output` is then
        /// the segment's (the later step's) output.
        public var fused: Bool = false
    }

    /// Runs `steps` (the network's steps `first` … `first + steps.count − 1`) from `input`, the
    /// value the first of them reads (the network input when `first` is 0), each in its tiling,
    /// and returns the last step's output. Every value, the input included (pass it with
    /// `consume`), is released after its last reader; an elementwise step frees its input tile
    /// by tile.
    /// - Parameters:
    ///   - willRun: called with a step's index before it runs (progress, counters).
    ///   - didRun: called after it, with the operands' layouts and levels, the output and the live bytes.
    ///   - chunks: per step, how many chunks a convolution that starts a chunked segment is made
    ///     in (`ChunkedSegment`; 0 or 1: whole). Empty: every step whole.
    public static func run<B: TensorBackend>(_ steps: [LoweredStep], first: Int = 0, input: consuming TileTensor<B>,
                                             tilings: [InterleavedTiling], chunks: [Int] = [],
                                             willRun: (Int) throws -> Void = { _ in },
                                             didRun: (StepTrace<B>) throws -> Void = { _ in }) throws -> TileTensor<B> {
        precondition(tilings.count == steps.count && !steps.isEmpty, "one tiling per step")
        guard chunks.isEmpty || chunks.count == steps.count else {
            throw CompilerError.invalidFile("\(chunks.count) chunk counts for \(steps.count) steps")
        }
        var lastUse: [Int: Int] = [:]
        for (k, step) in steps.enumerated() { for v in step.inputs { lastUse[v] = max(lastUse[v] ?? 0, first + k) } }
        // The input is handed over (consuming): released after its last reader like every value.
        var liveBytes = input.memory
        var values: [Int: TileTensor<B>] = [first: consume input]
        var k = 0
        while k < steps.count {
            let step = steps[k]
            let i = first + k
            try willRun(i)
            if k < chunks.count, chunks[k] > 1 {
                let segment = try ChunkedSegment(steps, first: first, start: k, chunks: chunks[k], tilings: tilings, lastUse: lastUse)
                let v = step.inputs[0]
                guard let source = values[v] else {
                    throw CompilerError.invalidFile("step \(i) reads value \(v), which is not computed before it")
                }
                let x = try retile(source, to: tilings[k])
                let converted = source.shape.tileSizes != x.shape.tileSizes
                let shape = x.shape, level = x.level
                if lastUse[v] == i {
                    liveBytes -= source.memory
                    values[v] = nil
                }
                _ = consume source
                let y = try segment.run(consume x)
                let end = first + segment.end
                values[end + 1] = y
                liveBytes += y.memory
                try didRun(StepTrace(index: i, operandShapes: [shape], operandLevels: [level], converted: converted, output: y,
                                     liveBytes: liveBytes, fused: true))
                for j in (i + 1)...end {
                    try willRun(j)
                    try didRun(StepTrace(index: j, operandShapes: [], operandLevels: [], converted: false, output: y,
                                         liveBytes: liveBytes, fused: j < end))
                }
                k = segment.end + 1
                continue
            }
            let operands = try step.inputs.map { v -> TileTensor<B> in
                guard let x = values[v] else {
                    throw CompilerError.invalidFile("step \(i) reads value \(v), which is not computed before it")
                }
                return try retile(x, to: tilings[k])
            }
            let converted = zip(step.inputs, operands).contains { values[$0.0]!.shape.tileSizes != $0.1.shape.tileSizes }
            let shapes = operands.map(\.shape), levels = operands.map(\.level)
            // Values read for the last time are handed over to the step (an elementwise step
            // releases each tile once used), not kept until it returns.
            for v in Set(step.inputs) where lastUse[v] == i {
                liveBytes -= values[v]!.memory
                values[v] = nil
            }
            let y = try apply(step, operands: consume operands)
            values[i + 1] = y
            liveBytes += y.memory
            try didRun(StepTrace(index: i, operandShapes: shapes, operandLevels: levels, converted: converted, output: y, liveBytes: liveBytes))
            k += 1
        }
        return values[first + steps.count]!
    }

    /// One value per channel as a tensor and its broadcast layout for `shape`.
    static func channelConstants(_ values: [Double], for shape: TileShape) throws -> (TileTensors.Tensor, TileShape) {
        let d = InterleavedTiling.channelDimension(of: shape)
        var logical = [1, 1, 1, 1, 1]
        logical[d] = values.count
        return (try TileTensors.Tensor(shape: logical, values: values),
                try InterleavedTiling.channelCoefficientShape(for: shape, channels: values.count))
    }
}
