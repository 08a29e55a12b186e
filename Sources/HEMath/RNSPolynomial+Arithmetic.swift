/// Ring arithmetic on RNS polynomials, limb by limb. In-place forms write into the receiver
/// and allocate nothing; every input and output residue is reduced.
extension RNSPolynomial {
    /// self += other (mod each q_i). Any form, both operands in the same form.
    public mutating func add(_ other: RNSPolynomial) throws {
        try requireSameBasis(other)
        let n = degree
        let moduli = basis.moduli
        other.withUnsafeLimbs { b in
            withUnsafeMutableLimbs { a in
                for i in 0..<moduli.count {
                    let m = moduli[i]
                    for j in (i * n)..<((i + 1) * n) { a[j] = m.add(a[j], b[j]) }
                }
            }
        }
    }

    /// self −= other (mod each q_i).
    public mutating func subtract(_ other: RNSPolynomial) throws {
        try requireSameBasis(other)
        let n = degree
        let moduli = basis.moduli
        other.withUnsafeLimbs { b in
            withUnsafeMutableLimbs { a in
                for i in 0..<moduli.count {
                    let m = moduli[i]
                    for j in (i * n)..<((i + 1) * n) { a[j] = m.subtract(a[j], b[j]) }
                }
            }
        }
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
        let n = degree
        let moduli = basis.moduli
        other.withUnsafeLimbs { b in
            withUnsafeMutableLimbs { a in
                for i in 0..<moduli.count {
                    let m = moduli[i]
                    for j in (i * n)..<((i + 1) * n) { a[j] = m.multiply(a[j], b[j]) }
                }
            }
        }
    }

    /// self += x · y pointwise, the multiply-accumulate of key switching and inner products.
    public mutating func addProduct(_ x: RNSPolynomial, _ y: RNSPolynomial) throws {
        try requireSameBasis(x)
        try requireSameBasis(y)
        let n = degree
        let moduli = basis.moduli
        x.withUnsafeLimbs { xb in
            y.withUnsafeLimbs { yb in
                withUnsafeMutableLimbs { a in
                    for i in 0..<moduli.count {
                        let m = moduli[i]
                        for j in (i * n)..<((i + 1) * n) { a[j] = m.add(a[j], m.multiply(xb[j], yb[j])) }
                    }
                }
            }
        }
    }

    public static func * (lhs: RNSPolynomial, rhs: RNSPolynomial) throws -> RNSPolynomial {
        var r = lhs
        try r.multiply(rhs)
        return r
    }
}
