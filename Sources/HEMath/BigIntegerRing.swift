import CGMP

/// The ring Z_Q[X]/(X^N + 1) with `BigInteger` coefficients, for any modulus Q ≥ 2 (typically
/// the full product of an RNS prime chain): the slow, exact reference that tests compare the
/// fast RNS (word-size) arithmetic against.
///
/// Products are exact: both factors are centred into (−Q/2, Q/2], multiplied negacyclically
/// by a `BigIntegerNTT` modulo one large prime P > 2·N·Q², and the result is recovered by
/// centring mod P (see `multiply`). No CRT or RNS code is involved, so the oracle shares
/// nothing with what it checks.
///
/// Polynomials are arrays of N coefficients, constant term first. Every operation accepts
/// coefficients of any size and sign (they are reduced mod Q first) and returns them in
/// [0, Q), except `centered`, which returns (−Q/2, Q/2].
public final class BigIntegerRing: @unchecked Sendable {
    /// The ring degree N (a power of two in 2…2^17).
    public let degree: Int
    /// The coefficient modulus Q ≥ 2.
    public let modulus: BigInteger
    /// The NTT modulo the prime P > 2·N·Q² that `multiply` uses.
    public let ntt: BigIntegerNTT

    /// Q, ⌊Q/2⌋, P, ⌊P/2⌋ as GMP integers for the product's loops (immutable after init).
    let constants: BigIntegerPolynomialBuffer
    let q: UnsafeMutablePointer<__mpz_struct>
    let halfQ: UnsafeMutablePointer<__mpz_struct>
    let p: UnsafeMutablePointer<__mpz_struct>
    let halfP: UnsafeMutablePointer<__mpz_struct>

    /// The ring of degree N modulo Q, with P the smallest NTT prime ≥ 2^(b+1), where b is the
    /// bit width of 2·N·Q²; so P > 2·2·N·Q², comfortably above the 2·(N·Q²/4) that exact
    /// recovery needs. Finding P takes a prime search (milliseconds for Q of a few hundred bits).
    /// - Throws: `invalidDegree` for a bad N; `invalidBigModulus` when Q < 2.
    public init(degree: Int, modulus Q: BigInteger) throws {
        try NTTTables.validateDegree(degree)
        guard Q > 1 else {
            throw HEMathError.invalidBigModulus(modulus: Q.description, reason: "a ring modulus must be at least 2")
        }
        let bound = BigInteger(2 * degree) * Q * Q
        let P = try BigIntegerNTT.nttPrime(atLeastBits: bound.bitWidth + 1, degree: degree)
        self.degree = degree
        self.modulus = Q
        self.ntt = try BigIntegerNTT(degree: degree, modulus: P)
        constants = BigIntegerPolynomialBuffer([Q, Q >> 1, P, P >> 1])
        q = constants.pointer(0)
        halfQ = constants.pointer(1)
        p = constants.pointer(2)
        halfP = constants.pointer(3)
    }

    /// The ring of degree N modulo Q = ∏ primes (an RNS chain's full modulus). The primes
    /// are not checked for primality or distinctness: any factors ≥ 2 give a valid Q.
    /// - Throws: `outOfRange` for an empty list or a factor below 2; otherwise as `init(degree:modulus:)`.
    public convenience init(degree: Int, primes: [UInt64]) throws {
        guard !primes.isEmpty else {
            throw HEMathError.outOfRange("the modulus Q needs at least one prime")
        }
        if let bad = primes.first(where: { $0 < 2 }) {
            throw HEMathError.outOfRange("prime factor \(bad) of Q: must be at least 2")
        }
        let Q = primes.reduce(BigInteger(1)) { $0 * BigInteger($1) }
        try self.init(degree: degree, modulus: Q)
    }

    // MARK: - Product

    /// The exact negacyclic product a·b mod (X^N + 1, Q), coefficients in [0, Q).
    ///
    /// Correctness: after centring, |a_i|, |b_j| ≤ Q/2, so each coefficient of the exact
    /// negacyclic product over Z, a sum of N terms ±a_i·b_j, has |c| ≤ N·Q²/4 < P/2. The NTT
    /// computes c mod P exactly (Z_P is a field holding the 2N-th roots), and the integer in
    /// (−P/2, P/2] congruent to it is c itself; c mod Q is then the answer.
    /// - Throws: `mismatch` unless both have N coefficients.
    public func multiply(_ a: [BigInteger], _ b: [BigInteger]) throws -> [BigInteger] {
        try checkLength(a, "the first factor")
        try checkLength(b, "the second factor")
        let fa = centredModP(a)
        let fb = centredModP(b)
        try ntt.forward(fa)
        try ntt.forward(fb)
        try ntt.multiplyPointwise(fa, fb, into: fa)
        try ntt.inverse(fa)
        return (0..<degree).map { i in
            let c = fa.pointer(i)  // in [0, P)
            if __gmpz_cmp(c, halfP) > 0 { __gmpz_sub(c, c, p) }  // now the exact integer
            return BigInteger.make { __gmpz_mod($0, c, q) }
        }
    }

    /// A buffer with the values reduced mod Q, centred into (−Q/2, Q/2], then taken mod P.
    func centredModP(_ values: [BigInteger]) -> BigIntegerPolynomialBuffer {
        let buffer = BigIntegerPolynomialBuffer(count: degree, bitCapacity: 2 * ntt.modulus.bitWidth + 64)
        for (i, value) in values.enumerated() {
            let x = buffer.pointer(i)
            value.withMPZ { __gmpz_mod(x, $0, q) }
            if __gmpz_cmp(x, halfQ) > 0 { __gmpz_sub(x, x, q) }
            if x.pointee._mp_size < 0 { __gmpz_add(x, x, p) }
        }
        return buffer
    }

    // MARK: - Additive operations and representatives

    /// a + b, coefficients in [0, Q).
    /// - Throws: `mismatch` unless both have N coefficients.
    public func add(_ a: [BigInteger], _ b: [BigInteger]) throws -> [BigInteger] {
        try checkLength(a, "the first summand")
        try checkLength(b, "the second summand")
        return zip(a, b).map { reduced($0 + $1) }
    }

    /// a − b, coefficients in [0, Q).
    /// - Throws: `mismatch` unless both have N coefficients.
    public func subtract(_ a: [BigInteger], _ b: [BigInteger]) throws -> [BigInteger] {
        try checkLength(a, "the minuend")
        try checkLength(b, "the subtrahend")
        return zip(a, b).map { reduced($0 - $1) }
    }

    /// −a, coefficients in [0, Q) (−0 is 0).
    /// - Throws: `mismatch` unless a has N coefficients.
    public func negate(_ a: [BigInteger]) throws -> [BigInteger] {
        try checkLength(a, "the operand")
        return a.map { reduced(-$0) }
    }

    /// Each coefficient reduced into [0, Q), whatever its size and sign.
    /// - Throws: `mismatch` unless a has N coefficients.
    public func reduce(_ a: [BigInteger]) throws -> [BigInteger] {
        try checkLength(a, "the operand")
        return a.map(reduced)
    }

    /// Each coefficient as the representative in (−Q/2, Q/2] of its class mod Q: the
    /// "small" form that noise and rounding arguments use.
    /// - Throws: `mismatch` unless a has N coefficients.
    public func centered(_ a: [BigInteger]) throws -> [BigInteger] {
        try checkLength(a, "the operand")
        return a.map { value in
            value.withMPZ { v in
                BigInteger.make { r in
                    __gmpz_mod(r, v, q)
                    if __gmpz_cmp(r, halfQ) > 0 { __gmpz_sub(r, r, q) }
                }
            }
        }
    }

    /// x mod Q in [0, Q).
    func reduced(_ x: BigInteger) -> BigInteger {
        x.withMPZ { v in BigInteger.make { __gmpz_mod($0, v, q) } }
    }

    /// Throws `mismatch` unless the polynomial has N coefficients.
    func checkLength(_ a: [BigInteger], _ name: String) throws {
        guard a.count == degree else {
            throw HEMathError.mismatch("\(name) has \(a.count) coefficients; the ring of degree \(degree) needs \(degree)")
        }
    }
}
