import CGMP

/// The negacyclic NTT of degree N modulo one large prime P ≡ 1 (mod 2N), on GMP integers.
///
/// Why it exists: it multiplies polynomials with coefficients of hundreds of bits exactly
/// (the big-integer reference ring is built on it), and it is the `bigint` kernel that
/// `he-tool bench ntt` times beside the word-size RNS kernel.
///
/// Conventions are those of the word-size `NTTTables`: the forward transform evaluates
/// a(X) ∈ Z_P[X]/(X^N + 1) at ψ^(2·br(i)+1) (br = bit reversal of log N bits), so its output
/// is in bit-reversed order and pointwise products in that domain are negacyclic products;
/// twiddles ψ^br(i) are stored in bit-reversed order; the inverse is Gentleman–Sande with
/// N^−1 folded into its last stage. Only the root differs: ψ here is the first primitive
/// 2N-th root found from x = 2, 3, … (deterministic, but not the minimal one).
///
/// Primality: GMP proves primality only below about 2^50; for a larger P, "prime" here means
/// that P passed GMP's Baillie–PSW test plus further Miller–Rabin rounds (30 rounds requested),
/// for which no counterexample is known. Should P nonetheless be composite, Z_P is not a field
/// and the transform would not invert or would not multiply correctly; the tests compare NTT
/// round trips and products against a schoolbook product, so that would not go unnoticed.
///
/// The tables are immutable after `init` and GMP does not write to source operands, so one
/// instance may serve several threads at once (each with its own buffers).
public final class BigIntegerNTT: @unchecked Sendable {
    /// The ring degree N (a power of two in 2…2^17).
    public let degree: Int
    /// log2(N).
    public let logDegree: Int
    /// The prime P ≡ 1 (mod 2N).
    public let modulus: BigInteger
    /// ψ, a primitive 2N-th root of unity modulo P (ψ^N = −1).
    public let root: BigInteger

    /// ψ^br(i) for i in [0, N) (entry 0 unused); the forward twiddles.
    let rootPowers: BigIntegerPolynomialBuffer
    /// ψ^−br(i) for i in [0, N); the inverse twiddles.
    let inverseRootPowers: BigIntegerPolynomialBuffer
    /// P, N^−1 mod P, and N^−1·ψ^−br(1) mod P, as GMP integers for the kernels.
    let constants: BigIntegerPolynomialBuffer
    /// Pointers into `constants` (valid as long as `self` lives).
    let p: UnsafeMutablePointer<__mpz_struct>
    let inverseDegree: UnsafeMutablePointer<__mpz_struct>
    let inverseDegreeRoot: UnsafeMutablePointer<__mpz_struct>

    /// Rounds of primality testing asked of GMP (Baillie–PSW plus rounds − 24 Miller–Rabin).
    public static let primalityRounds = 30
    /// The largest bit size accepted by `nttPrime` (the search would take very long beyond).
    public static let maximumPrimeBits = 1 << 17

    /// Builds the tables for degree N and a prime P ≡ 1 (mod 2N).
    /// - Throws: `invalidDegree` unless N is a power of two in 2…2^17; `invalidBigModulus`
    ///   when P is not ≡ 1 (mod 2N), is not (probably) prime, or has no 2N-th root found.
    public init(degree: Int, modulus P: BigInteger) throws {
        try NTTTables.validateDegree(degree)
        let twoN = BigInteger(2 * degree)
        guard !P.isNegative, try P.modulo(twoN) == 1, P > 1 else {
            throw HEMathError.invalidBigModulus(
                modulus: P.description, reason: "must be ≡ 1 (mod \(2 * degree)) for ring degree \(degree)")
        }
        guard P.isProbablePrime(rounds: BigIntegerNTT.primalityRounds) != .composite else {
            throw HEMathError.invalidBigModulus(modulus: P.description, reason: "is not prime")
        }
        let psi = try BigIntegerNTT.primitiveRoot(degree: degree, modulus: P)
        self.degree = degree
        self.logDegree = degree.trailingZeroBitCount
        self.modulus = P
        self.root = psi

        // Twiddles: ψ^i and ψ^−i stored at the bit-reversed index br(i).
        let psiInverse = try psi.inverse(modulo: P)
        let powers = BigIntegerPolynomialBuffer(count: degree, bitCapacity: P.bitWidth)
        let inversePowers = BigIntegerPolynomialBuffer(count: degree, bitCapacity: P.bitWidth)
        var power = BigInteger(1), inversePower = BigInteger(1)
        for i in 0..<degree {
            let slot = NTTTables.bitReverse(i, bits: logDegree)
            powers[slot] = power
            inversePowers[slot] = inversePower
            power = try (power * psi).modulo(P)
            inversePower = try (inversePower * psiInverse).modulo(P)
        }
        rootPowers = powers
        inverseRootPowers = inversePowers

        let nInverse = try BigInteger(degree).inverse(modulo: P)
        let folded = try (nInverse * inversePowers[1]).modulo(P)
        constants = BigIntegerPolynomialBuffer([P, nInverse, folded])
        p = constants.pointer(0)
        inverseDegree = constants.pointer(1)
        inverseDegreeRoot = constants.pointer(2)
    }

    /// The smallest probable prime P ≡ 1 (mod 2N) with P ≥ 2^bits, found by testing
    /// P = k·2N + 1 for k = ⌈(2^bits − 1)/2N⌉, k + 1, … (see the type's note on primality).
    /// Deterministic: the same arguments always give the same P.
    /// - Throws: `invalidDegree` for a bad N; `outOfRange` unless 1 ≤ bits ≤ `maximumPrimeBits`.
    public static func nttPrime(atLeastBits bits: Int, degree: Int) throws -> BigInteger {
        try NTTTables.validateDegree(degree)
        guard bits >= 1, bits <= maximumPrimeBits else {
            throw HEMathError.outOfRange("NTT prime bit size \(bits): must be in 1…\(maximumPrimeBits)")
        }
        let twoN = BigInteger(2 * degree)
        let lowerBound = BigInteger(1) << bits
        // k·2N + 1 ≥ 2^bits ⇔ k ≥ (2^bits − 1)/2N; k ≥ 1 since 2^bits − 1 ≥ 1.
        let k = try (lowerBound - 1 + twoN - 1) / twoN
        var candidate = k * twoN + 1
        while candidate.isProbablePrime(rounds: primalityRounds) == .composite {
            candidate += twoN
        }
        return candidate
    }

    /// A primitive 2N-th root of unity modulo the prime P ≡ 1 (mod 2N): r = x^((P−1)/2N) for
    /// the first x = 2, 3, … with r^N = −1. Since r^N = x^((P−1)/2), that is the first quadratic
    /// non-residue x, and then r has order exactly 2N (its order divides 2N but not N).
    /// Tries x < min(P, 1000): a prime P with no non-residue below 1000 is astronomically
    /// unlikely, so failing means P is not prime.
    static func primitiveRoot(degree: Int, modulus P: BigInteger) throws -> BigInteger {
        let exponent = try (P - 1) / BigInteger(2 * degree)
        let minusOne = P - 1
        var x = BigInteger(2)
        while x < P && x < 1000 {
            let r = try x.pow(exponent, modulus: P)
            if try r.pow(BigInteger(degree), modulus: P) == minusOne { return r }
            x += 1
        }
        throw HEMathError.invalidBigModulus(
            modulus: P.description, reason: "no primitive \(2 * degree)-th root of unity found (P is not prime)")
    }

    // MARK: - Conversions

    /// A buffer of N integers holding `values` reduced into [0, P), ready for `forward`.
    /// - Throws: `mismatch` unless `values` has N entries.
    public func buffer(from values: [BigInteger]) throws -> BigIntegerPolynomialBuffer {
        guard values.count == degree else {
            throw HEMathError.mismatch("\(values.count) coefficients given to a degree-\(degree) NTT, which needs \(degree)")
        }
        let result = BigIntegerPolynomialBuffer(count: degree, bitCapacity: 2 * modulus.bitWidth + 64)
        for (i, value) in values.enumerated() {
            value.withMPZ { __gmpz_mod(result.pointer(i), $0, p) }
        }
        return result
    }

    /// The integers of a buffer as values (for example after `inverse`, all in [0, P)).
    public func values(of buffer: BigIntegerPolynomialBuffer) -> [BigInteger] {
        buffer.values
    }

    /// Throws `mismatch` unless the buffer holds N integers.
    func checkCount(_ buffer: BigIntegerPolynomialBuffer, _ name: String) throws {
        guard buffer.count == degree else {
            throw HEMathError.mismatch("\(name) holds \(buffer.count) integers; a degree-\(degree) NTT needs \(degree)")
        }
    }

    /// Brings every integer of the buffer into [0, P); integers already there are untouched,
    /// so for reduced input this is only N comparisons.
    func reduceInPlace(_ a: UnsafeMutablePointer<__mpz_struct>) {
        for i in 0..<degree where a[i]._mp_size < 0 || __gmpz_cmp(a + i, p) >= 0 {
            __gmpz_mod(a + i, a + i, p)
        }
    }

    /// A one-integer scratch buffer with room for a product of two values below P.
    func makeScratch() -> BigIntegerPolynomialBuffer {
        BigIntegerPolynomialBuffer(count: 1, bitCapacity: 2 * modulus.bitWidth + 64)
    }
}
