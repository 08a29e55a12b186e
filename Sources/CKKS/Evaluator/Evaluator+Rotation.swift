import HEMath

/// Slot rotations and conjugation through Galois automorphisms and key switching.
extension Evaluator {
    /// Rotates the slots left by `step` (slot i moves to slot i − step; negative rotates right).
    public func rotate(_ a: Ciphertext, by step: Int) throws -> Ciphertext {
        var x = a
        try rotateInPlace(&x, by: step)
        return x
    }

    /// Rotation in place; allocates nothing when `a` owns its storage.
    public func rotateInPlace(_ a: inout Ciphertext, by step: Int) throws {
        try automorphismInPlace(&a, element: context.galoisElement(forStep: step), name: "rotation by \(step)")
    }

    /// Complex conjugation of every slot.
    public func conjugate(_ a: Ciphertext) throws -> Ciphertext {
        var x = a
        try conjugateInPlace(&x)
        return x
    }

    /// Conjugation in place.
    public func conjugateInPlace(_ a: inout Ciphertext) throws {
        try automorphismInPlace(&a, element: context.conjugationElement, name: "conjugation")
    }

    /// One automorphism in place: σ_g(c_1) is gathered into a pooled buffer and decomposed, the key
    /// products are written straight into c_0 and c_1, and σ_g(c_0) is added from a pooled copy.
    func automorphismInPlace(_ a: inout Ciphertext, element g: UInt64, name: String) throws {
        try check(a)
        guard a.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: a.componentCount) }
        if g == 1 { return }
        let key = try galoisKey(g, step: name)
        let perm = context.galoisPermutation(g)
        let level = a.level
        let n = context.degree
        let l1 = level + 1
        var parts = a.components
        a.components = []
        var c1 = parts.removeLast()
        var c0 = parts.removeLast()
        let scratch = context.scratch
        try scratch.with(2 * l1 * n) { work in
            let rotated1 = work, original0 = work + l1 * n
            perm.withUnsafeBufferPointer { p in
                c1.withUnsafeLimbs { source in
                    for i in 0..<l1 {
                        let src = source.baseAddress! + i * n
                        let dst = rotated1 + i * n
                        for j in 0..<n { dst[j] = src[Int(p[j])] }
                    }
                }
            }
            c0.withUnsafeLimbs { original0.update(from: $0.baseAddress!, count: l1 * n) }
            let decomposition = context.decompose(UnsafePointer(rotated1), level: level)
            defer { context.release(decomposition) }
            context.keySwitchProducts(decomposition, key: key, permutation: nil, into: &c0, &c1, adding: false)
            try addPermuted(UnsafePointer(original0), perm, into: &c0, level: level)
        }
        parts.append(c0)
        parts.append(c1)
        a.components = parts
        a.seed = nil
    }

    /// out += σ(x) for the slot permutation of σ, x given as limb-major residues at out's level.
    private func addPermuted(_ x: UnsafePointer<UInt64>, _ perm: [Int32], into out: inout RNSPolynomial<Evaluation>,
                             level: Int) throws {
        let moduli = try context.basis(atLevel: level).moduli
        let n = context.degree
        out.withUnsafeMutableLimbs { target in
            perm.withUnsafeBufferPointer { p in
                for i in moduli.indices {
                    let m = moduli[i]
                    let src = x + i * n
                    let dst = target.baseAddress! + i * n
                    for j in 0..<n { dst[j] = m.add(dst[j], src[Int(p[j])]) }
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
            try a.components[0].withUnsafeLimbs { try addPermuted($0.baseAddress!, perm, into: &c0, level: a.level) }
            return Ciphertext(context: context, components: [c0, c1], level: a.level, scale: a.scale)
        }
    }
}
