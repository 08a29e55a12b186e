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

    /// C = A·B for A of logical shape [a, b, 1] in `[a/t0, b/t1, */t2]` and B of logical shape
    /// [1, b, c] in `[*/t0, b/t1, c/t2]`: elementwise products summed over dimension 1, giving
    /// [a, 1, c] in `[a/t0, 1?/t1, c/t2]`.
    ///
    /// Relinearization is lazy: the e1 three-component products of an output tile are added
    /// first and relinearized once. Counts (e_i tiles along i, O = e0·e2 output tiles,
    /// L = log2 t1): O·e1 multiplications, O·(e1 − 1) + O·L additions, O relinearizations,
    /// O rescales, O·L rotations. One level.
    /// - Throws: `shapeMismatch` when the shapes do not have that form.
    public static func matrixProduct(_ a: TileTensor, _ b: TileTensor) throws -> TileTensor {
        let sa = a.shape, sb = b.shape
        guard sa.rank == 3, sb.rank == 3, sa.dimensions[2].isReplicated, sb.dimensions[0].isReplicated,
              !sa.dimensions[0].isReplicated, !sb.dimensions[2].isReplicated,
              sa.dimensions[1] == sb.dimensions[1], !sa.dimensions[1].hasUnknowns, !sa.dimensions[1].isReplicated,
              sa.tileSizes == sb.tileSizes else {
            throw TileTensorError.shapeMismatch("matrix product needs [a/t0, b/t1, */t2] × [*/t0, b/t1, c/t2], got \(sa) × \(sb)")
        }
        let backend = a.backend
        let e0 = sa.tileCounts[0], e1 = sa.tileCounts[1], e2 = sb.tileCounts[2]
        let t1 = sa.tileSizes[1]
        guard t1 & (t1 - 1) == 0 else { throw TileTensorError.invalidArgument("tile size \(t1) of the summed dimension must be a power of two") }
        let product = try Broadcast(sa, sb, .multiplication)
        let resultShape = product.shape.replacing(1, with: try TileDimension(size: 1, tileSize: t1, unknowns: t1 > 1))
        var tiles: [Backend.Ciphertext] = []
        for i in 0..<e0 {
            for k in 0..<e2 {
                var acc: Backend.Ciphertext?
                for j in 0..<e1 {
                    let term = try backend.multiplyWithoutRelinearization(a.tiles[i * e1 + j], b.tiles[j * e2 + k])
                    try backend.accumulate(&acc, term)
                }
                let summed = try backend.rescale(backend.relinearize(acc!))
                tiles.append(try a.rotateAndAdd(summed, span: t1, stride: sa.slotStrides[1]))
            }
        }
        return TileTensor(backend: backend, shape: resultShape, tiles: tiles)
    }
}
