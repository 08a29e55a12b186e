import HEMath

/// Encrypts plaintexts, with the public key (c = (b·u + e_0 + m, a·u + e_1)) or symmetrically
/// with the secret key (c = (−a·s + e + m, a) with a expanded from a fresh seed, which the
/// ciphertext keeps so that a file stores 32 bytes instead of c_1).
public struct Encryptor {
    public let context: CKKSContext
    private let publicKey: PublicKey?
    private let secretKey: SecretKey?

    /// Domain of the uniform polynomial of symmetric ciphertexts (seed expansion).
    public static let ciphertextDomain: UInt64 = 0x4354_0000_0000_0000

    /// An encryptor with the public key.
    public init(publicKey: PublicKey) {
        context = publicKey.context
        self.publicKey = publicKey
        secretKey = nil
    }

    /// A symmetric encryptor with the secret key (seeded ciphertexts).
    public init(secretKey: SecretKey) {
        context = secretKey.context
        self.secretKey = secretKey
        publicKey = nil
    }

    /// Encrypts `plaintext` at its level and scale.
    public func encrypt(_ plaintext: Plaintext) throws -> Ciphertext {
        guard plaintext.context.isCompatible(with: context) else {
            throw CKKSError.parameterMismatch("the plaintext was encoded for another parameter set")
        }
        if let publicKey { return try encryptPublic(plaintext, publicKey) }
        return try encryptSymmetric(plaintext, secretKey!)
    }

    private func encryptPublic(_ plaintext: Plaintext, _ key: PublicKey) throws -> Ciphertext {
        let basis = try context.basis(atLevel: plaintext.level)
        let sigma = context.parameters.errorStandardDeviation
        var stream = Sampler.freshStream()
        let u = Sampler.ternary(basis: basis, using: &stream).forwardNTT()
        var c0 = Sampler.gaussian(basis: basis, standardDeviation: sigma, using: &stream).forwardNTT()
        var c1 = Sampler.gaussian(basis: basis, standardDeviation: sigma, using: &stream).forwardNTT()
        let bu = try RNSPolynomial.product(key.b.restricted(to: basis), u)
        let au = try RNSPolynomial.product(key.a.restricted(to: basis), u)
        try c0.add(bu)
        try c0.add(plaintext.polynomial)
        try c1.add(au)
        return Ciphertext(context: context, components: [c0, c1], level: plaintext.level, scale: plaintext.scale)
    }

    private func encryptSymmetric(_ plaintext: Plaintext, _ key: SecretKey) throws -> Ciphertext {
        let basis = try context.basis(atLevel: plaintext.level)
        var stream = Sampler.freshStream()
        let seed = Seed.random()
        let a = Sampler.uniform(basis: basis, seed: seed, domain: Self.ciphertextDomain)
        var c0 = Sampler.gaussian(basis: basis, standardDeviation: context.parameters.errorStandardDeviation,
                                  using: &stream).forwardNTT()
        var sa = try key.withSecret(limbs: Array(0..<basis.count), basis: basis) { s in try RNSPolynomial.product(s, a) }
        defer { sa.wipe() }
        try c0.subtract(sa)
        try c0.add(plaintext.polynomial)
        return Ciphertext(context: context, components: [c0, a], level: plaintext.level, scale: plaintext.scale,
                          seed: seed)
    }
}

/// Decrypts ciphertexts to plaintexts: m = c_0 + c_1·s (+ c_2·s²), in NTT form at the
/// ciphertext's level and scale. Decode the result with the `Encoder`.
public struct Decryptor {
    public let context: CKKSContext
    private let secretKey: SecretKey

    public init(secretKey: SecretKey) {
        context = secretKey.context
        self.secretKey = secretKey
    }

    /// The plaintext of `ciphertext` (2 or 3 components).
    public func decrypt(_ ciphertext: Ciphertext) throws -> Plaintext {
        guard ciphertext.context.isCompatible(with: context) else {
            throw CKKSError.parameterMismatch("the ciphertext was made with another parameter set than this secret key")
        }
        guard (2...3).contains(ciphertext.componentCount) else {
            throw CKKSError.componentCount(expected: 2, actual: ciphertext.componentCount)
        }
        let basis = try context.basis(atLevel: ciphertext.level)
        let m = try secretKey.withSecret(limbs: Array(0..<basis.count), basis: basis) { s in
            var m = ciphertext.components[0]
            var power = s
            defer { power.wipe() }
            for i in 1..<ciphertext.componentCount {
                if i > 1 { try power.multiply(s) }
                try m.addProduct(ciphertext.components[i], power)
            }
            return m
        }
        return try Plaintext(context: context, polynomial: m, level: ciphertext.level, scale: ciphertext.scale)
    }
}
