import CKKS

/// Conv2d, interleaved algorithm: image rows and columns interleaved across tiles (`H~/t_X`,
/// `W~/t_Y`), channels, filters and batch inside each tile. With t_X = t_Y = 1 (one tile per
/// pixel) this is the CryptoNets layout and needs no rotation at all.
extension TileTensor {
    /// Convolution of a batch of images with filters W of shape [F, C, K, K] (stride s, zero
    /// padding p, optional bias of F values), on tiles of shape [t0, t1, t_X, t_Y, t_B].
    ///
    /// Two mirrored layouts (logical shapes in brackets), each the other's input:
    /// - filters-first: input `[C/t0, */t1, H~/t_X, W~/t_Y, B/t_B]` ([C, 1, H, W, B]) → output
    ///   `[*/t0, F/t1, H′~/t_X, W′~/t_Y, B/t_B]` ([1, F, H′, W′, B]): the sum over channels runs
    ///   along the outermost dimension, so its result is replicated — the channels-first input.
    /// - channels-first: input `[*/t0, C/t1, …]` ([1, C, H, W, B]) → output
    ///   `[F/t0, 1?/t1, …]` ([F, 1, H′, W′, B]); it feeds a filters-first convolution after
    ///   dimension 1 is cleared and duplicated, which this function does when given that shape.
    /// (Image dimensions may also be plain `H/t_X`; the algorithm is the same, with more groups.)
    ///
    /// Output pixel y of output tile r at in-tile position P reads input row s·y + dy − p, which
    /// lives in some input tile a at position P + q. Per output tile and tap, the positions are
    /// grouped by (a, q) in each image dimension; for an interleaved layout whose input tile
    /// count is s times the output's, each group is a whole tile with one shift q, and q ≠ 0 only
    /// for the tiles that wrap. Each group is one rotation of the input tile by
    /// q_X·s_X + q_Y·s_Y slots (hoisted per input tile; none when q = 0) times a plaintext with the
    /// filter weights at the group's positions and zeros elsewhere. Those zeros also implement the
    /// zero padding and discard whatever a rotation carries in, so every product is exact. The
    /// products of an output tile are added, rescaled once, and the channel positions summed by
    /// log2(t_c) rotate-and-add steps.
    ///
    /// Counts. Let O = H′_tiles·W′_tiles·e_F·e_B output tiles, L = log2 t_c, and G the number of
    /// (output tile, tap, row group, column group, channel tile) terms: G plaintext products,
    /// G − O + O·L additions, O rescales, O·L rotations; a bias adds e_F·e_B encodes and O
    /// additions. Closed forms of G and the tap rotations:
    /// - t_X = t_Y = 1 (H′ = ⌊(H + 2p − K)/s⌋ + 1; v(y) = taps of output row y inside the image,
    ///   V = Σ_y v(y)·Σ_x v(x)): G = V·e_C·e_F·e_B, no tap rotations, K²·e_C·e_F encodes.
    /// - interleaved, stride 1, H = e_X·t_X and W = e_Y·t_Y exactly, odd K, p = (K − 1)/2 ≤ e/2
    ///   and t ≥ 2: G = e_X·e_Y·K²·e_C·e_F·e_B; the input tiles with a nonzero shift are those
    ///   within p tiles of either end, so the tap rotations are
    ///   e_C·e_B·((e_X + 2p)(e_Y + 2p) − e_X·e_Y) in e_C·e_B·(e_X·e_Y − (e_X − 2p)(e_Y − 2p)) hoisted sets.
    /// One level.
    /// - Throws: `shapeMismatch` for a layout of another form or channel count, `invalidArgument`
    ///   for a stride below 1, padding ≥ K, or a kernel larger than the padded image.
    /// Consuming: when the caller hands its tensor over (`consume x`) and no tap rotates (one-pixel
    /// tiles), each input tile is released after the last product that reads it, so the step's
    /// outputs take the memory of the inputs they no longer need (CryptoNets' first convolution
    /// held 900 input tiles beside its 845 outputs to the end before).
    public consuming func conv2dInterleaved(filters: Tensor, bias: [Double]? = nil, stride s: Int, padding p: Int) throws -> TileTensor {
        switch try (consume self).interleavedConvolution(filters: filters, bias: bias, stride: s, padding: p, open: false) {
        case .output(let y): return y
        case .open: preconditionFailure("a closed convolution returns its output")
        }
    }

    /// What `interleavedConvolution` made: the output, or (open) the sums before their rescale.
    enum ConvolutionResult {
        case output(TileTensor)
        case open(ConvolutionSums<Backend>)
    }

    /// `conv2dInterleaved`, or with `open` its products' sums left unrescaled, without bias
    /// (`ConvolutionSums`): the same terms and weights, so the sums of the open convolutions of
    /// a split of the input channels, finished, equal the whole convolution residue for residue.
    /// An open convolution always takes the tap path (never `fullImageConvolution`).
    consuming func interleavedConvolution(filters: Tensor, bias: [Double]?, stride s: Int, padding p: Int, open: Bool,
                                          adding previous: consuming ConvolutionSums<Backend>? = nil) throws -> ConvolutionResult {
        // The backend in a local: the weight closures below must not capture `self`, which the
        // no-rotation path hands over to release its tiles.
        let backend = self.backend
        guard shape.rank == 5, filters.shape.count == 4, filters.shape[2] == filters.shape[3] else {
            throw TileTensorError.shapeMismatch("interleaved conv needs a [c, f, H, W, B] tile tensor and filters [F, C, K, K], got \(shape) and \(filters.shape)")
        }
        let dims = shape.dimensions
        if !dims[0].isReplicated && !dims[1].isReplicated && dims[1].size == 1 {
            return try duplicated(along: 1).interleavedConvolution(filters: filters, bias: bias, stride: s, padding: p, open: open,
                                                                   adding: previous.take())
        }
        guard dims[0].isReplicated != dims[1].isReplicated else {
            throw TileTensorError.shapeMismatch("one of the first two dimensions must be replicated, got \(shape)")
        }
        let cd = dims[1].isReplicated ? 0 : 1, fd = 1 - cd
        if dims[cd].hasUnknowns {
            return try clearingUnknowns().interleavedConvolution(filters: filters, bias: bias, stride: s, padding: p, open: open,
                                                                 adding: previous.take())
        }
        let f = filters.shape[0], c = filters.shape[1], k = filters.shape[2]
        let h = dims[2].size, w = dims[3].size
        guard dims[cd].size == c else { throw TileTensorError.shapeMismatch("the input has \(dims[cd].size) channels, the filters \(c)") }
        guard !dims[2].isReplicated, !dims[3].isReplicated else {
            throw TileTensorError.shapeMismatch("the image dimensions 2 and 3 of \(shape) cannot be replicated")
        }
        guard s >= 1, p >= 0, p < k, h + 2 * p >= k, w + 2 * p >= k else {
            throw TileTensorError.invalidArgument("stride \(s), padding \(p), kernel \(k) do not fit a \(h)×\(w) image")
        }
        if let bias, bias.count != f { throw TileTensorError.shapeMismatch("bias has \(bias.count) values for \(f) filters") }
        let tc = dims[cd].tileSize
        try requirePowerOfTwo(tc, cd)
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1

        var outDims = dims
        outDims[cd] = cd == 0 ? try .replicated(tile: tc) : try TileDimension(size: 1, tileSize: tc, unknowns: tc > 1)
        outDims[fd] = try .plain(f, tile: dims[fd].tileSize)
        outDims[2] = try TileDimension(size: oh, tileSize: dims[2].tileSize, interleaved: dims[2].isInterleaved)
        outDims[3] = try TileDimension(size: ow, tileSize: dims[3].tileSize, interleaved: dims[3].isInterleaved)
        let outShape = try TileShape(outDims)
        let eC = dims[cd].tileCount
        let inTileStrides = shape.tileStrides, slotStrides = shape.slotStrides
        let l = level
        let q = restoringScale(atLevel: l)

        func groups(_ d: Int, _ r: Int, _ offset: Int, _ n: Int) -> [TapGroup] {
            TapGroup.groups(output: outDims[d], tile: r, input: dims[d], stride: s, offset: offset, size: n)
        }
        // Blocks whose weights are all zero (a pruned network's): (tap, channel tile, filter tile).
        // Their products are never encoded or made, and a rotation only they read is never made
        // either (nor its Galois key requested); the mock counts exactly what runs.
        let eF = outDims[fd].tileCount
        func block(_ dy: Int, _ dx: Int, _ cTile: Int, _ fTile: Int) -> Int { ((dy * k + dx) * eC + cTile) * eF + fTile }
        // One pass over the weights in storage order ([F, C, K, K] row-major), no index arrays:
        // it runs for every tiling the optimizer prices (37 M weights in AlexNet's first dense layer).
        var nonzero = [Bool](repeating: false, count: k * k * eC * eF)
        filters.values.withUnsafeBufferPointer { w in
            for fi in 0..<f {
                let fTile = outDims[fd].location(of: fi).0
                for ci in 0..<c {
                    let cTile = dims[cd].location(of: ci).0
                    let base = (fi * c + ci) * k * k
                    for t in 0..<(k * k) where w[base + t] != 0 { nonzero[block(t / k, t % k, cTile, fTile)] = true }
                }
            }
        }
        // Position sets are numbered once (`positions`), so that a term is plain integers: the
        // optimizer makes millions of terms per tiling of a large network, and arrays in each
        // were most of its time (reference counting, hashing).
        var positions: [[Int]] = []
        var positionID: [[Int]: Int] = [:]
        func numbered(_ groups: [TapGroup]) -> [(group: TapGroup, id: Int)] {
            groups.map { g in
                if let id = positionID[g.positions] { return (g, id) }
                positionID[g.positions] = positions.count
                positions.append(g.positions)
                return (g, positions.count - 1)
            }
        }
        var terms: [ConvTerm] = []
        var deltas: [Int: Set<Int>] = [:]
        for tile in 0..<outShape.tileCount {
            let o = Tensor.unflatten(tile, outShape.tileCounts)
            let rowGroups = (0..<k).map { dy in numbered(groups(2, o[2], dy - p, h)) }
            let columnGroups = (0..<k).map { dx in numbered(groups(3, o[3], dx - p, w)) }
            // A strided convolution in an interleaved layout whose tile counts do not divide by
            // the stride splits every tap into one group per output position (AlexNet's 11×11
            // stride-4 convolution on a 224×224 input in 128×128 tiles: 70 M products, whose list
            // filled 18 GB while the optimizer priced it): such a layout is refused, tile by
            // tile before its terms are listed, as a failure of this tiling.
            var products = terms.count
            for dy in 0..<k {
                for dx in 0..<k {
                    products += rowGroups[dy].count * columnGroups[dx].count * (0..<eC).filter { nonzero[block(dy, dx, $0, o[fd])] }.count
                }
            }
            guard products <= Self.maximumConvolutionProducts else {
                throw TileTensorError.invalidArgument("this layout needs over \(Self.maximumConvolutionProducts) plaintext products for one convolution (\(shape) with \(k)×\(k) kernels, stride \(s)); another tiling is needed")
            }
            for dy in 0..<k {
                for dx in 0..<k {
                    for (y, rows) in rowGroups[dy] {
                        for (x, columns) in columnGroups[dx] {
                            let delta = y.shift * slotStrides[2] + x.shift * slotStrides[3]
                            for cTile in 0..<eC where nonzero[block(dy, dx, cTile, o[fd])] {
                                let source = cTile * inTileStrides[cd] + y.tile * inTileStrides[2] + x.tile * inTileStrides[3] + o[4] * inTileStrides[4]
                                deltas[source, default: []].insert(delta)
                                terms.append(ConvTerm(output: tile, source: source, delta: delta,
                                                  plaintext: WeightKey(dy: dy, dx: dx, channelTile: cTile, filterTile: o[fd],
                                                                       rows: rows, columns: columns)))
                            }
                        }
                    }
                }
            }
        }
        let channelStride = slotStrides[cd]
        // A kernel covering the whole image (a dense layer): products first, then the sums over
        // the pixel positions by rotate-and-add, when that costs less: key switches, and the
        // plaintext products (each with its encoding) at an eighth of a key switch. Counting
        // key switches alone kept AlexNet's first dense layer (9216 → 4096 in 8×8×16×16 tiles)
        // on the tap path: 589,824 products, where the full-image path takes 16,384.
        if !open, h == k, w == k, p == 0, dims[2].tileSize & (dims[2].tileSize - 1) == 0, dims[3].tileSize & (dims[3].tileSize - 1) == 0 {
            let hoisted = deltas.values.reduce(0) { $0 + $1.filter { $0 != 0 }.count }
            // Output tiles whose weights are all zero (pruned filters) make no sums.
            let liveTiles = (0..<outShape.tileCount).filter { tile in
                let f = Tensor.unflatten(tile, outShape.tileCounts)[fd]
                return (0..<k).contains { dy in (0..<k).contains { dx in (0..<eC).contains { nonzero[block(dy, dx, $0, f)] } } }
            }.count
            let pixelSums = liveTiles * (dims[2].tileSize * dims[3].tileSize).trailingZeroBitCount
            let fullProducts = liveTiles * eC * dims[2].tileCount * dims[3].tileCount
            if 4 * (8 * pixelSums + fullProducts) < 3 * (8 * hoisted + terms.count) {
                return .output(try fullImageConvolution(filters: filters, bias: bias, channelDimension: cd, outputShape: outShape))
            }
        }
        // The tap plaintexts: filter (f, c) at every pixel position of the group, every batch
        // slot. Kept for re-use up to the backend's `plaintextCacheBytes` (a large step, thousands of products
        // at N = 65536, would otherwise hold tens of GB of them), then encoded when used.
        // Only a plaintext used again is kept, and only until its last use: a strided
        // convolution's plaintexts are mostly used once (968 of 968 in the bundled ResNet's
        // 64×32 stride-2 step), and holding them only grew the heap (page faults, +20–35%).
        // Shared by the product workers (`hoistedProducts`), so kept under a lock; encoding
        // runs outside it. Two workers may encode one key at once: wasted work, never a wrong one.
        var uses: [WeightKey: Int] = [:]
        for term in terms { uses[term.plaintext, default: 0] += 1 }
        let cache = Locked<(plaintexts: [WeightKey: Backend.Plaintext], usesLeft: [WeightKey: Int])>(([:], uses))
        let plaintextBytes = 8 * max(1, 2 * backend.slotCount) * (l + 1)
        let cacheLimit = backend.plaintextCacheBytes / plaintextBytes
        func plaintext(_ key: WeightKey) throws -> Backend.Plaintext {
            let (cached, left) = cache.withLock { state -> (Backend.Plaintext?, Int) in
                let left = state.usesLeft[key, default: 1] - 1
                state.usesLeft[key] = left
                let cached = state.plaintexts[key]
                if cached != nil, left == 0 { state.plaintexts[key] = nil }
                return (cached, left)
            }
            if let cached { return cached }
            var slots = [Double](repeating: 0, count: backend.computesValues ? backend.slotCount : 0)
            for cp in 0..<dims[cd].tileSize where backend.computesValues {
                guard let ci = dims[cd].element(tile: key.channelTile, position: cp) else { continue }
                for fp in 0..<outDims[fd].tileSize {
                    guard let fi = outDims[fd].element(tile: key.filterTile, position: fp) else { continue }
                    let weight = filters.values[((fi * c + ci) * k + key.dy) * k + key.dx]
                    for py in positions[key.rows] {
                        for px in positions[key.columns] {
                            let base = cp * slotStrides[cd] + fp * slotStrides[fd] + py * slotStrides[2] + px * slotStrides[3]
                            for b in 0..<dims[4].tileSize { slots[base + b * slotStrides[4]] = weight }
                        }
                    }
                }
            }
            let encoded = try backend.encode(slots, scale: q, level: l)
            if left > 0 {
                cache.withLock { state in
                    if state.usesLeft[key, default: 0] > 0, state.plaintexts.count < cacheLimit { state.plaintexts[key] = encoded }
                }
            }
            return encoded
        }

        // A tap whose tile holds one channel, one filter and every pixel position of the tile
        // (one-pixel tiles: CryptoNets' layout) has one weight in every slot: a scalar product,
        // nothing encoded. Decided from the layout alone, so the counting mock counts the same.
        let scalarTaps = dims[cd].tileSize == 1 && outDims[fd].tileSize == 1
        // One-pixel tiles too: every tap covers its tile's one position, so every weight is one.
        let allScalar = scalarTaps && dims[2].tileSize == 1 && dims[3].tileSize == 1
        func weight(_ key: WeightKey) throws -> TermWeight<Backend.Plaintext> {
            if scalarTaps, positions[key.rows].count == dims[2].tileSize, positions[key.columns].count == dims[3].tileSize,
               let ci = dims[cd].element(tile: key.channelTile, position: 0),
               let fi = outDims[fd].element(tile: key.filterTile, position: 0) {
                return .scalar(filters.values[((fi * c + ci) * k + key.dy) * k + key.dx], scale: q)
            }
            return .plaintext(try plaintext(key))
        }

        // One source tile at a time: its rotations (hoisted together), every product that reads
        // them, then they are dropped; so a step holds one tile's rotations, not every tile's.
        // Each sum is rescaled as soon as it is complete (an output tile no tap reaches, possible
        // only with unaligned interleaving, is zero), then its channel positions are summed.
        // Each sum is dropped once summed, and the tiles are handed over to the bias addition,
        // which releases each once biased: no step holds two copies of its output.
        if open {
            let opened = ConvolutionSums(backend: backend, shape: outShape, channelDimension: cd, channelSpan: tc,
                                         channelStride: channelStride, inputBatch: dims[4],
                                         level: l, zeroScale: q, zeroSource: tiles[0], sums: [])
            var initial: [Backend.Ciphertext?]?
            if var previous = previous.take() {
                try previous.requireCompatible(with: opened)
                initial = previous.takeSums()
            }
            let sums = try hoistedProducts(terms, outputs: outShape.tileCount, scalarWeights: allScalar, initial: initial.take(),
                                           finish: { $0 }) { try weight($0.plaintext) }
            return .open(ConvolutionSums(backend: backend, shape: outShape, channelDimension: cd, channelSpan: tc,
                                         channelStride: channelStride, inputBatch: dims[4],
                                         level: l, zeroScale: q, zeroSource: tiles[0],
                                         sums: sums.map { $0.map { sum in
                                             switch sum { case .finished(let c), .open(let c): return c }
                                         } }))
        }
        var sums: [Backend.Ciphertext?]
        if terms.allSatisfy({ $0.delta == 0 }) {
            // No tap rotates: the lazy sums read the input through a supply that releases each
            // tile after its last product; the outputs go by their inputs (`lazySums`), so the
            // inputs die as the outputs are made. (Freed only when `self` was the last reference.)
            let supply = TileSupply(tiles, reads: terms.map(\.source))
            let zeroSource = tiles[0]   // one tile kept, for an output no term reaches
            _ = consume self
            let made = try Self.lazySums(terms, outputs: outShape.tileCount, workers: backend.productWorkerCount, backend: backend,
                                         scalarWeights: allScalar, read: supply.read, finish: { try backend.rescale($0) }) { try weight($0.plaintext) }
            sums = try Self.rescaled(made.map { $0.map(HoistedSum.finished) }, backend: backend, zeroSource: zeroSource, zeroScale: q, level: l)
                .map(Optional.some)
        } else {
            sums = try rescaledSums(terms, outputs: outShape.tileCount, zeroScale: q, scalarWeights: allScalar) { try weight($0.plaintext) }
                .map(Optional.some)
        }
        // The channel sums, a round of tiles at a time on the product workers.
        let outTiles = try backend.mapInRounds(&sums) { _, sum in try backend.rotatedSum(sum!, span: tc, stride: channelStride) }
        return .output(try TileTensor(backend: backend, shape: outShape, tiles: consume outTiles)
            .addingConvolutionBias(bias, channelDimension: cd, inputBatch: dims[4]))
    }

    /// Σ rot(tiles[source], delta) ⊙ weight(term) into each term's output tile, each sum rescaled
    /// as soon as it is complete (an output no term reaches is the zero ciphertext, from a zero
    /// plaintext at `zeroScale`): so a step never holds its unrescaled sums beside their rescaled
    /// copies. Without rotations (`lazySums`) each block of sums is rescaled by the worker that
    /// made it, the moment it is made: the batch-4096 MNIST plan's first convolution held all
    /// 1,568 of its sums at the top level (3.7 GB) before this.
    func rescaledSums<Term: HoistedTerm>(_ terms: [Term], outputs: Int, zeroScale: Double, scalarWeights: Bool = false,
                                         weight: (Term) throws -> TermWeight<Backend.Plaintext>) throws -> [Backend.Ciphertext] {
        let sums = try hoistedProducts(terms, outputs: outputs, scalarWeights: scalarWeights, finish: { try backend.rescale($0) }, weight: weight)
        return try Self.rescaled(sums, backend: backend, zeroSource: tiles[0], zeroScale: zeroScale, level: level)
    }

    /// Each sum rescaled unless it already is, each released once rescaled (not every sum beside
    /// its rescaled copy); an output no term reached is the zero ciphertext (`zeroSource` times a
    /// zero plaintext at `zeroScale`, rescaled).
    static func rescaled(_ sums: consuming [HoistedSum<Backend.Ciphertext>?], backend: Backend, zeroSource: Backend.Ciphertext,
                         zeroScale: Double, level: Int) throws -> [Backend.Ciphertext] {
        var result: [Backend.Ciphertext] = []
        result.reserveCapacity(sums.count)
        for output in sums.indices {
            let sum = sums[output]
            sums[output] = nil
            switch sum {
            case .finished(let c)?: result.append(c)
            case .open(let c)?: result.append(try backend.rescale(c))
            case nil: result.append(try backend.rescale(backend.multiply(zeroSource, backend.encode([], scale: zeroScale, level: level))))
            }
        }
        return result
    }

    /// Σ rot(tiles[source], delta) ⊙ plaintext(term) into each term's output tile (nil where no
    /// term lands), a few source tiles at a time (`concurrentPieces`, their hoisted sets made at
    /// once, one thread each): their rotations, every product that reads them, then dropped; so
    /// a step holds a few tiles' rotations, not every tile's.
    /// Without rotations the sums come `finish`ed (by the worker that made them); otherwise open.
    /// With `initial` sums (one per output, nil where none; handed over: each is added to in
    /// place), the products are added into them, and an output no term reaches keeps its own.
    func hoistedProducts<Term: HoistedTerm>(_ terms: [Term], outputs: Int, scalarWeights: Bool = false,
                                            initial: consuming [Backend.Ciphertext?]? = nil,
                                            finish: (Backend.Ciphertext) throws -> Backend.Ciphertext,
                                            weight: (Term) throws -> TermWeight<Backend.Plaintext>) throws -> [HoistedSum<Backend.Ciphertext>?] {
        // No term rotates (one-pixel tiles: CryptoNets' layouts, batch plans): output by output,
        // each a lazy sum of its products (`TensorBackend.sumsOfProducts`) that reads every
        // operand once and writes the sum once, where the source-major order below adds into
        // cold accumulators (a batch-4096 MNIST convolution ran 2.4× its estimate that way).
        if terms.allSatisfy({ $0.delta == 0 }) {
            return try lazySums(terms, outputs: outputs, workers: backend.productWorkerCount, scalarWeights: scalarWeights,
                                initial: initial, finish: finish, weight: weight)
                .map { $0.map(HoistedSum.finished) }
        }
        var bySource: [Int: [Term]] = [:]
        for term in terms { bySource[term.source, default: []].append(term) }
        // Each output belongs to one product worker, chosen so that the workers' product counts
        // are even (largest outputs first, each to the least loaded worker): a worker's
        // accumulators are its own, and no sum is split across workers.
        let workers = min(backend.productWorkerCount, outputs)
        var owner = [Int](repeating: 0, count: outputs)
        if workers > 1 {
            var perOutput = [Int](repeating: 0, count: outputs)
            for term in terms { perOutput[term.output] += 1 }
            var load = [Int](repeating: 0, count: workers)
            for output in (0..<outputs).sorted(by: { perOutput[$0] > perOutput[$1] || (perOutput[$0] == perOutput[$1] && $0 < $1) }) {
                let w = load.indices.min { load[$0] < load[$1] }!
                owner[output] = w
                load[w] += perOutput[output]
            }
        }
        let boxes = (0..<workers).map { _ in WorkerAccumulators<Backend.Ciphertext>() }
        if var seeds = initial.take() {
            for output in 0..<outputs {
                guard let sum = seeds[output] else { continue }
                seeds[output] = nil
                boxes[owner[output]].sums[output] = sum
            }
        }
        // The hoisted sets of `concurrentPieces` sources at once, one worker (thread) each: split
        // by limbs, a key switch gained 1.0–1.4× from a second thread. Then the products of the
        // round's sources, each worker those of its own outputs (`roundOrder` puts sources that
        // feed different workers' outputs in one round: a strided convolution's source tile
        // mostly feeds one output tile, and round by round one worker idled). A sum's products
        // come in another order than source by source, which changes no residue: they are
        // added modulo q.
        let together = backend.concurrentPieces
        let sources = Self.roundOrder(bySource.mapValues { $0.map { owner[$0.output] } }, workers: workers)
        for first in stride(from: 0, to: sources.count, by: together) {
            let members = Array(sources[first..<min(first + together, sources.count)])
            let rotatedSets = try backend.rotations(ofEach: members.map { tiles[$0] },
                                                    by: members.map { Array(Set(bySource[$0]!.map(\.delta))).sorted() })
            var shares = [[(set: Int, term: Term)]](repeating: [], count: workers)
            for (k, source) in members.enumerated() {
                for term in bySource[source]! { shares[owner[term.output]].append((k, term)) }
            }
            try backend.runProductWorkers(workers, outputs: outputs) { w in
                let box = boxes[w]
                for (k, term) in shares[w] {
                    var acc = box.sums.removeValue(forKey: term.output)
                    try backend.addProduct(&acc, rotatedSets[k][term.delta]!, weight(term))
                    box.sums[term.output] = acc
                }
            }
        }
        var accumulators = [HoistedSum<Backend.Ciphertext>?](repeating: nil, count: outputs)
        for box in boxes { for (output, sum) in box.sums { accumulators[output] = .open(sum) } }
        return accumulators
    }

    /// The order in which `hoistedProducts` takes its sources, rounds of `concurrentPieces` at
    /// a time: `owners[s]` lists the worker of each of source s's products. Sources go by the
    /// worker that makes most of their products, taken from each worker's list in turn, so a
    /// round's products fall to several workers. With one worker, the sources in order.
    static func roundOrder(_ owners: [Int: [Int]], workers: Int) -> [Int] {
        let sources = owners.keys.sorted()
        guard workers > 1 else { return sources }
        var lists = [[Int]](repeating: [], count: workers)
        for s in sources {
            var load = [Int](repeating: 0, count: workers)
            for w in owners[s]! { load[w] += 1 }
            lists[load.indices.max { load[$0] < load[$1] || (load[$0] == load[$1] && $0 > $1) }!].append(s)
        }
        var order: [Int] = []
        order.reserveCapacity(sources.count)
        var next = [Int](repeating: 0, count: workers)
        while order.count < sources.count {
            for w in 0..<workers where next[w] < lists[w].count {
                order.append(lists[w][next[w]])
                next[w] += 1
            }
        }
        return order
    }

    /// The most plaintext products one convolution may take (at ≥ 0.3 ms each, hours): a layout
    /// past it is refused before its products are listed.
    static var maximumConvolutionProducts: Int { 4_000_000 }

    /// Adds a convolution's per-filter bias to its output in the interleaved layout (the filters
    /// in dimension 1 − channelDimension); the image slots past the elements may take the bias
    /// and become unknown (the next convolution's masks never read them).
    /// Consuming: each output tile is released once its bias is added (not the whole output
    /// beside its biased copy: 5.8 GB of the batch-8192 MNIST plan's first convolution).
    consuming func addingConvolutionBias(_ bias: [Double]?, channelDimension cd: Int, inputBatch: TileDimension) throws -> TileTensor {
        guard let bias else { return self }
        let fd = 1 - cd, outDims = shape.dimensions, f = bias.count
        let tc = outDims[cd].tileSize
        var bDims = [TileDimension](repeating: try .replicated(tile: 1), count: 5)
        bDims[cd] = cd == 0 ? try .replicated(tile: tc) : try .plain(1, tile: tc)
        bDims[fd] = outDims[fd]
        bDims[2] = try .replicated(tile: outDims[2].tileSize)   // image padding, if any, becomes unknown;
        bDims[3] = try .replicated(tile: outDims[3].tileSize)   // convs never read it (their masks skip it)
        bDims[4] = inputBatch.withUnknowns(false)
        // One filter per tile and a batch without padding (one-pixel tiles, the batch filling
        // the slots): each tile's bias is one value in every slot, added as a constant (no
        // plaintext encoded); the result's shape is the plaintext addition's.
        if tc == 1, outDims[fd].tileSize == 1, !bDims[4].hasPadding {
            let b = try Broadcast(shape, TileShape(bDims), .addition)
            let backend = self.backend
            let input = TileSupply(tiles, reads: b.leftTile)
            _ = consume self
            let result = try (0..<b.shape.tileCount).map { t -> Backend.Ciphertext in
                let fi = b.shape.dimensions[fd].element(tile: Tensor.unflatten(t, b.shape.tileCounts)[fd], position: 0) ?? 0
                return try backend.add(input.read(b.leftTile[t]), constant: bias[fi])
            }
            return TileTensor(backend: backend, shape: b.shape, tiles: result)
        }
        var logical = [1, 1, 1, 1, inputBatch.size]
        logical[fd] = f
        var biasTensor = try Tensor(zeros: logical)
        for o in 0..<biasTensor.values.count { biasTensor.values[o] = bias[biasTensor.index(ofOffset: o)[fd]] }
        return try adding(plain: biasTensor, shape: TileShape(bDims))
    }
}

/// One tap plaintext of the interleaved conv: the tap, the channel and filter tiles, and the
/// pixel positions (rows, columns) of the tile it covers, as numbers of position sets.
struct WeightKey: Hashable {
    let dy: Int, dx: Int
    let channelTile: Int, filterTile: Int
    let rows: Int, columns: Int
}

/// A sum of `hoistedProducts`: rescaled already (`finished`) or still to be (`open`).
enum HoistedSum<Ciphertext> {
    case finished(Ciphertext)
    case open(Ciphertext)
}

/// A product of a tap kernel: output tile += rot(source tile, delta) ⊙ its plaintext.
protocol HoistedTerm {
    var output: Int { get }
    var source: Int { get }
    var delta: Int { get }
}

/// One product of the interleaved conv: output tile += rot(source tile, delta) ⊙ plaintext.
struct ConvTerm: HoistedTerm {
    let output: Int, source: Int, delta: Int
    let plaintext: WeightKey
}

/// The output positions of one image dimension of one output tile that a tap reads from the same
/// source tile at the same in-tile shift: output pixel y at in-tile position P reads input pixel
/// s·y + offset, which lives in input tile `tile` at position P + `shift`.
struct TapGroup {
    let tile: Int, shift: Int
    var positions: [Int]

    /// The groups of output tile `r` of `output` for a tap at `offset` (reads outside 0 ..< size,
    /// the zero padding, drop out).
    static func groups(output: TileDimension, tile r: Int, input: TileDimension, stride s: Int, offset: Int,
                       size n: Int) -> [TapGroup] {
        var result: [TapGroup] = []
        for position in 0..<output.tileSize {
            guard let y = output.element(tile: r, position: position) else { continue }
            let iy = s * y + offset
            guard (0..<n).contains(iy) else { continue }
            let (a, pos) = input.location(of: iy)
            if let g = result.firstIndex(where: { $0.tile == a && $0.shift == pos - position }) {
                result[g].positions.append(position)
            } else {
                result.append(TapGroup(tile: a, shift: pos - position, positions: [position]))
            }
        }
        return result
    }
}
