/// The second factor of one term of a lazy sum of products: a polynomial in the same form
/// (a plaintext, read in place; its limbs may outnumber the sum's, only the first are read) or
/// an integer constant given by one residue per limb (a weight shared by every slot).
public enum LazyFactor<Form: PolynomialForm> {
    case polynomial(RNSPolynomial<Form>)
    case constant([UInt64])
}

extension Modulus {
    /// How many products of two reduced residues a 128-bit accumulator holding a reduced value
    /// can take before it must be reduced: with q < 2^b, each product is below 2^(2b), so
    /// 2^(128 − 2b) − 1 of them plus a residue below 2^b stay below 2^128 (15 for b = 62,
    /// 2^56 − 1 for b = 36, capped at Int.max).
    @inlinable public var lazyProductCapacity: Int {
        let spare = 128 - 2 * bitWidth
        return spare >= 63 ? Int.max : (1 << spare) - 1
    }
}

extension RNSPolynomial {
    /// Lazy sums over shared operands: sums[b] = Σ_t inputs[t.input] ⊙ t.factor, accumulated
    /// per residue as a 128-bit sum of the word products x_t[j] · f_t[j] (or · c_t for a
    /// constant), reduced once at the end (and every `Modulus.lazyProductCapacity` terms, which
    /// only primes above 2^36 reach before the end). One limb at a time, the sums' accumulators
    /// (2N words each) stay in cache while each operand's limb, read from memory once, is added
    /// into every sum that reads it: a sum reads each operand once and writes its result once,
    /// where adding products one by one reads and writes the sum for each; a dense layer's B
    /// output sums made together read its inputs B times less.
    ///
    /// Input ranges: every residue reduced (the constants may be any word: reduced first).
    /// Output reduced. Correctness: each product of reduced residues is below q², an
    /// accumulator never exceeds 2^128 − 1 (`lazyProductCapacity`), and `reduce(high:low:)` is
    /// exact for any 128-bit value; the sum mod q does not depend on the order of its terms, so
    /// the result equals the products added one by one. Every input over the sums' basis `basis`;
    /// `scratch` holds at least 2·N·B·limbCount words (B = sums.count). Returns one polynomial
    /// per sum (a sum without terms is zero).
    public static func lazySums(inputs: [RNSPolynomial], sums: [[(input: Int, factor: LazyFactor<Form>)]],
                                basis: RNSBasis, scratch: UnsafeMutablePointer<UInt64>) throws -> [RNSPolynomial] {
        let moduli = basis.moduli
        let n = basis.degree, limbs = basis.count, count = sums.count
        // Per input, in input order, the sums that read it and their factors.
        var readers = [[(sum: Int, factor: LazyFactor<Form>)]](repeating: [], count: inputs.count)
        for (b, terms) in sums.enumerated() {
            for term in terms {
                guard inputs.indices.contains(term.input) else { throw HEMathError.outOfRange("a term reads input \(term.input) of \(inputs.count)") }
                switch term.factor {
                case .polynomial(let p):
                    guard p.degree == n, p.limbCount >= limbs,
                          zip(p.basis.moduli.prefix(limbs), moduli).allSatisfy({ $0.value == $1.value }) else {
                        throw HEMathError.mismatch("a factor of \(p.limbCount) limbs does not extend the sums' basis of \(limbs)")
                    }
                case .constant(let c):
                    guard c.count >= limbs else { throw HEMathError.mismatch("\(c.count) constant residues for \(limbs) limbs") }
                }
                readers[term.input].append((b, term.factor))
            }
        }
        for (s, input) in inputs.enumerated() where !readers[s].isEmpty {
            guard input.basis.isSame(as: basis) else { throw HEMathError.mismatch("input \(s) is over another basis than the sums'") }
        }
        // Constant factors only (scalar weights): the register-blocked kernel.
        let constants = sums.map { terms in terms.map { term -> [UInt64]? in
            if case .constant(let c) = term.factor { return c }
            return nil
        } }
        if constants.allSatisfy({ $0.allSatisfy { $0 != nil } }) {
            return constantLazySums(inputs: inputs, sums: sums.map { $0.map(\.input) }, constants: constants.map { $0.map { $0! } },
                                    basis: basis, scratch: scratch)
        }
        // The results, limb-major per sum, written limb by limb (each limb by one thread).
        let results = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, count * limbs * n))
        defer { results.deallocate() }
        RNSParallelism.forEachLimb(count: limbs, degree: n * max(count, 1)) { i in
            let m = moduli[i]
            let region = scratch + 2 * n * count * i
            region.update(repeating: 0, count: 2 * n * count)
            let capacity = m.lazyProductCapacity
            var pending = [Int](repeating: 0, count: count)
            for (s, uses) in readers.enumerated() where !uses.isEmpty {
                inputs[s].withUnsafeLimbs { xs in
                    let u = xs.baseAddress! + i * n
                    for (b, factor) in uses {
                        let low = region + 2 * n * b, high = low + n
                        if pending[b] == capacity {
                            for j in 0..<n {
                                low[j] = m.reduce(high: high[j], low: low[j])
                                high[j] = 0
                            }
                            pending[b] = 0
                        }
                        switch factor {
                        case .polynomial(let p):
                            p.withUnsafeLimbs { ps in Self.accumulate(u, times: ps.baseAddress! + i * n, into: low, high, n) }
                        case .constant(let c):
                            Self.accumulate(u, times: m.reduce(c[i]), into: low, high, n)
                        }
                        pending[b] += 1
                    }
                }
            }
            for b in 0..<count {
                let low = region + 2 * n * b, high = low + n
                let limb = results + (b * limbs + i) * n
                for j in 0..<n { limb[j] = m.reduce(high: high[j], low: low[j]) }
            }
        }
        return (0..<count).map { b in
            RNSPolynomial(basis: basis) { buffer in buffer.baseAddress!.update(from: results + b * limbs * n, count: limbs * n) }
        }
    }

    /// low:high[j] += u[j] · v[j] for j < n (128-bit sums, no reduction).
    @inline(__always)
    static func accumulate(_ u: UnsafePointer<UInt64>, times v: UnsafePointer<UInt64>,
                           into low: UnsafeMutablePointer<UInt64>, _ high: UnsafeMutablePointer<UInt64>, _ n: Int) {
        for j in 0..<n {
            let (h, l) = u[j].multipliedFullWidth(by: v[j])
            let (sum, carry) = low[j].addingReportingOverflow(l)
            low[j] = sum
            high[j] &+= h &+ (carry ? 1 : 0)
        }
    }

    /// low:high[j] += u[j] · w for j < n (128-bit sums, no reduction).
    @inline(__always)
    static func accumulate(_ u: UnsafePointer<UInt64>, times w: UInt64,
                           into low: UnsafeMutablePointer<UInt64>, _ high: UnsafeMutablePointer<UInt64>, _ n: Int) {
        for j in 0..<n {
            let (h, l) = u[j].multipliedFullWidth(by: w)
            let (sum, carry) = low[j].addingReportingOverflow(l)
            low[j] = sum
            high[j] &+= h &+ (carry ? 1 : 0)
        }
    }
}
