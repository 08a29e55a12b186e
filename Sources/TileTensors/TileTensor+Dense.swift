/// Fully connected layers by tile shapes: y = W·x (+ bias) for a vector x packed as a row or a
/// column of a two-dimensional tile, alternating orientation from layer to layer.
extension TileTensor {
    /// y = W·x + bias for W of shape [m, n].
    ///
    /// **Row orientation**: x has logical shape [1, n] in `[*/t0, n/t1]`. W is packed
    /// `[m/t0, n/t1]`, multiplied elementwise (x broadcast over dimension 0) and summed over
    /// dimension 1: y in `[m/t0, 1?/t1]` (logical [m, 1]).
    /// Counts (e0 = ⌈m/t0⌉, e1 = ⌈n/t1⌉, L = log2 t1): e0·e1 encodes and plaintext products,
    /// e0·(e1 − 1) + e0·L additions, e0 rescales, e0·L rotations; a bias adds e0 encodes and
    /// e0 additions. One level.
    ///
    /// **Column orientation**: x has logical shape [n, 1] in `[n/t0, */t1]`. Wᵀ is packed
    /// `[n/t0, m/t1]` and summed over dimension 0, whose rotations are cyclic, so y comes out
    /// replicated: `[*/t0, m/t1]` (logical [1, m]) — exactly the input of a row-oriented layer.
    /// Counts (e0 = ⌈n/t0⌉, e1 = ⌈m/t1⌉, L = log2 t0): e0·e1 encodes and plaintext products,
    /// e1·(e0 − 1) + e1·L additions, e1 rescales, e1·L rotations; bias e1 encodes and additions.
    ///
    /// A row layer's output `[m/t0, 1?/t1]` feeds a column layer after clearing and duplicating
    /// dimension 1 (one level, T encodes/products/rescales and T·log2 t1 rotations and additions
    /// for its T = e0 tiles); a column layer's output feeds a row layer as it is. So in a stack
    /// of dense layers every other layer needs no duplication.
    ///
    /// Correctness: the product tile holds W[i][j]·x[j] at (i, j); padding of W is zero, so the
    /// sum over j is exactly Σ_j W[i][j]·x[j] (see `summed(over:)` for where it lands).
    /// - Throws: `shapeMismatch` when x is not a row or column vector of n elements, or the
    ///   bias does not have m values.
    public func dense(weights: Tensor, bias: [Double]? = nil) throws -> TileTensor {
        guard weights.shape.count == 2, shape.rank == 2 else {
            throw TileTensorError.shapeMismatch("dense needs a matrix [m, n] and a two-dimensional tile tensor, got \(weights.shape) and \(shape)")
        }
        let m = weights.shape[0], n = weights.shape[1]
        if let bias, bias.count != m { throw TileTensorError.shapeMismatch("bias has \(bias.count) values for \(m) outputs") }
        let d0 = shape.dimensions[0], d1 = shape.dimensions[1]
        if d0.isReplicated && !d1.isReplicated {
            guard d1.size == n else { throw TileTensorError.shapeMismatch("the vector \(shape) has \(d1.size) elements, W has \(n) columns") }
            let wShape = try TileShape([.plain(m, tile: d0.tileSize), d1.withUnknowns(false)])
            var y = try multiplied(byPlain: weights, shape: wShape, rescale: false).summed(over: 1, rescaleBeforeRotations: true)
            if let bias {
                y = try y.adding(plain: Tensor(shape: [m, 1], values: bias),
                                 shape: TileShape([.plain(m, tile: d0.tileSize), .plain(1, tile: d1.tileSize)]))
            }
            return y
        }
        if d1.isReplicated && !d0.isReplicated {
            guard d0.size == n else { throw TileTensorError.shapeMismatch("the vector \(shape) has \(d0.size) elements, W has \(n) columns") }
            let transposed = try Tensor(shape: [n, m], values: (0..<(n * m)).map { k in weights.values[(k % m) * n + k / m] })
            let wShape = try TileShape([d0.withUnknowns(false), .plain(m, tile: d1.tileSize)])
            var y = try multiplied(byPlain: transposed, shape: wShape, rescale: false).summed(over: 0, rescaleBeforeRotations: true)
            if let bias {
                y = try y.adding(plain: Tensor(shape: [1, m], values: bias),
                                 shape: TileShape([.replicated(tile: d0.tileSize), .plain(m, tile: d1.tileSize)]))
            }
            return y
        }
        if !d0.isReplicated && d1.size == 1 && !d1.isReplicated {
            return try duplicated(along: 1).dense(weights: weights, bias: bias)
        }
        throw TileTensorError.shapeMismatch("dense needs a row vector [*/t0, n/t1] or a column vector [n/t0, */t1] (or [n/t0, 1?/t1]), got \(shape)")
    }
}
