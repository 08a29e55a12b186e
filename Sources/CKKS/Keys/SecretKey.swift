import Glibc
import HEMath

/// The secret key s: a uniform ternary polynomial, held in NTT form over every prime of the
/// key basis (q_0 … q_L, p_0 … p_(k−1)). Its memory is zeroed when the key is freed.
///
/// The polynomial is never handed out: code that needs s borrows it through `withSecret`, so
/// no copy of the buffer outlives the key and the zeroing in `deinit` reaches the only copy.
public final class SecretKey: @unchecked Sendable {
    /// The context the key belongs to.
    public let context: CKKSContext
    private var polynomial: RNSPolynomial<Evaluation>

    /// Wraps s (NTT form over the key basis); internal: keys come from `KeyGenerator` or a file.
    init(context: CKKSContext, polynomial: RNSPolynomial<Evaluation>) {
        precondition(polynomial.basis.isSame(as: context.keyBasis))
        self.context = context
        self.polynomial = polynomial
    }

    /// Lends s (NTT form over the key basis) to `body`; do not let it escape.
    func withSecret<R>(_ body: (RNSPolynomial<Evaluation>) throws -> R) rethrows -> R {
        try body(polynomial)
    }

    /// Lends s restricted to a sub-basis of the key basis (given by limb indices) to `body`, as a
    /// copy that is zeroed when `body` returns; do not let it escape.
    func withSecret<R>(limbs indices: [Int], basis: RNSBasis, _ body: (RNSPolynomial<Evaluation>) throws -> R) rethrows -> R {
        var out = RNSPolynomial<Evaluation>(zeroIn: basis)
        let n = context.degree
        polynomial.withUnsafeLimbs { s in
            out.withUnsafeMutableLimbs { o in
                for (t, i) in indices.enumerated() {
                    for j in 0..<n { o[t * n + j] = s[i * n + j] }
                }
            }
        }
        defer { out.wipe() }
        return try body(out)
    }

    deinit {
        polynomial.wipe()
    }
}

extension RNSPolynomial {
    /// Overwrites every residue with zero in a way the optimizer cannot drop (explicit_bzero):
    /// for secret-derived temporaries (copies of s, s², σ(s), a·s) before they are freed.
    mutating func wipe() {
        withUnsafeMutableLimbs { buffer in
            explicit_bzero(buffer.baseAddress!, buffer.count * MemoryLayout<UInt64>.stride)
        }
    }
}
