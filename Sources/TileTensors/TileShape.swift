/// The layout of a tensor [n_1 … n_k] in tiles [t_1 … t_k]: one ciphertext (or plaintext) per
/// tile, ∏ t_i slots per tile, ∏ (tiles along i) tiles. Tiles are row-major in the slots (the last
/// dimension is contiguous) and the tiles themselves are numbered row-major over the tile grid.
/// Written `[n1/t1, …, nk/tk]` with the per-dimension marks of `TileDimension`.
public struct TileShape: Hashable, Sendable, CustomStringConvertible {
    /// The dimensions, outermost first.
    public let dimensions: [TileDimension]

    /// The largest slot count of a tile (N/2 for the largest ring, 2^17, with room to spare).
    public static let maximumSlotsPerTile = 1 << 20
    /// The largest number of slots over all tiles, ∏ tiles × ∏ t_i.
    public static let maximumTotalSlots = 1 << 48

    /// A shape of at least one dimension and at most 16, whose slots per tile and slots over all
    /// tiles stay within `maximumSlotsPerTile` and `maximumTotalSlots`. Layouts read from files
    /// and requests come through here, so every count derived from a shape (tiles, slots, used
    /// and wasted slots) is known not to overflow.
    public init(_ dimensions: [TileDimension]) throws {
        guard !dimensions.isEmpty else { throw TileTensorError.invalidNotation("a tile shape has at least one dimension") }
        guard dimensions.count <= 16 else { throw TileTensorError.invalidNotation("\(dimensions.count) dimensions; at most 16") }
        var slots = 1, tiles = 1
        for d in dimensions {
            let (s, o1) = slots.multipliedReportingOverflow(by: d.tileSize)
            let (t, o2) = tiles.multipliedReportingOverflow(by: d.tileCount)
            guard !o1, !o2, s <= Self.maximumSlotsPerTile, t <= Self.maximumTotalSlots else {
                throw TileTensorError.invalidNotation("the shape \(dimensions.map(\.description).joined(separator: ", ")) has too many slots per tile (at most \(Self.maximumSlotsPerTile)) or tiles")
            }
            slots = s
            tiles = t
        }
        let (total, overflow) = slots.multipliedReportingOverflow(by: tiles)
        guard !overflow, total <= Self.maximumTotalSlots else {
            throw TileTensorError.invalidNotation("the shape \(dimensions.map(\.description).joined(separator: ", ")) has more than \(Self.maximumTotalSlots) slots over all its tiles")
        }
        self.dimensions = dimensions
    }

    /// Number of dimensions.
    public var rank: Int { dimensions.count }
    /// Logical sizes (1 for replicated dimensions).
    public var logicalShape: [Int] { dimensions.map(\.size) }
    /// Tile sizes t_i.
    public var tileSizes: [Int] { dimensions.map(\.tileSize) }
    /// Slots one tile uses: ∏ t_i (must equal the backend's slot count).
    public var slotsPerTile: Int { dimensions.reduce(1) { $0 * $1.tileSize } }
    /// Tiles along each dimension.
    public var tileCounts: [Int] { dimensions.map(\.tileCount) }
    /// Total number of tiles (ciphertexts).
    public var tileCount: Int { tileCounts.reduce(1, *) }
    /// Slot stride of each dimension inside a tile (row-major: the last dimension has stride 1).
    public var slotStrides: [Int] { Self.strides(tileSizes) }
    /// Stride of each dimension in the row-major numbering of tiles.
    public var tileStrides: [Int] { Self.strides(tileCounts) }
    /// True when some dimension holds garbage in its padding slots.
    public var hasUnknowns: Bool { dimensions.contains(where: \.hasUnknowns) }

    /// Slots holding an element or one of its replicas: ∏ (t_i if replicated, else n_i).
    public var usedSlots: Int { dimensions.reduce(1) { $0 * ($1.isReplicated ? $1.tileSize : $1.size) } }
    /// Slots of all tiles that hold neither an element nor a replica.
    public var wastedSlots: Int { tileCount * slotsPerTile - usedSlots }

    /// Row-major strides of a grid.
    static func strides(_ sizes: [Int]) -> [Int] {
        var result = [Int](repeating: 1, count: sizes.count)
        var s = 1
        for i in sizes.indices.reversed() {
            result[i] = s
            s *= sizes[i]
        }
        return result
    }

    /// The (tile, slot) of a logical element (index 0 in replicated dimensions gives the first copy).
    public func location(of index: [Int]) throws -> (tile: Int, slot: Int) {
        guard index.count == rank else {
            throw TileTensorError.invalidArgument("index \(index) has \(index.count) coordinates, the shape \(rank)")
        }
        var tile = 0, slot = 0
        let ts = tileStrides, ss = slotStrides
        for (d, dim) in dimensions.enumerated() {
            guard (0..<dim.size).contains(index[d]) else {
                throw TileTensorError.invalidArgument("index \(index) is outside the logical shape \(logicalShape)")
            }
            let (t, p) = dim.location(of: index[d])
            tile += t * ts[d]
            slot += p * ss[d]
        }
        return (tile, slot)
    }

    /// The same shape with dimension d replaced.
    public func replacing(_ d: Int, with dimension: TileDimension) -> TileShape {
        var dims = dimensions
        dims[d] = dimension
        return try! TileShape(dims)   // same rank: cannot fail
    }

    /// The same shape with every unknown mark cleared.
    public var clearingUnknowns: TileShape { try! TileShape(dimensions.map { $0.withUnknowns(false) }) }

    /// `[n1/t1, …, nk/tk]`.
    public var description: String { "[" + dimensions.map(\.description).joined(separator: ", ") + "]" }
}
