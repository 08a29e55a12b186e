import HEMath

/// Slot rotations and conjugation through Galois automorphisms and key switching.
extension Evaluator {
    /// Rotates the slots left by `step` (slot i moves to slot i − step; negative rotates right).
    public func rotate(_ a: Ciphertext, by step: Int) throws -> Ciphertext {
        try automorphism(of: a, element: context.galoisElement(forStep: step), name: "rotation by \(step)")
    }

    /// Complex conjugation of every slot.
    public func conjugate(_ a: Ciphertext) throws -> Ciphertext {
        try automorphism(of: a, element: context.conjugationElement, name: "conjugation")
    }

    /// One automorphism: σ_g is applied to c_1 before the decomposition, so the key products
    /// read the digits in order (the hoisted path reads them through the permutation instead).
    func automorphism(of a: Ciphertext, element g: UInt64, name: String) throws -> Ciphertext {
        try check(a)
        guard a.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: a.componentCount) }
        if g == 1 { return a }
        let key = try galoisKey(g, step: name)
        let perm = context.galoisPermutation(g)
        let (k0, c1) = context.keySwitch(a.components[1].permuted(by: perm), key: key, level: a.level)
        var c0 = k0
        try addPermuted(a.components[0], perm, into: &c0, level: a.level)
        return Ciphertext(context: context, components: [c0, c1], level: a.level, scale: a.scale)
    }

    /// out += σ(x) for the slot permutation of σ, without materialising σ(x).
    private func addPermuted(_ x: RNSPolynomial<Evaluation>, _ perm: [Int32], into out: inout RNSPolynomial<Evaluation>,
                             level: Int) throws {
        let moduli = try context.basis(atLevel: level).moduli
        let n = context.degree
        x.withUnsafeLimbs { source in
            out.withUnsafeMutableLimbs { target in
                perm.withUnsafeBufferPointer { p in
                    for i in moduli.indices {
                        let m = moduli[i]
                        let src = source.baseAddress! + i * n
                        let dst = target.baseAddress! + i * n
                        for j in 0..<n { dst[j] = m.add(dst[j], src[Int(p[j])]) }
                    }
                }
            }
        }
    }

    /// Hoisted rotations: c_1 is decomposed (ModUp) once and every step reuses it, applying its
    /// automorphism to the decomposed digits; each step then costs only the key products and
    /// ModDown. Returns step ↦ rotated ciphertext (step 0 maps to `a` itself).
    public func rotations(of a: Ciphertext, by steps: [Int]) throws -> [Int: Ciphertext] {
        let unique = Array(Set(steps)).sorted()
        let elements = unique.map { (context.galoisElement(forStep: $0), "rotation by \($0)") }
        let rotated = try automorphisms(of: a, elements: elements)
        return Dictionary(uniqueKeysWithValues: zip(unique, rotated))
    }

    /// Σ_(i < span) rotate(a, i·stride), by log2(span) rotate-and-add steps; every slot of the
    /// result holds the sum of `span` slots spaced `stride` apart (span a power of two). Needs
    /// the keys for the steps stride·2^k, k < log2(span).
    public func rotateAndSum(_ a: Ciphertext, span: Int, stride: Int = 1) throws -> Ciphertext {
        guard span >= 1, span & (span - 1) == 0, span * stride <= context.slotCount, stride >= 1 else {
            throw CKKSError.outOfRange("rotate-and-sum span \(span) × stride \(stride) must be a power-of-two span within \(context.slotCount) slots")
        }
        var acc = a
        var k = 1
        while k < span {
            try addInPlace(&acc, rotate(acc, by: k * stride))
            k <<= 1
        }
        return acc
    }

    /// Applies the automorphisms X ↦ X^g for each element to a, sharing one decomposition.
    func automorphisms(of a: Ciphertext, elements: [(UInt64, String)]) throws -> [Ciphertext] {
        try check(a)
        guard a.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: a.componentCount) }
        let keys = try elements.map { g, name in g == 1 ? nil : try galoisKey(g, step: name) }
        guard elements.contains(where: { $0.0 != 1 }) else { return elements.map { _ in a } }
        let decomposition = context.decompose(a.components[1], level: a.level)
        defer { context.release(decomposition) }
        return try zip(elements, keys).map { element, key in
            guard let key else { return a }
            let perm = context.galoisPermutation(element.0)
            let (k0, c1) = context.keySwitchProducts(decomposition, key: key, permutation: perm)
            var c0 = k0
            try addPermuted(a.components[0], perm, into: &c0, level: a.level)
            return Ciphertext(context: context, components: [c0, c1], level: a.level, scale: a.scale)
        }
    }
}
