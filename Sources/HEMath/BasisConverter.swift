/// Fast basis conversion (approximate base extension) from a basis B = {q_0 … q_(k−1)} with
/// product Q to a basis C = {p_0 … p_(m−1)}, the step that key switching (ModUp/ModDown) and
/// rescaling by several primes are built from (Bajard–Eynard–Hasan–Zucca; Halevi–Polyakov–Shoup).
///
/// For x given by reduced residues x_i = x mod q_i, with x the representative in [0, Q):
///
///     y_i = [x_i · (Q/q_i)^−1]_(q_i),   out_j = Σ_i y_i · [Q/q_i]_(p_j)  mod p_j.
///
/// Error bound: Σ_i y_i·(Q/q_i) ≡ x (mod Q) and lies in [0, k·Q), so it equals x + u·Q for one
/// integer u with 0 ≤ u ≤ k − 1, the same for every output prime: the output is the residue of
/// x + u·Q, not of x. Callers either tolerate u·Q (it vanishes after a later division by Q, up to
/// a rounding error below k) or correct it.
public final class BasisConverter: @unchecked Sendable {
    /// The basis converted from (B) and to (C).
    public let source: RNSBasis
    public let target: RNSBasis
    /// [Q/q_i]_(p_j) stored target-major: entry j·k + i.
    @usableFromInline let puncturedInTarget: [UInt64]
    /// 1/q_i in Double, and [v·Q]_(p_j) for v = 0 … k stored target-major (entry j·(k + 1) + v):
    /// the exact centred conversion's rounding correction, a table lookup per output residue.
    @usableFromInline let inverseSource: [Double]
    @usableFromInline let productMultiplesInTarget: [UInt64]
    /// [Q/q_i]_(p_j)·2^64 mod p_j (target-major, as `puncturedInTarget`) and p_j^−1 mod 2^64:
    /// the sums' Montgomery form, used when `montgomerySums` holds (see `accumulate`).
    @usableFromInline let puncturedMontgomery: [UInt64]
    @usableFromInline let targetWordInverses: [UInt64]
    /// k·(max q_i − 1) < 2^64 and every p_j odd: a sum of k products y_i·c (y_i < q_i, c < p_j)
    /// is below p_j·2^64, the bound of one Montgomery reduction.
    @usableFromInline let montgomerySums: Bool

    /// Precomputes the constants; throws unless both bases have the same degree.
    public init(from source: RNSBasis, to target: RNSBasis) throws {
        guard source.degree == target.degree else {
            throw HEMathError.mismatch("basis conversion between degrees \(source.degree) and \(target.degree)")
        }
        self.source = source
        self.target = target
        var constants: [UInt64] = []
        constants.reserveCapacity(source.count * target.count)
        for p in target.moduli {
            for punctured in source.puncturedProducts {
                constants.append(punctured.remainder(modulo: p.value))
            }
        }
        self.puncturedInTarget = constants
        self.inverseSource = source.moduli.map { 1 / Double($0.value) }
        let productResidues = target.decompose(source.product)
        self.productMultiplesInTarget = zip(target.moduli, productResidues).flatMap { p, r in
            (0...source.count).map { v in p.multiply(UInt64(v) % p.value, r) }
        }
        let largest = source.moduli.map(\.value).max() ?? 0
        self.montgomerySums = target.moduli.allSatisfy { $0.value & 1 == 1 }
            && (largest - 1).multipliedReportingOverflow(by: UInt64(source.count)).overflow == false
        self.puncturedMontgomery = zip(target.moduli.indices, target.moduli).flatMap { j, p in
            // 2^64 mod p, then each constant times it.
            let r = p.reduce(high: 1, low: 0)
            return (0..<source.count).map { i in p.multiply(constants[j * source.count + i], r) }
        }
        self.targetWordInverses = target.moduli.map { p in
            // Newton's iteration x ← x·(2 − p·x) doubles the correct low bits (p·p ≡ 1 mod 8).
            var x = p.value
            for _ in 0..<5 { x = x &* (2 &- p.value &* x) }
            return x
        }
    }

    /// Converts k·N residues (limb-major, coefficient form) into m·N residues (limb-major).
    ///
    /// `scratch` must hold k·N words; nothing is allocated. Input residues must be reduced;
    /// outputs are reduced. The 128-bit accumulator takes at most 16 products of two values
    /// below 2^62 before it is reduced (16·2^124 = 2^128), so any k is handled.
    @inlinable
    public func convert(_ input: UnsafePointer<UInt64>, into output: UnsafeMutablePointer<UInt64>,
                        scratch y: UnsafeMutablePointer<UInt64>) {
        let n = source.degree
        let k = source.count
        scaleByPuncturedInverses(input, into: y)
        if k == 1 {
            // One source prime: out_j = y_0·[Q/q_0]_(p_j) = y_0·1 mod p_j. A Shoup product by the
            // constant (any 64-bit y_0 is a valid Shoup input) replaces the 128-bit accumulation.
            for j in 0..<target.count {
                let p = target.moduli[j]
                let w = p.reduce(puncturedInTarget[j])
                let ws = p.shoupConstant(w)
                let out = output + j * n
                for c in 0..<n { out[c] = p.multiplyShoup(y[c], by: w, shoup: ws) }
            }
            return
        }
        accumulate(y, into: output)
    }

    /// y_i = [x_i · (Q/q_i)^−1]_(q_i) for every source limb: both conversions' first pass.
    @inlinable
    func scaleByPuncturedInverses(_ input: UnsafePointer<UInt64>, into y: UnsafeMutablePointer<UInt64>) {
        let n = source.degree
        for i in 0..<source.count {
            let q = source.moduli[i]
            let w = source.puncturedInverses[i]
            let s = source.puncturedInversesShoup[i]
            let x = input + i * n
            let yi = y + i * n
            for c in 0..<n { yi[c] = q.multiplyShoup(x[c], by: w, shoup: s) }
        }
    }

    /// out_j = Σ_i y_i·[Q/q_i]_(p_j) mod p_j for every target prime (k ≥ 2), in 128 bits; with
    /// `rounded` (values in 0 … k per coefficient), minus [rounded·Q]_(p_j) from the table.
    ///
    /// When `montgomerySums` holds, each sum takes its k products without reduction and is
    /// reduced once by Montgomery's method against the constants times 2^64 (two products
    /// instead of Barrett's five): S = Σ_i y_i·[Q/q_i]_(p_j)·2^64 mod p_j < p_j·2^64, so with
    /// m = S·p_j^−1 mod 2^64, t = ⌊S/2^64⌋ − ⌊m·p_j/2^64⌋ is exactly (S − m·p_j)/2^64 ≡ S·2^−64
    /// (mod p_j) and lies in (−p_j, p_j): one conditional addition gives the same reduced
    /// residue as the Barrett path. It is taken for 2 to 12 source primes (the key-switching
    /// digits and special primes: ResNet-20's plan has digits of 9), with k fixed at compile
    /// time; other k take Barrett. (Up to 4 at first: the AlexNet conv stack's 6-prime digits spent 8.7% of its first pool in
    /// Barrett's sums, `perf record`.)
    @inlinable
    func accumulate(_ y: UnsafePointer<UInt64>, into output: UnsafeMutablePointer<UInt64>,
                    subtractingMultiplesOf rounded: UnsafePointer<UInt64>? = nil) {
        if montgomerySums {
            switch source.count {
            case 2: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<2, UInt64>(repeating: 0))
            case 3: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<3, UInt64>(repeating: 0))
            case 4: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<4, UInt64>(repeating: 0))
            case 5: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<5, UInt64>(repeating: 0))
            case 6: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<6, UInt64>(repeating: 0))
            case 7: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<7, UInt64>(repeating: 0))
            case 8: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<8, UInt64>(repeating: 0))
            case 9: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<9, UInt64>(repeating: 0))
            case 10: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<10, UInt64>(repeating: 0))
            case 11: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<11, UInt64>(repeating: 0))
            case 12: accumulateMontgomery(y, into: output, rounded: rounded, terms: InlineArray<12, UInt64>(repeating: 0))
            default: accumulateBarrett(y, into: output, subtractingMultiplesOf: rounded)
            }
            return
        }
        accumulateBarrett(y, into: output, subtractingMultiplesOf: rounded)
    }

    /// Montgomery sums with k = K known at compile time (`terms` only carries K): the constants
    /// of a target prime held in registers, each coefficient's k products summed in 128 bits.
    @inlinable @inline(__always)
    func accumulateMontgomery<let K: Int>(_ y: UnsafePointer<UInt64>, into output: UnsafeMutablePointer<UInt64>,
                                          rounded: UnsafePointer<UInt64>?, terms: InlineArray<K, UInt64>) {
        let n = source.degree
        puncturedMontgomery.withUnsafeBufferPointer { constants in
            productMultiplesInTarget.withUnsafeBufferPointer { multiples in
                for j in 0..<target.count {
                    var w = terms
                    for i in 0..<K { w[i] = constants[j * K + i] }
                    let p = target.moduli[j].value, inverse = targetWordInverses[j]
                    let correction = multiples.baseAddress! + j * (K + 1)
                    let out = output + j * n
                    for c in 0..<n {
                        var high: UInt64 = 0, low: UInt64 = 0
                        for i in 0..<K {
                            let product = y[i * n + c].multipliedFullWidth(by: w[i])
                            let (sum, carry) = low.addingReportingOverflow(product.low)
                            low = sum
                            high &+= product.high &+ (carry ? 1 : 0)
                        }
                        let r = Self.montgomeryReduce(high: high, low: low, modulus: p, inverse: inverse)
                        if let rounded {
                            let d = r &- correction[Int(rounded[c])]
                            out[c] = d &+ (p & (0 &- (d >> 63)))
                        } else {
                            out[c] = r
                        }
                    }
                }
            }
        }
    }

    /// S·2^−64 mod p for S = high·2^64 + low < p·2^64, p odd, inverse = p^−1 mod 2^64; output
    /// reduced (the argument is at `accumulate`). p < 2^62, so t's sign is its top bit.
    @inlinable @inline(__always)
    static func montgomeryReduce(high: UInt64, low: UInt64, modulus p: UInt64, inverse: UInt64) -> UInt64 {
        let m = low &* inverse
        let t = high &- m.multipliedFullWidth(by: p).high
        return t &+ (p & (0 &- (t >> 63)))
    }

    /// The sums with Barrett's reduction, every 16 products and at the end (any k).
    @inlinable
    func accumulateBarrett(_ y: UnsafePointer<UInt64>, into output: UnsafeMutablePointer<UInt64>,
                           subtractingMultiplesOf rounded: UnsafePointer<UInt64>?) {
        let n = source.degree
        let k = source.count
        puncturedInTarget.withUnsafeBufferPointer { constants in
            productMultiplesInTarget.withUnsafeBufferPointer { multiples in
                for j in 0..<target.count {
                    let p = target.moduli[j]
                    let row = constants.baseAddress! + j * k
                    let correction = multiples.baseAddress! + j * (k + 1)
                    let out = output + j * n
                    for c in 0..<n {
                        var high: UInt64 = 0
                        var low: UInt64 = 0
                        var i = 0
                        while i < k {
                            let product = y[i * n + c].multipliedFullWidth(by: row[i])
                            let (sum, carry) = low.addingReportingOverflow(product.low)
                            low = sum
                            high &+= product.high &+ (carry ? 1 : 0)
                            i += 1
                            if i & 15 == 0 && i < k {
                                low = p.reduce(high: high, low: low)
                                high = 0
                            }
                        }
                        let r = p.reduce(high: high, low: low)
                        out[c] = rounded.map { p.subtract(r, correction[Int($0[c])]) } ?? r
                    }
                }
            }
        }
    }

    /// The exact centred conversion: the residues of x_c itself, the representative of x in
    /// (−Q/2, Q/2], with no multiple of Q added.
    ///
    /// Σ_i y_i·(Q/q_i) = x₀ + u·Q with x₀ ∈ [0, Q), so Σ_i y_i/q_i = u + x₀/Q, and rounding it
    /// to the nearest integer v gives u when x₀ < Q/2 and u + 1 otherwise: Σ_i y_i·(Q/q_i) − v·Q
    /// is x_c (Halevi–Polyakov–Shoup's floating-point correction, rounded instead of floored).
    /// The sum is formed in Double with k terms in [0, 1), absolute error below k·2^−52, so v
    /// can differ only when x₀/Q is within that of 1/2, where x_c and x_c ∓ Q both lie within
    /// Q·k·2^−52 of ±Q/2: no bias, no error that grows with the product.
    ///
    /// Key switching needs exactness: the approximate conversion's u has mean (k − 1)/2, and
    /// that constant offset, multiplied by s (ModDown) or by the key's error (ModUp), is a
    /// low-frequency polynomial whose values add up coherently in the slots near ζ. With four
    /// to six special primes at N = 65536 a rotation kept 5–8 bits of a fresh ciphertext's 18;
    /// exact, it loses what one special prime loses.
    /// `scratch` must hold (k + 1)·N words (2·k·N always suffices).
    @inlinable
    public func convertCentered(_ input: UnsafePointer<UInt64>, into output: UnsafeMutablePointer<UInt64>,
                                scratch: UnsafeMutablePointer<UInt64>) {
        let n = source.degree
        let k = source.count
        if k == 1 {
            // One source prime q: x_c is v or v − q (v > q/2), so out_j = [v]_(p_j) − [q]_(p_j)·[v > q/2].
            let q = source.moduli[0].value
            let half = q >> 1
            for j in 0..<target.count {
                let p = target.moduli[j]
                let qModP = p.reduce(q)
                let out = output + j * n
                for c in 0..<n {
                    let v = input[c]
                    let r = p.reduce(v)
                    out[c] = v > half ? p.subtract(r, qModP) : r
                }
            }
            return
        }
        let y = scratch, rounded = scratch + k * n
        scaleByPuncturedInverses(input, into: y)
        inverseSource.withUnsafeBufferPointer { inverses in
            for c in 0..<n {
                var sum = 0.0
                // y_i < 2^62: its signed conversion is the same value, one instruction.
                for i in 0..<k { sum += Double(Int64(bitPattern: y[i * n + c])) * inverses[i] }
                // 0 ≤ sum ≤ k: rounding half away from zero is truncation, plus one when the
                // (exact) fractional part is at least 1/2; no call into libm's round.
                let whole = Int64(sum)
                rounded[c] = UInt64(whole + (sum - Double(whole) >= 0.5 ? 1 : 0))
            }
        }
        accumulate(y, into: output, subtractingMultiplesOf: rounded)
    }

    /// The converted polynomial (allocating form of `convert(_:into:scratch:)`).
    /// - Throws: `mismatch` when `x` is not over the source basis.
    public func convert(_ x: RNSPolynomial<Coefficient>) throws -> RNSPolynomial<Coefficient> {
        guard x.basis.isSame(as: source) else { throw HEMathError.mismatch("polynomial is not over the converter's source basis") }
        var result = RNSPolynomial<Coefficient>(zeroIn: target)
        var scratch = [UInt64](repeating: 0, count: source.count * source.degree)
        x.withUnsafeLimbs { input in
            result.withUnsafeMutableLimbs { output in
                scratch.withUnsafeMutableBufferPointer { s in
                    convert(input.baseAddress!, into: output.baseAddress!, scratch: s.baseAddress!)
                }
            }
        }
        return result
    }
}
