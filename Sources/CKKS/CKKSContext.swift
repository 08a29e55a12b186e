import Foundation
import HEMath

/// Everything derived once from a parameter set and shared by keys, encoder, encryptor and
/// evaluator: the RNS bases of every level, the key-switching basis QP and its converters,
/// and the Galois permutations. Immutable after `init` apart from the Galois cache, which is
/// guarded by a lock.
public final class CKKSContext: @unchecked Sendable {
    /// The parameter set.
    public let parameters: CKKSParameters
    /// q_0 … q_L, p_0 … p_(k−1): the basis keys live over.
    public let keyBasis: RNSBasis
    /// The special primes P alone.
    public let specialBasis: RNSBasis
    /// Level l ↦ q_0 … q_l.
    let levelBases: [RNSBasis]
    /// Level l ↦ q_0 … q_l, p_0 … p_(k−1): where key switching at level l computes.
    let extendedBases: [RNSBasis]
    /// Level l ↦ the key-switching plan at that level.
    let keySwitchPlans: [KeySwitchPlan]
    /// Level l ≥ 1 ↦ (q_l^−1 mod q_j, Shoup constant) for j < l: the constants of rescaling.
    let rescaleInverses: [[(UInt64, UInt64)]]

    /// Buffers reused by key switching (see `ScratchPool`).
    let scratch = ScratchPool()

    private let galoisLock = NSLock()
    private var galoisPermutations: [UInt64: [Int32]] = [:]
    private let monomialLock = NSLock()
    private var monomials: [Int: RNSPolynomial<Evaluation>] = [:]

    /// Builds the context; throws if the parameters fail validation.
    public init(parameters: CKKSParameters) throws {
        try parameters.validate()
        self.parameters = parameters
        let n = parameters.degree
        do {
            let keyBasis = try RNSBasis(degree: n, primes: parameters.ciphertextPrimes + parameters.specialPrimes)
            self.keyBasis = keyBasis
            let qCount = parameters.ciphertextPrimes.count
            let specialTables = Array(keyBasis.ntt[qCount...])
            let special = try RNSBasis(tables: specialTables)
            specialBasis = special
            let levels = try (0..<qCount).map { try keyBasis.prefix($0 + 1) }
            let extended = try (0..<qCount).map { l in
                try RNSBasis(tables: Array(keyBasis.ntt[0...l]) + specialTables)
            }
            levelBases = levels
            extendedBases = extended
            keySwitchPlans = try (0..<qCount).map { l in
                try KeySwitchPlan(level: l, parameters: parameters, levelBasis: levels[l],
                                  extendedBasis: extended[l], specialBasis: special)
            }
            let moduli = keyBasis.moduli
            rescaleInverses = try (0..<qCount).map { l in
                try (0..<l).map { j in
                    let inverse = try moduli[j].inverse(moduli[l].value % moduli[j].value)
                    return (inverse, moduli[j].shoupConstant(inverse))
                }
            }
        } catch let error as HEMathError {
            throw CKKSError.math(error)
        }
    }

    /// Convenience: a context from a parameter set made from bit sizes.
    public var degree: Int { parameters.degree }
    public var slotCount: Int { parameters.slotCount }
    public var maxLevel: Int { parameters.maxLevel }

    /// The basis of ciphertexts and plaintexts at level l (primes q_0 … q_l).
    public func basis(atLevel level: Int) throws -> RNSBasis {
        guard (0...maxLevel).contains(level) else {
            throw CKKSError.levelMismatch("level \(level) is outside 0…\(maxLevel)")
        }
        return levelBases[level]
    }

    /// True when `other` was made from the same parameter set.
    public func isCompatible(with other: CKKSContext) -> Bool {
        self === other || parameters == other.parameters
    }

    // MARK: Galois elements

    /// The Galois element 5^k mod 2N of a rotation by k slots to the left (k may be negative).
    public func galoisElement(forStep step: Int) -> UInt64 {
        let slots = slotCount
        let k = ((step % slots) + slots) % slots
        let twoN = UInt64(2 * degree)
        var result: UInt64 = 1
        var base: UInt64 = 5
        var e = k
        while e > 0 {
            if e & 1 == 1 { result = result * base % twoN }
            base = base * base % twoN
            e >>= 1
        }
        return result
    }

    /// The Galois element 2N − 1 of complex conjugation.
    public var conjugationElement: UInt64 { UInt64(2 * degree - 1) }

    /// The NTT form of the monomial X^e (0 ≤ e < 2N; X^N = −1) over the primes of `level`
    /// (complex packing multiplies by X^{N/2} and X^{3N/4}). Cached per exponent and level:
    /// a transform per use cost a tenth of a packed square and most of a packed addition.
    func monomial(_ e: Int, level: Int) throws -> RNSPolynomial<Evaluation> {
        let n = degree
        precondition((0..<(2 * n)).contains(e), "a monomial exponent in 0 ..< 2N")
        let basis = try self.basis(atLevel: level)
        let key = e * (parameters.maxLevel + 1) + level
        monomialLock.lock()
        defer { monomialLock.unlock() }
        if let cached = monomials[key] { return cached }
        var p = RNSPolynomial<Coefficient>(zeroIn: basis)
        p.withUnsafeMutableLimbs { x in
            for (i, m) in basis.moduli.enumerated() { x[i * n + e % n] = e >= n ? m.value - 1 : 1 }
        }
        let transformed = p.forwardNTT()
        monomials[key] = transformed
        return transformed
    }

    /// The NTT-domain permutation of the automorphism X ↦ X^g: output slot i reads input slot
    /// perm[i]. NTT slot i holds a(ψ^(2·br(i)+1)), and σ_g(a)(ψ^e) = a(ψ^(e·g)), so perm[i] is
    /// the slot whose exponent is (2·br(i)+1)·g mod 2N. Cached per element.
    func galoisPermutation(_ g: UInt64) -> [Int32] {
        galoisLock.lock()
        defer { galoisLock.unlock() }
        if let cached = galoisPermutations[g] { return cached }
        let n = degree
        let logN = parameters.logDegree
        let mask = UInt64(2 * n - 1)
        var perm = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let exponent = UInt64(2 * NTTTables.bitReverse(i, bits: logN) + 1)
            let target = (exponent * g) & mask
            perm[i] = Int32(NTTTables.bitReverse(Int((target - 1) >> 1), bits: logN))
        }
        galoisPermutations[g] = perm
        return perm
    }
}
