import HEMath

/// The precomputation of hybrid key switching at one level l (Han–Ki; Lattigo and SEAL use the
/// same scheme): the level's primes q_0 … q_l are split into digits of α consecutive primes;
/// each digit is raised (ModUp) to the extended basis q_0 … q_l, p_0 … p_(k−1) by fast basis
/// conversion, multiplied by the key, summed, and the sum is divided by P (ModDown).
final class KeySwitchPlan: @unchecked Sendable {
    /// The level this plan serves.
    let level: Int
    /// Index ranges of the digits within q_0 … q_l.
    let digits: [Range<Int>]
    /// Per digit: the digit's primes as a basis.
    let digitBases: [RNSBasis]
    /// Per digit: the extended-basis limbs outside the digit, in extended-basis order.
    let complementIndices: [[Int]]
    /// Per digit: converter from the digit's primes to its complement.
    let modUp: [BasisConverter]
    /// Converter from P to q_0 … q_l (ModDown).
    let modDown: BasisConverter
    /// P^−1 mod q_i for i ≤ l, with Shoup constants.
    let inverseSpecialProduct: [UInt64]
    let inverseSpecialProductShoup: [UInt64]
    /// ModDown and rescale at once (`CKKSContext.modDownRescaling`), for l ≥ 1: the converter
    /// from q_l, p_0 … p_(k−1) to q_0 … q_(l−1); P mod q_l (with its Shoup constant); and for j < l, q_l^−1 and
    /// (P·q_l)^−1 mod q_j, each with its Shoup constant.
    let rescalingModDown: BasisConverter?
    let specialProductModLast: (UInt64, UInt64)
    let inverseLast: [(UInt64, UInt64)]
    let inverseSpecialLast: [(UInt64, UInt64)]
    /// The extended basis q_0 … q_l, p_0 … p_(k−1).
    let extendedBasis: RNSBasis
    /// Number of ciphertext primes at this level (l + 1).
    let levelCount: Int

    init(level: Int, parameters: CKKSParameters, levelBasis: RNSBasis, extendedBasis: RNSBasis,
         specialBasis: RNSBasis) throws {
        self.level = level
        self.extendedBasis = extendedBasis
        let count = level + 1
        levelCount = count
        let alpha = parameters.primesPerDigit
        let digits = stride(from: 0, to: count, by: alpha).map { $0..<min($0 + alpha, count) }
        self.digits = digits
        let all = Array(0..<extendedBasis.count)
        var digitBases: [RNSBasis] = []
        var complements: [[Int]] = []
        var converters: [BasisConverter] = []
        for d in digits {
            let digitBasis = try RNSBasis(tables: Array(extendedBasis.ntt[d]))
            let complement = all.filter { !d.contains($0) }
            let complementBasis = try RNSBasis(tables: complement.map { extendedBasis.ntt[$0] })
            digitBases.append(digitBasis)
            complements.append(complement)
            converters.append(try BasisConverter(from: digitBasis, to: complementBasis))
        }
        self.digitBases = digitBases
        complementIndices = complements
        modUp = converters
        modDown = try BasisConverter(from: specialBasis, to: levelBasis)
        var inverses: [UInt64] = []
        for m in levelBasis.moduli {
            let pModQ = specialBasis.product.remainder(modulo: m.value)
            inverses.append(try m.inverse(pModQ))
        }
        inverseSpecialProduct = inverses
        inverseSpecialProductShoup = zip(levelBasis.moduli, inverses).map { $0.shoupConstant($1) }
        if level >= 1 {
            let last = levelBasis.moduli[level]
            let top = try RNSBasis(tables: [levelBasis.ntt[level]] + specialBasis.ntt)
            rescalingModDown = try BasisConverter(from: top, to: levelBasis.prefix(level))
            let pModLast = specialBasis.product.remainder(modulo: last.value)
            specialProductModLast = (pModLast, last.shoupConstant(pModLast))
            var lastInverses: [(UInt64, UInt64)] = []
            var bothInverses: [(UInt64, UInt64)] = []
            for j in 0..<level {
                let m = levelBasis.moduli[j]
                let w = try m.inverse(last.value % m.value)
                let v = m.multiply(w, inverses[j])
                lastInverses.append((w, m.shoupConstant(w)))
                bothInverses.append((v, m.shoupConstant(v)))
            }
            inverseLast = lastInverses
            inverseSpecialLast = bothInverses
        } else {
            rescalingModDown = nil
            specialProductModLast = (0, 0)
            inverseLast = []
            inverseSpecialLast = []
        }
    }
}
