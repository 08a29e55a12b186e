/// Polynomials of any degree at the minimal depth ⌈log2(d + 1)⌉.
extension TileTensor {
    /// p(x) = Σ_i c_i·x^i elementwise, coefficients shared by all elements, degree d ≥ 1.
    ///
    /// Algorithm (a binary baby-step/giant-step tree): with 2^(D−1) ≤ d < 2^D, write
    /// p = q·x^(2^(D−1)) + r (deg q, deg r < 2^(D−1)) and recurse down to chunks c_0 + c_1·x.
    /// The giant steps x^(2^j) come from j squarings (depth j); each chunk costs one constant
    /// product (depth 1), each split one ciphertext product, so the depth is D = ⌈log2(d + 1)⌉.
    /// Every subresult is produced directly at the level and scale its consumer needs: a
    /// constant c multiplying y at scale s_y toward target scale T at level t is encoded at scale
    /// T·q_(t+1)/s_y, so the rescale lands on T exactly and the additions' scales match.
    ///
    /// Counts per tile for d = 2^D − 1 with all coefficients nonzero: (D − 1) + (2^(D−1) − 1)
    /// multiplications and relinearizations, 2^(D−1) constant products, (D − 1) + 2^D − 1
    /// rescales, 2^D − 1 additions (constants included). Zero coefficients skip their work.
    /// Padding slots (x = 0) end up holding c_0, so padded dimensions become unknown when c_0 ≠ 0.
    /// - Throws: `invalidArgument` for a constant polynomial or too few levels.
    public func polynomial(coefficients c: [Double]) throws -> TileTensor {
        guard let d = c.lastIndex(where: { $0 != 0 }), d >= 1 else {
            throw TileTensorError.invalidArgument("the polynomial \(c) is constant; it needs no ciphertext")
        }
        var depth = 0
        while (1 << depth) < d + 1 { depth += 1 }
        guard level >= depth else {
            throw TileTensorError.invalidArgument("degree \(d) needs \(depth) levels, the tensor has \(level) left")
        }
        let coefficients = c[0...d].map { PolynomialCoefficient.constant($0) }
        let result = try tiles.map { x -> Backend.Ciphertext in
            var tree = PolynomialTree(backend: backend, x: x)
            return try tree.evaluate(coefficients, depth: depth)
        }
        let marked = c[0] == 0 ? shape : try TileShape(shape.dimensions.map { $0.hasPadding ? $0.withUnknowns(true) : $0 })
        return with(shape: marked, tiles: result)
    }

    /// p(x) = Σ_i c_i ⊙ x^i with coefficient tensors packed in `coefficientShape` (for instance one
    /// value per channel, replicated over the other dimensions; broadcast as in `multiplied(byPlain:)`),
    /// at the same minimal depth and by the same tree as `polynomial(coefficients:)`, with plaintext
    /// coefficient tiles in place of constants (each encoded at the scale its node needs).
    /// Counts per result tile as for shared coefficients, plus one encode per nonzero coefficient.
    /// The result's padding holds c_0 (marked unknown where c_0's tile is nonzero there).
    /// - Throws: `invalidArgument` for a constant polynomial or too few levels, `shapeMismatch`
    ///   for coefficients that do not fit `coefficientShape` or do not broadcast.
    public func polynomial(coefficients c: [Tensor], coefficientShape: TileShape) throws -> TileTensor {
        let b = try Broadcast(shape, coefficientShape, .multiplication)
        let packed = try c.map { try coefficientShape.pack($0) }
        guard let d = packed.lastIndex(where: { tiles in tiles.contains { $0.contains { $0 != 0 } } }), d >= 1 else {
            throw TileTensorError.invalidArgument("the polynomial is constant; it needs no ciphertext")
        }
        var depth = 0
        while (1 << depth) < d + 1 { depth += 1 }
        guard level >= depth else {
            throw TileTensorError.invalidArgument("degree \(d) needs \(depth) levels, the tensor has \(level) left")
        }
        let result = try (0..<b.shape.tileCount).map { t in
            let coefficients = packed[0...d].map { tiles -> PolynomialCoefficient in
                let slots = tiles[b.rightTile[t]]
                return slots.contains { $0 != 0 } ? .slots(slots) : .constant(0)
            }
            var tree = PolynomialTree(backend: backend, x: tiles[b.leftTile[t]])
            return try tree.evaluate(coefficients, depth: depth)
        }
        // Padding slots of x hold 0, so they end up with c_0: unknown unless c_0 is zero there.
        let constantShape = try Broadcast(shape, coefficientShape, .addition).shape
        let marked = packed[0].allSatisfy({ !$0.contains { $0 != 0 } }) ? b.shape : constantShape
        return TileTensor(backend: backend, shape: marked, tiles: result)
    }
}

/// A coefficient of a polynomial: one constant, or one value per slot (a plaintext tile).
enum PolynomialCoefficient {
    case constant(Double)
    case slots([Double])

    var isZero: Bool {
        switch self {
        case let .constant(c): return c == 0
        case let .slots(v): return !v.contains { $0 != 0 }
        }
    }
}


/// The recursive evaluation of `TileTensor.polynomial`, on one ciphertext.
struct PolynomialTree<Backend: TensorBackend> {
    enum Value {
        case cipher(Backend.Ciphertext)
        case constant(PolynomialCoefficient)
    }

    let backend: Backend
    /// x^(2^j) by j.
    var powers: [Backend.Ciphertext]

    init(backend: Backend, x: Backend.Ciphertext) {
        self.backend = backend
        powers = [x]
    }

    /// The whole polynomial (degree ≥ 1) at `depth` levels below x.
    mutating func evaluate(_ c: [PolynomialCoefficient], depth: Int) throws -> Backend.Ciphertext {
        let x = powers[0]
        guard case let .cipher(y) = try evaluate(c, bits: depth, level: backend.level(of: x) - depth, scale: backend.scale(of: x)) else {
            preconditionFailure("a polynomial of degree ≥ 1 evaluates to a ciphertext")
        }
        return y
    }

    /// x^(2^j), by squaring.
    mutating func power(_ j: Int) throws -> Backend.Ciphertext {
        while powers.count <= j {
            let last = powers[powers.count - 1]
            powers.append(try backend.relinearizeAndRescale(backend.squareWithoutRelinearization(last)))
        }
        return powers[j]
    }

    /// c·y at exactly (level, scale): y dropped to level + 1, c encoded at scale·q/s_y, rescaled.
    func scaled(_ y: Backend.Ciphertext, by c: PolynomialCoefficient, level: Int, scale: Double) throws -> Backend.Ciphertext {
        let dropped = backend.level(of: y) > level + 1 ? try backend.dropLevel(y, to: level + 1) : y
        let constantScale = scale * backend.rescalePrime(atLevel: level + 1) / backend.scale(of: dropped)
        switch c {
        case let .constant(k): return try backend.rescale(backend.multiply(dropped, constant: k, scale: constantScale))
        case let .slots(v):
            return try backend.rescale(backend.multiply(dropped, backend.encode(v, scale: constantScale, level: level + 1)))
        }
    }

    /// y + c at y's level and scale.
    func adding(_ y: Backend.Ciphertext, _ c: PolynomialCoefficient) throws -> Backend.Ciphertext {
        if c.isZero { return y }
        switch c {
        case let .constant(k): return try backend.add(y, constant: k)
        case let .slots(v): return try backend.add(y, addend: backend.encodeAddend(v, scale: backend.scale(of: y), level: backend.level(of: y)))
        }
    }

    /// Σ_i c_i·x^i (fewer than 2^bits coefficients) at exactly (level, scale).
    mutating func evaluate(_ c: [PolynomialCoefficient], bits: Int, level: Int, scale: Double) throws -> Value {
        if c.count <= 2 || bits <= 1 {
            let c0 = c.first ?? .constant(0), c1 = c.count > 1 ? c[1] : .constant(0)
            if c1.isZero { return .constant(c0) }
            return .cipher(try adding(scaled(power(0), by: c1, level: level, scale: scale), c0))
        }
        let h = 1 << (bits - 1)
        if c.count <= h { return try evaluate(c, bits: bits - 1, level: level, scale: scale) }
        let giant = try power(bits - 1)
        var term: Backend.Ciphertext?
        let giantScale = backend.scale(of: giant)
        switch try evaluate(Array(c[h...]), bits: bits - 1, level: level + 1,
                            scale: scale * backend.rescalePrime(atLevel: level + 1) / giantScale) {
        case let .constant(k):
            if !k.isZero { term = try scaled(giant, by: k, level: level, scale: scale) }
        case let .cipher(q):
            let g = backend.level(of: giant) > level + 1 ? try backend.dropLevel(giant, to: level + 1) : giant
            term = try backend.relinearizeAndRescale(backend.multiplyWithoutRelinearization(q, g))
        }
        switch try evaluate(Array(c[..<h]), bits: bits - 1, level: level, scale: scale) {
        case let .constant(k):
            guard let t = term else { return .constant(k) }
            return .cipher(try adding(t, k))
        case let .cipher(r):
            guard let t = term else { return .cipher(r) }
            return .cipher(try backend.add(t, r))
        }
    }
}
