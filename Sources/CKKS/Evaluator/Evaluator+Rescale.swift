import HEMath

/// Rescaling and level dropping.
extension Evaluator {
    /// Divides by the last prime q_l with rounding: c ↦ round(c / q_l) over q_0 … q_(l−1), and
    /// scale ↦ scale / q_l (the actual prime, so the scale stays exact).
    ///
    /// The result is written into new storage of l limbs per component, read from a's limbs:
    /// no copy of a (a copy-on-write `var x = a` then `rescaleInPlace` copied all l + 1 limbs of
    /// a shared input first), and l limbs of new memory instead of l + 1. The same residues as
    /// `rescaleInPlace`.
    public func rescale(_ a: Ciphertext) throws -> Ciphertext {
        try check(a)
        let l = a.level
        guard l >= 1 else { throw CKKSError.levelMismatch("cannot rescale at level 0: no prime left to divide by") }
        let n = context.degree
        let basis = try context.basis(atLevel: l)
        let lower = try context.basis(atLevel: l - 1)
        let last = basis.moduli[l]
        let half = last.value >> 1
        let inverses = context.rescaleInverses[l]
        let components = a.components.map { component in
            component.withUnsafeLimbs { c in
                RNSPolynomial<Evaluation>(basis: lower) { out in
                    context.scratch.with(n) { r in
                        r.update(from: c.baseAddress! + l * n, count: n)
                        basis.ntt[l].inverse(r)
                        RNSParallelism.forEachLimb(count: l, degree: n) { j in
                            // Limb j of the result holds [r]_(q_j) (centred) in NTT form first,
                            // then (c_j − it)·q_l^−1.
                            let m = basis.moduli[j]
                            let lastModJ = m.reduce(last.value)
                            let limb = out.baseAddress! + j * n
                            for t in 0..<n {
                                let v = m.reduce(r[t])
                                limb[t] = r[t] > half ? m.subtract(v, lastModJ) : v
                            }
                            basis.ntt[j].forward(limb)
                            let (w, ws) = inverses[j]
                            let source = c.baseAddress! + j * n
                            for t in 0..<n {
                                limb[t] = m.multiplyShoup(m.subtract(source[t], limb[t]), by: w, shoup: ws)
                            }
                        }
                    }
                }
            }
        }
        return Ciphertext(context: context, components: components, level: l - 1, scale: a.scale / Double(last.value))
    }

    /// In-place rescale.
    ///
    /// Per component: r = [c]_(q_l), centred in (−q_l/2, q_l/2], is brought to every q_j (j < l)
    /// and to NTT form; then c_j ↦ (c_j − r_j)·q_l^−1 mod q_j. Since c − r is divisible by q_l
    /// and |r| ≤ q_l/2, the result is c/q_l rounded to nearest.
    public func rescaleInPlace(_ a: inout Ciphertext) throws {
        try check(a)
        let l = a.level
        guard l >= 1 else { throw CKKSError.levelMismatch("cannot rescale at level 0: no prime left to divide by") }
        let n = context.degree
        let basis = try context.basis(atLevel: l)
        let lower = try context.basis(atLevel: l - 1)
        let last = basis.moduli[l]
        let half = last.value >> 1
        let inverses = context.rescaleInverses[l]
        for index in a.components.indices {
            // Limb j < l reads only itself and the last limb, so it is rewritten in place; the
            // last limb is then dropped without reallocating.
            a.components[index].withUnsafeMutableLimbs { c in
                context.scratch.with((l + 1) * n) { work in
                    let r = work, temporaries = work + n
                    r.update(from: c.baseAddress! + l * n, count: n)
                    basis.ntt[l].inverse(r)
                    RNSParallelism.forEachLimb(count: l, degree: n) { j in
                        let m = basis.moduli[j]
                        let lastModJ = m.reduce(last.value)
                        let tb = temporaries + j * n
                        for t in 0..<n {
                            let v = m.reduce(r[t])
                            tb[t] = r[t] > half ? m.subtract(v, lastModJ) : v
                        }
                        basis.ntt[j].forward(tb)
                        let (w, ws) = inverses[j]
                        let limb = c.baseAddress! + j * n
                        for t in 0..<n {
                            limb[t] = m.multiplyShoup(m.subtract(limb[t], tb[t]), by: w, shoup: ws)
                        }
                    }
                }
            }
            try a.components[index].restrict(to: lower)
        }
        a.level = l - 1
        a.scale /= Double(last.value)
        a.seed = nil
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
