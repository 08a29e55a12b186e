/// Default tile shapes for the kernels, from the sizes of a layer and the slot count: what the
/// benchmark uses and a starting point for the optimizer (which will enumerate alternatives).
public enum LayoutChoice {
    /// The smallest power of two ≥ n.
    public static func powerOfTwo(atLeast n: Int) -> Int {
        var t = 1
        while t < n { t <<= 1 }
        return t
    }

    /// Filters-first input of `conv2dInterleaved`: `[C/t_c, */t_f, H~/t_img, W~/t_img, B/t_B]`
    /// with t_c, t_f the channel and filter counts rounded up to powers of two (halved while they
    /// do not fit) and the batch tile taking the remaining slots. t_img = 1 is CryptoNets.
    /// - Throws: `invalidArgument` when no such tile fits the slots.
    public static func interleavedConvInput(channels c: Int, filters f: Int, height h: Int, width w: Int,
                                            batch b: Int, imageTile t: Int = 1, slots: Int) throws -> TileShape {
        var tc = powerOfTwo(atLeast: c), tf = powerOfTwo(atLeast: f)
        let pixels = t * t
        while tc * tf * pixels > slots && (tc > 1 || tf > 1) {
            if tf >= tc { tf /= 2 } else { tc /= 2 }
        }
        guard tc * tf * pixels <= slots, slots % (tc * tf * pixels) == 0 else {
            throw TileTensorError.invalidArgument("an image tile of \(t)×\(t) does not fit \(slots) slots")
        }
        let tb = slots / (tc * tf * pixels)
        return try TileShape([.plain(c, tile: tc), .replicated(tile: tf), .interleaved(h, tile: t), .interleaved(w, tile: t),
                              .plain(b, tile: tb)])
    }

    /// Polyphase input of `conv2dSIMD` for one image: `[C/t_c, s/s, s/s, U/t_U, V/t_V]` with
    /// U = ⌈H/s⌉, t_c the power of two ≥ C (so the channel sum takes log2(t_c·s²) rotations, no
    /// more), and t_U, t_V at least the input and output rows, enlarged to fill the slots.
    /// - Throws: `invalidArgument` when the image and its channels do not fit one ciphertext
    ///   (s must be a power of two).
    ///
    /// With `batch` > 1 the images go in front, `[B/t_B, C/t_c, …]`, t_B the most images that
    /// fit one ciphertext (at most B rounded up to a power of two).
    public static func simdConvInput(channels c: Int, height h: Int, width w: Int, kernel k: Int, stride s: Int,
                                     padding p: Int, batch: Int = 1, slots: Int) throws -> TileShape {
        let u = (h + s - 1) / s, v = (w + s - 1) / s
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
        let tc = powerOfTwo(atLeast: c)
        var tu = powerOfTwo(atLeast: max(u, oh)), tv = powerOfTwo(atLeast: max(v, ow))
        guard tc * s * s * tu * tv <= slots, slots % (tc * s * s * tu * tv) == 0 else {
            throw TileTensorError.invalidArgument("\(c) channels of \(h)×\(w) (stride \(s)) do not fit one ciphertext of \(slots) slots")
        }
        let tb = batch > 1 ? min(powerOfTwo(atLeast: batch), slots / (tc * s * s * tu * tv)) : 1
        while tb * tc * s * s * tu * tv < slots {
            if tv <= tu { tv *= 2 } else { tu *= 2 }
        }
        let image: [TileDimension] = [try .plain(c, tile: tc), try .plain(s, tile: s), try .plain(s, tile: s),
                                      try .plain(u, tile: tu), try .plain(v, tile: tv)]
        return try TileShape(batch > 1 ? [try .plain(batch, tile: tb)] + image : image)
    }

    /// Row-vector input of `dense`: `[*/t0, n/t1]` with t1 = `columnTile` or, by default, the
    /// power of two ≥ n (at most the slots). Smaller t1 trade rotations for more input tiles.
    /// - Throws: `invalidArgument` when `columnTile` is not a power of two dividing the slots.
    public static func denseRowInput(columns n: Int, columnTile: Int? = nil, slots: Int) throws -> TileShape {
        let t1 = columnTile ?? min(powerOfTwo(atLeast: n), slots)
        guard t1 >= 1, t1 <= slots, slots % t1 == 0 else {
            throw TileTensorError.invalidArgument("column tile \(t1) must divide the \(slots) slots")
        }
        return try TileShape([.replicated(tile: slots / t1), .plain(n, tile: t1)])
    }

    /// Input of `diagonalMatrixVectorProduct`: `[*/(slots/d), n/d]` with d = the power of two ≥ max(m, n).
    /// - Throws: `invalidArgument` when d exceeds the slots.
    public static func diagonalInput(rows m: Int, columns n: Int, slots: Int) throws -> TileShape {
        let d = powerOfTwo(atLeast: max(m, n))
        guard d <= slots else { throw TileTensorError.invalidArgument("a \(m)×\(n) matrix does not fit \(slots) slots for the diagonal method") }
        return try TileShape([.replicated(tile: slots / d), .plain(n, tile: d)])
    }
}
