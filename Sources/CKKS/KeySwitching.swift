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
/// [c]_(D_d) to the extended basis Q_l·P by centred fast basis conversion: c̃_d is the centred
/// representative of c mod ∏D_d up to a multiple u·∏D_d, u < |D_d|. Since the key's gadget factor is P on D_d and 0 elsewhere,
/// Σ_d c̃_d·(b_d, a_d) = (−a·s + P·c·s′ + Σ c̃_d·e_d, a) mod Q_l·P, and ModDown's division by P
/// leaves (k_0, k_1) with k_0 + k_1·s ≈ c·s′, error about N·σ·Σ∏D_d / P + k (small when P
/// covers a digit, which the parameters require).
extension CKKSContext {
    /// The key limb that extended-basis limb j at level l corresponds to.
    @inline(__always)
    func keyLimb(_ j: Int, level: Int) -> Int {
        j <= level ? j : maxLevel + 1 + (j - level - 1)
    }

    /// ModUp: the digits of c (NTT form over Q_l), each raised to Q_l·P in NTT form.
    func decompose(_ c: RNSPolynomial<Evaluation>, level: Int) -> Decomposition {
        let plan = keySwitchPlans[level]
        let n = degree
        let extended = plan.extendedBasis
        let e = extended.count
        let coefficients = c.inverseNTT()
        var storage = [UInt64](repeating: 0, count: plan.digits.count * e * n)
        var scratch = [UInt64](repeating: 0, count: 2 * plan.digits.map(\.count).max()! * n)
        var converted = [UInt64](repeating: 0, count: e * n)
        storage.withUnsafeMutableBufferPointer { out in
            coefficients.withUnsafeLimbs { input in
                c.withUnsafeLimbs { original in
                    converted.withUnsafeMutableBufferPointer { conv in
                        scratch.withUnsafeMutableBufferPointer { s in
                            for (d, digit) in plan.digits.enumerated() {
                                let base = out.baseAddress! + d * e * n
                                plan.modUp[d].convertCentered(input.baseAddress! + digit.lowerBound * n,
                                                              into: conv.baseAddress!, scratch: s.baseAddress!)
                                for j in digit {
                                    (base + j * n).update(from: original.baseAddress! + j * n, count: n)
                                }
                                let complement = plan.complementIndices[d]
                                RNSParallelism.forEachLimb(count: complement.count, degree: n) { t in
                                    let j = complement[t]
                                    let dst = base + j * n
                                    dst.update(from: conv.baseAddress! + t * n, count: n)
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

    /// Σ_d digits_d ⊙ (b_d, a_d) over Q_l·P, then ModDown to Q_l: the key-switched pair. The
    /// digits may be permuted by a Galois element first (`perm`, NTT order), which is how a
    /// hoisted rotation applies its automorphism to a shared decomposition.
    func keySwitchProducts(_ decomposition: Decomposition, key: KeySwitchKey, permutation perm: [Int32]? = nil)
        -> (RNSPolynomial<Evaluation>, RNSPolynomial<Evaluation>) {
        let level = decomposition.level
        let plan = keySwitchPlans[level]
        let extended = plan.extendedBasis
        let n = degree
        let e = extended.count
        let keyLimbs = keyBasis.count
        let digits = decomposition.digitCount
        var acc0 = RNSPolynomial<Evaluation>(zeroIn: extended)
        var acc1 = RNSPolynomial<Evaluation>(zeroIn: extended)
        decomposition.storage.withUnsafeBufferPointer { xs in
            key.b.withUnsafeBufferPointer { kb in
                key.a.withUnsafeBufferPointer { ka in
                    acc0.withUnsafeMutableLimbs { o0 in
                        acc1.withUnsafeMutableLimbs { o1 in
                            let x = xs.baseAddress!, b = kb.baseAddress!, a = ka.baseAddress!
                            let out0 = o0.baseAddress!, out1 = o1.baseAddress!
                            RNSParallelism.forEachLimb(count: e, degree: n) { j in
                                let m = extended.moduli[j]
                                let kj = self.keyLimb(j, level: level)
                                for c in 0..<n {
                                    let src = perm.map { Int($0[c]) } ?? c
                                    var h0: UInt64 = 0, l0: UInt64 = 0, h1: UInt64 = 0, l1: UInt64 = 0
                                    for d in 0..<digits {
                                        let xv = x[(d * e + j) * n + src]
                                        let p0 = xv.multipliedFullWidth(by: b[(d * keyLimbs + kj) * n + c])
                                        let p1 = xv.multipliedFullWidth(by: a[(d * keyLimbs + kj) * n + c])
                                        let (s0, c0) = l0.addingReportingOverflow(p0.low)
                                        let (s1, c1) = l1.addingReportingOverflow(p1.low)
                                        l0 = s0; h0 &+= p0.high &+ (c0 ? 1 : 0)
                                        l1 = s1; h1 &+= p1.high &+ (c1 ? 1 : 0)
                                        if d & 15 == 15 {
                                            l0 = m.reduce(high: h0, low: l0); h0 = 0
                                            l1 = m.reduce(high: h1, low: l1); h1 = 0
                                        }
                                    }
                                    out0[j * n + c] = m.reduce(high: h0, low: l0)
                                    out1[j * n + c] = m.reduce(high: h1, low: l1)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (modDown(acc0, level: level), modDown(acc1, level: level))
    }

    /// ModDown: x over Q_l·P (NTT form) ↦ (x − Conv_(P→Q_l)([x]_P)) · P^−1 over Q_l. With the
    /// centred conversion [x]_P lies in (−P/2, P/2], so this is x/P rounded to nearest, up to an
    /// error below the number of special primes (the conversion's u·P term divides out).
    func modDown(_ x: RNSPolynomial<Evaluation>, level: Int) -> RNSPolynomial<Evaluation> {
        let plan = keySwitchPlans[level]
        let n = degree
        let levelBasis = levelBases[level]
        let extended = plan.extendedBasis
        let specialCount = specialBasis.count
        let l1 = level + 1
        var special = [UInt64](repeating: 0, count: specialCount * n)
        var converted = [UInt64](repeating: 0, count: l1 * n)
        var scratch = [UInt64](repeating: 0, count: 2 * specialCount * n)
        var result = RNSPolynomial<Evaluation>(zeroIn: levelBasis)
        x.withUnsafeLimbs { input in
            special.withUnsafeMutableBufferPointer { sp in
                for t in 0..<specialCount {
                    let dst = sp.baseAddress! + t * n
                    dst.update(from: input.baseAddress! + (l1 + t) * n, count: n)
                    extended.ntt[l1 + t].inverse(dst)
                }
                converted.withUnsafeMutableBufferPointer { conv in
                    scratch.withUnsafeMutableBufferPointer { s in
                        plan.modDown.convertCentered(sp.baseAddress!, into: conv.baseAddress!, scratch: s.baseAddress!)
                    }
                    result.withUnsafeMutableLimbs { out in
                        let c0 = conv.baseAddress!, src0 = input.baseAddress!, dst0 = out.baseAddress!
                        RNSParallelism.forEachLimb(count: l1, degree: n) { i in
                            let m = levelBasis.moduli[i]
                            let c = c0 + i * n
                            levelBasis.ntt[i].forward(c)
                            let w = plan.inverseSpecialProduct[i]
                            let ws = plan.inverseSpecialProductShoup[i]
                            let src = src0 + i * n
                            let dst = dst0 + i * n
                            for j in 0..<n {
                                dst[j] = m.multiplyShoup(m.subtract(src[j], c[j]), by: w, shoup: ws)
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Key switching of one polynomial: (k_0, k_1) with k_0 + k_1·s ≈ c·s′.
    func keySwitch(_ c: RNSPolynomial<Evaluation>, key: KeySwitchKey, level: Int)
        -> (RNSPolynomial<Evaluation>, RNSPolynomial<Evaluation>) {
        keySwitchProducts(decompose(c, level: level), key: key)
    }
}
