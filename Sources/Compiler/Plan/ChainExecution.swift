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

    /// One step on a tensor in a chain layout.
    public static func apply<B: TensorBackend>(_ step: LoweredStep, to x: TileTensor<B>) throws -> TileTensor<B> {
        switch step.operation {
        case let .convolution(filters, shape, bias, stride, padding):
            let w = try TileTensors.Tensor(shape: shape, values: filters)
            let hasBias = bias.contains { $0 != 0 }
            return try x.conv2dInterleaved(filters: w, bias: hasBias ? bias : nil, stride: stride, padding: padding)
        case .square:
            return try x.squared()
        case let .shiftedProduct(beta):
            let (t, s) = try channelConstants(beta, for: x.shape)
            return try x.multipliedByShifted(t, coefficientShape: s)
        case let .addChannelConstants(gamma):
            let (t, s) = try channelConstants(gamma, for: x.shape)
            return try x.adding(plain: t, shape: s)
        case let .polynomial(rows):
            if rows.allSatisfy({ $0.count == 1 }) { return try x.polynomial(coefficients: rows.map { $0[0] }) }
            let channels = step.inputShape[0]
            let tensors = try rows.map { row in try channelConstants(row.count == 1 ? Array(repeating: row[0], count: channels) : row, for: x.shape) }
            return try x.polynomial(coefficients: tensors.map(\.0), coefficientShape: tensors[0].1)
        case let .windowSum(k, s):
            return try x.averagePooled(window: k, stride: s, dimensions: 2, 3, divide: false)
        }
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
