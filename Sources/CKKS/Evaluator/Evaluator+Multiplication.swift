import HEMath

/// Products: by plaintexts, constants and integers, and ciphertext × ciphertext with
/// relinearization.
extension Evaluator {
    /// a ·= p; allocates nothing when p is at a's level.
    public func multiplyInPlace(_ a: inout Ciphertext, _ p: Plaintext) throws {
        try check(a)
        let m = try polynomial(of: p, atLevel: a.level)
        for i in a.components.indices { try a.components[i].multiply(m) }
        a.scale *= p.scale
        a.seed = nil
    }

    /// a · k for an integer k: no level is consumed and the scale is unchanged.
    public func multiply(_ a: Ciphertext, integer k: Int64) throws -> Ciphertext {
        var x = a
        try multiplyInPlace(&x, integer: k)
        return x
    }

    /// a ·= k for an integer k.
    public func multiplyInPlace(_ a: inout Ciphertext, integer k: Int64) throws {
        try check(a)
        for i in a.components.indices { try a.components[i].multiply(byScalar: k) }
        a.seed = nil
    }

    /// a · c for a real constant c, encoded at `constantScale` (by default the prime q_level that
    /// the next rescale divides by, so that rescaling returns exactly to a's scale).
    public func multiply(_ a: Ciphertext, constant c: Double, constantScale: Double? = nil) throws -> Ciphertext {
        var x = a
        try multiplyInPlace(&x, constant: c, constantScale: constantScale)
        return x
    }

    /// a ·= c.
    public func multiplyInPlace(_ a: inout Ciphertext, constant c: Double, constantScale: Double? = nil) throws {
        try check(a)
        let basis = try context.basis(atLevel: a.level)
        let scale = constantScale ?? Double(basis.moduli[a.level].value)
        let residues = try ConstantEncoding.residues(of: c, scale: scale, basis: basis)
        for i in a.components.indices { try a.components[i].multiply(byScalarResidues: residues) }
        a.scale *= scale
        a.seed = nil
    }

    /// a · b: the three-component product (a_0b_0, a_0b_1 + a_1b_0, a_1b_1); relinearize next.
    public func multiplyWithoutRelinearization(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext {
        let (x, y) = try aligned(a, b)
        guard x.componentCount == 2, y.componentCount == 2 else {
            throw CKKSError.componentCount(expected: 2, actual: max(x.componentCount, y.componentCount))
        }
        let c0 = try RNSPolynomial.product(x.components[0], y.components[0])
        let c1 = try RNSPolynomial.sumOfProducts(x.components[0], y.components[1], x.components[1], y.components[0])
        let c2 = try RNSPolynomial.product(x.components[1], y.components[1])
        return Ciphertext(context: context, components: [c0, c1, c2], level: x.level, scale: x.scale * y.scale)
    }

    /// a · b into a caller-owned three-component ciphertext at the operands' level, reusing its
    /// buffers (no allocation). Operands must share level and parameters; `out` is overwritten.
    public func multiplyWithoutRelinearization(_ a: Ciphertext, _ b: Ciphertext, into out: inout Ciphertext) throws {
        try check(a)
        try check(b)
        try check(out)
        guard a.level == b.level, out.level == a.level else {
            throw CKKSError.levelMismatch("in-place product needs operands and output at one level (\(a.level), \(b.level), \(out.level))")
        }
        guard a.componentCount == 2, b.componentCount == 2 else {
            throw CKKSError.componentCount(expected: 2, actual: max(a.componentCount, b.componentCount))
        }
        guard out.componentCount == 3 else { throw CKKSError.componentCount(expected: 3, actual: out.componentCount) }
        try out.components[0].setProduct(a.components[0], b.components[0])
        try out.components[1].setSumOfProducts(a.components[0], b.components[1], a.components[1], b.components[0])
        try out.components[2].setProduct(a.components[1], b.components[1])
        out.scale = a.scale * b.scale
        out.seed = nil
    }

    /// a²: three components, one product fewer than `multiplyWithoutRelinearization(a, a)`.
    public func squareWithoutRelinearization(_ a: Ciphertext) throws -> Ciphertext {
        try check(a)
        guard a.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: a.componentCount) }
        let c0 = try RNSPolynomial.product(a.components[0], a.components[0])
        let c1 = try RNSPolynomial.sumOfProducts(a.components[0], a.components[1], a.components[0], a.components[1])
        let c2 = try RNSPolynomial.product(a.components[1], a.components[1])
        return Ciphertext(context: context, components: [c0, c1, c2], level: a.level, scale: a.scale * a.scale)
    }

    /// a · b, relinearized to two components (no rescale).
    public func multiply(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext {
        var product = try multiplyWithoutRelinearization(a, b)
        try relinearizeInPlace(&product)   // the product is ours alone: no copy on write
        return product
    }

    /// a², relinearized (no rescale).
    public func square(_ a: Ciphertext) throws -> Ciphertext {
        var product = try squareWithoutRelinearization(a)
        try relinearizeInPlace(&product)
        return product
    }

    /// Relinearization: (c_0, c_1, c_2) ↦ (c_0, c_1) + KeySwitch_(s²→s)(c_2).
    public func relinearize(_ a: Ciphertext) throws -> Ciphertext {
        var x = a
        try relinearizeInPlace(&x)
        return x
    }

    /// In-place relinearization; a two-component ciphertext is left as it is. The key-switched
    /// pair is added straight into c_0 and c_1, so nothing is allocated when a owns its storage.
    public func relinearizeInPlace(_ a: inout Ciphertext) throws {
        try check(a)
        if a.componentCount == 2 { return }
        guard a.componentCount == 3 else { throw CKKSError.componentCount(expected: 3, actual: a.componentCount) }
        guard let key = keys?.relinearization else { throw CKKSError.missingRelinearizationKey }
        // Move the components out so that c_0 and c_1 are uniquely owned (no copy on write).
        var parts = a.components
        a.components = []
        let c2 = parts.removeLast()
        var c1 = parts.removeLast()
        var c0 = parts.removeLast()
        c2.withUnsafeLimbs { context.keySwitch($0.baseAddress!, level: a.level, key: key, into: &c0, &c1, adding: true) }
        parts.append(c0)
        parts.append(c1)
        a.components = parts
        a.seed = nil
    }

    /// `rescale(relinearize(a))` with one division instead of two: the key product of c_2 over
    /// Q_l·P is added to P·(c_0, c_1) and the sum divided by P·q_l (`CKKSContext.modDownRescaling`),
    /// so each component costs k + 1 inverse and l forward NTTs where ModDown then rescale cost
    /// k + 2 and 2l + 1. The result is at level l − 1 with scale/q_l, as the two-step form,
    /// and each coefficient within 1 of the two-step form's (both round to nearest, this one
    /// once). A two-component ciphertext is only rescaled.
    public func relinearizeAndRescale(_ a: Ciphertext) throws -> Ciphertext {
        var x = a
        try relinearizeAndRescaleInPlace(&x)
        return x
    }

    /// In-place `relinearizeAndRescale`.
    public func relinearizeAndRescaleInPlace(_ a: inout Ciphertext) throws {
        try check(a)
        if a.componentCount == 2 { return try rescaleInPlace(&a) }
        guard a.componentCount == 3 else { throw CKKSError.componentCount(expected: 3, actual: a.componentCount) }
        let l = a.level
        guard l >= 1 else { throw CKKSError.levelMismatch("cannot rescale at level 0: no prime left to divide by") }
        guard let key = keys?.relinearization else { throw CKKSError.missingRelinearizationKey }
        let lower = try context.basis(atLevel: l - 1)
        let last = try context.basis(atLevel: l).moduli[l]
        var parts = a.components
        a.components = []
        let c2 = parts.removeLast()
        var c1 = parts.removeLast()
        var c0 = parts.removeLast()
        c2.withUnsafeLimbs { source in
            context.keySwitchExtended(source.baseAddress!, level: l, key: key) { x0, x1 in
                c0.withUnsafeMutableLimbs { context.modDownRescaling(x0, level: l, component: $0.baseAddress!) }
                c1.withUnsafeMutableLimbs { context.modDownRescaling(x1, level: l, component: $0.baseAddress!) }
            }
        }
        try c0.restrict(to: lower)
        try c1.restrict(to: lower)
        parts.append(c0)
        parts.append(c1)
        a.components = parts
        a.level = l - 1
        a.scale /= Double(last.value)
        a.seed = nil
    }
}
