/// One dimension of a tile shape: a logical size n cut into tiles of t slots.
///
/// Kinds (DESIGN.md §5): plain `n/t` (element j in tile ⌊j/t⌋ at position j mod t), replicated
/// `*/t` (logical size 1, the value repeated at all t positions), interleaved `n~/t` (element j in
/// tile j mod e at position ⌊j/e⌋, e = ⌈n/t⌉, so a shift by one moves whole tiles). A `?` marks
/// unknown values: the slots that hold no element carry garbage (after a sum, say) instead of
/// zeros, and must be masked before an operation reads them.
public struct TileDimension: Hashable, Sendable, CustomStringConvertible {
    /// Logical size n (1 when replicated).
    public let size: Int
    /// Tile size t: positions of this dimension inside one tile.
    public let tileSize: Int
    /// `*/t`: one value repeated at every position.
    public let isReplicated: Bool
    /// `n~/t`: elements dealt round-robin over the tiles.
    public let isInterleaved: Bool
    /// `n?/t`: the slots past the elements hold garbage, not zeros.
    public let hasUnknowns: Bool

    /// The largest logical size or tile size of a dimension (2^40).
    public static let maximumSize = 1 << 40

    /// A dimension; throws for sizes below 1, above `maximumSize`, or a replicated dimension marked interleaved.
    public init(size: Int, tileSize: Int, replicated: Bool = false, interleaved: Bool = false,
                unknowns: Bool = false) throws {
        guard tileSize >= 1 else { throw TileTensorError.invalidNotation("tile size \(tileSize) must be at least 1") }
        guard size >= 1 else { throw TileTensorError.invalidNotation("dimension size \(size) must be at least 1") }
        // Bounds that keep ⌈n/t⌉·t and every product over a shape's dimensions from overflowing.
        guard size <= Self.maximumSize, tileSize <= Self.maximumSize else {
            throw TileTensorError.invalidNotation("dimension \(size)/\(tileSize) is larger than \(Self.maximumSize)")
        }
        guard !replicated || (size == 1 && !interleaved && !unknowns) else {
            throw TileTensorError.invalidNotation("a replicated dimension has logical size 1, its value in every slot: it is neither interleaved nor unknown")
        }
        self.size = size
        self.tileSize = tileSize
        isReplicated = replicated
        isInterleaved = interleaved
        hasUnknowns = unknowns
    }

    /// `n/t`.
    public static func plain(_ n: Int, tile t: Int) throws -> TileDimension { try TileDimension(size: n, tileSize: t) }
    /// `*/t`.
    public static func replicated(tile t: Int) throws -> TileDimension { try TileDimension(size: 1, tileSize: t, replicated: true) }
    /// `n~/t`.
    public static func interleaved(_ n: Int, tile t: Int) throws -> TileDimension {
        try TileDimension(size: n, tileSize: t, interleaved: true)
    }

    /// Number of tiles along this dimension: 1 when replicated, else e = ⌈n/t⌉.
    public var tileCount: Int { isReplicated ? 1 : (size + tileSize - 1) / tileSize }

    /// True when some (tile, position) pairs hold no element (n < e·t).
    public var hasPadding: Bool { !isReplicated && tileCount * tileSize > size }

    /// The (tile, position) of element j (for a replicated dimension: tile 0, position 0, one of t copies).
    public func location(of j: Int) -> (tile: Int, position: Int) {
        precondition((0..<size).contains(j), "element \(j) outside 0..<\(size)")
        if isReplicated { return (0, 0) }
        if isInterleaved {
            let e = tileCount
            return (j % e, j / e)
        }
        return (j / tileSize, j % tileSize)
    }

    /// The element at (tile, position), or nil for a padding slot (zero, or garbage when unknown).
    public func element(tile: Int, position: Int) -> Int? {
        if isReplicated { return 0 }
        let j = isInterleaved ? position * tileCount + tile : tile * tileSize + position
        return j < size ? j : nil
    }

    /// The same dimension with the unknown mark set or cleared.
    public func withUnknowns(_ unknowns: Bool) -> TileDimension {
        // Fields already validated: rebuilding cannot fail.
        try! TileDimension(size: size, tileSize: tileSize, replicated: isReplicated, interleaved: isInterleaved,
                           unknowns: unknowns)
    }

    /// `n/t`, `*/t`, `n~/t`, `n?/t` or `n~?/t`.
    public var description: String {
        (isReplicated ? "*" : "\(size)") + (isInterleaved ? "~" : "") + (hasUnknowns ? "?" : "") + "/\(tileSize)"
    }
}
