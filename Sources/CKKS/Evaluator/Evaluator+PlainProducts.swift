import HEMath

/// Ciphertext × plaintext products that read both operands in place: the plaintext's first
/// l + 1 limbs are used directly (no restriction copy when it sits at a higher level) and the
/// ciphertext is not copied first. The sums of such products are what convolutions and dense
/// layers are made of, so `addProductInPlace` accumulates one without a temporary ciphertext.
extension Evaluator {
    /// a · p into a fresh ciphertext, for a plaintext at a level ≥ a's; scale a.scale · p.scale.
    public func multiply(_ a: Ciphertext, _ p: Plaintext) throws -> Ciphertext {
        try check(a)
        try checkPlaintext(p, atLevel: a.level)
        let basis = try context.basis(atLevel: a.level)
        var components: [RNSPolynomial<Evaluation>] = []
        components.reserveCapacity(a.componentCount)
        for c in a.components {
            var out = RNSPolynomial<Evaluation>(basis: basis) { _ in }   // fully written below
            limbProducts(c, p, into: &out, adding: false)
            components.append(out)
        }
        return Ciphertext(context: context, components: components, level: a.level, scale: a.scale * p.scale)
    }

    /// acc += a · p. The accumulator must be at a's level, with as many components and the scale
    /// a.scale · p.scale (the sum of products of one layer); the plaintext at a level ≥ a's.
    /// Allocates nothing when acc owns its storage.
    public func addProductInPlace(_ acc: inout Ciphertext, _ a: Ciphertext, _ p: Plaintext) throws {
        try check(acc)
        try check(a)
        try checkPlaintext(p, atLevel: a.level)
        guard acc.level == a.level else {
            throw CKKSError.levelMismatch("the accumulator is at level \(acc.level) and the product at \(a.level); bring them to one level first")
        }
        guard acc.componentCount == a.componentCount else {
            throw CKKSError.componentCount(expected: a.componentCount, actual: acc.componentCount)
        }
        try requireSameScale(acc.scale, a.scale * p.scale)
        // Move the components out so that each is uniquely owned (no copy on write).
        var parts = acc.components
        acc.components = []
        for i in parts.indices { limbProducts(a.components[i], p, into: &parts[i], adding: true) }
        acc.components = parts
        acc.seed = nil
    }

    /// acc += a · c for a real constant c at `constantScale`: a weight shared by every slot,
    /// whose plaintext would be the constant polynomial round(c · constantScale), so no
    /// plaintext is encoded and no NTT runs (one Shoup product and one addition per residue).
    /// The same residues as `addProductInPlace` with that plaintext. acc at a's level, with
    /// as many components and the scale a.scale · constantScale. Allocates nothing when acc
    /// owns its storage.
    public func addConstantProductInPlace(_ acc: inout Ciphertext, _ a: Ciphertext, constant c: Double,
                                          constantScale: Double) throws {
        try check(acc)
        try check(a)
        guard acc.level == a.level else {
            throw CKKSError.levelMismatch("the accumulator is at level \(acc.level) and the product at \(a.level); bring them to one level first")
        }
        guard acc.componentCount == a.componentCount else {
            throw CKKSError.componentCount(expected: a.componentCount, actual: acc.componentCount)
        }
        try requireSameScale(acc.scale, a.scale * constantScale)
        let residues = try ConstantEncoding.residues(of: c, scale: constantScale, basis: context.basis(atLevel: a.level))
        var parts = acc.components
        acc.components = []
        for i in parts.indices { try parts[i].addScalarProduct(a.components[i], residues: residues) }
        acc.components = parts
        acc.seed = nil
    }

    /// out = x ⊙ p (or out += x ⊙ p) limb by limb over out's primes; p's limbs are a prefix of
    /// its own (limb-major storage, level ≥ out's), so they are read where they are.
    private func limbProducts(_ x: RNSPolynomial<Evaluation>, _ p: Plaintext,
                              into out: inout RNSPolynomial<Evaluation>, adding: Bool) {
        let moduli = out.basis.moduli
        let n = context.degree
        x.withUnsafeLimbs { xs in
            p.polynomial.withUnsafeLimbs { ps in
                out.withUnsafeMutableLimbs { os in
                    let xb = xs.baseAddress!, pb = ps.baseAddress!, ob = os.baseAddress!
                    RNSParallelism.forEachLimb(count: moduli.count, degree: n) { i in
                        let m = moduli[i]
                        let u = xb + i * n, v = pb + i * n, o = ob + i * n
                        if adding {
                            for j in 0..<n { o[j] = m.add(o[j], m.multiplyReduced(u[j], v[j])) }
                        } else {
                            for j in 0..<n { o[j] = m.multiplyReduced(u[j], v[j]) }
                        }
                    }
                }
            }
        }
    }
}
