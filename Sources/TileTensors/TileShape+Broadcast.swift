/// How two tile shapes combine elementwise: dimension by dimension the same layout, or one side
/// replicated (`*/t`) and broadcast over the other's tiles.
struct Broadcast {
    /// The result's shape.
    let shape: TileShape
    /// Result tile ↦ tile of the left operand.
    let leftTile: [Int]
    /// Result tile ↦ tile of the right operand.
    let rightTile: [Int]

    enum Operation { case addition, multiplication }

    /// The broadcast of a and b; throws `shapeMismatch` naming the first dimension that disagrees.
    init(_ a: TileShape, _ b: TileShape, _ operation: Operation) throws {
        guard a.rank == b.rank else {
            throw TileTensorError.shapeMismatch("\(a) and \(b) have different ranks")
        }
        var dims: [TileDimension] = []
        for d in 0..<a.rank {
            let x = a.dimensions[d], y = b.dimensions[d]
            guard x.tileSize == y.tileSize else {
                throw TileTensorError.shapeMismatch("dimension \(d) has tile size \(x.tileSize) in \(a) and \(y.tileSize) in \(b)")
            }
            if x.isReplicated && y.isReplicated { dims.append(x); continue }
            if !x.isReplicated && !y.isReplicated {
                guard x.size == y.size, x.isInterleaved == y.isInterleaved || x.tileCount == 1 else {
                    throw TileTensorError.shapeMismatch("dimension \(d) is \(x) in \(a) but \(y) in \(b)")
                }
            }
            let full = x.isReplicated ? y : x
            // A padding slot of an operand is nonzero when it holds garbage or a replica.
            let nonzeroX = x.hasUnknowns || x.isReplicated, nonzeroY = y.hasUnknowns || y.isReplicated
            let unknown: Bool
            switch operation {
            case .addition: unknown = full.hasPadding && (nonzeroX || nonzeroY)
            case .multiplication: unknown = full.hasPadding && nonzeroX && nonzeroY
            }
            dims.append(full.withUnknowns(unknown))
        }
        shape = try TileShape(dims)
        let counts = shape.tileCounts
        let aStrides = a.tileStrides, bStrides = b.tileStrides
        var left: [Int] = [], right: [Int] = []
        for tile in 0..<shape.tileCount {
            let index = Tensor.unflatten(tile, counts)
            var l = 0, r = 0
            for d in 0..<a.rank {
                if !a.dimensions[d].isReplicated { l += index[d] * aStrides[d] }
                if !b.dimensions[d].isReplicated { r += index[d] * bStrides[d] }
            }
            left.append(l)
            right.append(r)
        }
        leftTile = left
        rightTile = right
    }
}
