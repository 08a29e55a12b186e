import HEMath

/// A CKKS ciphertext: two (or, after a product, three) polynomials in NTT form at a level, with
/// the scale of the message it encrypts. Decrypts to c_0 + c_1·s (+ c_2·s²).
public struct Ciphertext: Sendable {
    /// The context the ciphertext was made in.
    public let context: CKKSContext
    /// The components c_0, c_1 (, c_2), over the primes q_0 … q_level, in NTT form.
    public internal(set) var components: [RNSPolynomial<Evaluation>]
    /// The level (number of primes − 1).
    public internal(set) var level: Int
    /// The scale of the encrypted message, tracked exactly (divided by the actual prime on rescale).
    public internal(set) var scale: Double
    /// For a fresh symmetric encryption: the seed c_1 was expanded from. Serializing then stores
    /// the seed instead of c_1 (half the size). Cleared by any operation that changes c_1.
    public internal(set) var seed: Seed?

    init(context: CKKSContext, components: [RNSPolynomial<Evaluation>], level: Int, scale: Double, seed: Seed? = nil) {
        self.context = context
        self.components = components
        self.level = level
        self.scale = scale
        self.seed = seed
    }

    /// Number of components (2, or 3 before relinearization).
    public var componentCount: Int { components.count }
    /// The ring degree N.
    public var degree: Int { context.degree }
}
