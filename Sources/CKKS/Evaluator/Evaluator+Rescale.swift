import HEMath

/// Rescaling and level dropping.
extension Evaluator {
    /// Divides by the last prime q_l with rounding: c ↦ round(c / q_l) over q_0 … q_(l−1), and
    /// scale ↦ scale / q_l (the actual prime, so the scale stays exact).
    ///
    /// The result is written into new storage of l limbs per component, read from a's limbs:
    /// no copy of a (a copy-on-write `var x = a` then `rescaleInPlace` copied all l + 1 limbs of
    /// a shared input first), and l limbs of new memory instead of l + 1. The same residues as
    /// `rescaleInPlace` (one kernel, `rescaleComponent`).
    public func rescale(_ a: Ciphertext) throws -> Ciphertext {
        try check(a)
        let l = a.level
        guard l >= 1 else { throw CKKSError.levelMismatch("cannot rescale at level 0: no prime left to divide by") }
        let lower = try context.basis(atLevel: l - 1)
        let components = a.components.map { component in
            component.withUnsafeLimbs { c in
                RNSPolynomial<Evaluation>(basis: lower) { out in
                    rescaleComponent(c.baseAddress!, into: out.baseAddress!, level: l)
                }
            }
        }
        return Ciphertext(context: context, components: components, level: l - 1,
                          scale: a.scale / Double(context.parameters.ciphertextPrimes[l]))
    }

    /// In-place rescale: each component's limbs j < l rewritten in place, the last limb then
    /// dropped without reallocating.
    public func rescaleInPlace(_ a: inout Ciphertext) throws {
        try check(a)
        let l = a.level
        guard l >= 1 else { throw CKKSError.levelMismatch("cannot rescale at level 0: no prime left to divide by") }
        let lower = try context.basis(atLevel: l - 1)
        for index in a.components.indices {
            a.components[index].withUnsafeMutableLimbs { c in
                rescaleComponent(UnsafePointer(c.baseAddress!), into: c.baseAddress!, level: l)
            }
            try a.components[index].restrict(to: lower)
        }
        a.level = l - 1
        a.scale /= Double(context.parameters.ciphertextPrimes[l])
        a.seed = nil
    }

    /// One component's rescale: out_j = (c_j − r_j)·q_l^−1 mod q_j for j < l, where r = [c]_(q_l)
    /// centred in (−q_l/2, q_l/2], brought to q_j and to NTT form. Since c − r is divisible by
    /// q_l and |r| ≤ q_l/2, that is c/q_l rounded to nearest. `out` may be `c` itself (limb j
    /// reads only itself and the last limb; r_j then goes to scratch) or l fresh limbs (r_j is
    /// made in out_j and read back term by term before it is overwritten).
    func rescaleComponent(_ c: UnsafePointer<UInt64>, into out: UnsafeMutablePointer<UInt64>, level l: Int) {
        let n = context.degree
        let basis = context.levelBases[l]
        let last = basis.moduli[l]
        let half = last.value >> 1
        let inverses = context.rescaleInverses[l]
        let inPlace = UnsafePointer(out) == c
        context.scratch.with((inPlace ? l + 1 : 1) * n) { work in
            let r = work
            r.update(from: c + l * n, count: n)
            basis.ntt[l].inverse(r)
            RNSParallelism.forEachLimb(count: l, degree: n) { j in
                let m = basis.moduli[j]
                let lastModJ = m.reduce(last.value)
                let rj = inPlace ? work + (j + 1) * n : out + j * n
                for t in 0..<n {
                    let v = m.reduce(r[t])
                    rj[t] = r[t] > half ? m.subtract(v, lastModJ) : v
                }
                basis.ntt[j].forward(rj)
                let (w, ws) = inverses[j]
                let source = c + j * n, limb = out + j * n
                for t in 0..<n {
                    limb[t] = m.multiplyShoup(m.subtract(source[t], rj[t]), by: w, shoup: ws)
                }
            }
        }
    }

    /// Drops primes above `level` in place (no allocation; the scale is unchanged).
    public func dropLevelInPlace(_ a: inout Ciphertext, to level: Int) throws {
        try check(a)
        guard (0...a.level).contains(level) else {
            throw CKKSError.levelMismatch("cannot drop a level-\(a.level) ciphertext to level \(level)")
        }
        let basis = try context.basis(atLevel: level)
        for i in a.components.indices { try a.components[i].restrict(to: basis) }
        a.level = level
        a.seed = nil
    }

    /// The same ciphertext at a lower level: primes above `level` are dropped (no division; the
    /// scale is unchanged). Dropping to the current level returns it as it is.
    public func droppingLevel(_ a: Ciphertext, to level: Int) throws -> Ciphertext {
        try check(a)
        guard (0...a.level).contains(level) else {
            throw CKKSError.levelMismatch("cannot drop a level-\(a.level) ciphertext to level \(level)")
        }
        if level == a.level { return a }
        let basis = try context.basis(atLevel: level)
        return Ciphertext(context: context, components: try a.components.map { try $0.restricted(to: basis) },
                          level: level, scale: a.scale)
    }
}
