import HEMath

/// Slot rotations and conjugation through Galois automorphisms and key switching.
extension Evaluator {
    /// Rotates the slots left by `step` (slot i moves to slot i − step; negative rotates right).
    public func rotate(_ a: Ciphertext, by step: Int) throws -> Ciphertext {
        try automorphism(of: a, element: context.galoisElement(forStep: step), name: "rotation by \(step)")
    }

    /// Rotation in place; allocates nothing when `a` owns its storage.
    public func rotateInPlace(_ a: inout Ciphertext, by step: Int) throws {
        try automorphismInPlace(&a, element: context.galoisElement(forStep: step), name: "rotation by \(step)")
    }

    /// Complex conjugation of every slot.
    public func conjugate(_ a: Ciphertext) throws -> Ciphertext {
        try automorphism(of: a, element: context.conjugationElement, name: "conjugation")
    }

    /// Conjugation in place.
    public func conjugateInPlace(_ a: inout Ciphertext) throws {
        try automorphismInPlace(&a, element: context.conjugationElement, name: "conjugation")
    }

    /// σ_g(a) into fresh output polynomials (the input is only read).
    func automorphism(of a: Ciphertext, element g: UInt64, name: String) throws -> Ciphertext {
        try check(a)
        guard a.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: a.componentCount) }
        if g == 1 { return a }
        let key = try galoisKey(g, level: a.level, step: name)
        let basis = try context.basis(atLevel: a.level)
        var c0 = RNSPolynomial<Evaluation>(basis: basis) { _ in }   // fully written below
        var c1 = RNSPolynomial<Evaluation>(basis: basis) { _ in }
        try a.components[0].withUnsafeLimbs { x0 in
            try a.components[1].withUnsafeLimbs { x1 in
                try applyAutomorphism(g, key: key, level: a.level, c0: x0.baseAddress!, c1: x1.baseAddress!,
                                      into: &c0, &c1)
            }
        }
        return Ciphertext(context: context, components: [c0, c1], level: a.level, scale: a.scale)
    }

    /// σ_g(a) written into a's own buffers (its inputs are first copied to pooled scratch).
    func automorphismInPlace(_ a: inout Ciphertext, element g: UInt64, name: String) throws {
        try check(a)
        guard a.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: a.componentCount) }
        if g == 1 { return }
        let key = try galoisKey(g, level: a.level, step: name)
        let n = context.degree
        let l1 = a.level + 1
        var parts = a.components
        a.components = []
        var c1 = parts.removeLast()
        var c0 = parts.removeLast()
        try context.scratch.with(2 * l1 * n) { work in
            let copy0 = work, copy1 = work + l1 * n
            c0.withUnsafeLimbs { copy0.update(from: $0.baseAddress!, count: l1 * n) }
            c1.withUnsafeLimbs { copy1.update(from: $0.baseAddress!, count: l1 * n) }
            try applyAutomorphism(g, key: key, level: a.level, c0: copy0, c1: copy1, into: &c0, &c1)
        }
        parts.append(c0)
        parts.append(c1)
        a.components = parts
        a.seed = nil
    }

    /// The automorphism's core: σ_g(c_1) is gathered into pooled scratch and key-switched, the key
    /// products are written into out0/out1 (not added), and σ_g(c_0) is added to out0. The inputs
    /// must not alias the outputs. Limbs run in parallel when large.
    private func applyAutomorphism(_ g: UInt64, key: KeySwitchKey, level: Int,
                                   c0: UnsafePointer<UInt64>, c1: UnsafePointer<UInt64>,
                                   into out0: inout RNSPolynomial<Evaluation>,
                                   _ out1: inout RNSPolynomial<Evaluation>) throws {
        let perm = context.galoisPermutation(g)
        let n = context.degree
        let l1 = level + 1
        try context.scratch.with(l1 * n) { rotated1 in
            perm.withUnsafeBufferPointer { p in
                let pp = p.baseAddress!
                RNSParallelism.forEachLimb(count: l1, degree: n) { i in
                    let src = c1 + i * n
                    let dst = rotated1 + i * n
                    for j in 0..<n { dst[j] = src[Int(pp[j])] }
                }
            }
            context.keySwitch(UnsafePointer(rotated1), level: level, key: key, into: &out0, &out1, adding: false)
            try addPermuted(c0, perm, into: &out0, level: level)
        }
    }

    /// out += σ(x) for the slot permutation of σ, x given as limb-major residues at out's level.
    private func addPermuted(_ x: UnsafePointer<UInt64>, _ perm: [Int32], into out: inout RNSPolynomial<Evaluation>,
                             level: Int) throws {
        let moduli = try context.basis(atLevel: level).moduli
        let n = context.degree
        out.withUnsafeMutableLimbs { target in
            perm.withUnsafeBufferPointer { p in
                let pp = p.baseAddress!, base = target.baseAddress!
                RNSParallelism.forEachLimb(count: moduli.count, degree: n) { i in
                    let m = moduli[i]
                    let src = x + i * n
                    let dst = base + i * n
                    for j in 0..<n { dst[j] = m.add(dst[j], src[Int(pp[j])]) }
                }
            }
        }
    }

    /// Hoisted rotations: c_1 is decomposed (ModUp) once and every step reuses it, applying its
    /// automorphism to the decomposed digits; each step then costs only the key products and
    /// ModDown. Returns step ↦ rotated ciphertext (step 0 maps to `a` itself).
    public func rotations(of a: Ciphertext, by steps: [Int]) throws -> [Int: Ciphertext] {
        try rotations(ofEach: [a], by: [steps])[0]
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

    /// Hoisted rotations of several ciphertexts at once (`rotations(of:by:)` of each): every
    /// source decomposed once, one thread each, then every (source, step) key switch dealt to
    /// the threads in force. Sources with unequal step counts (a strided convolution's corner
    /// and interior tiles: 1 and 3 steps) kept one thread idle when each source went to one
    /// thread. The same ciphertexts as one source at a time.
    public func rotations(ofEach sources: [Ciphertext], by steps: [[Int]]) throws -> [[Int: Ciphertext]] {
        guard sources.count == steps.count else {
            throw CKKSError.outOfRange("\(sources.count) ciphertexts to rotate but \(steps.count) step lists")
        }
        let unique = steps.map { Array(Set($0)).sorted() }
        let elements = unique.map { $0.map { (context.galoisElement(forStep: $0), "rotation by \($0)") } }
        let rotated = try automorphisms(ofEach: sources, elements: elements)
        return zip(unique, rotated).map { Dictionary(uniqueKeysWithValues: zip($0, $1)) }
    }

    /// The automorphisms X ↦ X^g of each source's elements, each source's shared by one
    /// decomposition: the decompositions first (one source per
    /// thread, or a lone one split by limbs), then every (source, element) key switch on the
    /// threads in force; they share only the decompositions, which are read-only.
    func automorphisms(ofEach sources: [Ciphertext], elements: [[(UInt64, String)]]) throws -> [[Ciphertext]] {
        precondition(sources.count == elements.count, "one element list per source")
        for (a, list) in zip(sources, elements) {
            try check(a)
            guard a.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: a.componentCount) }
            // Every key is checked to exist before the decomposition, but fetched only when its
            // product is made and dropped after it: keys read from their file on demand
            // (`GaloisKeyStore`) are 400 MB each at N = 65536, and a step may rotate one tile by 80.
            for (g, name) in list where g != 1 {
                guard let keys, keys.hasGaloisKey(g) else { throw CKKSError.missingGaloisKey(step: name) }
            }
        }
        let moving = sources.indices.filter { s in elements[s].contains { $0.0 != 1 } }
        let decompositions = try ExecutionPolicy.concurrentMap(moving.count) { k in
            context.decompose(sources[moving[k]].components[1], level: sources[moving[k]].level)
        }
        defer { for d in decompositions { context.release(d) } }
        var slot = [Int](repeating: -1, count: sources.count)
        for (k, s) in moving.enumerated() { slot[s] = k }
        // By Galois element, then source: threads working at once mostly need the same key (read
        // from its file on demand when keys exceed the memory budget).
        let work = moving.flatMap { s in elements[s].indices.filter { elements[s][$0].0 != 1 }.map { (s, $0) } }
            .sorted { (elements[$0.0][$0.1].0, $0.0) < (elements[$1.0][$1.1].0, $1.0) }
        // The steps share only the decompositions, so with several threads in force each takes
        // whole steps, one thread each: split by limbs, a step's key product and ModDown gained
        // 1.0–1.4× from a second thread (a single-tile convolution's hoisted set).
        let made = try ExecutionPolicy.concurrentMap(work.count) { i -> Ciphertext in
            let (s, e) = work[i]
            let a = sources[s], g = elements[s][e].0
            let key = try galoisKey(g, level: a.level, step: elements[s][e].1)
            let perm = context.galoisPermutation(g)
            let (k0, c1) = context.keySwitchProducts(decompositions[slot[s]], key: key, permutation: perm)
            var c0 = k0
            try a.components[0].withUnsafeLimbs { try addPermuted($0.baseAddress!, perm, into: &c0, level: a.level) }
            return Ciphertext(context: context, components: [c0, c1], level: a.level, scale: a.scale)
        }
        var result = sources.indices.map { s in elements[s].map { _ in sources[s] } }
        for (i, (s, e)) in work.enumerated() { result[s][e] = made[i] }
        return result
    }
}
