/// Polynomial activations.
extension TileTensor {
    /// x² elementwise: T multiplications, relinearizations and rescales; one level.
    public func squared() throws -> TileTensor {
        with(shape: shape, tiles: try backend.mapTiles(tiles.count) { try backend.rescale(backend.multiply(tiles[$0], tiles[$0])) })
    }

    /// a·x² + b·x + c with coefficients shared by all elements, by Horner: (a·x + b)·x + c.
    /// Counts per tile: 1 plaintext (constant) product, 1 multiplication, 1 relinearization,
    /// 2 rescales, 2 additions; two levels. (One level is possible when a is folded into the
    /// previous linear layer; then use `squared()` and `adding`.)
    public func quadratic(a: Double, b: Double, c: Double) throws -> TileTensor {
        let u = try multiplied(byConstant: a)
        let v = try u.adding(constant: b).multiplied(by: self)
        return try v.adding(constant: c)
    }

    /// a·x² + b·x + c with coefficient tensors packed in `coefficientShape` (for instance one value
    /// per channel, replicated over the other dimensions): Horner with plaintext coefficient tiles.
    /// Counts per result tile: 3 encodes, 1 plaintext product, 1 multiplication, 1 relinearization,
    /// 2 rescales, 2 additions; two levels.
    public func quadratic(a: Tensor, b: Tensor, c: Tensor, coefficientShape: TileShape) throws -> TileTensor {
        let u = try multiplied(byPlain: a, shape: coefficientShape).adding(plain: b, shape: coefficientShape)
        return try u.multiplied(by: self).adding(plain: c, shape: coefficientShape)
    }

    /// x ⊙ (x + β) for a plaintext shift β packed in `coefficientShape` (per channel, say): one
    /// level. With β = b/a and the factor a (and the constant c) folded into the next linear
    /// layer's weights (w′[f][ch] = a_ch·w[f][ch], bias′ = bias + Σ_ch w[f][ch]·c_ch), this is
    /// a·x² + b·x + c at one level instead of two (channels with a = 0 cannot be folded this way).
    /// Counts per tile: the encodes of β's tiles, 1 addition, 1 multiplication, 1 relinearization,
    /// 1 rescale.
    public func multipliedByShifted(_ beta: Tensor, coefficientShape: TileShape) throws -> TileTensor {
        try multiplied(by: adding(plain: beta, shape: coefficientShape))
    }
}
