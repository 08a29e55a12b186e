/// Ring arithmetic on RNS polynomials, limb by limb. In-place forms write into the receiver
/// and allocate nothing; every input and output residue is reduced.
extension RNSPolynomial {
    /// self += other (mod each q_i). Any form, both operands in the same form.
    public mutating func add(_ other: RNSPolynomial) throws {
        try requireSameBasis(other)
        combine(other) { m, x, y, n in for j in 0..<n { x[j] = m.add(x[j], y[j]) } }
    }

    /// Applies `body(modulus, limb of self, limb of other, N)` to every limb, limbs in parallel
    /// when the polynomial is large (`RNSParallelism`).
    @inlinable
    mutating func combine(_ other: RNSPolynomial,
                          _ body: (Modulus, UnsafeMutablePointer<UInt64>, UnsafePointer<UInt64>, Int) -> Void) {
        let n = degree
        let moduli = basis.moduli
        other.withUnsafeLimbs { b in
            withUnsafeMutableLimbs { a in
                let x = a.baseAddress!, y = b.baseAddress!
                RNSParallelism.forEachLimb(count: moduli.count, degree: n) { i in
                    body(moduli[i], x + i * n, y + i * n, n)
                }
            }
        }
    }

    /// self −= other (mod each q_i).
    public mutating func subtract(_ other: RNSPolynomial) throws {
        try requireSameBasis(other)
        combine(other) { m, x, y, n in for j in 0..<n { x[j] = m.subtract(x[j], y[j]) } }
    }

    /// self = −self (mod each q_i).
    public mutating func negate() {
        let n = degree
        let moduli = basis.moduli
        withUnsafeMutableLimbs { a in
            for i in 0..<moduli.count {
                let m = moduli[i]
                for j in (i * n)..<((i + 1) * n) { a[j] = m.negate(a[j]) }
            }
        }
    }

    /// self ·= c for an integer constant given by its residues c_i mod q_i (Shoup multiplication).
    public mutating func multiply(byScalarResidues c: [UInt64]) throws {
        guard c.count == limbCount else { throw HEMathError.mismatch("\(c.count) scalar residues for \(limbCount) limbs") }
        let n = degree
        let moduli = basis.moduli
        withUnsafeMutableLimbs { a in
            for i in 0..<moduli.count {
                let m = moduli[i]
                let w = m.reduce(c[i])
                let s = m.shoupConstant(w)
                for j in (i * n)..<((i + 1) * n) { a[j] = m.multiplyShoup(a[j], by: w, shoup: s) }
            }
        }
    }

    /// self += x · c for an integer constant given by its residues c_i mod q_i (any range: each
    /// is reduced first): one Shoup product and one addition per coefficient, no plaintext and
    /// no NTT (a weight shared by every slot is the constant polynomial round(w·Δ), the same in
    /// coefficient and NTT form). Any form, x in self's. Inputs reduced; output reduced.
    /// Correctness: `multiplyShoup` gives x_j·c_i mod q_i for any word x_j and reduced c_i.
    public mutating func addScalarProduct(_ x: RNSPolynomial, residues c: [UInt64]) throws {
        try requireSameBasis(x)
        guard c.count == limbCount else { throw HEMathError.mismatch("\(c.count) scalar residues for \(limbCount) limbs") }
        let n = degree
        let moduli = basis.moduli
        x.withUnsafeLimbs { xb in
            withUnsafeMutableLimbs { out in
                let o = out.baseAddress!, u = xb.baseAddress!
                RNSParallelism.forEachLimb(count: moduli.count, degree: n) { i in
                    let m = moduli[i]
                    let w = m.reduce(c[i])
                    let s = m.shoupConstant(w)
                    for j in (i * n)..<((i + 1) * n) { o[j] = m.add(o[j], m.multiplyShoup(u[j], by: w, shoup: s)) }
                }
            }
        }
    }

    /// self ·= c for a small signed integer constant.
    public mutating func multiply(byScalar c: Int64) throws {
        try multiply(byScalarResidues: basis.moduli.map { $0.reduce(signed: c) })
    }

    public static func + (lhs: RNSPolynomial, rhs: RNSPolynomial) throws -> RNSPolynomial {
        var r = lhs
        try r.add(rhs)
        return r
    }

    public static func - (lhs: RNSPolynomial, rhs: RNSPolynomial) throws -> RNSPolynomial {
        var r = lhs
        try r.subtract(rhs)
        return r
    }

    public static prefix func - (operand: RNSPolynomial) -> RNSPolynomial {
        var r = operand
        r.negate()
        return r
    }
}

extension RNSPolynomial where Form == Evaluation {
    /// self ·= other pointwise (Barrett): the negacyclic product, both in NTT form.
    public mutating func multiply(_ other: RNSPolynomial) throws {
        try requireSameBasis(other)
        combine(other) { m, x, y, n in for j in 0..<n { x[j] = m.multiplyReduced(x[j], y[j]) } }
    }

    /// self += x · y pointwise, the multiply-accumulate of key switching and inner products.
    public mutating func addProduct(_ x: RNSPolynomial, _ y: RNSPolynomial) throws {
        try combine(x, y) { m, o, u, v, range in
            for j in range { o[j] = m.add(o[j], m.multiplyReduced(u[j], v[j])) }
        }
    }

    public static func * (lhs: RNSPolynomial, rhs: RNSPolynomial) throws -> RNSPolynomial {
        try product(lhs, rhs)
    }

    /// x ⊙ y into fresh storage (no copy of x first), limbs in parallel when large.
    public static func product(_ x: RNSPolynomial, _ y: RNSPolynomial) throws -> RNSPolynomial {
        var result = RNSPolynomial(basis: x.basis) { _ in }
        try result.setProduct(x, y)
        return result
    }

    /// self = x ⊙ y, written into this polynomial's buffer (no allocation).
    public mutating func setProduct(_ x: RNSPolynomial, _ y: RNSPolynomial) throws {
        try combine(x, y) { m, o, u, v, range in
            for j in range { o[j] = m.multiplyReduced(u[j], v[j]) }
        }
    }

    /// Applies `body(modulus, self, x, y, residue range of limb i)` to every limb i, limbs in
    /// parallel when large; self, x and y must share the basis.
    @inlinable
    mutating func combine(_ x: RNSPolynomial, _ y: RNSPolynomial,
                          _ body: (Modulus, UnsafeMutablePointer<UInt64>, UnsafePointer<UInt64>,
                                   UnsafePointer<UInt64>, Range<Int>) -> Void) throws {
        try requireSameBasis(x)
        try requireSameBasis(y)
        let n = degree
        let moduli = basis.moduli
        x.withUnsafeLimbs { xb in
            y.withUnsafeLimbs { yb in
                withUnsafeMutableLimbs { out in
                    let o = out.baseAddress!, u = xb.baseAddress!, v = yb.baseAddress!
                    RNSParallelism.forEachLimb(count: moduli.count, degree: n) { i in
                        body(moduli[i], o, u, v, (i * n)..<((i + 1) * n))
                    }
                }
            }
        }
    }

    /// self = x0 ⊙ y0 + x1 ⊙ y1, written into this polynomial's buffer (one reduction per residue).
    public mutating func setSumOfProducts(_ x0: RNSPolynomial, _ y0: RNSPolynomial,
                                          _ x1: RNSPolynomial, _ y1: RNSPolynomial) throws {
        for p in [x0, y0, x1, y1] { try requireSameBasis(p) }
        let n = degree
        let moduli = basis.moduli
        x0.withUnsafeLimbs { a in
            y0.withUnsafeLimbs { b in
                x1.withUnsafeLimbs { c in
                    y1.withUnsafeLimbs { d in
                        withUnsafeMutableLimbs { out in
                            let o = out.baseAddress!, pa = a.baseAddress!, pb = b.baseAddress!
                            let pc = c.baseAddress!, pd = d.baseAddress!
                            RNSParallelism.forEachLimb(count: moduli.count, degree: n) { i in
                                let m = moduli[i]
                                for j in (i * n)..<((i + 1) * n) {
                                    let p = pa[j].multipliedFullWidth(by: pb[j])
                                    let q = pc[j].multipliedFullWidth(by: pd[j])
                                    let (low, carry) = p.low.addingReportingOverflow(q.low)
                                    o[j] = m.reduce(high: p.high &+ q.high &+ (carry ? 1 : 0), low: low)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// x0 ⊙ y0 + x1 ⊙ y1 into fresh storage with one reduction per residue: the sum of two
    /// products of reduced values is below 2·2^124 < 2^128, so it is accumulated in 128 bits.
    public static func sumOfProducts(_ x0: RNSPolynomial, _ y0: RNSPolynomial,
                                     _ x1: RNSPolynomial, _ y1: RNSPolynomial) throws -> RNSPolynomial {
        var result = RNSPolynomial(basis: x0.basis) { _ in }
        try result.setSumOfProducts(x0, y0, x1, y1)
        return result
    }
}
