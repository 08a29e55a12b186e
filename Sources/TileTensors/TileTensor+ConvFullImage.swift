import CKKS

/// The interleaved convolution whose kernel covers the whole image (a dense layer after a
/// flatten): every input tile is multiplied by the weights at its own slots, and the sums over
/// pixels and channels are rotate-and-add steps — log2 of the tile's pixel and channel counts per
/// output tile instead of one rotation per distinct tap shift per input tile.
extension TileTensor {
    /// Output pixel (0, 0) of filter f is Σ_{c, y, x} W[f, c, y, x]·in[c, y, x]. The plaintext of
    /// (output tile, input tile) holds W[f, c, y, x] at the slot of (f, c, y, x) (f along the
    /// filter dimension, c, y, x where the input tile has them; zero at padding), so the sum of
    /// the products over the input tiles of one (filter, batch) tile holds, at every slot, the
    /// partial sum of its (c, y, x) position. Rotate-and-add over dimensions 3 and 2 (spans t_Y,
    /// t_X) brings each pixel position's total to position 0 of those dimensions (the other
    /// positions read across into the next dimension: unknown); over the channel dimension it
    /// sums the channels — cyclically when that dimension is the outermost, which replicates the
    /// result there. Batch positions never mix (every rotation is a multiple of t_B slots).
    ///
    /// Input and output shapes as in `conv2dInterleaved` (K = H = W, p = 0), the output image
    /// dimensions `1?/t_X`, `1?/t_Y`. Counts (O = e_F·e_B output tiles, T = e_C·e_X·e_Y input
    /// tiles per batch tile): e_F·T encodes, O·T plaintext products, O·(T − 1) additions, O
    /// rescales, O·log2(t_X·t_Y·t_c) rotations and additions (none for an output tile whose weights are
    /// all zero); a bias as in `conv2dInterleaved`.
    /// One level.
    func fullImageConvolution(filters: Tensor, bias: [Double]?, channelDimension cd: Int, outputShape: TileShape) throws -> TileTensor {
        let fd = 1 - cd
        let dims = shape.dimensions
        var outDims = outputShape.dimensions
        outDims[2] = try TileDimension(size: 1, tileSize: dims[2].tileSize, interleaved: dims[2].isInterleaved, unknowns: dims[2].tileSize > 1)
        outDims[3] = try TileDimension(size: 1, tileSize: dims[3].tileSize, interleaved: dims[3].isInterleaved, unknowns: dims[3].tileSize > 1)
        let outShape = try TileShape(outDims)
        let slotStrides = shape.slotStrides, inTileStrides = shape.tileStrides
        let l = level
        let q = restoringScale(atLevel: l)
        let eC = dims[cd].tileCount, eX = dims[2].tileCount, eY = dims[3].tileCount
        let c = filters.shape[1], h = filters.shape[2], w = filters.shape[3]
        let eF = outDims[fd].tileCount
        // Which (filter tile, channel tile, row tile, column tile) blocks hold a nonzero weight:
        // one pass over the weights in storage order, no index arrays (the optimizer prices
        // every tiling with it; AlexNet's first dense layer has 37 M weights).
        func block(_ fTile: Int, _ cTile: Int, _ xTile: Int, _ yTile: Int) -> Int { ((fTile * eC + cTile) * eX + xTile) * eY + yTile }
        var nonzero = [Bool](repeating: false, count: eF * eC * eX * eY)
        let rowTiles = (0..<h).map { dims[2].location(of: $0).tile }, columnTiles = (0..<w).map { dims[3].location(of: $0).tile }
        filters.values.withUnsafeBufferPointer { weights in
            for fi in 0..<filters.shape[0] {
                let fTile = outDims[fd].location(of: fi).tile
                for ci in 0..<c {
                    let cTile = dims[cd].location(of: ci).tile
                    for y in 0..<h {
                        let base = ((fi * c + ci) * h + y) * w
                        for x in 0..<w where weights[base + x] != 0 { nonzero[block(fTile, cTile, rowTiles[y], columnTiles[x])] = true }
                    }
                }
            }
        }
        // W[f, c, y, x] at the slots of one (filter tile, input tile); nil when all zero. A
        // counting mock gets an empty array (it reads no value).
        func weights(filterTile: Int, channelTile: Int, rowTile: Int, columnTile: Int) -> [Double]? {
            guard nonzero[block(filterTile, channelTile, rowTile, columnTile)] else { return nil }
            guard backend.computesValues else { return [] }
            var slots = [Double](repeating: 0, count: backend.slotCount)
            for cp in 0..<dims[cd].tileSize {
                guard let ci = dims[cd].element(tile: channelTile, position: cp) else { continue }
                for fp in 0..<outDims[fd].tileSize {
                    guard let fi = outDims[fd].element(tile: filterTile, position: fp) else { continue }
                    for py in 0..<dims[2].tileSize {
                        guard let y = dims[2].element(tile: rowTile, position: py) else { continue }
                        for px in 0..<dims[3].tileSize {
                            guard let x = dims[3].element(tile: columnTile, position: px) else { continue }
                            let weight = filters.values[((fi * c + ci) * h + y) * w + x]
                            guard weight != 0 else { continue }
                            let base = cp * slotStrides[cd] + fp * slotStrides[fd] + py * slotStrides[2] + px * slotStrides[3]
                            for b in 0..<dims[4].tileSize { slots[base + b * slotStrides[4]] = weight }
                        }
                    }
                }
            }
            return slots
        }
        // A plaintext is used once per batch tile: with one batch tile it is encoded just before
        // its product and dropped after (keeping them all held AlexNet's 16,384 plaintexts of a
        // 9216 → 4096 layer, 29 GB); with several, kept for the others up to the cache's bytes.
        let batchTiles = outShape.tileCounts[4]
        let plaintextBytes = 8 * max(1, 2 * backend.slotCount) * (l + 1)
        let cacheLimit = batchTiles > 1 ? backend.plaintextCacheBytes / plaintextBytes : 0
        let plaintexts = Locked<[[Int]: Backend.Plaintext?]>([:])
        // The products of one output tile, summed (nil when its weights are all zero).
        func products(tile: Int) throws -> Backend.Ciphertext? {
            let o = Tensor.unflatten(tile, outShape.tileCounts)
            var acc: Backend.Ciphertext?
            for cTile in 0..<eC {
                for xTile in 0..<eX {
                    for yTile in 0..<eY {
                        let key = [o[fd], cTile, xTile, yTile]
                        let plaintext: Backend.Plaintext
                        if let cached = plaintexts.withLock({ $0[key] }) {
                            guard let cached else { continue }
                            plaintext = cached
                        } else {
                            let encoded = try weights(filterTile: o[fd], channelTile: cTile, rowTile: xTile, columnTile: yTile)
                                .map { try backend.encode($0, scale: q, level: l) }
                            plaintexts.withLock { if $0.count < cacheLimit { $0[key] = .some(encoded) } }
                            guard let encoded else { continue }
                            plaintext = encoded
                        }
                        let source = cTile * inTileStrides[cd] + xTile * inTileStrides[2] + yTile * inTileStrides[3] + o[4] * inTileStrides[4]
                        try backend.addProduct(&acc, tiles[source], plaintext)
                    }
                }
            }
            return acc
        }
        // Output tiles in rounds of one per product worker: each worker makes its tile's products
        // (its own encodings) and then the sum's rotations, on one thread (split by limbs, a
        // rotation gained 1.2× from a second thread; whole tiles per thread, 2×).
        let workers = backend.productWorkerCount
        var outTiles: [Backend.Ciphertext] = []
        for first in stride(from: 0, to: outShape.tileCount, by: workers) {
            let round = Array(first..<min(first + workers, outShape.tileCount))
            let sums = Locked([Backend.Ciphertext?](repeating: nil, count: round.count))
            try backend.runProductWorkers(round.count, outputs: outShape.tileCount) { w in
                // An output tile whose weights are all zero (a pruned block of filters) is zero at
                // every slot, so are its rotations: it skips the sums, and their rotations.
                guard let products = try products(tile: round[w]) else {
                    let zero = try backend.rescale(backend.multiply(tiles[0], backend.encode([], scale: q, level: l)))
                    sums.withLock { $0[w] = zero }
                    return
                }
                var sum = try backend.rescale(products)
                sum = try rotateAndAdd(sum, span: dims[3].tileSize, stride: slotStrides[3])
                sum = try rotateAndAdd(sum, span: dims[2].tileSize, stride: slotStrides[2])
                sum = try rotateAndAdd(sum, span: dims[cd].tileSize, stride: slotStrides[cd])
                sums.withLock { $0[w] = sum }
            }
            outTiles += sums.withLock { $0 }.map { $0! }
        }
        return try TileTensor(backend: backend, shape: outShape, tiles: consume outTiles)
            .addingConvolutionBias(bias, channelDimension: cd, inputBatch: dims[4])
    }
}
