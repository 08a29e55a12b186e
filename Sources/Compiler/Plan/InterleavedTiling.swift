import TileTensors

/// The tile of the interleaved convolution layout that a plan keeps through its layers:
/// [t0, t1, t_X, t_Y, t_B] slots for (outer channels, inner channels, rows, columns, batch),
/// whose product is the slot count. The mirrored convolutions of the tile-tensor layer keep the
/// tile sizes from layer to layer (only which of t0, t1 holds the channels alternates), so one
/// tiling describes every layout of a chain; t_X = t_Y = 1 is the CryptoNets layout.
public struct InterleavedTiling: Hashable, Sendable, CustomStringConvertible {
    public var t0: Int, t1: Int, tX: Int, tY: Int, tB: Int

    public init(t0: Int, t1: Int, tX: Int, tY: Int, tB: Int) {
        self.t0 = t0; self.t1 = t1; self.tX = tX; self.tY = tY; self.tB = tB
    }

    public var slots: Int { t0 * t1 * tX * tY * tB }
    public var sizes: [Int] { [t0, t1, tX, tY, tB] }

    public var description: String { "\(t0)×\(t1)×\(tX)×\(tY)×\(tB)" }

    /// The filters-first input layout of an image batch [C, 1, H, W, B]:
    /// `[C/t0, */t1, H~/t_X, W~/t_Y, B/t_B]`.
    public func inputShape(channels c: Int, height h: Int, width w: Int, batch b: Int) throws -> TileShape {
        try TileShape([.plain(c, tile: t0), .replicated(tile: t1), .interleaved(h, tile: tX), .interleaved(w, tile: tY),
                       .plain(b, tile: tB)])
    }

    /// The dimension holding the channels of a tensor in one of the chain's layouts: 1 when the
    /// outermost dimension is replicated (`[*/t0, C/t1, …]`), else 0.
    public static func channelDimension(of shape: TileShape) -> Int {
        shape.dimensions[0].isReplicated ? 1 : 0
    }

    /// The layout of one value per channel broadcast over a tensor of `shape` (the per-channel
    /// coefficients of an activation).
    public static func channelCoefficientShape(for shape: TileShape, channels: Int) throws -> TileShape {
        let channel = channelDimension(of: shape)
        return try TileShape(shape.dimensions.enumerated().map { d, dim in
            d == channel ? try .plain(channels, tile: dim.tileSize) : try .replicated(tile: dim.tileSize)
        })
    }

    /// Every power-of-two tiling of `slots` with t_X = t_Y ≤ `maxImageTile`, channel tiles at
    /// most `maxChannelTile`, and t_B whatever fills the slots, at least `minimumBatchTile`
    /// (slots beyond the batch stay zero: a single image may still use the CryptoNets layout).
    public static func enumerate(slots: Int, maxChannelTile: Int, maxImageTile: Int, minimumBatchTile: Int) -> [InterleavedTiling] {
        var result: [InterleavedTiling] = []
        var t0 = 1
        while t0 <= maxChannelTile {
            var t1 = 1
            while t1 <= maxChannelTile {
                var t = 1
                while t <= maxImageTile {
                    let used = t0 * t1 * t * t
                    if used <= slots {
                        let rest = slots / used
                        if rest >= minimumBatchTile { result.append(InterleavedTiling(t0: t0, t1: t1, tX: t, tY: t, tB: rest)) }
                    }
                    t *= 2
                }
                t1 *= 2
            }
            t0 *= 2
        }
        return result
    }
}
