/// Average pooling over two spatial dimensions.
extension TileTensor {
    /// Average pooling with a k×k window and stride s over dimensions (h, w), each with tile
    /// size 1 (one tile per pixel, as in the interleaved conv layout with t_X = t_Y = 1): a window
    /// is k² − 1 tile additions, no rotation. The 1/k² factor is one constant product and one
    /// level; pass `divide: false` to fold it into the next linear layer instead.
    /// Counts per output tile: k² − 1 additions (+ 1 constant product and 1 rescale when dividing).
    /// A window covering the whole image runs as `summed(over:)` twice, in any layout.
    ///
    /// On the interleaved conv layout with image tiles larger than one pixel (dimensions 2, 3 of
    /// a rank-5 `[c, f, H~, W~, B]` tensor) it runs `averagePooledInterleaved`: each channel slot
    /// pooled in place by masked products of the tap rotations (the 1/k² inside the masks: one
    /// level either way); the channel layout is kept.
    public func averagePooled(window k: Int, stride s: Int, dimensions h: Int, _ w: Int, divide: Bool = true) throws -> TileTensor {
        try checkDimension(h)
        try checkDimension(w)
        guard h != w, k >= 1, s >= 1 else { throw TileTensorError.invalidArgument("pooling needs two dimensions, window ≥ 1 and stride ≥ 1") }
        let dh = shape.dimensions[h], dw = shape.dimensions[w]
        if dh.size == k, dw.size == k, !dh.isReplicated, !dw.isReplicated, dh.tileSize & (dh.tileSize - 1) == 0,
           dw.tileSize & (dw.tileSize - 1) == 0 {
            // A window over the whole image is a global pool: tile additions and log2(t) rotate-and-add
            // steps per image dimension, no product and no level (an 8×8 window on 8×8 tiles: 6
            // rotations per tile, where 64 masked tap products and 63 rotations did the same).
            let sum = try summed(over: h).summed(over: w)
            return divide ? try sum.multiplied(byConstant: 1 / Double(k * k)) : sum
        }
        if (dh.tileSize != 1 || dw.tileSize != 1) && shape.rank == 5 && h == 2 && w == 3 {
            return try averagePooledInterleaved(window: k, stride: s, divide: divide)
        }
        guard dh.tileSize == 1, dw.tileSize == 1, !dh.isReplicated, !dw.isReplicated else {
            throw TileTensorError.shapeMismatch("window pooling needs one tile per pixel (tile size 1) in dimensions \(h), \(w) of \(shape), or the interleaved conv layout; use converted(to:) first")
        }
        guard dh.size >= k, dw.size >= k else { throw TileTensorError.invalidArgument("window \(k) exceeds the image \(dh.size)×\(dw.size)") }
        let oh = (dh.size - k) / s + 1, ow = (dw.size - k) / s + 1
        var dims = shape.dimensions
        dims[h] = try .plain(oh, tile: 1)
        dims[w] = try .plain(ow, tile: 1)
        let out = try TileShape(dims)
        let strides = shape.tileStrides
        var result: [Backend.Ciphertext] = []
        for tile in 0..<out.tileCount {
            let index = Tensor.unflatten(tile, out.tileCounts)
            var base = 0
            for d in 0..<shape.rank where d != h && d != w { base += index[d] * strides[d] }
            var acc: Backend.Ciphertext?
            for dy in 0..<k {
                for dx in 0..<k {
                    let t = tiles[base + (index[h] * s + dy) * strides[h] + (index[w] * s + dx) * strides[w]]
                    try backend.accumulate(&acc, t)
                }
            }
            result.append(acc!)
        }
        let sum = TileTensor(backend: backend, shape: out, tiles: result)
        return divide ? try sum.multiplied(byConstant: 1 / Double(k * k)) : sum
    }

    /// Global average pooling over dimensions (h, w) in any layout: two sums and one constant
    /// product (see `summed(over:)` for the counts and the resulting replicated/unknown marks).
    public func globalAveragePooled(dimensions h: Int, _ w: Int) throws -> TileTensor {
        let n = Double(shape.dimensions[h].size * shape.dimensions[w].size)
        return try summed(over: h).summed(over: w).multiplied(byConstant: 1 / n)
    }
}
