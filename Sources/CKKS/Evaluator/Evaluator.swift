import HEMath

/// Homomorphic operations on ciphertexts: additions, products, rescaling, rotations. Holds the
/// evaluation keys (never a secret key). Operands made with other parameters, at levels that
/// cannot be aligned, with different scales or without the needed key fail with a typed error.
///
/// Each operation comes as a value-returning form (`add(_:_:)`) and an in-place form that writes
/// into a caller-owned ciphertext (`addInPlace(_:_:)`); the in-place forms of the additive and
/// plaintext operations allocate nothing.
public struct Evaluator: Sendable {
    public let context: CKKSContext
    public let keys: EvaluationKeys?

    /// Relative tolerance when comparing the scales of two operands.
    public static let scaleTolerance = 0x1p-40

    public init(context: CKKSContext, keys: EvaluationKeys? = nil) {
        self.context = context
        self.keys = keys
    }

    // MARK: Checks shared by the operations

    func check(_ ct: Ciphertext) throws {
        guard ct.context.isCompatible(with: context) else {
            throw CKKSError.parameterMismatch("the ciphertext was made with another parameter set than this evaluator")
        }
    }

    func check(_ pt: Plaintext) throws {
        guard pt.context.isCompatible(with: context) else {
            throw CKKSError.parameterMismatch("the plaintext was encoded for another parameter set than this evaluator")
        }
    }

    func requireSameScale(_ a: Double, _ b: Double) throws {
        guard abs(a - b) <= Evaluator.scaleTolerance * max(a, b) else { throw CKKSError.scaleMismatch(a, b) }
    }

    /// Brings both ciphertexts to the lower of their levels (dropping primes; no noise added).
    func aligned(_ a: Ciphertext, _ b: Ciphertext) throws -> (Ciphertext, Ciphertext) {
        try check(a)
        try check(b)
        if a.level == b.level { return (a, b) }
        let level = min(a.level, b.level)
        return (try droppingLevel(a, to: level), try droppingLevel(b, to: level))
    }

    /// The plaintext's polynomial at `level` (dropping primes when the plaintext is higher).
    func polynomial(of pt: Plaintext, atLevel level: Int) throws -> RNSPolynomial<Evaluation> {
        try checkPlaintext(pt, atLevel: level)
        return try pt.polynomial.restricted(to: context.basis(atLevel: level))
    }

    /// The plaintext belongs to these parameters and sits at `level` or above.
    func checkPlaintext(_ pt: Plaintext, atLevel level: Int) throws {
        try check(pt)
        guard pt.level >= level else {
            throw CKKSError.levelMismatch("the plaintext is at level \(pt.level), below the ciphertext's \(level); encode it at level \(level)")
        }
    }

    /// The Galois key for `g`, or a typed error.
    func galoisKey(_ g: UInt64, level: Int, step: String) throws -> KeySwitchKey {
        guard let keys else { throw CKKSError.missingGaloisKey(step: step) }
        return try keys.galoisKey(g, level: level, step: step)
    }
}
