import HEMath

/// Additions, subtractions and negation.
extension Evaluator {
    /// a + b (levels aligned to the lower one; scales must match).
    public func add(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext {
        var (x, y) = try aligned(a, b)
        try addInPlace(&x, y)
        _ = consume y
        return x
    }

    /// a += b at the same level and scale; allocates nothing when a has at least b's components.
    public func addInPlace(_ a: inout Ciphertext, _ b: Ciphertext) throws {
        try combine(&a, b) { try $0.add($1) }
    }

    /// a − b (levels aligned; scales must match).
    public func subtract(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext {
        var (x, y) = try aligned(a, b)
        try subtractInPlace(&x, y)
        _ = consume y
        return x
    }

    /// a −= b at the same level and scale.
    public func subtractInPlace(_ a: inout Ciphertext, _ b: Ciphertext) throws {
        try combine(&a, b) { try $0.subtract($1) }
    }

    /// −a.
    public func negate(_ a: Ciphertext) throws -> Ciphertext {
        var x = a
        try negateInPlace(&x)
        return x
    }

    /// a = −a.
    public func negateInPlace(_ a: inout Ciphertext) throws {
        try check(a)
        for i in a.components.indices { a.components[i].negate() }
        a.seed = nil
    }

    /// a + p for a plaintext p at a level ≥ a's and the same scale.
    public func add(_ a: Ciphertext, _ p: Plaintext) throws -> Ciphertext {
        var x = a
        try addInPlace(&x, p)
        return x
    }

    /// a += p.
    public func addInPlace(_ a: inout Ciphertext, _ p: Plaintext) throws {
        try check(a)
        try requireSameScale(a.scale, p.scale)
        try a.components[0].add(polynomial(of: p, atLevel: a.level))
    }

    /// a − p.
    public func subtract(_ a: Ciphertext, _ p: Plaintext) throws -> Ciphertext {
        var x = a
        try subtractInPlace(&x, p)
        return x
    }

    /// a −= p.
    public func subtractInPlace(_ a: inout Ciphertext, _ p: Plaintext) throws {
        try check(a)
        try requireSameScale(a.scale, p.scale)
        try a.components[0].subtract(polynomial(of: p, atLevel: a.level))
    }

    /// a + c for a real constant c in every slot (encoded at a's scale; no level used).
    public func add(_ a: Ciphertext, constant c: Double) throws -> Ciphertext {
        var x = a
        try addInPlace(&x, constant: c)
        return x
    }

    /// a += c. The constant polynomial round(c·Δ) has the same value in every NTT slot, so it
    /// is added residue-wise to c_0.
    public func addInPlace(_ a: inout Ciphertext, constant c: Double) throws {
        try check(a)
        let residues = try ConstantEncoding.residues(of: c, scale: a.scale, basis: context.basis(atLevel: a.level))
        let n = context.degree
        let moduli = try context.basis(atLevel: a.level).moduli
        // Limbs in parallel (`RNSParallelism`): a step adding a constant to every tile runs
        // its tiles one after the other.
        a.components[0].withUnsafeMutableLimbs { x in
            let p = x.baseAddress!
            RNSParallelism.forEachLimb(count: moduli.count, degree: n) { i in
                let m = moduli[i]
                for j in (i * n)..<((i + 1) * n) { p[j] = m.add(p[j], residues[i]) }
            }
        }
    }

    /// Applies `op` to matching components; a takes b's extra components when b has more.
    private func combine(_ a: inout Ciphertext, _ b: Ciphertext,
                         _ op: (inout RNSPolynomial<Evaluation>, RNSPolynomial<Evaluation>) throws -> Void) throws {
        try check(a)
        try check(b)
        guard a.level == b.level else {
            throw CKKSError.levelMismatch("in-place operands at levels \(a.level) and \(b.level); drop one first or use the value form")
        }
        try requireSameScale(a.scale, b.scale)
        for i in 0..<min(a.componentCount, b.componentCount) { try op(&a.components[i], b.components[i]) }
        if b.componentCount > a.componentCount {
            for i in a.componentCount..<b.componentCount {
                var extra = RNSPolynomial<Evaluation>(zeroIn: b.components[i].basis)
                try op(&extra, b.components[i])
                a.components.append(extra)
            }
        }
        a.seed = nil
    }
}

/// Rounding a real constant at a scale into residues, exactly (through GMP when |c·Δ| ≥ 2^62).
enum ConstantEncoding {
    static func residues(of c: Double, scale: Double, basis: RNSBasis) throws -> [UInt64] {
        let v = c * scale
        guard v.isFinite else { throw CKKSError.encoding("constant \(c) times scale \(scale) is not finite") }
        if abs(v) < 0x1p62 {
            let r = Int64(v.rounded())
            return basis.moduli.map { $0.reduce(signed: r) }
        }
        let big: BigInteger
        do { big = try BigInteger(roundingToNearest: v) } catch { throw CKKSError.encoding("constant \(c) cannot be rounded at scale \(scale)") }
        guard big.magnitude < basis.halfProduct else {
            throw CKKSError.encoding("constant \(c) at scale \(scale) exceeds Q/2 at this level; lower the scale or the constant")
        }
        return basis.decompose(big)
    }
}
