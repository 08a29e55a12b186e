import CKKS

/// Polynomial activations.
extension TileTensor {
    /// x² elementwise: T multiplications, relinearizations and rescales; one level.
    /// Consuming: each input tile is released once squared when the caller hands its tensor
    /// over (`consume x`), so the step holds its input and output together only tile by tile.
    public consuming func squared() throws -> TileTensor {
        let backend = self.backend, shape = self.shape
        let input = TileSupply(tiles, reads: Array(tiles.indices))
        _ = consume self
        return TileTensor(backend: backend, shape: shape, tiles: try backend.mapTiles(shape.tileCount) { t in
            let x = input.read(t)
            return try backend.relinearizeAndRescale(backend.squareWithoutRelinearization(x))
        })
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
    /// 1 rescale. Tile by tile (x_t + β_t, its product with x_t, relinearized and rescaled, on
    /// the product workers), so x + β never exists whole; consuming, so each input tile is
    /// released once used when the caller hands its tensor over.
    public consuming func multipliedByShifted(_ beta: Tensor, coefficientShape: TileShape) throws -> TileTensor {
        if backend.complexPacking { return try (consume self).squarePlusScaled(beta, coefficientShape: coefficientShape) }
        let b = try Broadcast(shape, coefficientShape, .addition)
        let product = try Broadcast(b.shape, shape, .multiplication)
        // x + β has x's tiles (β broadcast over them): the product x ⊙ (x + β) is tile by tile.
        let identity = Array(tiles.indices)
        guard b.leftTile == identity, product.leftTile == identity, product.rightTile == identity else {
            let shifted = try (copy self).adding(plain: beta, shape: coefficientShape)
            return try multiplied(by: shifted)
        }
        let slots = try coefficientShape.pack(beta, values: backend.computesValues)
        let backend = self.backend
        // β's tiles encoded once each, in tile order (as the unfused addition encodes them).
        var encoded: [Int: Backend.Plaintext] = [:]
        for t in tiles.indices where encoded[b.rightTile[t]] == nil {
            encoded[b.rightTile[t]] = try backend.encodeAddend(slots[b.rightTile[t]], scale: backend.scale(of: tiles[t]), level: backend.level(of: tiles[t]))
        }
        let input = TileSupply(tiles, reads: Array(tiles.indices))
        _ = consume self
        return TileTensor(backend: backend, shape: product.shape, tiles: try backend.mapTiles(product.shape.tileCount) { t in
            let x = input.read(t)
            let shifted = try backend.add(x, addend: encoded[b.rightTile[t]]!)
            return try backend.relinearizeAndRescale(backend.multiplyWithoutRelinearization(shifted, x))
        })
    }

    /// x ⊙ (x + β) as x² + β ⊙ x, for complex packing: the square conjugates x once, where the
    /// product of x and x + β would conjugate both. β is encoded at four times x's scale (the
    /// part-by-part square's scale over x's), so that β ⊙ x adds to x² as it is; one
    /// relinearization and one rescale per tile, tile by tile on the product workers. In padded
    /// slots (x = 0) both forms are 0.
    consuming func squarePlusScaled(_ beta: Tensor, coefficientShape: TileShape) throws -> TileTensor {
        let b = try Broadcast(shape, coefficientShape, .multiplication)
        let slots = try coefficientShape.pack(beta, values: backend.computesValues)
        let backend = self.backend
        var encoded: [Int: Backend.Plaintext] = [:]
        for t in 0..<b.shape.tileCount where encoded[b.rightTile[t]] == nil {
            let x = tiles[b.leftTile[t]]
            encoded[b.rightTile[t]] = try backend.encode(slots[b.rightTile[t]], scale: Evaluator.partProductScaleFactor * backend.scale(of: x),
                                                             level: backend.level(of: x))
        }
        let input = TileSupply(tiles, reads: b.leftTile)
        _ = consume self
        return TileTensor(backend: backend, shape: b.shape, tiles: try backend.mapTiles(b.shape.tileCount) { t in
            let x = input.read(b.leftTile[t])
            var square = try backend.squareWithoutRelinearization(x)
            try backend.addInPlace(&square, backend.multiply(x, encoded[b.rightTile[t]]!))
            return try backend.relinearizeAndRescale(square)
        })
    }
}
