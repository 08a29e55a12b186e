/// Moving an RNS polynomial between coefficient and evaluation form: the word-size NTT of each
/// limb, limbs in parallel when the polynomial is large (`RNSParallelism`).
extension RNSPolynomial where Form == Coefficient {
    /// The evaluation (NTT) form of this polynomial; consumes the storage, no copy when unique.
    public consuming func forwardNTT() -> RNSPolynomial<Evaluation> {
        let basis = self.basis
        let tables = basis.ntt
        let n = basis.degree
        var data = (consume self).storage
        data.withUnsafeMutableBufferPointer { a in
            let base = a.baseAddress!
            RNSParallelism.forEachLimb(count: tables.count, degree: n) { i in
                tables[i].forward(base + i * n)
            }
        }
        return RNSPolynomial<Evaluation>(basis: basis, storage: data)
    }
}

extension RNSPolynomial where Form == Evaluation {
    /// The coefficient form of this polynomial; consumes the storage, no copy when unique.
    public consuming func inverseNTT() -> RNSPolynomial<Coefficient> {
        let basis = self.basis
        let tables = basis.ntt
        let n = basis.degree
        var data = (consume self).storage
        data.withUnsafeMutableBufferPointer { a in
            let base = a.baseAddress!
            RNSParallelism.forEachLimb(count: tables.count, degree: n) { i in
                tables[i].inverse(base + i * n)
            }
        }
        return RNSPolynomial<Coefficient>(basis: basis, storage: data)
    }
}
