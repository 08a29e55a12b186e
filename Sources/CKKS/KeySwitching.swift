import CSupport
import HEMath

/// The digits of a polynomial raised to the extended basis Q_l·P, in NTT form, digit-major in
/// one buffer: digit d, extended limb j, coefficient c at (d·E + j)·N + c. Computed once and
/// reused by every rotation of a hoisted batch.
struct Decomposition {
    let level: Int
    let digitCount: Int
    var storage: [UInt64]
}

/// Hybrid key switching (ModUp → inner product with the key → ModDown), split so that
/// rotations can share one decomposition (hoisting).
///
/// For c over Q_l = q_0 … q_l with digits D_0, D_1, … of the level's primes, ModUp raises each
/// [c]_(D_d) to the extended basis Q_l·P by the exact centred basis conversion: c̃_d is the
/// representative of c mod ∏D_d in (−∏D_d/2, ∏D_d/2]. Since the key's gadget factor is P on D_d and 0 elsewhere,
/// Σ_d c̃_d·(b_d, a_d) = (−a·s + P·c·s′ + Σ c̃_d·e_d, a) mod Q_l·P, and ModDown's division by P
/// leaves (k_0, k_1) with k_0 + k_1·s ≈ c·s′, error about √N·σ·Σ∏D_d / P plus the rounding
/// (|·| ≤ 1/2 per coefficient, times s). Both conversions are exact, not fast approximate ones:
/// their u·∏ offsets have mean (k − 1)/2 and add up coherently in the slots (see
/// `BasisConverter.convertCentered`).
extension CKKSContext {
    /// The key limb that extended-basis limb j at level l corresponds to.
    @inline(__always)
    func keyLimb(_ j: Int, level: Int) -> Int {
        j <= level ? j : maxLevel + 1 + (j - level - 1)
    }

    /// ModUp: the digits of c (NTT form over Q_l), each raised to Q_l·P in NTT form. The storage
    /// comes from the scratch pool: hand it back with `release(_:)` when done.
    func decompose(_ c: RNSPolynomial<Evaluation>, level: Int) -> Decomposition {
        c.withUnsafeLimbs { decompose($0.baseAddress!, level: level) }
    }

    /// ModUp of c given as (l + 1)·N residues in NTT form, limb-major.
    func decompose(_ source: UnsafePointer<UInt64>, level: Int) -> Decomposition {
        let plan = keySwitchPlans[level]
        let n = degree
        let extended = plan.extendedBasis
        let e = extended.count
        let l1 = level + 1
        let levelBasis = levelBases[level]
        var storage = scratch.take(plan.digits.count * e * n)
        storage.withUnsafeMutableBufferPointer { out in
            let base0 = out.baseAddress!
            do {
                scratch.with(l1 * n) { coefficients in
                    // c in coefficient form, limb by limb.
                    coefficients.update(from: source, count: l1 * n)
                    RNSParallelism.forEachLimb(count: l1, degree: n) { i in
                        levelBasis.ntt[i].inverse(coefficients + i * n)
                    }
                    scratch.with(e * n) { converted in
                        scratch.with(2 * plan.digits.map(\.count).max()! * n) { s in
                            for (d, digit) in plan.digits.enumerated() {
                                let base = base0 + d * e * n
                                for j in digit {
                                    (base + j * n).update(from: source + j * n, count: n)
                                }
                                let complement = plan.complementIndices[d]
                                if digit.count == 1 {
                                    // One prime q: the centred digit is v or v − q, reduced
                                    // straight into each complement limb (no conversion buffer).
                                    let v = UnsafePointer(coefficients + digit.lowerBound * n)
                                    let q = levelBasis.moduli[digit.lowerBound].value
                                    RNSParallelism.forEachLimb(count: complement.count, degree: n) { t in
                                        let j = complement[t]
                                        let dst = base + j * n
                                        KeySwitchDigit.centred(v, modulus: q, into: dst, modulo: extended.moduli[j], degree: n)
                                        extended.ntt[j].forward(dst)
                                    }
                                    continue
                                }
                                plan.modUp[d].convertCentered(coefficients + digit.lowerBound * n,
                                                              into: converted, scratch: s)
                                RNSParallelism.forEachLimb(count: complement.count, degree: n) { t in
                                    let j = complement[t]
                                    let dst = base + j * n
                                    dst.update(from: converted + t * n, count: n)
                                    extended.ntt[j].forward(dst)
                                }
                            }
                        }
                    }
                }
            }
        }
        return Decomposition(level: level, digitCount: plan.digits.count, storage: storage)
    }

    /// Returns a decomposition's buffer to the scratch pool.
    func release(_ decomposition: consuming Decomposition) {
        scratch.give(decomposition.storage)
    }

    /// Σ_d digits_d ⊙ (b_d, a_d) over Q_l·P, then ModDown to Q_l: the key-switched pair. The
    /// digits may be permuted by a Galois element first (`perm`, NTT order), which is how a
    /// hoisted rotation applies its automorphism to a shared decomposition.
    func keySwitchProducts(_ decomposition: Decomposition, key: KeySwitchKey, permutation perm: [Int32]? = nil)
        -> (RNSPolynomial<Evaluation>, RNSPolynomial<Evaluation>) {
        let basis = levelBases[decomposition.level]
        var k0 = RNSPolynomial<Evaluation>(basis: basis) { _ in }
        var k1 = RNSPolynomial<Evaluation>(basis: basis) { _ in }
        keySwitchProducts(decomposition, key: key, permutation: perm, into: &k0, &k1, adding: false)
        return (k0, k1)
    }

    /// The same, writing (or, with `adding`, adding) the pair into caller-owned polynomials over
    /// Q_l: nothing is allocated (transients come from the scratch pool).
    func keySwitchProducts(_ decomposition: Decomposition, key: KeySwitchKey, permutation perm: [Int32]?,
                           into k0: inout RNSPolynomial<Evaluation>, _ k1: inout RNSPolynomial<Evaluation>,
                           adding: Bool) {
        let level = decomposition.level
        keySwitchExtendedProducts(decomposition, key: key, permutation: perm) { out0, out1 in
            k0.withUnsafeMutableLimbs { modDown(out0, level: level, into: $0.baseAddress!, adding: adding) }
            k1.withUnsafeMutableLimbs { modDown(out1, level: level, into: $0.baseAddress!, adding: adding) }
        }
    }

    /// Σ_d digits_d ⊙ (b_d, a_d) over Q_l·P (before ModDown), handed to `body` as two
    /// polynomials in NTT form, limb-major, valid for the call.
    func keySwitchExtendedProducts(_ decomposition: Decomposition, key: KeySwitchKey, permutation perm: [Int32]?,
                                   _ body: (UnsafePointer<UInt64>, UnsafePointer<UInt64>) -> Void) {
        let level = decomposition.level
        let extended = keySwitchPlans[level].extendedBasis
        let n = degree
        let e = extended.count
        let digits = decomposition.digitCount
        scratch.with(2 * e * n) { acc in
            let out0 = acc, out1 = acc + e * n
            decomposition.storage.withUnsafeBufferPointer { xs in
                key.b.withUnsafeBufferPointer { kb in
                    key.a.withUnsafeBufferPointer { ka in
                        let x = xs.baseAddress!, b = kb.baseAddress!, a = ka.baseAddress!
                        let permutation = perm ?? []
                        permutation.withUnsafeBufferPointer { pp in
                            RNSParallelism.forEachLimb(count: e, degree: n) { j in
                                let (kj, stride) = key.limbLayout(j, level: level)
                                KeySwitchInnerProduct.limb(
                                    modulus: extended.moduli[j], degree: n, digits: digits,
                                    x: x + j * n, xStride: e * n,
                                    b: b + kj * n, a: a + kj * n, keyStride: stride * n,
                                    permutation: pp.isEmpty ? nil : pp.baseAddress!,
                                    out0: out0 + j * n, out1: out1 + j * n)
                            }
                        }
                    }
                }
            }
            body(UnsafePointer(out0), UnsafePointer(out1))
        }
    }

    /// ModDown: x over Q_l·P (NTT form, limb-major) ↦ (x − Conv_(P→Q_l)([x]_P)) · P^−1 over Q_l.
    /// The exact centred conversion gives [x]_P in (−P/2, P/2], so this is x/P rounded to nearest.
    /// The result is written into `output` (l + 1 limbs), or added to it when `adding`.
    func modDown(_ input: UnsafePointer<UInt64>, level: Int, into output: UnsafeMutablePointer<UInt64>, adding: Bool) {
        let plan = keySwitchPlans[level]
        let n = degree
        let levelBasis = levelBases[level]
        let extended = plan.extendedBasis
        let specialCount = specialBasis.count
        let l1 = level + 1
        scratch.with((3 * specialCount + l1) * n) { work in
            let special = work, s = work + specialCount * n, converted = work + 3 * specialCount * n
            special.update(from: input + l1 * n, count: specialCount * n)
            for t in 0..<specialCount { extended.ntt[l1 + t].inverse(special + t * n) }
            plan.modDown.convertCentered(special, into: converted, scratch: s)
            RNSParallelism.forEachLimb(count: l1, degree: n) { i in
                let m = levelBasis.moduli[i]
                let c = converted + i * n
                levelBasis.ntt[i].forward(c)
                let w = plan.inverseSpecialProduct[i]
                let ws = plan.inverseSpecialProductShoup[i]
                let src = input + i * n
                let dst = output + i * n
                if adding {
                    for j in 0..<n { dst[j] = m.add(dst[j], m.multiplyShoup(m.subtract(src[j], c[j]), by: w, shoup: ws)) }
                } else {
                    for j in 0..<n { dst[j] = m.multiplyShoup(m.subtract(src[j], c[j]), by: w, shoup: ws) }
                }
            }
        }
    }

    /// ModDown and rescale in one division: for x over Q_l·P (NTT form, limb-major) and c the
    /// component over Q_l it is added to (NTT form, l + 1 limbs, rewritten in place), limbs
    /// j < l of c become (P·c + x)/(P·q_l) rounded to nearest, over Q_(l−1); limb l is left for
    /// the caller to drop.
    ///
    /// X = P·c + x is exact over Q_l·P. The exact centred conversion of [X] over the k + 1
    /// primes q_l, p_0 … gives r ≡ X (mod P·q_l) with |r| ≤ P·q_l/2, so X − r is divisible by
    /// P·q_l and (X − r)/(P·q_l) is X/(P·q_l) rounded; on limb j < l that is
    /// c_j·q_l^−1 + (x_j − r_j)·(P·q_l)^−1. ModDown then rescale computes
    /// round((c + round(x/P))/q_l), which differs from this by at most 1 per coefficient;
    /// this one needs k + 1 inverse and l forward NTTs per component instead of k + 1 and
    /// 2·l + 1 (ModDown's l + 1 forward, rescale's one inverse and l forward).
    func modDownRescaling(_ x: UnsafePointer<UInt64>, level l: Int, component c: UnsafeMutablePointer<UInt64>) {
        let plan = keySwitchPlans[l]
        guard let converter = plan.rescalingModDown else { preconditionFailure("modDownRescaling at level 0") }
        let n = degree
        let levelBasis = levelBases[l]
        let extended = plan.extendedBasis
        let k1 = specialBasis.count + 1
        let last = levelBasis.moduli[l]
        scratch.with((3 * k1 + l) * n) { work in
            let top = work, s = work + k1 * n, converted = work + 3 * k1 * n
            // [X] over q_l: P·c_l + x_l; over p_t: x's own limb (P·c vanishes there).
            let (pModLast, pShoup) = plan.specialProductModLast
            let cl = c + l * n, xl = x + l * n
            for t in 0..<n { top[t] = last.add(last.multiplyShoup(cl[t], by: pModLast, shoup: pShoup), xl[t]) }
            top.advanced(by: n).update(from: x + (l + 1) * n, count: (k1 - 1) * n)
            levelBasis.ntt[l].inverse(top)
            for t in 1..<k1 { extended.ntt[l + t].inverse(top + t * n) }
            converter.convertCentered(top, into: converted, scratch: s)
            RNSParallelism.forEachLimb(count: l, degree: n) { j in
                let m = levelBasis.moduli[j]
                let r = converted + j * n
                levelBasis.ntt[j].forward(r)
                let (w, ws) = plan.inverseLast[j]
                let (v, vs) = plan.inverseSpecialLast[j]
                let xj = x + j * n, cj = c + j * n
                for t in 0..<n {
                    cj[t] = m.add(m.multiplyShoup(cj[t], by: w, shoup: ws),
                                  m.multiplyShoup(m.subtract(xj[t], r[t]), by: v, shoup: vs))
                }
            }
        }
    }

    /// Key switching of one polynomial through a materialised decomposition: (k_0, k_1) with
    /// k_0 + k_1·s ≈ c·s′. The evaluator uses the pointer form (fused for single-prime digits);
    /// this one is the reference the tests hold it to.
    func keySwitch(_ c: RNSPolynomial<Evaluation>, key: KeySwitchKey, level: Int)
        -> (RNSPolynomial<Evaluation>, RNSPolynomial<Evaluation>) {
        let decomposition = decompose(c, level: level)
        defer { release(decomposition) }
        return keySwitchProducts(decomposition, key: key)
    }
}

/// The centred residues of a single-prime digit in another prime.
enum KeySwitchDigit {
    /// dst = [v]_q centred (v − q when v > q/2), reduced mod p, for v in [0, q).
    /// Correctness: the centred value is v or v − q; mod p that is r = v mod p or r − (q mod p).
    /// When q < 2p, v mod p is v with one conditional subtraction; otherwise Barrett.
    @inline(__always)
    static func centred(_ v: UnsafePointer<UInt64>, modulus q: UInt64, into dst: UnsafeMutablePointer<UInt64>,
                        modulo p: Modulus, degree n: Int) {
        let qModP = p.reduce(q)
        let half = q >> 1
        if q < p.value &<< 1 {
            let pv = p.value
            for c in 0..<n {
                let r = v[c].reducedOnce(pv)
                dst[c] = v[c] > half ? p.subtract(r, qModP) : r
            }
        } else {
            for c in 0..<n {
                let r = p.reduce(v[c])
                dst[c] = v[c] > half ? p.subtract(r, qModP) : r
            }
        }
    }
}

/// The inner loop of key switching for one limb: out0 = Σ_d x_d ⊙ b_d and out1 = Σ_d x_d ⊙ a_d
/// mod m, with x_d read through an optional slot permutation. Products of two values below
/// 2^62 are accumulated in 128 bits and reduced once per 16 digits (16·2^124 ≤ 2^128).
enum KeySwitchInnerProduct {
    /// Coefficients per tile of the in-order path: 4 accumulator words each, 16 KiB in all, so
    /// the accumulators stay in L1 while each digit's x, b and a stream through once.
    static let tile = 512

    @inline(__always)
    static func limb(modulus m: Modulus, degree n: Int, digits: Int,
                     x: UnsafePointer<UInt64>, xStride: Int,
                     b: UnsafePointer<UInt64>, a: UnsafePointer<UInt64>, keyStride: Int,
                     permutation: UnsafePointer<Int32>?,
                     out0: UnsafeMutablePointer<UInt64>, out1: UnsafeMutablePointer<UInt64>) {
        if permutation == nil, SplitInnerProduct.applies(modulus: m, digits: digits, degree: n) {
            // Primes of up to 58 bits, in order: eight coefficients per vector instruction.
            SplitInnerProduct.limb(modulus: m, degree: n, digits: digits, x: x, xStride: xStride, b: b, a: a,
                                   keyStride: keyStride, out0: out0, out1: out1)
            return
        }
        if permutation != nil || digits <= 16 {
            perCoefficient(modulus: m, degree: n, digits: digits, x: x, xStride: xStride, b: b, a: a,
                           keyStride: keyStride, permutation: permutation, out0: out0, out1: out1)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 4 * tile) { acc in
            let h0 = acc.baseAddress!, l0 = h0 + tile, h1 = l0 + tile, l1 = h1 + tile
            var start = 0
            while start < n {
                let count = min(tile, n - start)
                h0.initialize(repeating: 0, count: 4 * tile)
                for d in 0..<digits {
                    let xd = x + d * xStride + start
                    let bd = b + d * keyStride + start
                    let ad = a + d * keyStride + start
                    for c in 0..<count {
                        let xv = xd[c]
                        let p0 = xv.multipliedFullWidth(by: bd[c])
                        let p1 = xv.multipliedFullWidth(by: ad[c])
                        let (s0, c0) = l0[c].addingReportingOverflow(p0.low)
                        let (s1, c1) = l1[c].addingReportingOverflow(p1.low)
                        l0[c] = s0
                        h0[c] &+= p0.high &+ (c0 ? 1 : 0)
                        l1[c] = s1
                        h1[c] &+= p1.high &+ (c1 ? 1 : 0)
                    }
                    if d & 15 == 15 {
                        for c in 0..<count {
                            l0[c] = m.reduce(high: h0[c], low: l0[c]); h0[c] = 0
                            l1[c] = m.reduce(high: h1[c], low: l1[c]); h1[c] = 0
                        }
                    }
                }
                for c in 0..<count {
                    out0[start + c] = m.reduce(high: h0[c], low: l0[c])
                    out1[start + c] = m.reduce(high: h1[c], low: l1[c])
                }
                start += count
            }
        }
    }

    /// Per coefficient, every digit's two products accumulated in registers (two 128-bit sums,
    /// reduced every 16 digits and at the end), x_d read at c or, for a hoisted rotation, through
    /// the slot permutation. Used for the hoisted path and whenever digits ≤ 16.
    @inline(__always)
    static func perCoefficient(modulus m: Modulus, degree n: Int, digits: Int,
                               x: UnsafePointer<UInt64>, xStride: Int,
                               b: UnsafePointer<UInt64>, a: UnsafePointer<UInt64>, keyStride: Int,
                               permutation: UnsafePointer<Int32>?,
                               out0: UnsafeMutablePointer<UInt64>, out1: UnsafeMutablePointer<UInt64>) {
        for c in 0..<n {
            if c & 7 == 0 {
                // 3·digits streams are more than the hardware prefetchers follow: ask for the
                // key's lines (the largest operand, from L3 or memory) 16 lines ahead. At
                // N = 16384: relinearization −4 %, rotation −6 %, 8 hoisted rotations −21 %.
                for d in 0..<digits {
                    he_prefetch_read(b + d * keyStride + c + 128)
                    he_prefetch_read(a + d * keyStride + c + 128)
                }
            }
            var h0: UInt64 = 0, l0: UInt64 = 0, h1: UInt64 = 0, l1: UInt64 = 0
            var xd = x + (permutation.map { Int($0[c]) } ?? c)
            var bd = b + c
            var ad = a + c
            for d in 0..<digits {
                let xv = xd.pointee
                let p0 = xv.multipliedFullWidth(by: bd.pointee)
                let p1 = xv.multipliedFullWidth(by: ad.pointee)
                let (s0, c0) = l0.addingReportingOverflow(p0.low)
                let (s1, c1) = l1.addingReportingOverflow(p1.low)
                l0 = s0
                h0 &+= p0.high &+ (c0 ? 1 : 0)
                l1 = s1
                h1 &+= p1.high &+ (c1 ? 1 : 0)
                if d & 15 == 15 {
                    l0 = m.reduce(high: h0, low: l0)
                    h0 = 0
                    l1 = m.reduce(high: h1, low: l1)
                    h1 = 0
                }
                xd += xStride
                bd += keyStride
                ad += keyStride
            }
            out0[c] = m.reduce(high: h0, low: l0)
            out1[c] = m.reduce(high: h1, low: l1)
        }
    }
}
