import Dispatch
import Foundation
import HEMath

/// The three distributions CKKS draws from, and the one entry point for fresh randomness.
///
/// - `uniform`: the public `a` of keys and encryptions, uniform modulo Q, expanded from a seed
///   so that it can be stored as 32 bytes.
/// - `ternary`: secrets and encryption masks, coefficients uniform in {−1, 0, 1}.
/// - `gaussian`: errors, a rounded Gaussian clipped at 6σ (as SEAL's clipped normal).
///
/// Every sampler reads a `SeededStream`, so given the stream's (seed, domain, index) its output
/// is fully determined; `freshStream()` is how non-reproducible randomness enters (one seed
/// from the operating system, then ChaCha20).
public enum Sampler {
    /// A stream keyed by a fresh `Seed.random()` — the way keys and encryptions get randomness.
    ///
    /// Why a seed and a PRG rather than the system generator directly: `SystemRandomNumberGenerator`
    /// makes one getrandom(2) call per 8-byte word (about 0.4 µs each, measured on Linux), and a
    /// Gaussian polynomial at N = 2^14 needs 2^14 words (two per Box–Muller pair), so a system
    /// call per word would cost several milliseconds per polynomial; ChaCha20 produces the same
    /// words in about 0.1 ms. Here the system is asked once, for the 32-byte seed (four calls).
    /// Security is unchanged: the 256-bit seed is the only secret input, and the keystream of a
    /// uniformly random ChaCha20 key is indistinguishable from uniform bits.
    public static func freshStream() -> SeededStream {
        SeededStream(seed: Seed.random(), domain: 0, index: 0)
    }

    // MARK: Uniform

    /// A polynomial uniform modulo Q = ∏ q_i, expanded from `seed`, in evaluation form.
    ///
    /// Distribution: limb i holds N residues drawn independently and uniformly from [0, q_i),
    /// by rejection sampling on the stream `SeededStream(seed, domain, index: i)`: each word is
    /// masked to the bit width b of q_i and rejected if ≥ q_i. Conditioned on acceptance a
    /// masked word is uniform on [0, q_i) (every value has the same probability 2^−b before
    /// the rejection), and since 2^(b−1) ≤ q_i the acceptance rate is at least 1/2 (close to 1
    /// for the primes near 2^b that the chains use). By the CRT, independent uniform residues
    /// are a uniform element of Z_Q, coefficient by coefficient.
    ///
    /// Uniform residues are uniform in either form (the NTT is a bijection on Z_q^N), so the
    /// polynomial is produced directly in evaluation form, as SEAL does, saving a transform.
    ///
    /// Prefix property: limb i depends only on (seed, domain, i) and q_i, never on the other
    /// primes or on how many there are. Expanding the same seed over a prefix of the basis
    /// therefore gives exactly the first limbs of the expansion over the whole basis. This is
    /// what a seeded ciphertext or key relies on: it stores the seed, and whoever loads it at
    /// any level re-expands the same `a` over the primes it has.
    ///
    /// Limbs are expanded in parallel when the polynomial is large (`RNSParallelism`); the
    /// output does not depend on the order they are computed in.
    public static func uniform(basis: RNSBasis, seed: Seed, domain: UInt64) -> RNSPolynomial<Evaluation> {
        var polynomial = RNSPolynomial<Evaluation>(zeroIn: basis)
        let n = basis.degree
        let moduli = basis.moduli
        polynomial.withUnsafeMutableLimbs { residues in
            let expandLimb = { (i: Int) in
                var stream = SeededStream(seed: seed, domain: domain, index: UInt32(i))
                let limb = UnsafeMutableBufferPointer(rebasing: residues[(i * n)..<((i + 1) * n)])
                fillUniform(limb, modulus: moduli[i], using: &stream)
            }
            RNSParallelism.forEachLimb(count: moduli.count, degree: n, expandLimb)
        }
        return polynomial
    }

    /// Fills `out` with residues uniform in [0, q) by masked rejection sampling (see `uniform`).
    @inline(__always)
    static func fillUniform(_ out: UnsafeMutableBufferPointer<UInt64>, modulus: Modulus,
                            using stream: inout SeededStream) {
        let mask: UInt64 = modulus.bitWidth >= 64 ? .max : (1 << UInt64(modulus.bitWidth)) &- 1
        stream.fillMasked(out, mask: mask, below: modulus.value)
    }

    /// `count` residues uniform in [0, q), for tests of the rejection sampler on one modulus.
    static func uniformResidues(count: Int, modulus: Modulus, using stream: inout SeededStream) -> [UInt64] {
        var residues = [UInt64](repeating: 0, count: count)
        residues.withUnsafeMutableBufferPointer { fillUniform($0, modulus: modulus, using: &stream) }
        return residues
    }

    // MARK: Ternary

    /// A polynomial with N coefficients uniform in {−1, 0, 1}, in coefficient form.
    ///
    /// Distribution: each coefficient takes −1, 0 and 1 with probability exactly 1/3 each,
    /// independently. The stream's words are cut into 2-bit values v ∈ {0, 1, 2, 3}, each
    /// uniform; v = 3 is rejected and v ∈ {0, 1, 2} gives v − 1. Conditioned on acceptance v is
    /// uniform on {0, 1, 2}, and the acceptance rate is 3/4, so a word yields 24 coefficients
    /// on average. (Reducing a 2-bit or 8-bit value mod 3 without rejection would be biased.)
    ///
    /// Limb i holds the same integer coefficient reduced mod q_i (−1 as q_i − 1), so the
    /// polynomial is the small integer polynomial itself, represented modulo Q.
    public static func ternary(basis: RNSBasis, using stream: inout SeededStream) -> RNSPolynomial<Coefficient> {
        spread(ternaryCoefficients(count: basis.degree, using: &stream), over: basis)
    }

    /// `count` integers uniform in {−1, 0, 1} (see `ternary`), before they are spread to limbs.
    static func ternaryCoefficients(count: Int, using stream: inout SeededStream) -> [Int8] {
        var coefficients = [Int8]()
        coefficients.reserveCapacity(count)
        while coefficients.count < count {
            var word = stream.nextWord()
            for _ in 0..<32 {
                let v = word & 3
                word >>= 2
                if v < 3 {
                    coefficients.append(Int8(truncatingIfNeeded: v) - 1)
                    if coefficients.count == count { break }
                }
            }
        }
        return coefficients
    }

    // MARK: Gaussian

    /// A polynomial with N independent rounded Gaussian coefficients of standard deviation σ,
    /// clipped at 6σ, in coefficient form.
    ///
    /// Distribution: each coefficient is round(x) where x is drawn from the normal distribution
    /// N(0, σ²) conditioned on |x| ≤ 6σ (values beyond are re-sampled, SEAL's clipped normal),
    /// so every coefficient has magnitude at most ⌊6σ + 1/2⌋ (19 for σ = 3.2). The clipping
    /// removes a mass of about 2·10^−9 and changes the variance negligibly.
    ///
    /// x comes from the Box–Muller transform on the stream's doubles: with U₁ uniform in (0, 1]
    /// and U₂ uniform in [0, 1), R = √(−2 ln U₁) and Θ = 2πU₂ give R·cos Θ and R·sin Θ, two
    /// independent standard normals (the joint density of (R, Θ) is that of a standard
    /// bivariate normal in polar coordinates). Both are used; each is clipped on its own, which
    /// keeps the accepted values independent. U₁ on the 2^−53 grid bounds R by √(106 ln 2) ≈ 8.6,
    /// beyond the 6 standard deviations that are kept, so the clip, not the grid, sets the tail.
    ///
    /// Limb i holds the same integer reduced mod q_i.
    /// - Precondition: σ is finite and positive.
    public static func gaussian(basis: RNSBasis, standardDeviation σ: Double,
                                using stream: inout SeededStream) -> RNSPolynomial<Coefficient> {
        spread(gaussianCoefficients(count: basis.degree, standardDeviation: σ, using: &stream), over: basis)
    }

    /// `count` clipped rounded Gaussian integers (see `gaussian`), before they are spread to limbs.
    /// `maxDeviations` (6 in every public use) is a parameter so tests can make the clip visible.
    static func gaussianCoefficients(count: Int, standardDeviation σ: Double, maxDeviations: Double = 6,
                                     using stream: inout SeededStream) -> [Int64] {
        precondition(σ.isFinite && σ > 0, "the standard deviation must be finite and positive, got \(σ)")
        precondition(maxDeviations > 0)
        let bound = maxDeviations * σ
        var coefficients = [Int64]()
        coefficients.reserveCapacity(count)
        while coefficients.count < count {
            let u1 = 1 - stream.nextDouble()  // (0, 1]: ln is finite
            let u2 = stream.nextDouble()
            let r = σ * (-2 * Foundation.log(u1)).squareRoot()
            let theta = 2 * Double.pi * u2
            let x = r * Foundation.cos(theta)
            if abs(x) <= bound { coefficients.append(Int64(x.rounded())) }
            let y = r * Foundation.sin(theta)
            if abs(y) <= bound && coefficients.count < count { coefficients.append(Int64(y.rounded())) }
        }
        return coefficients
    }

    // MARK: Spreading small integers to limbs

    /// The polynomial whose coefficient j is `coefficients[j]` modulo every prime of `basis`.
    static func spread<T: FixedWidthInteger & SignedInteger>(_ coefficients: [T], over basis: RNSBasis) -> RNSPolynomial<Coefficient> {
        let n = basis.degree
        precondition(coefficients.count == n)
        var polynomial = RNSPolynomial<Coefficient>(zeroIn: basis)
        polynomial.withUnsafeMutableLimbs { residues in
            for (i, modulus) in basis.moduli.enumerated() {
                let base = i * n
                for j in 0..<n {
                    residues[base + j] = modulus.reduce(signed: Int64(coefficients[j]))
                }
            }
        }
        return polynomial
    }
}
