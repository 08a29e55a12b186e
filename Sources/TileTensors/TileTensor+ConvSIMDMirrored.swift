/// The mirrored SIMD convolution: it reads the per-filter output of `conv2dSIMD` (one tile per
/// channel, each map replicated over its block of slots) and writes one tile in the polyphase
/// layout of stride 1, which `conv2dSIMD` reads. Alternating the two stacks SIMD convolutions
/// with no repacking.
extension TileTensor {
    /// Stride-1 convolution of one image held as C tiles `[C/1, */r0, */r1, */r2, H/t_U, W/t_V]`
    /// (logical [C, 1, 1, 1, H, W]; the output form of `conv2dSIMD`) with filters [F, C, K, K],
    /// zero padding p and an optional bias, into one tile `[F/R, 1/1, 1/1, H′/t_U, W′/t_V]`
    /// (R = r0·r1·r2 ≥ F; logical [F, 1, 1, H′, W′]), the stride-1 input of `conv2dSIMD`.
    ///
    /// Channel c's tile holds its map at every block position, so rot(tile_c, δ) with
    /// δ = (dy − p)·t_V + (dx − p) brings input pixel (y + dy − p, x + dx − p) to (y, x) at every
    /// block position; the plaintext puts w[f, c, dy, dx] at block position f (masked to the
    /// output pixels whose read lies inside the image), so the sum over c and taps is the output
    /// with filter f at block position f — no channel rotation is needed.
    ///
    /// Counts (T = taps with a nonzero weight for the channel, usually K²; δ = 0 for the tap
    /// (p, p)): C hoisted sets of K² − 1 rotations (K² when p ≥ K), C·T encodes and plaintext
    /// products, C·T − 1 additions, 1 rescale; a bias adds 1 encode and 1 addition. One level.
    /// - Throws: `shapeMismatch` for another layout or more filters than block positions,
    ///   `invalidArgument` for an output larger than the image tile.
    public func conv2dSIMDMirrored(filters: Tensor, bias: [Double]? = nil, padding p: Int) throws -> TileTensor {
        let dims = shape.dimensions
        guard shape.rank == 6, dims[0].tileSize == 1, !dims[0].isReplicated, dims[1].isReplicated, dims[2].isReplicated,
              dims[3].isReplicated, !dims[4].isReplicated, !dims[5].isReplicated, dims[4].tileCount == 1, dims[5].tileCount == 1,
              !dims[4].isInterleaved, !dims[5].isInterleaved, filters.shape.count == 4, filters.shape[2] == filters.shape[3] else {
            throw TileTensorError.shapeMismatch("mirrored SIMD conv needs [C/1, */r0, */r1, */r2, H/tu, W/tv] and filters [F, C, K, K], got \(shape) and \(filters.shape)")
        }
        if shape.hasUnknowns { return try clearingUnknowns().conv2dSIMDMirrored(filters: filters, bias: bias, padding: p) }
        let f = filters.shape[0], c = filters.shape[1], k = filters.shape[2]
        let block = dims[1].tileSize * dims[2].tileSize * dims[3].tileSize
        guard dims[0].size == c else { throw TileTensorError.shapeMismatch("the input has \(dims[0].size) channels, the filters \(c)") }
        guard f <= block else { throw TileTensorError.shapeMismatch("\(f) filters do not fit the \(block) block positions of \(shape)") }
        if let bias, bias.count != f { throw TileTensorError.shapeMismatch("bias has \(bias.count) values for \(f) filters") }
        let h = dims[4].size, w = dims[5].size, tu = dims[4].tileSize, tv = dims[5].tileSize
        guard p >= 0, p < k, h + 2 * p >= k, w + 2 * p >= k else {
            throw TileTensorError.invalidArgument("padding \(p) and kernel \(k) do not fit a \(h)×\(w) image")
        }
        let oh = h + 2 * p - k + 1, ow = w + 2 * p - k + 1
        guard oh <= tu, ow <= tv else { throw TileTensorError.invalidArgument("the \(oh)×\(ow) output does not fit the \(tu)×\(tv) tile") }
        let slots = backend.slotCount, plane = tu * tv
        let l = level
        let q = restoringScale(atLevel: l)
        let steps = (0..<(k * k)).map { (($0 / k) - p) * tv + ($0 % k) - p }
        var acc: Backend.Ciphertext?
        for ci in 0..<c {
            let rotated = try backend.rotations(of: tiles[ci], by: steps)
            for tap in 0..<(k * k) {
                let dy = tap / k, dx = tap % k
                var plain = [Double](repeating: 0, count: slots)
                var any = false
                for fi in 0..<f {
                    let weight = filters[[fi, ci, dy, dx]]
                    guard weight != 0 else { continue }
                    for y in 0..<oh where (0..<h).contains(y + dy - p) {
                        for x in 0..<ow where (0..<w).contains(x + dx - p) {
                            plain[fi * plane + y * tv + x] = weight
                            any = true
                        }
                    }
                }
                guard any else { continue }
                try backend.addProduct(&acc, rotated[steps[tap]]!, backend.encode(plain, scale: q, level: l))
            }
        }
        guard let sum = acc else { throw TileTensorError.invalidArgument("the filters are all zeros") }
        var out = try backend.rescale(sum)
        if let bias {
            var plain = [Double](repeating: 0, count: slots)
            for fi in 0..<f { for y in 0..<oh { for x in 0..<ow { plain[fi * plane + y * tv + x] = bias[fi] } } }
            out = try backend.add(out, addend: backend.encodeAddend(plain, scale: backend.scale(of: out), level: backend.level(of: out)))
        }
        let outShape = try TileShape([.plain(f, tile: block), .plain(1, tile: 1), .plain(1, tile: 1), .plain(oh, tile: tu), .plain(ow, tile: tv)])
        return TileTensor(backend: backend, shape: outShape, tiles: [out])
    }
}
