import CKKS

/// Average pooling in the interleaved conv layout, channel by channel.
extension TileTensor {
    /// Average pooling with a k×k window and stride s of a rank-5 interleaved tensor
    /// `[c, f, H~/t_X, W~/t_Y, B/t_B]`: every channel slot is pooled where it is, so the first
    /// two dimensions (and the batch) keep their layout, and only the image dimensions shrink.
    ///
    /// It is `conv2dInterleaved`'s tap structure without its channel sum: output pixel y of
    /// output tile r at position P reads input pixel s·y + dy, found in input tile a at position
    /// P + q (`TapGroup`). Per output tile, tap and (row group, column group): one rotation of
    /// the source tile by the group's shift (hoisted per source tile; none when q = 0) times a
    /// mask plaintext holding 1/k² (or 1, `divide: false`) at the group's pixel positions in
    /// every channel and batch slot, zero elsewhere, which also clears whatever a rotation carries
    /// in. The products are added and rescaled once: one level. Pooling as a convolution with the
    /// filters δ(f, c)/k² costs e_C times the products and log2(t_c) rotations per output tile for
    /// a channel sum that adds only zeros.
    ///
    /// Counts: G plaintext products (G = the (output tile, tap, row group, column group) terms;
    /// O·k² for an interleaved layout whose tile counts divide evenly), G − O additions, O
    /// rescales, the tap rotations of the source tiles whose groups shift, no channel sum.
    func averagePooledInterleaved(window k: Int, stride s: Int, divide: Bool) throws -> TileTensor {
        let dims = shape.dimensions
        let h = dims[2].size, w = dims[3].size
        guard h >= k, w >= k else { throw TileTensorError.invalidArgument("window \(k) exceeds the image \(h)×\(w)") }
        guard !dims[2].isReplicated, !dims[3].isReplicated else {
            throw TileTensorError.shapeMismatch("the image dimensions 2 and 3 of \(shape) cannot be replicated")
        }
        let oh = (h - k) / s + 1, ow = (w - k) / s + 1
        var outDims = dims
        outDims[2] = try TileDimension(size: oh, tileSize: dims[2].tileSize, interleaved: dims[2].isInterleaved)
        outDims[3] = try TileDimension(size: ow, tileSize: dims[3].tileSize, interleaved: dims[3].isInterleaved)
        let outShape = try TileShape(outDims)
        let inTileStrides = shape.tileStrides, slotStrides = shape.slotStrides
        let l = level
        let q = restoringScale(atLevel: l)
        let weight = divide ? 1 / Double(k * k) : 1

        var terms: [PoolTerm] = []
        for tile in 0..<outShape.tileCount {
            let o = Tensor.unflatten(tile, outShape.tileCounts)
            let base = o[0] * inTileStrides[0] + o[1] * inTileStrides[1] + o[4] * inTileStrides[4]
            for dy in 0..<k {
                let rows = TapGroup.groups(output: outDims[2], tile: o[2], input: dims[2], stride: s, offset: dy, size: h)
                for dx in 0..<k {
                    for y in rows {
                        for x in TapGroup.groups(output: outDims[3], tile: o[3], input: dims[3], stride: s, offset: dx, size: w) {
                            let source = base + y.tile * inTileStrides[2] + x.tile * inTileStrides[3]
                            let delta = y.shift * slotStrides[2] + x.shift * slotStrides[3]
                            terms.append(PoolTerm(output: tile, source: source, delta: delta, rows: y.positions, columns: x.positions))
                        }
                    }
                }
            }
        }
        if let compacted = try compactedPoolIfCheaper(window: k, stride: s, weight: weight, scale: q, terms: terms, into: outShape) {
            return compacted
        }
        // The masks depend only on the pixel positions: few, each encoded once and kept.
        // Shared by the product workers (`hoistedProducts`): kept under a lock.
        let masks = Locked<[PoolMask: Backend.Plaintext]>([:])
        func mask(_ rows: [Int], _ columns: [Int]) throws -> Backend.Plaintext {
            let key = PoolMask(rows: rows, columns: columns)
            if let cached = masks.withLock({ $0[key] }) { return cached }
            var slots = [Double](repeating: 0, count: backend.computesValues ? backend.slotCount : 0)
            if backend.computesValues {
                for a in 0..<dims[0].tileSize {
                    for b in 0..<dims[1].tileSize {
                        for py in rows {
                            for px in columns {
                                let at = a * slotStrides[0] + b * slotStrides[1] + py * slotStrides[2] + px * slotStrides[3]
                                for t in 0..<dims[4].tileSize { slots[at + t * slotStrides[4]] = weight }
                            }
                        }
                    }
                }
            }
            let encoded = try backend.encode(slots, scale: q, level: l)
            masks.withLock { $0[key] = encoded }
            return encoded
        }

        // A mask over every slot of the tile (one-pixel tiles) is the window weight alone: a
        // scalar product, nothing encoded.
        let outTiles = try rescaledSums(terms, outputs: outShape.tileCount, zeroScale: q) { term in
            if term.rows.count == dims[2].tileSize, term.columns.count == dims[3].tileSize {
                return .scalar(weight, scale: q)
            }
            return .plaintext(try mask(term.rows, term.columns))
        }
        return TileTensor(backend: backend, shape: outShape, tiles: outTiles)
    }
}

/// One product of the interleaved pooling: output tile += rot(source tile, delta) ⊙ mask(rows, columns).
struct PoolTerm: HoistedTerm {
    let output: Int, source: Int, delta: Int
    let rows: [Int], columns: [Int]
}

/// A pooling mask: the window weight at these pixel positions of a tile.
struct PoolMask: Hashable {
    let rows: [Int], columns: [Int]
}
