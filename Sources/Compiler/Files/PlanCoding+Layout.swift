import TileTensors

/// Tile layouts as typed protobuf messages (one entry per dimension), not notation strings.
extension PlanCoding {
    static func layout(_ shape: TileShape) -> Hetool_Plan_V1_TileLayout {
        var m = Hetool_Plan_V1_TileLayout()
        m.dimensions = shape.dimensions.map { d in
            var e = Hetool_Plan_V1_LayoutDimension()
            e.size = UInt64(d.size)
            e.tileSize = UInt64(d.tileSize)
            e.kind = d.isReplicated ? .replicated : d.isInterleaved ? .interleaved : .plain
            e.unknowns = d.hasUnknowns
            return e
        }
        return m
    }

    /// A plan layout: five dimensions whose tiles hold exactly `slots` slots (any number ≤ 2^20
    /// when nil).
    static func layout(_ m: Hetool_Plan_V1_TileLayout, present: Bool, slots: Int?, _ what: String, _ source: String) throws -> TileShape {
        guard present else { throw CompilerError.invalidFile("\(source) has no \(what)") }
        try rejectUnknown(m, source)
        guard m.dimensions.count == 5 else {
            throw CompilerError.invalidFile("\(source): the \(what) has \(m.dimensions.count) dimensions, not 5")
        }
        let bound = UInt64(TileDimension.maximumSize)
        let dimensions = try m.dimensions.map { e -> TileDimension in
            try rejectUnknown(e, source)
            guard e.size >= 1, e.size <= bound, e.tileSize >= 1, e.tileSize <= bound else {
                throw CompilerError.invalidFile("\(source): the \(what) has a dimension \(e.size)/\(e.tileSize) out of range")
            }
            let kind: (replicated: Bool, interleaved: Bool)
            switch e.kind {
            case .plain: kind = (false, false)
            case .replicated: kind = (true, false)
            case .interleaved: kind = (false, true)
            default: throw CompilerError.invalidFile("\(source): the \(what) has a dimension of unknown kind")
            }
            do {
                return try TileDimension(size: Int(e.size), tileSize: Int(e.tileSize), replicated: kind.replicated,
                                         interleaved: kind.interleaved, unknowns: e.unknowns)
            } catch {
                throw CompilerError.invalidFile("\(source): the \(what) has an invalid dimension (\(error))")
            }
        }
        let shape: TileShape
        do { shape = try TileShape(dimensions) } catch {
            throw CompilerError.invalidFile("\(source): the \(what) is not a tile shape (\(error))")
        }
        guard slots == nil || shape.slotsPerTile == slots else {
            throw CompilerError.invalidFile("\(source): the \(what) \(shape) has \(shape.slotsPerTile) slots per tile, the parameters \(slots ?? 0)")
        }
        return shape
    }
}
