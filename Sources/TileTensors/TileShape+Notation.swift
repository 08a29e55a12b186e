/// Parsing the notation `[5/2, 6~/4, */8, 3?/4, 7~?/2]` (brackets optional, spaces ignored).
extension TileShape {
    /// Parses a shape; throws `invalidNotation` naming the dimension that fails.
    public init(parsing text: String) throws {
        var body = text.filter { !$0.isWhitespace }
        if body.hasPrefix("[") && body.hasSuffix("]") { body = String(body.dropFirst().dropLast()) }
        guard !body.isEmpty else { throw TileTensorError.invalidNotation("'\(text)' has no dimensions") }
        let dims = try body.split(separator: ",", omittingEmptySubsequences: false).map { part in
            try TileDimension(parsing: String(part))
        }
        try self.init(dims)
    }
}

extension TileDimension {
    /// Parses one dimension: `n/t`, `*/t`, `n~/t`, `n?/t` or `n~?/t`.
    public init(parsing text: String) throws {
        let halves = text.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, let t = Int(halves[1]) else {
            throw TileTensorError.invalidNotation("'\(text)' is not of the form n/t")
        }
        var left = Substring(halves[0])
        let unknowns = left.hasSuffix("?")
        if unknowns { left = left.dropLast() }
        let interleaved = left.hasSuffix("~")
        if interleaved { left = left.dropLast() }
        if left == "*" {
            guard !interleaved else { throw TileTensorError.invalidNotation("'\(text)': a replicated dimension cannot be interleaved") }
            try self.init(size: 1, tileSize: t, replicated: true, unknowns: unknowns)
            return
        }
        guard let n = Int(left) else { throw TileTensorError.invalidNotation("'\(text)': '\(left)' is not a size or *") }
        try self.init(size: n, tileSize: t, interleaved: interleaved, unknowns: unknowns)
    }
}
