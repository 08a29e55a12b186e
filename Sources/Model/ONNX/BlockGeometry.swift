/// How one layer's weight is cut into the plaintext blocks the engine multiplies by (the unit of
/// the training toolkit's HE-aware pruning), as `he_tool.budgets` and `he_tool.block_pruning`
/// describe it (`Examples/training/README.md`, "Metadata of pruned and budgeted files").
///
/// The weight is viewed as `shape` = [F, C, KH, KW]: a Conv weight as it is, a Gemm weight
/// [m, n] (`transB` = 1) as [m, C, H, W] with n = C·H·W in the flatten's channel-major order
/// ([m, n, 1, 1] for a dense layer on a vector). Element (f, c, y, x) belongs to block
///
///     ((f / tf · nC + c / tc) · nR + rowGroups[y]) · nX + columnGroups[x]
///
/// with nC = ⌈C / tc⌉, nR = max(rowGroups) + 1, nX = max(columnGroups) + 1, so blocks are
/// numbered 0 ..< `blockCount`.
public struct BlockGeometry: Equatable, Sendable {
    /// [F, C, KH, KW], every extent ≥ 1.
    public var shape: [Int]
    /// Filters (first axis) per block, tf ≥ 1.
    public var filtersPerBlock: Int
    /// Channels (second axis) per block, tc ≥ 1.
    public var channelsPerBlock: Int
    /// The row group of each of the KH rows (≥ 0).
    public var rowGroups: [Int]
    /// The column group of each of the KW columns (≥ 0).
    public var columnGroups: [Int]

    /// A geometry after checking that its fields fit together (the caller reads them from a file).
    /// - Parameter what: names the geometry in the error (e.g. "layers[0].geometry of he_tool.budgets").
    /// - Throws: `ModelError.invalidArgument` naming the field that is wrong.
    public init(shape: [Int], filtersPerBlock: Int, channelsPerBlock: Int, rowGroups: [Int], columnGroups: [Int],
                what: @autoclosure () -> String) throws {
        func fail(_ why: String) -> ModelError { .invalidArgument("\(what()): \(why)") }
        guard shape.count == 4, shape.allSatisfy({ $0 >= 1 }), let count = ONNXLimits.product(shape), count <= ONNXLimits.maximumElements else {
            throw fail("shape \(shape) is not four extents ≥ 1 of at most \(ONNXLimits.maximumElements) elements in all ([F, C, KH, KW])")
        }
        guard filtersPerBlock >= 1, channelsPerBlock >= 1 else {
            throw fail("filters_per_block \(filtersPerBlock) and channels_per_block \(channelsPerBlock) must be at least 1")
        }
        guard rowGroups.count == shape[2], columnGroups.count == shape[3] else {
            throw fail("row_groups has \(rowGroups.count) entries and column_groups \(columnGroups.count), but the shape \(formatShape(shape)) has KH = \(shape[2]) rows and KW = \(shape[3]) columns (one group per row and per column)")
        }
        guard rowGroups.allSatisfy({ (0..<shape[2]).contains($0) }), columnGroups.allSatisfy({ (0..<shape[3]).contains($0) }) else {
            throw fail("row_groups \(rowGroups) and column_groups \(columnGroups) must hold group numbers 0 … KH − 1 and 0 … KW − 1")
        }
        self.shape = shape
        self.filtersPerBlock = filtersPerBlock
        self.channelsPerBlock = channelsPerBlock
        self.rowGroups = rowGroups
        self.columnGroups = columnGroups
    }

    /// Filter tiles ⌈F / tf⌉.
    public var filterTiles: Int { (shape[0] + filtersPerBlock - 1) / filtersPerBlock }
    /// Channel tiles nC = ⌈C / tc⌉.
    public var channelTiles: Int { (shape[1] + channelsPerBlock - 1) / channelsPerBlock }
    /// Row groups nR = max(rowGroups) + 1.
    public var rowGroupCount: Int { (rowGroups.max() ?? 0) + 1 }
    /// Column groups nX = max(columnGroups) + 1.
    public var columnGroupCount: Int { (columnGroups.max() ?? 0) + 1 }
    /// Number of blocks: filter tiles × channel tiles × row groups × column groups (at most the
    /// element count, which the initializer checks bound).
    public var blockCount: Int { filterTiles * channelTiles * rowGroupCount * columnGroupCount }

    /// The block of element (f, c, y, x).
    public func block(f: Int, c: Int, y: Int, x: Int) -> Int {
        ((f / filtersPerBlock * channelTiles + c / channelsPerBlock) * rowGroupCount + rowGroups[y]) * columnGroupCount + columnGroups[x]
    }

    /// The block of every element of the weight, in row-major [F, C, KH, KW] order (which is
    /// also the row-major order of a Gemm weight [m, n] viewed as [m, C, H, W]).
    public func blockOfEveryElement() -> [Int] {
        let (f, c, kh, kw) = (shape[0], shape[1], shape[2], shape[3])
        var out = [Int](repeating: 0, count: f * c * kh * kw)
        var i = 0
        for fi in 0..<f {
            for ci in 0..<c {
                for y in 0..<kh {
                    for x in 0..<kw {
                        out[i] = block(f: fi, c: ci, y: y, x: x)
                        i += 1
                    }
                }
            }
        }
        return out
    }
}
