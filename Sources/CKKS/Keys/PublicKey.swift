import HEMath

/// The public key (b, a) = (−a·s + e, a) over the ciphertext primes q_0 … q_L, NTT form.
public struct PublicKey: Sendable {
    public let context: CKKSContext
    public internal(set) var b: RNSPolynomial<Evaluation>
    public internal(set) var a: RNSPolynomial<Evaluation>
}

/// A key-switching key from a secret s′ to s, one pair per digit of the top level's hybrid
/// decomposition: (b_d, a_d) = (−a_d·s + e_d + [P]_(q_i)·s′ on the digit's primes, a_d), over
/// the whole key basis, NTT form. It holds encryptions of multiples of s′, never s or s′.
public struct KeySwitchKey: Sendable {
    public let context: CKKSContext
    /// Number of digits (the top level's dnum).
    public let digitCount: Int
    /// b_0 … b_(dnum−1), digit-major: digit d, key limb i, coefficient j at (d·K + i)·N + j,
    /// where K is the key basis size.
    var b: [UInt64]
    /// a_0 … a_(dnum−1), same layout.
    var a: [UInt64]
    /// The seed the uniform a_d were expanded from (a_d = `Sampler.uniform(keyBasis, seed,
    /// domain: d)`), when they were: files then store the seed instead of a (half the size).
    public internal(set) var seed: Seed?
    /// nil for a whole key. A level l for a key cut to what key switching at level l reads
    /// (`GaloisKeyStore` reads only that from the file): digits 0 ..< dnum(l), each over the
    /// extended basis Q_l·P of e = l + 1 + k limbs, digit d, limb j at (d·e + j)·N. At the top
    /// level the two layouts coincide.
    public let level: Int?

    init(context: CKKSContext, digitCount: Int, b: [UInt64], a: [UInt64], seed: Seed? = nil, level: Int? = nil) {
        self.context = context
        self.digitCount = digitCount
        self.b = b
        self.a = a
        self.seed = seed
        self.level = level
    }

    /// Where the kernels find key limb data for extended-basis limb j at `level`: the limb's
    /// index in a digit, and the distance between digits (both in polynomials of N residues).
    @inline(__always)
    func limbLayout(_ j: Int, level: Int) -> (limb: Int, digitStride: Int) {
        if let own = self.level {
            precondition(own == level, "a key cut for level \(own) used at level \(level)")
            return (j, level + 1 + context.specialBasis.count)
        }
        return (context.keyLimb(j, level: level), context.keyBasis.count)
    }

    /// Bytes of residues the key holds (b and a).
    public var residentBytes: Int { 8 * (b.count + a.count) }

    /// The a_d of a seeded key, expanded again (what a reader does with a seeded file).
    static func expandedA(context: CKKSContext, digitCount: Int, seed: Seed) -> [UInt64] {
        var a: [UInt64] = []
        a.reserveCapacity(digitCount * context.keyBasis.count * context.degree)
        for d in 0..<digitCount {
            a.append(contentsOf: Sampler.uniform(basis: context.keyBasis, seed: seed, domain: UInt64(d)).residues)
        }
        return a
    }

    /// The pair (b_d, a_d) as polynomials over the key basis (for files and tests).
    public func digit(_ d: Int) throws -> (b: RNSPolynomial<Evaluation>, a: RNSPolynomial<Evaluation>) {
        guard level == nil else { throw CKKSError.outOfRange("a key cut for level \(level!) has no digits over the key basis") }
        guard (0..<digitCount).contains(d) else { throw CKKSError.outOfRange("digit \(d) of \(digitCount)") }
        let size = context.keyBasis.count * context.degree
        let range = (d * size)..<((d + 1) * size)
        return (try RNSPolynomial(basis: context.keyBasis, residues: Array(b[range])),
                try RNSPolynomial(basis: context.keyBasis, residues: Array(a[range])))
    }
}

/// What the server needs to evaluate: the relinearization key and the Galois keys for exactly
/// the rotations (and conjugation) asked for. Never the secret key.
public struct EvaluationKeys: Sendable {
    public let context: CKKSContext
    /// Switches s² to s, for relinearization.
    public internal(set) var relinearization: KeySwitchKey?
    /// Galois element g ↦ the key switching σ_g(s) to s.
    public internal(set) var galois: [UInt64: KeySwitchKey]
    /// The client's public key, for plans that sanitize their results (`ResultSanitizer`): the
    /// server encrypts zeros with it, it never decrypts anything.
    public var publicKey: PublicKey?
    /// Galois keys left in their file and read when needed (`CKKSFile.openEvaluationKeys`);
    /// nil when every key is in `galois`.
    public let store: GaloisKeyStore?

    public init(context: CKKSContext, relinearization: KeySwitchKey?, galois: [UInt64: KeySwitchKey],
                publicKey: PublicKey? = nil, store: GaloisKeyStore? = nil) {
        self.context = context
        self.relinearization = relinearization
        self.galois = galois
        self.publicKey = publicKey
        self.store = store
    }

    /// Whether the keys hold the Galois key of element g (in memory or in their file).
    public func hasGaloisKey(_ g: UInt64) -> Bool { galois[g] != nil || store?.entries[g] != nil }

    /// The Galois elements held (in memory or in their file).
    public var galoisElements: Set<UInt64> { Set(galois.keys).union(store?.elements ?? []) }

    /// The Galois key of element g if the keys hold it, read from its file when it is kept there
    /// (a prefetch, or a check that every key still reads back).
    public func galoisKey(element g: UInt64) throws -> KeySwitchKey? {
        if let key = galois[g] { return key }
        return try store?.key(g, level: context.maxLevel)
    }

    /// The Galois key for element g as key switching at `level` reads it (a key kept in its file
    /// is read only that far), or a typed error naming the missing step.
    func galoisKey(_ g: UInt64, level: Int, step: String) throws -> KeySwitchKey {
        if let key = galois[g] { return key }
        if let key = try store?.key(g, level: level) { return key }
        throw CKKSError.missingGaloisKey(step: step)
    }
}
