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
    /// Convolution of one image with filters W [F, C, K, K], stride s, zero padding p, optional
    /// bias. Input: the polyphase image (`Tensor.polyphase`, logical [C, s, s, U, V]) in one tile
    /// `[C/t_c, s/s, s/s, U/t_U, V/t_V]`. Output: one tile per filter,
    /// `[F/1, */t_c, */s, */s, H′/t_U, W′/t_V]` (logical [F, 1, 1, 1, H′, W′]), each map
    /// replicated over the channel and phase positions.
    ///
    /// Tap (dy, dx) reads input pixel (s·y + dy − p, s·x + dx − p) = phase (r_y, r_x) at
    /// (y + q_y, x + q_x) with dy − p = s·q_y + r_y: a rotation by δ = q_y·t_V + q_x of the whole
    /// tile, selected by masking phase (r_y, r_x). Taps sharing δ share the rotation and one
    /// plaintext (their masks occupy different phases). The mask also zeroes reads outside the
    /// image (zero padding) and rows that a rotation carries across, so every product is exact.
    /// Each filter's sum is rescaled and its (channel, phase) block — the outermost t_c·s² slots
    /// per pixel — summed by log2(t_c·s²) rotate-and-add steps, cyclic, hence replicated.
    ///
    /// Counts (D = distinct δ over the taps, D′ = those nonzero; D = K² for s = 1; for K = 5,
    /// p = 1, s = 2, D = 9): 1 hoisted set of D′ rotations, F·D encodes and plaintext products,
    /// F·(D − 1) + F·log2(t_c·s²) additions, F rescales, F·log2(t_c·s²) rotations; a bias adds
    /// F encodes and F additions. One level.
    /// - Parameters:
    ///   - height: the image height H (default s·U; give it when H is not a multiple of s).
    ///   - width: the image width W (default s·V).
    public func conv2dSIMD(filters: Tensor, bias: [Double]? = nil, stride s: Int, padding p: Int,
                           height: Int? = nil, width: Int? = nil) throws -> TileTensor {
        let dims = shape.dimensions
        guard shape.rank == 5, shape.tileCount == 1, filters.shape.count == 4, filters.shape[2] == filters.shape[3],
              dims[1].size == s, dims[2].size == s, dims[1].tileSize == s, dims[2].tileSize == s,
              !dims.contains(where: { $0.isReplicated || $0.isInterleaved }) else {
            throw TileTensorError.shapeMismatch("SIMD conv needs the polyphase image in one tile [C/tc, \(s)/\(s), \(s)/\(s), U/tu, V/tv] and filters [F, C, K, K], got \(shape) and \(filters.shape)")
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
        try requirePowerOfTwo(block, 0)
        let slots = backend.slotCount
        let strides = shape.slotStrides

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
        let rotated = try backend.rotations(of: tiles[0], by: deltas)
        let l = level
        let q = backend.rescalePrime(atLevel: l)
        var maps: [Backend.Ciphertext] = []
        for fi in 0..<f {
            var acc: Backend.Ciphertext?
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
                                mask[slot] = weight
                                any = any || weight != 0
                            }
                        }
                    }
                }
                guard any else { continue }
                let term = try backend.multiply(rotated[delta]!, backend.encode(mask, scale: q, level: l))
                try backend.accumulate(&acc, term)
            }
            guard let sum = acc else { throw TileTensorError.invalidArgument("filter \(fi) is all zeros") }
            var map = try rotateAndAdd(backend.rescale(sum), span: block, stride: strides[2])
            if let bias {
                var plain = [Double](repeating: 0, count: slots)
                for o in 0..<slots where (o % (tu * tv)) / tv < oh && o % tv < ow { plain[o] = bias[fi] }
                map = try backend.add(map, backend.encode(plain, scale: backend.scale(of: map), level: backend.level(of: map)))
            }
            maps.append(map)
        }
        let outShape = try TileShape([.plain(f, tile: 1), .replicated(tile: tc), .replicated(tile: s), .replicated(tile: s),
                                      .plain(oh, tile: tu), .plain(ow, tile: tv)])
        return TileTensor(backend: backend, shape: outShape, tiles: maps)
    }
}
