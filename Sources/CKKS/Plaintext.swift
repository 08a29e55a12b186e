import HEMath

/// An encoded message: a polynomial in evaluation (NTT) form at a level, with its scale.
public struct Plaintext: Sendable {
    /// The context the plaintext was made in.
    public let context: CKKSContext
    /// The message polynomial over the primes q_0 … q_level, in NTT form.
    public internal(set) var polynomial: RNSPolynomial<Evaluation>
    /// The level (number of primes − 1).
    public internal(set) var level: Int
    /// The scale Δ the message was multiplied by.
    public internal(set) var scale: Double

    /// Wraps a polynomial; throws unless it is over the context's basis at `level`.
    public init(context: CKKSContext, polynomial: RNSPolynomial<Evaluation>, level: Int, scale: Double) throws {
        guard try polynomial.basis.isSame(as: context.basis(atLevel: level)) else {
            throw CKKSError.levelMismatch("plaintext polynomial has \(polynomial.limbCount) primes, level \(level) needs \(level + 1)")
        }
        guard scale.isFinite, scale > 0 else { throw CKKSError.outOfRange("plaintext scale must be positive and finite") }
        self.context = context
        self.polynomial = polynomial
        self.level = level
        self.scale = scale
    }
}
