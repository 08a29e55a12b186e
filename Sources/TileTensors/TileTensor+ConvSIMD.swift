/// Conv2d, single-image SIMD algorithm: the whole image in one ciphertext, each group of kernel
/// taps one hoisted rotation times masked weight plaintexts, channels summed by rotate-and-add
/// (Gazelle/LoLa style), with strides handled by a polyphase input layout.
extension Tensor {
    /// The polyphase form of an image [C, H, W] for stride s: [C, s, s, ⌈H/s⌉, ⌈W/s⌉] with
    /// element (c, a, b, u, v) = image(c, s·u + a, s·v + b) (zero beyond the image). A stride-s
    /// convolution of this layout is a sum of shifts, i.e. of slot rotations.
    public static func polyphase(_ image: Tensor, stride s: Int) throws -> Tensor {
        guard image.shape.count == 3, s >= 1 else { throw TileTensorError.invalidArgument("polyphase needs an image [C, H, W] and a stride ≥ 1") }
        let c = image.shape[0], h = image.shape[1], w = image.shape[2]
        let u = (h + s - 1) / s, v = (w + s - 1) / s
        var out = try Tensor(zeros: [c, s, s, u, v])
        for ci in 0..<c {
            for y in 0..<h {
                for x in 0..<w { out[[ci, y % s, x % s, y / s, x / s]] = image[[ci, y, x]] }
            }
        }
        return out
    }
}

extension TileTensor {
    /// Convolution with filters W [F, C, K, K], stride s, zero padding p, optional bias, of one
    /// image or of a batch packed in front of it. Input: the polyphase image (`Tensor.polyphase`,
    /// logical [C, s, s, U, V]) in one tile `[C/t_c, s/s, s/s, U/t_U, V/t_V]`, or a batch
    /// (logical [B, C, s, s, U, V]) in `[B/t_B, C/t_c, s/s, s/s, U/t_U, V/t_V]`, e_B tiles.
    /// Output: one tile per filter (and batch tile). Single image:
    /// `[F/1, */t_c, */s, */s, H′/t_U, W′/t_V]` (logical [F, 1, 1, 1, H′, W′]), each map replicated
    /// over its (channel, phase) block — the input of `conv2dSIMDMirrored`. Batch:
    /// `[F/1, B/t_B, 1?/t_c, 1?/s, 1?/s, H′/t_U, W′/t_V]` (the block is no longer outermost, so
    /// only its first position holds the map).
    ///
    /// Tap (dy, dx) reads input pixel (s·y + dy − p, s·x + dx − p) = phase (r_y, r_x) at
    /// (y + q_y, x + q_x) with dy − p = s·q_y + r_y: a rotation by δ = q_y·t_V + q_x of the whole
    /// tile, selected by masking phase (r_y, r_x). Taps sharing δ share the rotation and one
    /// plaintext (their masks occupy different phases). The mask also zeroes reads outside the
    /// image (zero padding) and rows that a rotation carries across, so every product is exact.
    /// Each filter's sum is rescaled and its (channel, phase) block of t_c·s² positions summed by
    /// log2(t_c·s²) rotate-and-add steps.
    ///
    /// Counts (D = distinct δ over the taps, D′ = those nonzero; D = K² for s = 1; for K = 5,
    /// p = 1, s = 2, D = 9; e_B = 1 for one image): e_B hoisted sets of D′ rotations, F·D encodes,
    /// F·D·e_B plaintext products, F·e_B·(D − 1) + F·e_B·log2(t_c·s²) additions, F·e_B rescales,
    /// F·e_B·log2(t_c·s²) rotations; a bias adds F encodes and F·e_B additions. One level.
    /// - Parameters:
    ///   - height: the image height H (default s·U; give it when H is not a multiple of s).
    ///   - width: the image width W (default s·V).
    public func conv2dSIMD(filters: Tensor, bias: [Double]? = nil, stride s: Int, padding p: Int,
                           height: Int? = nil, width: Int? = nil) throws -> TileTensor {
        let batched = shape.rank == 6
        let o = batched ? 1 : 0
        let all = shape.dimensions
        let dims = Array(all[o...])
        guard shape.rank == 5 || shape.rank == 6, shape.tileCounts[o...].allSatisfy({ $0 == 1 }),
              filters.shape.count == 4, filters.shape[2] == filters.shape[3],
              dims[1].size == s, dims[2].size == s, dims[1].tileSize == s, dims[2].tileSize == s,
              !all.contains(where: { $0.isReplicated || $0.isInterleaved }) else {
            throw TileTensorError.shapeMismatch("SIMD conv needs the polyphase image in one tile [(B/tb,) C/tc, \(s)/\(s), \(s)/\(s), U/tu, V/tv] and filters [F, C, K, K], got \(shape) and \(filters.shape)")
        }
        if shape.hasUnknowns {
            return try clearingUnknowns().conv2dSIMD(filters: filters, bias: bias, stride: s, padding: p, height: height, width: width)
        }
        let f = filters.shape[0], c = filters.shape[1], k = filters.shape[2]
        guard dims[0].size == c else { throw TileTensorError.shapeMismatch("the input has \(dims[0].size) channels, the filters \(c)") }
        guard p >= 0, p < k, s >= 1 else { throw TileTensorError.invalidArgument("padding \(p) must be in 0..<\(k), stride ≥ 1") }
        if let bias, bias.count != f { throw TileTensorError.shapeMismatch("bias has \(bias.count) values for \(f) filters") }
        let tc = dims[0].tileSize, tu = dims[3].tileSize, tv = dims[4].tileSize
        let u = dims[3].size, v = dims[4].size
        let h = height ?? s * u, w = width ?? s * v
        guard (s * (u - 1) + 1...s * u).contains(h), (s * (v - 1) + 1...s * v).contains(w) else {
            throw TileTensorError.shapeMismatch("a \(h)×\(w) image does not have the polyphase sizes \(u)×\(v) for stride \(s)")
        }
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
        guard oh >= 1, ow >= 1, oh <= tu, ow <= tv else {
            throw TileTensorError.invalidArgument("the \(oh)×\(ow) output does not fit the \(tu)×\(tv) tile")
        }
        let block = tc * s * s
        try requirePowerOfTwo(block, o)
        let slots = backend.slotCount
        let strides = Array(shape.slotStrides[o...])
        let batchTiles = batched ? all[0].tileCount : 1
        let batchPositions = batched ? all[0].tileSize : 1
        let batchStride = batched ? shape.slotStrides[0] : 0

        func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
        // Group taps by their rotation δ.
        var groups: [Int: [(dy: Int, dx: Int, ry: Int, rx: Int, qy: Int, qx: Int)]] = [:]
        for dy in 0..<k {
            for dx in 0..<k {
                let qy = floorDiv(dy - p, s), qx = floorDiv(dx - p, s)
                groups[qy * tv + qx, default: []].append((dy, dx, dy - p - s * qy, dx - p - s * qx, qy, qx))
            }
        }
        let deltas = groups.keys.sorted()
        // The batch tiles' hoisted sets at once, their steps dealt to the threads.
        let rotated = try backend.rotations(ofEach: Array(tiles.prefix(batchTiles)), by: Array(repeating: deltas, count: batchTiles))
        let l = level
        let q = restoringScale(atLevel: l)
        var biasPlaintext: Backend.Plaintext?
        var maps: [Backend.Ciphertext] = []
        for fi in 0..<f {
            var accumulators = [Backend.Ciphertext?](repeating: nil, count: batchTiles)
            for delta in deltas {
                var mask = [Double](repeating: 0, count: slots)
                var any = false
                for tap in groups[delta]! {
                    for y in 0..<oh {
                        let iy = s * y + tap.dy - p
                        guard (0..<h).contains(iy), (0..<u).contains(y + tap.qy) else { continue }
                        for x in 0..<ow {
                            let ix = s * x + tap.dx - p
                            guard (0..<w).contains(ix), (0..<v).contains(x + tap.qx) else { continue }
                            for ci in 0..<c {
                                let weight = filters[[fi, ci, tap.dy, tap.dx]]
                                let slot = ci * strides[0] + tap.ry * strides[1] + tap.rx * strides[2] + y * strides[3] + x
                                for b in 0..<batchPositions { mask[b * batchStride + slot] = weight }
                                any = any || weight != 0
                            }
                        }
                    }
                }
                guard any else { continue }
                let plaintext = try backend.encode(mask, scale: q, level: l)
                for bt in 0..<batchTiles {
                    try backend.addProduct(&accumulators[bt], rotated[bt][delta]!, plaintext)
                }
            }
            for bt in 0..<batchTiles {
                guard let sum = accumulators[bt] else { throw TileTensorError.invalidArgument("filter \(fi) is all zeros") }
                var map = try rotateAndAdd(backend.rescale(sum), span: block, stride: strides[2])
                if let bias {
                    if biasPlaintext == nil || bt == 0 {
                        var plain = [Double](repeating: 0, count: slots)
                        for slot in 0..<slots where (slot % (tu * tv)) / tv < oh && slot % tv < ow { plain[slot] = bias[fi] }
                        biasPlaintext = try backend.encodeAddend(plain, scale: backend.scale(of: map), level: backend.level(of: map))
                    }
                    map = try backend.add(map, addend: biasPlaintext!)
                }
                maps.append(map)
            }
        }
        let blockDims: [TileDimension] = batched
            ? try [tc, s, s].map { try TileDimension(size: 1, tileSize: $0, unknowns: $0 > 1) }
            : try [.replicated(tile: tc), .replicated(tile: s), .replicated(tile: s)]
        var outDims: [TileDimension] = [try .plain(f, tile: 1)]
        if batched { outDims.append(bias != nil && all[0].hasPadding ? all[0].withUnknowns(true) : all[0]) }
        outDims += blockDims + [try .plain(oh, tile: tu), try .plain(ow, tile: tv)]
        return TileTensor(backend: backend, shape: try TileShape(outDims), tiles: maps)
    }
}
