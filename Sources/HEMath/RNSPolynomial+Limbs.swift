/// Limb-level reshaping: dropping trailing primes, and slot permutations applied to every limb.
extension RNSPolynomial {
    /// The same polynomial over `prefix`, a basis made of this basis's first primes (its first
    /// limbs are kept, the others dropped). Valid in either form: limbs are independent.
    /// - Throws: `mismatch` unless `prefix` is a prefix of this basis.
    public func restricted(to prefix: RNSBasis) throws -> RNSPolynomial {
        guard prefix.degree == degree, prefix.count <= limbCount,
              Array(basis.moduli.prefix(prefix.count)) == prefix.moduli else {
            throw HEMathError.mismatch("a basis of \(prefix.count) primes is not a prefix of this polynomial's basis")
        }
        if prefix.count == limbCount { return RNSPolynomial(basis: prefix, storage: storage) }
        return RNSPolynomial(basis: prefix, storage: Array(storage[0..<(prefix.count * degree)]))
    }

    /// Drops the trailing limbs in place, keeping the buffer (no allocation): afterwards the
    /// polynomial is over `prefix`, which must be a prefix of its basis.
    public mutating func restrict(to prefix: RNSBasis) throws {
        guard prefix.degree == degree, prefix.count <= limbCount,
              Array(basis.moduli.prefix(prefix.count)) == prefix.moduli else {
            throw HEMathError.mismatch("a basis of \(prefix.count) primes is not a prefix of this polynomial's basis")
        }
        storage.removeLast((limbCount - prefix.count) * degree)
        storedBasis = prefix
    }

    /// Writes into `output` the permutation output[i] = self[perm[i]] of every limb. With the
    /// permutation of a Galois element in NTT order this applies the automorphism X ↦ X^g.
    /// - Precondition: `perm` is a permutation of 0..<N and `output` is over the same basis.
    @inlinable
    public func permuted(by perm: [Int32], into output: inout RNSPolynomial) {
        precondition(perm.count == degree && output.basis.isSame(as: basis))
        let n = degree
        let k = limbCount
        withUnsafeLimbs { input in
            output.withUnsafeMutableLimbs { out in
                perm.withUnsafeBufferPointer { p in
                    for i in 0..<k {
                        let src = input.baseAddress! + i * n
                        let dst = out.baseAddress! + i * n
                        for j in 0..<n { dst[j] = src[Int(p[j])] }
                    }
                }
            }
        }
    }

    /// The permutation of every limb (allocating form of `permuted(by:into:)`).
    public func permuted(by perm: [Int32]) -> RNSPolynomial {
        var output = RNSPolynomial(zeroIn: basis)
        permuted(by: perm, into: &output)
        return output
    }
}
