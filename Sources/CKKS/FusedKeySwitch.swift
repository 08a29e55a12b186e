import HEMath

/// Key switching of one polynomial without materialising its decomposition, for the common case
/// of single-prime digits (α = 1, one special prime per digit prime, as in every preset).
///
/// The decomposed form of c has (l + 1) digits × (l + 2) limbs × N words (7.3 MB at N = 16384,
/// l = 6), written by ModUp and read back by the key product: two trips through memory that
/// showed as a fifth of a rotation. Here each extended limb j is finished on its own: the l + 1
/// digits' residues mod p_j are made in one per-limb buffer (l + 1 words × N, L2-sized), the
/// key product for limb j reads them while they are hot, and only the two accumulator limbs
/// leave. The arithmetic is exactly that of `decompose` + `keySwitchProducts` (same digits,
/// same centred lift, same reduction), so both paths give identical residues (tested).
extension CKKSContext {
    /// Whether `keySwitch(_:level:key:into:_:adding:)` takes the fused path at `level`.
    func usesFusedKeySwitch(level: Int) -> Bool {
        keySwitchPlans[level].digits.allSatisfy { $0.count == 1 }
    }

    /// (k_0, k_1) with k_0 + k_1·s ≈ c·s′ for c given as (l + 1)·N residues in NTT form, written
    /// into (or, with `adding`, added to) k0 and k1 over Q_l. Allocates nothing (pooled scratch).
    func keySwitch(_ source: UnsafePointer<UInt64>, level: Int, key: KeySwitchKey,
                   into k0: inout RNSPolynomial<Evaluation>, _ k1: inout RNSPolynomial<Evaluation>,
                   adding: Bool) {
        keySwitchExtended(source, level: level, key: key) { out0, out1 in
            k0.withUnsafeMutableLimbs { modDown(out0, level: level, into: $0.baseAddress!, adding: adding) }
            k1.withUnsafeMutableLimbs { modDown(out1, level: level, into: $0.baseAddress!, adding: adding) }
        }
    }

    /// The key product Σ_d c̃_d·(b_d, a_d) over the extended basis Q_l·P, before ModDown: `body`
    /// receives its two polynomials (NTT form, limb-major, valid for the call), P·c·s′ plus the
    /// key's small error. `keySwitch` divides them by P; `Evaluator.relinearizeAndRescale`
    /// divides by P·q_l at once.
    func keySwitchExtended(_ source: UnsafePointer<UInt64>, level: Int, key: KeySwitchKey,
                           _ body: (UnsafePointer<UInt64>, UnsafePointer<UInt64>) -> Void) {
        guard usesFusedKeySwitch(level: level) else {
            let decomposition = decompose(source, level: level)
            defer { release(decomposition) }
            keySwitchExtendedProducts(decomposition, key: key, permutation: nil, body)
            return
        }
        let n = degree
        let l1 = level + 1
        let extended = keySwitchPlans[level].extendedBasis
        let e = extended.count
        let levelBasis = levelBases[level]
        scratch.with(l1 * n) { coefficients in
            // c in coefficient form: digit d is the single prime q_d, value v = c mod q_d.
            coefficients.update(from: source, count: l1 * n)
            RNSParallelism.forEachLimb(count: l1, degree: n) { i in
                levelBasis.ntt[i].inverse(coefficients + i * n)
            }
            scratch.with(2 * e * n) { acc in
                let out0 = acc, out1 = acc + e * n
                key.b.withUnsafeBufferPointer { kb in
                    key.a.withUnsafeBufferPointer { ka in
                        let b = kb.baseAddress!, a = ka.baseAddress!
                        RNSParallelism.forEachLimb(count: e, degree: n) { j in
                            self.scratch.with(l1 * n) { digits in
                                let p = extended.moduli[j]
                                for d in 0..<l1 {
                                    let x = digits + d * n
                                    if d == j {
                                        // The digit's own prime: c's residue, already in NTT form.
                                        x.update(from: source + j * n, count: n)
                                    } else {
                                        KeySwitchDigit.centred(UnsafePointer(coefficients + d * n),
                                                               modulus: levelBasis.moduli[d].value,
                                                               into: x, modulo: p, degree: n)
                                        extended.ntt[j].forward(x)
                                    }
                                }
                                let (kj, stride) = key.limbLayout(j, level: level)
                                KeySwitchInnerProduct.limb(
                                    modulus: p, degree: n, digits: l1,
                                    x: UnsafePointer(digits), xStride: n,
                                    b: b + kj * n, a: a + kj * n, keyStride: stride * n,
                                    permutation: nil, out0: out0 + j * n, out1: out1 + j * n)
                            }
                        }
                    }
                }
                body(UnsafePointer(out0), UnsafePointer(out1))
            }
        }
    }
}
