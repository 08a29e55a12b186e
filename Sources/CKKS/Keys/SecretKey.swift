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

    /// s restricted to the first `count` primes of the key basis, or to any sub-basis given
    /// by limb indices of the key basis (a fresh copy the caller owns).
    func secret(limbs indices: [Int], basis: RNSBasis) -> RNSPolynomial<Evaluation> {
        var out = RNSPolynomial<Evaluation>(zeroIn: basis)
        let n = context.degree
        polynomial.withUnsafeLimbs { s in
            out.withUnsafeMutableLimbs { o in
                for (t, i) in indices.enumerated() {
                    for j in 0..<n { o[t * n + j] = s[i * n + j] }
                }
            }
        }
        return out
    }

    deinit {
        polynomial.withUnsafeMutableLimbs { buffer in
            explicit_bzero(buffer.baseAddress!, buffer.count * MemoryLayout<UInt64>.stride)
        }
    }
}
