/// Matrix × vector by the diagonal method (Halevi–Shoup) with baby-step/giant-step rotations.
extension TileTensor {
    /// y = W·x (+ bias) for one vector x of n elements in `[*/r, n/d]` (one tile: the vector
    /// repeated every d slots, d ≥ m, n a power of two) and W of shape [m, n]; y comes out in
    /// `[*/r, m/d]`, the same form, so such layers chain.
    ///
    /// With diagonals diag_i[j] = W[j][(j + i) mod d] (zero outside W), y = Σ_i diag_i ⊙ rot(x, i)
    /// because x repeats every d slots. Writing i = g·n1 + b (n1 baby steps, n2 = d/n1 giant steps):
    /// y = Σ_g rot(Σ_b rot(diag_(g·n1+b), −g·n1) ⊙ rot(x, b), g·n1); the baby rotations of x are
    /// hoisted (one decomposition), each giant group is rescaled before its rotation.
    ///
    /// Counts (I = nonzero diagonals, B = distinct nonzero baby steps among them, G = nonempty
    /// giant groups, G′ = those with g ≥ 1): I encodes and plaintext products, 1 hoisted set of
    /// B rotations, G′ rotations, G rescales, (I − G) + (G − 1) additions; a bias one encode
    /// and one addition. For a dense W: I = d, B = n1 − 1, G = n2, G′ = n2 − 1. One level.
    /// - Parameter babySteps: n1, a power of two dividing d (default 2^⌈log2(d)/2⌉).
    public func diagonalMatrixVectorProduct(weights: Tensor, bias: [Double]? = nil, babySteps: Int? = nil) throws -> TileTensor {
        guard shape.rank == 2, shape.dimensions[0].isReplicated, !shape.dimensions[1].isReplicated,
              shape.tileCount == 1, !shape.hasUnknowns else {
            throw TileTensorError.shapeMismatch("the diagonal method needs a vector in one tile [*/r, n/d], got \(shape)")
        }
        guard weights.shape.count == 2, weights.shape[1] == shape.dimensions[1].size else {
            throw TileTensorError.shapeMismatch("W \(weights.shape) does not take the \(shape.dimensions[1].size)-element vector \(shape)")
        }
        let m = weights.shape[0], n = weights.shape[1]
        let d = shape.dimensions[1].tileSize, r = shape.dimensions[0].tileSize
        guard m <= d else { throw TileTensorError.shapeMismatch("W has \(m) rows, more than the period d = \(d)") }
        if let bias, bias.count != m { throw TileTensorError.shapeMismatch("bias has \(bias.count) values for \(m) outputs") }
        let logD = d.trailingZeroBitCount
        let n1 = babySteps ?? (1 << ((logD + 1) / 2))
        guard n1 >= 1, n1 <= d, d % n1 == 0, n1 & (n1 - 1) == 0 else {
            throw TileTensorError.invalidArgument("baby steps \(n1) must be a power of two dividing d = \(d)")
        }
        let slots = backend.slotCount
        func diagonal(_ i: Int) -> [Double] {
            (0..<d).map { j in
                let k = (j + i) % d
                return j < m && k < n ? weights.values[j * n + k] : 0
            }
        }
        let diagonals = (0..<d).map(diagonal)
        let nonzero = (0..<d).filter { i in diagonals[i].contains { $0 != 0 } }
        let x = tiles[0]
        let l = backend.level(of: x)
        // Back to exactly Δ after the rescale (see `restoringScale`).
        let q = backend.rescalePrime(atLevel: l) * backend.defaultScale / backend.scale(of: x)
        let babies = try backend.rotations(of: x, by: Array(Set(nonzero.map { $0 % n1 })))
        var y: Backend.Ciphertext?
        for g in 0..<(d / n1) {
            let group = nonzero.filter { $0 / n1 == g }
            if group.isEmpty { continue }
            var inner: Backend.Ciphertext?
            for i in group {
                // rot(diag_i, −g·n1), repeated over all slots.
                let plain = (0..<slots).map { s in diagonals[i][((s - g * n1) % d + d) % d] }
                try backend.addProduct(&inner, babies[i % n1]!, backend.encode(plain, scale: q, level: l))
            }
            let rotated = try backend.rotate(backend.rescale(inner!), by: g * n1)
            try backend.accumulate(&y, rotated)
        }
        guard var result = y else {
            throw TileTensorError.invalidArgument("W is all zeros; the product is the zero vector (encode it instead)")
        }
        if let bias {
            let plain = (0..<slots).map { s in s % d < m ? bias[s % d] : 0 }
            result = try backend.add(result, addend: backend.encodeAddend(plain, scale: backend.scale(of: result), level: backend.level(of: result)))
        }
        let outShape = try TileShape([.replicated(tile: r), .plain(m, tile: d)])
        return TileTensor(backend: backend, shape: outShape, tiles: [result])
    }
}
