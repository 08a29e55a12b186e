import Foundation
import HEMath

/// The CKKS encoder: maps vectors of n = N/2 complex numbers to plaintext polynomials and back.
///
/// A plaintext m(X) ∈ Z[X]/(X^N + 1) at scale Δ holds the slots z_j = m(ζ^(5^j mod 2N)) / Δ,
/// j = 0 … n − 1, with ζ = exp(iπ/N). Encoding finds the real polynomial with
/// m(ζ^(5^j)) = Δ·z_j (its values at the conjugate roots are then the conjugates) by the inverse
/// special FFT, and rounds its coefficients to integers; decoding evaluates by the forward one.
/// This slot order is the contract with the evaluator: X ↦ X^(5^k) rotates the slots left by k
/// (slot j of the result is slot j + k of the input) and X ↦ X^(2N−1) conjugates every slot.
///
/// Coefficients are rounded through `Int64` while |Δ·m_i| < 2^62 and exactly through GMP above
/// that; decoding composes the residues of each coefficient exactly (fixed-width CRT, see
/// `CRTComposer`), so values far beyond 64 bits, as after a multiplication, decode correctly.
///
/// Immutable and thread-safe: the tables are built once in `init`, each call allocates its own
/// buffers.
public final class Encoder: Sendable {
    /// The context the encoder serves.
    public let context: CKKSContext
    /// The special FFT of the context's degree.
    let fft: SpecialFFT
    /// Level l ↦ the basis q_0 … q_l.
    let bases: [RNSBasis]
    /// Level l ↦ exact CRT composition over q_0 … q_l.
    let composers: [CRTComposer]

    /// How decoding composes the residues of a multi-prime coefficient (both are exact).
    enum Composition {
        /// Fixed-width two's-complement CRT (`CRTComposer`): no allocation per coefficient.
        case fixedWidth
        /// GMP: `RNSBasis.coefficients(of:)`, then `BigInteger.doubleValue`. The reference.
        case gmp
    }

    /// Builds the FFT tables and the per-level CRT constants of `context`.
    public init(context: CKKSContext) {
        self.context = context
        fft = SpecialFFT(validDegree: context.degree)
        bases = context.levelBases
        composers = context.levelBases.map(CRTComposer.init(basis:))
    }

    /// The number of slots n = N/2.
    public var slotCount: Int { context.slotCount }

    // MARK: Encoding

    /// Encodes real values (in the real parts of the slots; missing slots are zero) at `scale`
    /// and `level`, as a plaintext in NTT form.
    /// - Throws: `CKKSError.encoding` for more than n values, a non-finite value, a scale that is
    ///   not positive and finite, a level outside 0…maxLevel, or a message whose scaled
    ///   coefficients exceed Q_level/2 (they would wrap modulo Q).
    public func encode(_ values: [Double], scale: Double, level: Int) throws -> Plaintext {
        try encode(real: values, imaginary: [], scale: scale, level: level)
    }

    /// Encodes complex values z_j = real[j] + i·imaginary[j] (each array zero-padded to n).
    /// - Throws: as `encode(_:scale:level:)`.
    public func encode(real: [Double], imaginary: [Double], scale: Double, level: Int) throws -> Plaintext {
        let coefficients = try encodeCoefficients(real: real, imaginary: imaginary, scale: scale, level: level)
        return try Plaintext(context: context, polynomial: coefficients.forwardNTT(), level: level, scale: scale)
    }

    /// Encodes the constant c in every slot: the constant polynomial round(Δ·c), whose NTT is the
    /// same constant in every position, so no transform is needed.
    /// - Throws: `CKKSError.encoding` for a non-finite c, a bad scale or level, or |Δ·c| > Q_level/2.
    public func encode(scalar: Double, scale: Double, level: Int) throws -> Plaintext {
        let basis = try checkedBasis(level: level)
        try check(scale: scale)
        guard scalar.isFinite else { throw CKKSError.encoding("the scalar is \(scalar); only finite values can be encoded") }
        let scaled = scalar * scale
        try checkFits(largest: scaled, at: 0, largestInput: abs(scalar), scale: scale, level: level, basis: basis)
        let residues = residues(of: scaled, moduli: basis.moduli)
        var polynomial = RNSPolynomial<Evaluation>(zeroIn: basis)
        let n = context.degree
        polynomial.withUnsafeMutableLimbs { limbs in
            for (i, r) in residues.enumerated() {
                for j in 0..<n { limbs[i * n + j] = r }
            }
        }
        return try Plaintext(context: context, polynomial: polynomial, level: level, scale: scale)
    }

    /// The coefficient-form polynomial round(Δ·m) of complex slot values (see `encode`).
    func encodeCoefficients(real: [Double], imaginary: [Double], scale: Double, level: Int) throws -> RNSPolynomial<Coefficient> {
        let basis = try checkedBasis(level: level)
        try check(scale: scale)
        let n = slotCount
        guard real.count <= n, imaginary.count <= n else {
            throw CKKSError.encoding("\(max(real.count, imaginary.count)) values given, but N = \(context.degree) has only \(n) slots; split the input over several plaintexts")
        }
        var largestInput = 0.0
        for (name, values) in [("value", real), ("imaginary part", imaginary)] {
            for (j, x) in values.enumerated() {
                guard x.isFinite else { throw CKKSError.encoding("\(name) \(j) is \(x); only finite values can be encoded") }
                largestInput = max(largestInput, abs(x))
            }
        }
        // Slots in, coefficients out: c_k = m_k + i·m_(k+n), so the two halves of the scaled
        // coefficient vector are the real and imaginary parts the inverse FFT works on.
        var coefficients = [Double](repeating: 0, count: 2 * n)
        coefficients.withUnsafeMutableBufferPointer { c in
            let base = c.baseAddress!
            for (j, x) in real.enumerated() { base[j] = x }
            for (j, x) in imaginary.enumerated() { base[n + j] = x }
            fft.inverse(base, base + n, factor: scale)
        }
        return try roundedPolynomial(coefficients, basis: basis, largestInput: largestInput, scale: scale, level: level)
    }

    /// Rounds scaled coefficients to integers and reduces them modulo every prime of `basis`:
    /// by `Int64` and Barrett below 2^62 (ties to even: one instruction), exactly through GMP
    /// above (where every double is already an integer, so the tie rule never matters).
    func roundedPolynomial(_ coefficients: [Double], basis: RNSBasis, largestInput: Double,
                           scale: Double, level: Int) throws -> RNSPolynomial<Coefficient> {
        var largest = 0.0, largestIndex = 0
        for (j, x) in coefficients.enumerated() {
            let a = abs(x)
            guard a.isFinite else { (largest, largestIndex) = (a, j); break }   // overflow: reported below
            if a > largest { (largest, largestIndex) = (a, j) }
        }
        try checkFits(largest: largest, at: largestIndex, largestInput: largestInput, scale: scale, level: level, basis: basis)
        let n = basis.degree
        let moduli = basis.moduli
        var polynomial = RNSPolynomial<Coefficient>(zeroIn: basis)
        polynomial.withUnsafeMutableLimbs { limbs in
            coefficients.withUnsafeBufferPointer { c in
                for (i, m) in moduli.enumerated() {
                    let limb = limbs.baseAddress! + i * n
                    for j in 0..<n where abs(c[j]) < Self.int64Bound {
                        limb[j] = m.reduce(signed: Int64(c[j].rounded(.toNearestOrEven)))
                    }
                }
                guard largest >= Self.int64Bound else { return }
                for j in 0..<n where abs(c[j]) >= Self.int64Bound {
                    for (i, r) in residues(of: c[j], moduli: moduli).enumerated() { limbs[i * n + j] = r }
                }
            }
        }
        return polynomial
    }

    /// Below this magnitude a scaled coefficient is rounded through `Int64`.
    static let int64Bound = 0x1p62

    /// round(x) mod q_i for every prime, through `Int64` when small and GMP otherwise. x is finite.
    func residues(of x: Double, moduli: [Modulus]) -> [UInt64] {
        if abs(x) < Self.int64Bound {
            let r = Int64(x.rounded(.toNearestOrEven))
            return moduli.map { $0.reduce(signed: r) }
        }
        // Cannot throw: x is finite (checked by `checkFits`).
        let big = try! BigInteger(roundingToNearest: x)
        return moduli.map { big.remainder(modulo: $0.value) }
    }

    /// Throws unless the largest scaled coefficient is finite and round(|x|) ≤ ⌊Q/2⌋, the
    /// largest magnitude the centred residues (−Q/2, Q/2] represent without wrapping.
    func checkFits(largest x: Double, at index: Int, largestInput: Double, scale: Double,
                   level: Int, basis: RNSBasis) throws {
        let advice = "lower the scale (now 2^\(Self.format(log2(scale)))) or encode at a higher level"
        guard x.isFinite else {
            throw CKKSError.encoding("the scaled message overflows a double (inputs up to \(largestInput) at scale 2^\(Self.format(log2(scale)))); \(advice)")
        }
        let magnitude = try BigInteger(roundingToNearest: abs(x))
        guard magnitude <= basis.halfProduct else {
            throw CKKSError.encoding("the largest input magnitude \(largestInput) needs a coefficient |Δ·m_\(index)| ≈ 2^\(Self.format(log2(abs(x)))), beyond Q/2 ≈ 2^\(Self.format(basis.log2Product - 1)) at level \(level), so it would wrap modulo Q; \(advice)")
        }
    }

    static func format(_ x: Double) -> String { String(format: "%.1f", x) }

    func checkedBasis(level: Int) throws -> RNSBasis {
        guard (0...context.maxLevel).contains(level) else {
            throw CKKSError.encoding("level \(level) is outside 0…\(context.maxLevel) of this parameter set; choose a level in that range")
        }
        return bases[level]
    }

    func check(scale: Double) throws {
        guard scale.isFinite, scale > 0 else {
            throw CKKSError.encoding("the scale must be positive and finite, got \(scale); use e.g. 2^\(context.parameters.logScale)")
        }
    }

    // MARK: Decoding

    /// The real parts of the slots of a plaintext.
    /// - Throws: `parameterMismatch` for a plaintext of another parameter set.
    public func decode(_ plaintext: Plaintext) throws -> [Double] {
        try decodeComplex(plaintext).real
    }

    /// The complex slots of a plaintext: m(ζ^(5^j)) / Δ for j < n.
    /// - Throws: `parameterMismatch` for a plaintext of another parameter set.
    public func decodeComplex(_ plaintext: Plaintext) throws -> (real: [Double], imaginary: [Double]) {
        guard plaintext.context.isCompatible(with: context) else {
            throw CKKSError.parameterMismatch("the plaintext was made with another parameter set than this encoder's")
        }
        return try decodeComplex(coefficients: plaintext.polynomial.inverseNTT(), scale: plaintext.scale)
    }

    /// The real parts of the slots of a coefficient-form polynomial at `scale` (e.g. a
    /// decryption c_0 + c_1·s after the inverse NTT).
    /// - Throws: as `decodeComplex(coefficients:scale:)`.
    public func decode(coefficients: RNSPolynomial<Coefficient>, scale: Double) throws -> [Double] {
        try decodeComplex(coefficients: coefficients, scale: scale).real
    }

    /// The complex slots of a coefficient-form polynomial over the primes of a level, at `scale`.
    /// Each coefficient is read as its centred value in (−Q/2, Q/2], composed exactly however
    /// many bits it has.
    /// - Throws: `levelMismatch` unless the polynomial is over q_0 … q_l of this context;
    ///   `outOfRange` for a scale that is not positive and finite.
    public func decodeComplex(coefficients: RNSPolynomial<Coefficient>, scale: Double) throws -> (real: [Double], imaginary: [Double]) {
        try decodeComplex(coefficients: coefficients, scale: scale, composition: .fixedWidth)
    }

    func decodeComplex(coefficients p: RNSPolynomial<Coefficient>, scale: Double,
                       composition: Composition) throws -> (real: [Double], imaginary: [Double]) {
        let count = p.limbCount
        guard count <= bases.count, p.basis.isSame(as: bases[count - 1]) else {
            throw CKKSError.levelMismatch("the polynomial's \(count) primes of degree \(p.degree) are not q_0 … q_l of this context (N = \(context.degree), levels 0…\(context.maxLevel))")
        }
        guard scale.isFinite, scale > 0 else {
            throw CKKSError.outOfRange("the decoding scale must be positive and finite, got \(scale)")
        }
        let n = slotCount, degree = context.degree
        let factor = 1 / scale
        var real = [Double](repeating: 0, count: n)
        var imaginary = [Double](repeating: 0, count: n)
        if composition == .gmp {
            let values = try p.basis.coefficients(of: p)
            for k in 0..<n {
                real[k] = values[k].doubleValue * factor
                imaginary[k] = values[k + n].doubleValue * factor
            }
        }
        real.withUnsafeMutableBufferPointer { re in
            imaginary.withUnsafeMutableBufferPointer { im in
                if composition == .fixedWidth {
                    p.withUnsafeLimbs { limbs in
                        let r = limbs.baseAddress!
                        if count == 1 {
                            let m = p.basis.moduli[0]
                            for k in 0..<n {
                                re[k] = Double(m.centered(r[k])) * factor
                                im[k] = Double(m.centered(r[k + n])) * factor
                            }
                        } else {
                            let composer = composers[count - 1]
                            composer.compose(r, degree: degree, coefficients: 0..<n, factor: factor, into: re.baseAddress!)
                            composer.compose(r, degree: degree, coefficients: n..<degree, factor: factor, into: im.baseAddress!)
                        }
                    }
                }
                fft.forward(re.baseAddress!, im.baseAddress!)
            }
        }
        return (real, imaginary)
    }
}
