import HEMath

/// Complex packing: two real messages per slot, one in the real part and one in the imaginary
/// part (z = a + i·b), so that one ciphertext carries twice the images (nGraph-HE2's complex
/// packing). Real-linear operations (sums, products by real plaintexts and constants,
/// rotations) act on a and b at once; the three that do not are here: a real plaintext or
/// constant added to both parts, and the product of two packed ciphertexts part by part.
///
/// The part-by-part product goes through the conjugation automorphism (z̄ = a − i·b):
/// u = z + z̄ = 2a and v = α·(z − z̄) = 2iα·b with α = X^{3N/4}, whose square is −i in every
/// slot, so that u_z·u_w + v_z·v_w = 4·(a_z·a_w + i·b_z·b_w). Multiplying by a monomial X^e is
/// exact (a signed permutation of the coefficients, every NTT value a root of unity), so the
/// only new error is the conjugation's key switch. The factor 4 is carried in the scale (the
/// result's scale is 4·Δ_z·Δ_w: the same message at a scale four times larger).
extension Evaluator {
    /// The factor a part-by-part product's scale carries: u·u′ + v·v′ is 4·(ac + i·bd), so
    /// the result's scale is 4·Δ_a·Δ_b. The mock and the kernels that add to such a product
    /// (x² + β·x) use this one value.
    public static let partProductScaleFactor: Double = 4

    /// a + p in both parts: a + (1 + i)·p, for a plaintext p encoded with real values at a
    /// level ≥ a's and a's scale (i·p is p times X^{N/2}, exact).
    public func addToBothParts(_ a: Ciphertext, _ p: Plaintext) throws -> Ciphertext {
        try check(a)
        try requireSameScale(a.scale, p.scale)
        let plain = try polynomial(of: p, atLevel: a.level).residues
        let i = try context.monomial(context.degree / 2, level: a.level).residues
        // c0 + p·(1 + X^{N/2}), one pass, nothing allocated beyond the result.
        return addingToFirstComponent(a) { m, _, j in m.multiplyReduced(plain[j], m.add(i[j], 1)) }
    }

    /// a + c·(1 + i) in every slot: the real constant c added to both parts (c rounded at a's
    /// scale, as `add(_:constant:)` rounds it).
    public func addToBothParts(_ a: Ciphertext, constant c: Double) throws -> Ciphertext {
        try check(a)
        let basis = try context.basis(atLevel: a.level)
        let residues = try ConstantEncoding.residues(of: c, scale: a.scale, basis: basis)
        // The constant is each limb's fixed factor: Shoup products (two word products per
        // residue), not a Barrett reduction.
        let shoup = zip(basis.moduli, residues).map { $0.shoupConstant($1) }
        let i = try context.monomial(context.degree / 2, level: a.level).residues
        return addingToFirstComponent(a) { m, l, j in m.multiplyShoup(m.add(i[j], 1), by: residues[l], shoup: shoup[l]) }
    }

    /// a with c0[j] + term(q, l, j) for every residue j of its first component (l its limb, q the
    /// limb's prime), written into a new polynomial in one pass (not a copy, then a pass), limbs
    /// in parallel (`RNSParallelism`: a step adding to every tile makes its tiles one by one).
    @inline(__always)
    private func addingToFirstComponent(_ a: Ciphertext, _ term: (Modulus, Int, Int) -> UInt64) -> Ciphertext {
        let n = context.degree
        let source = a.components[0]
        let moduli = source.basis.moduli
        let sum = RNSPolynomial<Evaluation>(basis: source.basis) { out in
            source.withUnsafeLimbs { x in
                let o = out.baseAddress!, xp = x.baseAddress!
                RNSParallelism.forEachLimb(count: moduli.count, degree: n) { l in
                    let m = moduli[l]
                    for j in (l * n)..<((l + 1) * n) { o[j] = m.add(xp[j], term(m, l, j)) }
                }
            }
        }
        var r = a
        r.components[0] = sum
        r.seed = nil
        return r
    }

    /// (u, v) of a packed ciphertext z: u = z + z̄ (2a), v = X^{3N/4}·(z − z̄) (2iα·b).
    /// One pass over z and z̄ per component: u into a new polynomial, v over z̄'s own (z̄ is not
    /// needed after). Made as an addition, a subtraction and a product by X^{3N/4}, each copied
    /// its operand first: three copies and two more passes, 2.6% of CryptoNets' full-batch
    /// evaluation in `memmove` (`perf record`).
    private func partsForProduct(_ z: Ciphertext) throws -> (Ciphertext, Ciphertext) {
        guard z.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: z.componentCount) }
        var v = try conjugate(z)
        let alpha = try context.monomial(3 * context.degree / 4, level: z.level)
        let n = context.degree
        let moduli = alpha.basis.moduli
        var u = z
        for c in 0..<2 {
            let sum = RNSPolynomial<Evaluation>(basis: alpha.basis) { out in
                z.components[c].withUnsafeLimbs { x in
                    v.components[c].withUnsafeMutableLimbs { y in
                        alpha.withUnsafeLimbs { a in
                            let o = out.baseAddress!, xp = x.baseAddress!, yp = y.baseAddress!, ap = a.baseAddress!
                            RNSParallelism.forEachLimb(count: moduli.count, degree: n) { i in
                                let m = moduli[i]
                                for j in (i * n)..<((i + 1) * n) {
                                    let zj = xp[j], cj = yp[j]
                                    o[j] = m.add(zj, cj)
                                    yp[j] = m.multiplyReduced(m.subtract(zj, cj), ap[j])
                                }
                            }
                        }
                    }
                }
            }
            u.components[c] = sum
        }
        u.seed = nil
        v.seed = nil
        return (u, v)
    }

    /// The part-by-part product of two packed ciphertexts, three components (relinearize
    /// next): Re(a)·Re(b) + i·Im(a)·Im(b) at scale 4·Δ_a·Δ_b. Two conjugations (one when a
    /// and b are the same value: `squarePartsWithoutRelinearization`).
    public func multiplyPartsWithoutRelinearization(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext {
        let (x, y) = try aligned(a, b)
        let (ua, va) = try partsForProduct(x)
        let (ub, vb) = try partsForProduct(y)
        var r = try multiplyWithoutRelinearization(ua, ub)
        try addInPlace(&r, multiplyWithoutRelinearization(va, vb))
        r.scale = Self.partProductScaleFactor * x.scale * y.scale
        return r
    }

    /// Re(a)² + i·Im(a)², three components, at scale 4·Δ_a²: one conjugation and two squares.
    public func squarePartsWithoutRelinearization(_ a: Ciphertext) throws -> Ciphertext {
        let (u, v) = try partsForProduct(a)
        var r = try squareWithoutRelinearization(u)
        try addInPlace(&r, squareWithoutRelinearization(v))
        r.scale = Self.partProductScaleFactor * a.scale * a.scale
        return r
    }
}
