/// Conv2d, interleaved algorithm with one tile per pixel (t_X = t_Y = 1: the CryptoNets layout,
/// no rotation for the taps), channels, filters and batch inside each tile.
extension TileTensor {
    /// Convolution of a batch of images with filters W of shape [F, C, K, K] (stride s, zero
    /// padding p, optional bias of F values), on tiles of shape [t0, t1, 1, 1, t_B].
    ///
    /// Two mirrored layouts (logical shapes in brackets), each the other's input:
    /// - filters-first: input `[C/t0, */t1, H/1, W/1, B/t_B]` ([C, 1, H, W, B]) → output
    ///   `[*/t0, F/t1, H′/1, W′/1, B/t_B]` ([1, F, H′, W′, B]): the sum over channels runs along
    ///   the outermost dimension, so its result is replicated — the channels-first input.
    /// - channels-first: input `[*/t0, C/t1, …]` ([1, C, H, W, B]) → output
    ///   `[F/t0, 1?/t1, …]` ([F, 1, H′, W′, B]); it feeds a filters-first convolution after
    ///   dimension 1 is cleared and duplicated, which this function does when given that shape.
    ///
    /// Per kernel tap (dy, dx) one set of plaintexts (the filters packed in the (t0, t1) tile,
    /// replicated over the batch) is encoded once. Output pixel (y, x) adds, over the taps whose
    /// input pixel (s·y + dy − p, s·x + dx − p) lies inside the image (the others read zero
    /// padding), the input pixel's tiles times the tap's plaintexts; then it is rescaled and the
    /// channel positions are summed by log2(t_c) rotate-and-add steps. Taps select whole tiles,
    /// so no rotation is spent on them: with C = t_c = 1 there is no rotation at all.
    ///
    /// Counts (H′ = ⌊(H + 2p − K)/s⌋ + 1, likewise W′; v(y) = taps of row y inside the image,
    /// V = Σ_y v(y) · Σ_x v(x); e_C, e_F, e_B tiles along channels, filters, batch; O = H′·W′·e_F·e_B
    /// output tiles; L = log2 t_c of the channel dimension): K²·e_C·e_F encodes (taps that never
    /// touch the image are skipped), V·e_C·e_F·e_B plaintext products,
    /// V·e_C·e_F·e_B − O + O·L additions, O rescales, O·L rotations; a bias adds e_F·e_B encodes
    /// and O additions. One level.
    /// - Throws: `shapeMismatch` for a layout of another form or channel count, `invalidArgument`
    ///   for a stride below 1, padding ≥ K, or a kernel larger than the padded image.
    public func conv2dInterleaved(filters: Tensor, bias: [Double]? = nil, stride s: Int, padding p: Int) throws -> TileTensor {
        guard shape.rank == 5, filters.shape.count == 4, filters.shape[2] == filters.shape[3] else {
            throw TileTensorError.shapeMismatch("interleaved conv needs a [c, f, H, W, B] tile tensor and filters [F, C, K, K], got \(shape) and \(filters.shape)")
        }
        let dims = shape.dimensions
        if !dims[0].isReplicated && !dims[1].isReplicated && dims[1].size == 1 {
            return try duplicated(along: 1).conv2dInterleaved(filters: filters, bias: bias, stride: s, padding: p)
        }
        guard dims[0].isReplicated != dims[1].isReplicated else {
            throw TileTensorError.shapeMismatch("one of the first two dimensions must be replicated, got \(shape)")
        }
        let cd = dims[1].isReplicated ? 0 : 1, fd = 1 - cd
        if dims[cd].hasUnknowns { return try clearingUnknowns().conv2dInterleaved(filters: filters, bias: bias, stride: s, padding: p) }
        let f = filters.shape[0], c = filters.shape[1], k = filters.shape[2]
        let h = dims[2].size, w = dims[3].size
        guard dims[cd].size == c else { throw TileTensorError.shapeMismatch("the input has \(dims[cd].size) channels, the filters \(c)") }
        guard dims[2].tileSize == 1, dims[3].tileSize == 1, !dims[2].isReplicated, !dims[3].isReplicated else {
            throw TileTensorError.shapeMismatch("this conv needs one tile per pixel (H/1, W/1), got \(shape)")
        }
        guard s >= 1, p >= 0, p < k, h + 2 * p >= k, w + 2 * p >= k else {
            throw TileTensorError.invalidArgument("stride \(s), padding \(p), kernel \(k) do not fit a \(h)×\(w) image")
        }
        if let bias, bias.count != f { throw TileTensorError.shapeMismatch("bias has \(bias.count) values for \(f) filters") }
        let tc = dims[cd].tileSize
        try requirePowerOfTwo(tc, cd)
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1

        // The tap plaintexts: filters packed [c, f] (cd = 0) or [f, c] (cd = 1), replicated over pixels and batch.
        var wDims = [TileDimension](repeating: try .replicated(tile: 1), count: 5)
        wDims[cd] = dims[cd]
        wDims[fd] = try .plain(f, tile: dims[fd].tileSize)
        wDims[4] = try .replicated(tile: dims[4].tileSize)
        let wShape = try TileShape(wDims)
        let eC = wShape.tileCounts[cd], eF = wShape.tileCounts[fd], eB = dims[4].tileCount
        let l = level
        let q = backend.rescalePrime(atLevel: l)
        var tapPlaintexts: [Int: [Backend.Plaintext]] = [:]
        func plaintexts(_ dy: Int, _ dx: Int) throws -> [Backend.Plaintext] {
            if let cached = tapPlaintexts[dy * k + dx] { return cached }
            var logical = [Int](repeating: 1, count: 5)
            logical[cd] = c
            logical[fd] = f
            var tap = try Tensor(zeros: logical)
            for fi in 0..<f {
                for ci in 0..<c {
                    var index = [0, 0, 0, 0, 0]
                    index[cd] = ci
                    index[fd] = fi
                    tap[index] = filters[[fi, ci, dy, dx]]
                }
            }
            let encoded = try wShape.pack(tap).map { try backend.encode($0, scale: q, level: l) }
            tapPlaintexts[dy * k + dx] = encoded
            return encoded
        }

        var outDims = dims
        outDims[cd] = cd == 0 ? try .replicated(tile: tc) : try TileDimension(size: 1, tileSize: tc, unknowns: tc > 1)
        outDims[fd] = try .plain(f, tile: dims[fd].tileSize)
        outDims[2] = try .plain(oh, tile: 1)
        outDims[3] = try .plain(ow, tile: 1)
        let outShape = try TileShape(outDims)
        let inStrides = shape.tileStrides
        let channelStride = shape.slotStrides[cd]
        var outTiles = [Backend.Ciphertext?](repeating: nil, count: outShape.tileCount)
        for tile in 0..<outShape.tileCount {
            let o = Tensor.unflatten(tile, outShape.tileCounts)
            let fTile = o[fd], y = o[2], x = o[3], b = o[4]
            var acc: Backend.Ciphertext?
            for dy in 0..<k {
                let iy = y * s + dy - p
                guard (0..<h).contains(iy) else { continue }
                for dx in 0..<k {
                    let ix = x * s + dx - p
                    guard (0..<w).contains(ix) else { continue }
                    let taps = try plaintexts(dy, dx)
                    for cTile in 0..<eC {
                        let input = tiles[cTile * inStrides[cd] + iy * inStrides[2] + ix * inStrides[3] + b * inStrides[4]]
                        var wIndex = [0, 0]
                        wIndex[cd] = cTile
                        wIndex[fd] = fTile
                        let term = try backend.multiply(input, taps[wIndex[0] * wShape.tileCounts[1] + wIndex[1]])
                        acc = try acc.map { try backend.add($0, term) } ?? term
                    }
                }
            }
            outTiles[tile] = try rotateAndAdd(backend.rescale(acc!), span: tc, stride: channelStride)
        }
        _ = eF
        _ = eB
        var out = TileTensor(backend: backend, shape: outShape, tiles: outTiles.map { $0! })
        if let bias {
            var bDims = [TileDimension](repeating: try .replicated(tile: 1), count: 5)
            bDims[cd] = cd == 0 ? try .replicated(tile: tc) : try .plain(1, tile: tc)
            bDims[fd] = outDims[fd]
            bDims[4] = dims[4].withUnknowns(false)
            var logical = [1, 1, 1, 1, dims[4].size]
            logical[fd] = f
            var biasTensor = try Tensor(zeros: logical)
            for o in 0..<biasTensor.values.count { biasTensor.values[o] = bias[biasTensor.index(ofOffset: o)[fd]] }
            out = try out.adding(plain: biasTensor, shape: TileShape(bDims))
        }
        return out
    }
}
