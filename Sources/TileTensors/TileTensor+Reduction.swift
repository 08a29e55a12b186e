/// Sums over a dimension, duplication (replicating a dimension of size 1), and clearing unknowns.
extension TileTensor {
    /// Σ over dimension d. The e_d tiles along d are added, then the t_d positions inside each
    /// tile are summed by log2(t_d) rotate-and-add steps (strides s_d·2^i, s_d the slot stride of
    /// d). For the outermost dimension (d = 0) the rotations are cyclic within the dimension, so
    /// the sum lands in every position: the result is replicated, `*/t`. For an inner dimension a
    /// rotation carries into the next outer position, so only position 0 holds the sum: `1?/t`.
    /// Garbage along d is cleared first (one masked product, one level).
    ///
    /// Counts for E = tiles of the result (made by the product workers, one tile each at a time):
    /// E·(e_d − 1) + E·log2(t_d) additions, E·log2(t_d) rotations (plus the clear when d has unknowns, plus E rescales when `rescaleBeforeRotations`).
    /// - Parameter rescaleBeforeRotations: rescale after adding the tiles and before the
    ///   rotations (a product pending rescale then rotates at the lower level, which is cheaper).
    /// - Throws: `invalidArgument` for a bad dimension or a tile size that is not a power of two.
    public func summed(over d: Int, rescaleBeforeRotations: Bool = false) throws -> TileTensor {
        try checkDimension(d)
        let dim = shape.dimensions[d]
        if dim.isReplicated { return rescaleBeforeRotations ? try rescaled() : self }
        if dim.hasUnknowns { return try clearingUnknowns().summed(over: d, rescaleBeforeRotations: rescaleBeforeRotations) }
        try requirePowerOfTwo(dim.tileSize, d)
        let resultDim: TileDimension = d == 0 ? try .replicated(tile: dim.tileSize)
            : try TileDimension(size: 1, tileSize: dim.tileSize, unknowns: dim.tileSize > 1)
        let resultShape = shape.replacing(d, with: resultDim)
        let stride = shape.tileStrides[d]
        let counts = shape.tileCounts
        let slotStride = shape.slotStrides[d]
        // Each result tile's sum on one worker (its rotations one after the other, on one thread).
        let firsts = (0..<shape.tileCount).filter { Tensor.unflatten($0, counts)[d] == 0 }
        let result = try backend.mapTiles(firsts.count) { r -> Backend.Ciphertext in
            let tile = firsts[r]
            var acc = tiles[tile]
            for k in 1..<max(dim.tileCount, 1) { try backend.addInPlace(&acc, tiles[tile + k * stride]) }
            if rescaleBeforeRotations { acc = try backend.rescale(acc) }
            return try rotateAndAdd(acc, span: dim.tileSize, stride: slotStride)
        }
        return TileTensor(backend: backend, shape: resultShape, tiles: result)
    }

    /// Replicates dimension d (logical size 1, not replicated): the value at position 0 is copied
    /// to all t_d positions by log2(t_d) rotate-and-add steps with negative strides, which read
    /// only zeros from other positions of d. Garbage in d or in a dimension outside it (whose
    /// positions the rotations carry across) is cleared first (one level); garbage in a dimension
    /// inside d moves with its slot to slots where that dimension holds no element either, so it
    /// is kept (still marked unknown). A dimension of tile size 1 only changes its name.
    /// Counts per tile: log2(t_d) rotations and additions.
    public func duplicated(along d: Int) throws -> TileTensor {
        try checkDimension(d)
        let dim = shape.dimensions[d]
        if dim.isReplicated { return self }
        guard dim.size == 1 else {
            throw TileTensorError.invalidArgument("only a dimension of size 1 can be duplicated; dimension \(d) of \(shape) has \(dim.size)")
        }
        if dim.tileSize == 1 { return with(shape: shape.replacing(d, with: try .replicated(tile: 1)), tiles: tiles) }
        if shape.dimensions[...d].contains(where: \.hasUnknowns) { return try clearingUnknowns().duplicated(along: d) }
        try requirePowerOfTwo(dim.tileSize, d)
        let stride = shape.slotStrides[d]
        let result = try backend.mapTiles(tiles.count) { try rotateAndAdd(tiles[$0], span: dim.tileSize, stride: -stride) }
        return with(shape: shape.replacing(d, with: try .replicated(tile: dim.tileSize)), tiles: result)
    }

    /// Zeros every slot that holds no element (one product by the 0/1 validity mask per tile,
    /// encoded at q_level, and one rescale: one level). Returns self when nothing is unknown.
    /// Counts: T encodes, T plaintext products, T rescales.
    public func clearingUnknowns() throws -> TileTensor {
        guard shape.hasUnknowns else { return self }
        let clean = shape.clearingUnknowns
        let masks = backend.computesValues ? clean.validityMasks() : [[Double]](repeating: [], count: clean.tileCount)
        let l = level
        let q = backend.rescalePrime(atLevel: l)
        let result = try backend.mapTiles(tiles.count) { t in
            try backend.rescale(backend.multiply(tiles[t], backend.encode(masks[t], scale: q, level: l)))
        }
        return with(shape: clean, tiles: result)
    }

    /// acc + rot(acc, stride) + … : Σ_(k < span) rot(x, k·stride) in log2(span) steps.
    func rotateAndAdd(_ x: Backend.Ciphertext, span: Int, stride: Int) throws -> Backend.Ciphertext {
        try backend.rotatedSum(x, span: span, stride: stride)
    }
}

extension TensorBackend {
    /// Σ_(k < span) rot(x, k·stride) in log2(span) rotate-and-add steps (`TileTensor.rotateAndAdd`).
    func rotatedSum(_ x: Ciphertext, span: Int, stride: Int) throws -> Ciphertext {
        var acc = x
        var k = 1
        while k < span {
            let rotated = try rotate(acc, by: k * stride)
            try addInPlace(&acc, rotated)
            k <<= 1
        }
        return acc
    }
}

extension TileTensor {
    func checkDimension(_ d: Int) throws {
        guard (0..<shape.rank).contains(d) else {
            throw TileTensorError.invalidArgument("dimension \(d) is outside 0..<\(shape.rank) of \(shape)")
        }
    }

    func requirePowerOfTwo(_ t: Int, _ d: Int) throws {
        guard t & (t - 1) == 0 else {
            throw TileTensorError.invalidArgument("dimension \(d) has tile size \(t); rotate-and-sum needs a power of two")
        }
    }
}
