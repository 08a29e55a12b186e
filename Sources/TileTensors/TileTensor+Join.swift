/// Joins of tensors computed on different branches of a network (a residual `Add`, a channel
/// `Concat`): the operands are brought to one level and exactly one scale first.
///
/// Two branches of different depth end at different levels, and their scales differ: a
/// plaintext product is encoded at q_level and returns exactly to its input's scale, but a
/// ciphertext product squares the scale and its rescale divides by one particular prime. The
/// alignment keeps the operand at the lowest level as the reference. Another operand of the
/// same scale is only dropped to that level (no arithmetic). One of another scale σ is dropped
/// to one level above the reference, multiplied by the constant 1 encoded at
/// σ_ref·q_(ℓ+1)/σ, and rescaled: its scale becomes σ_ref exactly (up to the Double rounding the
/// evaluator's tolerance allows) and its level the reference's. Only when such an operand is
/// already at the reference level does the join cost one level (everyone drops one).
extension TileTensor {
    /// The tiles dropped to `level` (no arithmetic: the primes above are discarded).
    public func dropped(toLevel target: Int) throws -> TileTensor {
        guard tiles.contains(where: { backend.level(of: $0) != target }) else { return self }
        return with(shape: shape, tiles: try tiles.map { try backend.dropLevel($0, to: target) })
    }

    /// Operands at one level and one scale, in order (see the type's comment).
    /// - Throws: `invalidArgument` when an operand would need a level below 0.
    public static func aligned(_ operands: [TileTensor]) throws -> [TileTensor] {
        guard let first = operands.first else { return [] }
        let backend = first.backend
        var level = operands.map(\.level).min()!
        let reference = operands.first { $0.level == level }!
        let scale = reference.scale
        func same(_ s: Double) -> Bool { abs(s - scale) <= 0x1p-42 * max(s, scale) }
        if operands.contains(where: { !same($0.scale) && $0.level == level }) { level -= 1 }
        guard level >= 0 else {
            throw TileTensorError.invalidArgument("the operands of a join have different scales and no level is left to match them")
        }
        return try operands.map { x in
            if same(x.scale) { return try x.dropped(toLevel: level) }
            let y = try x.dropped(toLevel: level + 1)
            let q = backend.rescalePrime(atLevel: level + 1)
            let factor = scale * q / x.scale
            return y.with(shape: y.shape, tiles: try y.tiles.map { ct in
                try backend.rescale(backend.multiply(ct, constant: 1, scale: factor))
            })
        }
    }

    /// The sum of tensors computed on different branches (aligned first).
    public static func sum(_ operands: [TileTensor]) throws -> TileTensor {
        let a = try aligned(operands)
        var acc = a[0]
        for x in a.dropFirst() { acc = try acc.adding(x) }
        return acc
    }

    /// The concatenation of tensors along dimension `d` (aligned first). Every operand but the
    /// last must fill its tiles along d (its size a multiple of the tile size), the dimensions
    /// before d must have one tile each, and the others must agree: the result's tiles are then
    /// the operands' tiles one after the other, and no slot moves. Layouts where a part would
    /// share a tile with the next are refused (the optimizer tries other tilings).
    /// Counts: what the alignment costs; nothing else.
    public static func concatenated(_ operands: [TileTensor], along d: Int) throws -> TileTensor {
        guard let first = operands.first, operands.count >= 2 else {
            throw TileTensorError.invalidArgument("a concatenation needs at least two operands")
        }
        try first.checkDimension(d)
        let rank = first.shape.rank
        for x in operands {
            guard x.shape.rank == rank else { throw TileTensorError.shapeMismatch("concatenation of ranks \(first.shape.rank) and \(x.shape.rank)") }
            let dim = x.shape.dimensions[d]
            guard !dim.isReplicated, !dim.isInterleaved || dim.tileCount == 1, dim.tileSize == first.shape.dimensions[d].tileSize else {
                throw TileTensorError.shapeMismatch("dimension \(d) of \(x.shape) cannot be concatenated with \(first.shape) (replicated, interleaved or another tile size)")
            }
            guard x.shape.dimensions[..<d].allSatisfy({ $0.tileCount == 1 }) else {
                throw TileTensorError.shapeMismatch("the dimensions before \(d) of \(x.shape) have several tiles")
            }
            for e in 0..<rank where e != d {
                let a = first.shape.dimensions[e], b = x.shape.dimensions[e]
                guard a.withUnknowns(false) == b.withUnknowns(false) else {
                    throw TileTensorError.shapeMismatch("dimension \(e) is \(a) in \(first.shape) but \(b) in \(x.shape)")
                }
            }
        }
        let tileSize = first.shape.dimensions[d].tileSize
        for x in operands.dropLast() where x.shape.dimensions[d].size % tileSize != 0 || x.shape.dimensions[d].hasUnknowns {
            throw TileTensorError.shapeMismatch("a part of \(x.shape.dimensions[d].size) along dimension \(d) does not fill tiles of \(tileSize): the next part would share its last tile")
        }
        let a = try aligned(operands)
        let total = operands.reduce(0) { $0 + $1.shape.dimensions[d].size }
        var dims = first.shape.dimensions
        dims[d] = try TileDimension.plain(total, tile: tileSize).withUnknowns(operands.last!.shape.dimensions[d].hasUnknowns)
        for e in 0..<rank where e != d {
            let unknown = operands.contains { $0.shape.dimensions[e].hasUnknowns }
            dims[e] = dims[e].withUnknowns(unknown)
        }
        return TileTensor(backend: first.backend, shape: try TileShape(dims), tiles: a.flatMap(\.tiles))
    }
}
