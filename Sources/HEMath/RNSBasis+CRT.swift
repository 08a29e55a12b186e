import CGMP

/// Conversion between big integers and their residues (the Chinese remainder theorem), through GMP.
extension RNSBasis {
    /// The residues (x mod q_0, …, x mod q_(k−1)) of any integer x, each in [0, q_i).
    public func decompose(_ x: BigInteger) -> [UInt64] {
        moduli.map { x.remainder(modulo: $0.value) }
    }

    /// The unique x in (−Q/2, Q/2] with x ≡ r_i (mod q_i) for every i.
    ///
    /// x = Σ_i [r_i·(Q/q_i)^−1]_(q_i) · (Q/q_i) mod Q (Garner-free CRT), accumulated with GMP's
    /// `mpz_addmul_ui`, reduced mod Q once, then centred.
    /// - Throws: `mismatch` when the residue count differs from the basis size, `outOfRange`
    ///   when a residue is not reduced.
    public func compose(_ residues: [UInt64]) throws -> BigInteger {
        guard residues.count == count else {
            throw HEMathError.mismatch("\(residues.count) residues for a basis of \(count) primes")
        }
        for (r, m) in zip(residues, moduli) where r >= m.value {
            throw HEMathError.outOfRange("residue \(r) is not reduced modulo \(m.value)")
        }
        return residues.withUnsafeBufferPointer { r in
            BigInteger.make { out in composeCentered(r.baseAddress!, stride: 1, into: out) }
        }
    }

    /// Decomposes N big-integer coefficients into a polynomial in coefficient form.
    /// - Throws: `mismatch` unless there are exactly N coefficients.
    public func polynomial(coefficients: [BigInteger]) throws -> RNSPolynomial<Coefficient> {
        guard coefficients.count == degree else {
            throw HEMathError.mismatch("\(coefficients.count) coefficients for ring degree \(degree)")
        }
        var p = RNSPolynomial<Coefficient>(zeroIn: self)
        p.withUnsafeMutableLimbs { limbs in
            for (j, c) in coefficients.enumerated() {
                for i in 0..<count { limbs[i * degree + j] = c.remainder(modulo: moduli[i].value) }
            }
        }
        return p
    }

    /// Composes every coefficient of a polynomial into its centred big integer in (−Q/2, Q/2].
    public func coefficients(of p: RNSPolynomial<Coefficient>) throws -> [BigInteger] {
        guard p.basis.isSame(as: self) else { throw HEMathError.mismatch("polynomial is over another basis") }
        return p.withUnsafeLimbs { limbs in
            (0..<degree).map { j in
                BigInteger.make { out in composeCentered(limbs.baseAddress! + j, stride: degree, into: out) }
            }
        }
    }

    /// Writes the centred CRT composition of residues r[0], r[stride], r[2·stride], … into `out`.
    /// Residues must be reduced.
    func composeCentered(_ r: UnsafePointer<UInt64>, stride: Int, into out: UnsafeMutablePointer<__mpz_struct>) {
        __gmpz_set_ui(out, 0)
        for i in 0..<count {
            let m = moduli[i]
            let y = m.multiplyShoup(r[i * stride], by: puncturedInverses[i], shoup: puncturedInversesShoup[i])
            puncturedProducts[i].withMPZ { __gmpz_addmul_ui(out, $0, UInt(y)) }
        }
        product.withMPZ { q in
            __gmpz_fdiv_r(out, out, q)
            let isUpperHalf = halfProduct.withMPZ { __gmpz_cmp(out, $0) } > 0
            if isUpperHalf { __gmpz_sub(out, out, q) }
        }
    }
}
