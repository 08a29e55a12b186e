import Foundation
import HEMath

/// Readers: each checks the whole file (see `CKKSFile`) and builds the object only from valid
/// content. Malformed input throws `CKKSError.invalidFormat` naming the field; a file made for
/// another parameter set throws `CKKSError.parameterMismatch` naming both fingerprints.
extension CKKSFile {
    /// Reads a parameter set; the file's fingerprint must be that of the parameters it holds,
    /// and the parameters must pass `CKKSParameters` validation.
    public static func readParameters(_ bytes: [UInt8]) throws -> CKKSParameters {
        let envelope = try open(bytes, expecting: .parameters, context: nil)
        let parameters = try parameters(envelope.parameters)
        guard Array(envelope.parametersFingerprint) == parameters.fingerprint else {
            throw CKKSError.invalidFormat("the file's fingerprint \(hexPrefix(Array(envelope.parametersFingerprint)))… is not that of the parameters it holds (\(hexPrefix(parameters.fingerprint))…)")
        }
        return parameters
    }

    /// Reads a secret key made for `context`'s parameters. Checks that s is ternary: the same
    /// coefficient in {−1, 0, 1} in every limb.
    public static func readSecretKey(_ bytes: [UInt8], context: CKKSContext) throws -> SecretKey {
        var envelope = try open(bytes, expecting: .secretKey, context: context)
        var body = envelope.secretKey
        var packed = body.polynomial.residues
        defer {
            // Best effort: drop the decoded message's references and zero the residue bytes.
            body = Hetool_V1_SecretKey()
            envelope = Hetool_V1_Envelope()
            PackedResidues.wipe(&packed)
        }
        try rejectUnknownFields(body, "the secret key")
        guard body.hasPolynomial else { throw CKKSError.invalidFormat("the secret key has no polynomial") }
        let s: RNSPolynomial<Evaluation> = try PackedResidues.polynomial(body.polynomial, basis: context.keyBasis,
                                                                        field: "the secret key")
        try requireTernary(s)
        return SecretKey(context: context, polynomial: s)
    }

    /// Reads a public key made for `context`'s parameters.
    public static func readPublicKey(_ bytes: [UInt8], context: CKKSContext) throws -> PublicKey {
        let body = try open(bytes, expecting: .publicKey, context: context).publicKey
        try rejectUnknownFields(body, "the public key")
        return try publicKey(body, context: context, field: "the public key")
    }

    /// The (b, a) of a public key message, each over q_0 … q_L.
    static func publicKey(_ body: Hetool_V1_PublicKey, context: CKKSContext, field: String) throws -> PublicKey {
        guard body.hasB, body.hasA else { throw CKKSError.invalidFormat("\(field) lacks b or a") }
        let basis = try context.basis(atLevel: context.maxLevel)
        return PublicKey(context: context,
                         b: try PackedResidues.polynomial(body.b, basis: basis, field: "\(field)'s b"),
                         a: try PackedResidues.polynomial(body.a, basis: basis, field: "\(field)'s a"))
    }

    /// Reads evaluation keys made for `context`'s parameters. Galois elements must be odd,
    /// below 2N and unique; every key must have the top level's digit count.
    public static func readEvaluationKeys(_ bytes: [UInt8], context: CKKSContext) throws -> EvaluationKeys {
        let body = try open(bytes, expecting: .evaluationKeys, context: context).evaluationKeys
        try rejectUnknownFields(body, "the evaluation keys")
        let relinearization = body.hasRelinearization
            ? try keySwitchKey(body.relinearization, context: context, field: "the relinearization key") : nil
        var galois: [UInt64: KeySwitchKey] = [:]
        for (index, entry) in body.galoisKeys.enumerated() {
            let (g, key) = try galoisKey(entry, context: context, index: index)
            guard galois[g] == nil else {
                throw CKKSError.invalidFormat("Galois element \(g) appears twice")
            }
            galois[g] = key
        }
        var publicKey: PublicKey? = nil
        if body.hasPublicKey {
            try rejectUnknownFields(body.publicKey, "the evaluation keys' public key")
            publicKey = try Self.publicKey(body.publicKey, context: context, field: "the evaluation keys' public key")
        }
        return EvaluationKeys(context: context, relinearization: relinearization, galois: galois, publicKey: publicKey)
    }

    /// Reads a plaintext made for `context`'s parameters.
    public static func readPlaintext(_ bytes: [UInt8], context: CKKSContext) throws -> Plaintext {
        let body = try open(bytes, expecting: .plaintext, context: context).plaintext
        try rejectUnknownFields(body, "the plaintext")
        let level = try checkedLevel(body.level, context: context)
        try checkScale(body.scale)
        guard body.hasPolynomial else { throw CKKSError.invalidFormat("the plaintext has no polynomial") }
        let polynomial: RNSPolynomial<Evaluation> = try PackedResidues.polynomial(
            body.polynomial, basis: context.basis(atLevel: level), field: "the plaintext")
        return try Plaintext(context: context, polynomial: polynomial, level: level, scale: body.scale)
    }

    /// Reads a ciphertext made for `context`'s parameters; a seeded one gets c_1 expanded from
    /// its seed (and keeps the seed, so it is written seeded again).
    public static func readCiphertext(_ bytes: [UInt8], context: CKKSContext) throws -> Ciphertext {
        try bytes.withUnsafeBytes { try readCiphertext(raw: $0, context: context) }
    }

    /// `readCiphertext` of a file held in a `Data` (a tile of an encrypted tensor, read in place).
    /// `insideCheckedFrame`: the bytes lie inside an enclosing frame whose SHA-256 was verified
    /// (an encrypted tensor's group), so the tile's own checksum, over a subset of those bytes,
    /// is not computed again (708 MB hashed twice for CryptoNets' full batch); every field is
    /// still checked.
    public static func readCiphertext(data: Data, context: CKKSContext, insideCheckedFrame: Bool = false) throws -> Ciphertext {
        try data.withUnsafeBytes { try readCiphertext(raw: $0, context: context, checksum: !insideCheckedFrame) }
    }

    static func readCiphertext(raw bytes: UnsafeRawBufferPointer, context: CKKSContext, checksum: Bool = true) throws -> Ciphertext {
        let body = try open(raw: bytes, expecting: .ciphertext, context: context, checksum: checksum).ciphertext
        try rejectUnknownFields(body, "the ciphertext")
        let level = try checkedLevel(body.level, context: context)
        try checkScale(body.scale)
        guard (2...3).contains(body.componentCount) else {
            throw CKKSError.invalidFormat("the ciphertext has \(body.componentCount) components; 2 or 3 are valid")
        }
        let count = Int(body.componentCount)
        let seed: Seed?
        if body.seed.isEmpty {
            seed = nil
            guard body.components.count == count else {
                throw CKKSError.invalidFormat("the ciphertext says \(count) components but stores \(body.components.count)")
            }
        } else {
            guard body.seed.count == Seed.byteCount else {
                throw CKKSError.invalidFormat("the ciphertext's seed has \(body.seed.count) bytes, expected \(Seed.byteCount)")
            }
            guard count == 2, body.components.count == 1 else {
                throw CKKSError.invalidFormat("a seeded ciphertext has 2 components and stores c_0 alone; this one says \(count) and stores \(body.components.count)")
            }
            seed = try Seed(bytes: Array(body.seed))
        }
        let basis = try context.basis(atLevel: level)
        var components: [RNSPolynomial<Evaluation>] = try body.components.enumerated().map { i, component in
            try PackedResidues.polynomial(component, basis: basis, field: "ciphertext component c_\(i)")
        }
        if let seed {
            components.append(Sampler.uniform(basis: basis, seed: seed, domain: Encryptor.ciphertextDomain))
        }
        return Ciphertext(context: context, components: components, level: level, scale: body.scale, seed: seed)
    }

    // MARK: Fields

    static func parameters(_ message: Hetool_V1_Parameters) throws -> CKKSParameters {
        try rejectUnknownFields(message, "the parameters")
        let security: CKKSParameters.Security
        switch message.security {
        case .standard128: security = .standard128
        case .extended128: security = .extended128
        case .insecureTestingOnly: security = .insecureTestingOnly
        case .unspecified, .UNRECOGNIZED:
            throw CKKSError.invalidFormat("the parameters' security mode \(message.security.rawValue) is not one of standard128, extended128, insecureTestingOnly")
        }
        do {
            return try CKKSParameters(logDegree: Int(message.logDegree), ciphertextPrimes: message.ciphertextPrimes,
                                      specialPrimes: message.specialPrimes, logScale: Int(message.logScale),
                                      keySwitchDigits: Int(message.keySwitchDigits),
                                      errorStandardDeviation: message.errorStdDev, security: security)
        } catch let error as CKKSError {
            throw CKKSError.invalidFormat("the file's parameters are not valid: \(error)")
        }
    }

    /// One Galois key entry, checked: an odd element below 2N and a valid key.
    static func galoisKey(_ entry: Hetool_V1_GaloisKey, context: CKKSContext, index: Int?,
                          expandingSeed: Bool = true) throws -> (element: UInt64, key: KeySwitchKey) {
        let name = index.map { "Galois key \($0)" } ?? "a Galois key"
        try rejectUnknownFields(entry, name)
        let g = entry.galoisElement
        let twoN = UInt64(2 * context.degree)
        guard g & 1 == 1, g < twoN else {
            throw CKKSError.invalidFormat("\(name) has element \(g); elements are odd and below 2N = \(twoN)")
        }
        guard entry.hasKey else { throw CKKSError.invalidFormat("\(name) (element \(g)) has no key") }
        return (g, try keySwitchKey(entry.key, context: context, field: "the Galois key of element \(g)", expandingSeed: expandingSeed))
    }

    /// A Galois key entry from its encoded message (as one entry of an evaluation-keys file).
    static func galoisKey(_ bytes: [UInt8], context: CKKSContext, index: Int?,
                          expandingSeed: Bool = true) throws -> (element: UInt64, key: KeySwitchKey) {
        let entry: Hetool_V1_GaloisKey
        do { entry = try Hetool_V1_GaloisKey(serializedBytes: bytes) } catch {
            throw CKKSError.invalidFormat("\(index.map { "Galois key \($0)" } ?? "a Galois key") is malformed (\(error))")
        }
        return try galoisKey(entry, context: context, index: index, expandingSeed: expandingSeed)
    }

    /// A key-switching key from its message, every field checked. Without `expandingSeed`, a
    /// seeded key's a is left empty (a check of the message only: the keys-on-demand reader
    /// expands a later, limb by limb).
    static func keySwitchKey(_ message: Hetool_V1_KeySwitchKey, context: CKKSContext, field: String,
                             expandingSeed: Bool = true) throws -> KeySwitchKey {
        try rejectUnknownFields(message, field)
        let digits = context.keySwitchPlans[context.maxLevel].digits.count
        guard message.digitCount == digits else {
            throw CKKSError.invalidFormat("\(field) has \(message.digitCount) digits; these parameters have \(digits)")
        }
        let basis = context.keyBasis
        guard message.limbCount == basis.count else {
            throw CKKSError.invalidFormat("\(field) has \(message.limbCount) limbs per digit, expected \(basis.count)")
        }
        let b = try PackedResidues.unpack(message.b, moduli: basis.moduli, degree: basis.degree, blocks: digits,
                                          field: "\(field) (b)")
        if message.aSeed.isEmpty {
            let a = try PackedResidues.unpack(message.a, moduli: basis.moduli, degree: basis.degree, blocks: digits,
                                              field: "\(field) (a)")
            return KeySwitchKey(context: context, digitCount: digits, b: b, a: a)
        }
        guard message.a.isEmpty else {
            throw CKKSError.invalidFormat("\(field) stores both a and the seed of a; a file holds one or the other")
        }
        guard message.aSeed.count == Seed.byteCount else {
            throw CKKSError.invalidFormat("\(field): the seed of a has \(message.aSeed.count) bytes, expected \(Seed.byteCount)")
        }
        let seed = try Seed(bytes: Array(message.aSeed))
        return KeySwitchKey(context: context, digitCount: digits, b: b,
                            a: expandingSeed ? KeySwitchKey.expandedA(context: context, digitCount: digits, seed: seed) : [],
                            seed: seed)
    }

    static func checkedLevel(_ level: UInt32, context: CKKSContext) throws -> Int {
        guard level <= UInt32(context.maxLevel) else {
            throw CKKSError.invalidFormat("level \(level) is outside 0…\(context.maxLevel)")
        }
        return Int(level)
    }

    /// Scales he-tool makes lie in [2^0, 2^400]: a ciphertext's scale is at least 1 (messages
    /// are multiplied, never divided, by it) and below the largest modulus product any
    /// parameter set has. Anything else (a subnormal 5e-324 decodes to ±∞) is damage.
    static func checkScale(_ scale: Double) throws {
        guard scale.isFinite, scale >= 1, scale <= 0x1p400 else {
            throw CKKSError.invalidFormat("the scale \(scale) is outside 1 … 2^400")
        }
    }

    /// Throws unless s (NTT form) is a ternary polynomial: in coefficient form, every
    /// coefficient is the same value in {−1, 0, 1} in every limb.
    static func requireTernary(_ s: RNSPolynomial<Evaluation>) throws {
        var coefficients = s.inverseNTT()
        defer { coefficients.withUnsafeMutableLimbs { PackedResidues.wipe($0) } }
        let n = s.degree
        let moduli = s.basis.moduli
        let ok: Bool = coefficients.withUnsafeLimbs { c in
            for j in 0..<n {
                let v = c[j]
                let first: Int8 = v == 0 ? 0 : v == 1 ? 1 : v == moduli[0].value - 1 ? -1 : 2
                guard first != 2 else { return false }
                for i in 1..<moduli.count {
                    let expected = first == 0 ? 0 : first == 1 ? 1 : moduli[i].value - 1
                    guard c[i * n + j] == expected else { return false }
                }
            }
            return true
        }
        guard ok else {
            throw CKKSError.invalidFormat("the secret key is not a ternary polynomial (a damaged file or not a secret key)")
        }
    }
}
