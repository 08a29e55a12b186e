/// Moving an RNS polynomial between coefficient and evaluation form: the word-size NTT of each
/// limb, limbs in parallel when the polynomial is large (`RNSParallelism`).
extension RNSPolynomial where Form == Coefficient {
    /// The evaluation (NTT) form of this polynomial; consumes the storage, no copy when unique.
    public consuming func forwardNTT() -> RNSPolynomial<Evaluation> {
        let basis = self.basis
        return RNSPolynomial<Evaluation>(basis: basis,
                                         storage: transformingLimbs((consume self).storage, basis) { $0.forward($1) })
    }
}

extension RNSPolynomial where Form == Evaluation {
    /// The coefficient form of this polynomial; consumes the storage, no copy when unique.
    public consuming func inverseNTT() -> RNSPolynomial<Coefficient> {
        let basis = self.basis
        return RNSPolynomial<Coefficient>(basis: basis,
                                          storage: transformingLimbs((consume self).storage, basis) { $0.inverse($1) })
    }
}

/// Applies `kernel(tables_i, limb i)` to every limb of a limb-major buffer, in place.
@usableFromInline
func transformingLimbs(_ storage: consuming [UInt64], _ basis: RNSBasis,
                       _ kernel: (NTTTables, UnsafeMutablePointer<UInt64>) -> Void) -> [UInt64] {
    var data = storage
    let tables = basis.ntt
    let n = basis.degree
    data.withUnsafeMutableBufferPointer { a in
        let base = a.baseAddress!
        RNSParallelism.forEachLimb(count: tables.count, degree: n) { i in kernel(tables[i], base + i * n) }
    }
    return data
}
