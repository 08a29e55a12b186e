import TileTensors

/// A convolution, the per-channel elementwise steps after it, and the convolution that reads
/// them, run a chunk of the first convolution's output channels at a time: each chunk is
/// convolved, goes through the elementwise steps, and is convolved by its columns of the second
/// layer's filters into open sums (`ConvolutionSums`), which are added across chunks and finished
/// (rescaled, channel positions summed, bias) once. So the first layer's output never exists
/// whole: the segment holds its input, one chunk and the second layer's sums.
///
/// Why: in a batch plan the first convolution's output is the largest value (the batch-8192
/// MNIST plan: 3,136 ciphertexts, 5.5 GB, beside its 1.6 GB input).
///
/// Correctness: a chunk's tiles are the whole layer's tiles of its channels (chunk boundaries
/// are multiples of both channel tile sizes), computed by the same kernels from the same
/// weights: every elementwise step and the first convolution work tile by tile. The second
/// convolution's sums are modular sums of the same products, grouped by chunk: the same
/// residues. Bit for bit the unchunked result (`ChunkedExecutionTests`).
struct ChunkedSegment {
    /// Local indices (in the `steps` given) of the first and the second convolution.
    let start: Int
    let end: Int
    /// The steps start … end.
    let steps: [LoweredStep]
    /// Channel boundaries of the chunks (chunks + 1 values, from 0 to the first layer's F).
    let boundaries: [Int]

    /// The elementwise operations a segment may hold: per channel, tile by tile, one operand.
    static func isPerChannel(_ operation: LoweredOperation) -> Bool {
        switch operation {
        case .square, .shiftedProduct, .addChannelConstants, .polynomial, .scaleChannels: return true
        case .convolution, .windowSum, .add, .concat: return false
        }
    }

    /// The local index of the convolution that ends a segment starting at `start` (the next
    /// convolution after per-channel steps only, each reading the one before it and read by
    /// nothing else, all in one tiling), or nil when no segment can start there.
    static func end(of steps: [LoweredStep], first: Int, start: Int, tilings: [InterleavedTiling], lastUse: [Int: Int]) -> Int? {
        guard case .convolution = steps[start].operation, steps[start].inputs.count == 1 else { return nil }
        var j = start + 1
        while j < steps.count {
            // Step j reads step j − 1's output only, and nothing else reads that.
            guard steps[j].inputs == [first + j], lastUse[first + j] == first + j, tilings[j] == tilings[start] else { return nil }
            if case let .convolution(_, shape, _, _, padding) = steps[j].operation {
                // A kernel covering the whole image may take the full-image path when whole;
                // its open sums take the tap path, the same only with one-pixel tiles.
                let h = steps[j].inputShape[1], w = steps[j].inputShape[2]
                let coversImage = shape[2] == h && shape[3] == w && padding == 0
                let sizes = tilings[j].sizes
                if coversImage && (sizes[2] != 1 || sizes[3] != 1) { return nil }
                return j
            }
            guard isPerChannel(steps[j].operation) else { return nil }
            j += 1
        }
        return nil
    }

    /// The channel unit of a tiling: chunk boundaries are multiples of both channel tile sizes.
    static func channelUnit(_ tiling: InterleavedTiling) -> Int { max(tiling.sizes[0], tiling.sizes[1]) }

    /// The most chunks the segment starting with a convolution of `filters` output channels can
    /// be cut into in `tiling`.
    static func maximumChunks(filters: Int, tiling: InterleavedTiling) -> Int {
        let unit = channelUnit(tiling)
        return (filters + unit - 1) / unit
    }

    /// The segment starting at local step `start`, in `chunks` chunks.
    /// - Throws: `invalidFile` when no segment can start there or the chunks outnumber the
    ///   channel tiles (a plan that asks for it is inconsistent).
    init(_ steps: [LoweredStep], first: Int, start: Int, chunks: Int, tilings: [InterleavedTiling], lastUse: [Int: Int]) throws {
        guard let end = Self.end(of: steps, first: first, start: start, tilings: tilings, lastUse: lastUse) else {
            throw CompilerError.invalidFile("step \(first + start) is planned in chunks, but it does not start a convolution → per-channel steps → convolution segment in one tiling (the model file is inconsistent; compile it again)")
        }
        guard case let .convolution(_, shape, _, _, _) = steps[start].operation else { preconditionFailure("checked by end(of:)") }
        let f = shape[0]
        let units = Self.maximumChunks(filters: f, tiling: tilings[start])
        // Not `(2...units).contains`: a layer of one channel tile has units = 1, and that range would trap.
        guard chunks >= 2, chunks <= units else {
            throw CompilerError.invalidFile("step \(first + start) is planned in \(chunks) chunks; its \(f) channels in tiles of \(Self.channelUnit(tilings[start])) make 2 … \(units) at most (the model file is inconsistent; compile it again)")
        }
        let unit = Self.channelUnit(tilings[start])
        self.start = start
        self.end = end
        self.steps = Array(steps[start...end])
        self.boundaries = (0...chunks).map { min(f, ($0 * units / chunks) * unit) }
    }

    /// The segment's output (the second convolution's), from the first convolution's input.
    func run<B: TensorBackend>(_ x: consuming TileTensor<B>) throws -> TileTensor<B> {
        guard case let .convolution(_, _, firstBias, _, _) = steps[0].operation,
              case let .convolution(_, _, bias, stride, padding) = steps[steps.count - 1].operation else {
            preconditionFailure("a segment starts and ends with a convolution")
        }
        let firstHasBias = firstBias.contains { $0 != 0 }
        var total: ConvolutionSums<B>?
        for j in 0..<(boundaries.count - 1) {
            let range = boundaries[j]..<boundaries[j + 1]
            var y = try Self.convolve(x, steps[0], outputs: range, keepBias: firstHasBias)
            for step in steps.dropFirst().dropLast() {
                y = try ChainExecution.apply(Self.slice(step, channels: range), to: consume y)
            }
            let columns = try Self.filterColumns(steps[steps.count - 1], range)
            // The chunk's products are added into the sums so far (handed over: added in place).
            total = try y.convolutionSums(filters: columns, stride: stride, padding: padding, adding: total.take())
            _ = consume y
        }
        _ = consume x
        return try total!.finished(bias: bias.contains { $0 != 0 } ? bias : nil)
    }

    /// The first convolution restricted to output channels `range` (its bias added when the
    /// whole layer's is, as `ChainExecution.apply` decides for the whole).
    static func convolve<B: TensorBackend>(_ x: TileTensor<B>, _ step: LoweredStep, outputs range: Range<Int>, keepBias: Bool) throws -> TileTensor<B> {
        guard case let .convolution(filters, shape, bias, stride, padding) = step.operation else { preconditionFailure("a convolution") }
        let perFilter = shape[1] * shape[2] * shape[3]
        let w = try TileTensors.Tensor(shape: [range.count, shape[1], shape[2], shape[3]],
                                       values: Array(filters[(range.lowerBound * perFilter)..<(range.upperBound * perFilter)]))
        return try x.conv2dInterleaved(filters: w, bias: keepBias ? Array(bias[range]) : nil, stride: stride, padding: padding)
    }

    /// The second convolution's filters [F, C, K, K] restricted to input channels `range`.
    static func filterColumns(_ step: LoweredStep, _ range: Range<Int>) throws -> TileTensors.Tensor {
        guard case let .convolution(filters, shape, _, _, _) = step.operation else { preconditionFailure("a convolution") }
        let f = shape[0], c = shape[1], kk = shape[2] * shape[3]
        var values: [Double] = []
        values.reserveCapacity(f * range.count * kk)
        for fi in 0..<f { values.append(contentsOf: filters[((fi * c + range.lowerBound) * kk)..<((fi * c + range.upperBound) * kk)]) }
        return try TileTensors.Tensor(shape: [f, range.count, shape[2], shape[3]], values: values)
    }

    /// A per-channel step restricted to channels `range`.
    static func slice(_ step: LoweredStep, channels range: Range<Int>) -> LoweredStep {
        var s = step
        s.inputShape[0] = range.count
        s.outputShape[0] = range.count
        switch step.operation {
        case let .shiftedProduct(beta): s.operation = .shiftedProduct(beta: Array(beta[range]))
        case let .addChannelConstants(gamma): s.operation = .addChannelConstants(gamma: Array(gamma[range]))
        case let .scaleChannels(factors): s.operation = .scaleChannels(factors: Array(factors[range]))
        case let .polynomial(rows): s.operation = .polynomial(coefficients: rows.map { $0.count == 1 ? $0 : Array($0[range]) })
        default: break
        }
        return s
    }
}
