import Foundation
import HEMath

/// Serializers: each returns the complete bytes of one file (format version 1). The output is
/// deterministic: the same object gives the same bytes.
extension CKKSFile {
    /// The file of a parameter set.
    public static func serialize(_ parameters: CKKSParameters) throws -> [UInt8] {
        var envelope = envelope(.parameters, parameters: parameters)
        envelope.parameters = message(parameters)
        return try encode(envelope, payloadBytes: 0)
    }

    /// The file of a secret key: s over the key basis, NTT form.
    ///
    /// The bytes returned are the secret: write them with `writeSecretKey(_:to:)` (or
    /// `write(_:to:ownerOnly: true)`) and do not keep them longer than needed. The copies made
    /// on the way are zeroed before this returns.
    public static func serialize(_ key: SecretKey) throws -> [UInt8] {
        var residues = key.withSecret { PackedResidues.pack($0) }
        var polynomial = Hetool_V1_Polynomial()
        polynomial.limbCount = UInt32(key.context.keyBasis.count)
        polynomial.residues = residues
        var envelope = envelope(.secretKey, parameters: key.context.parameters)
        envelope.secretKey.polynomial = polynomial
        defer {
            // Drop every other reference to the residue buffer, then zero it in place.
            polynomial = Hetool_V1_Polynomial()
            envelope = Hetool_V1_Envelope()
            PackedResidues.wipe(&residues)
        }
        return try encode(envelope, payloadBytes: residues.count)
    }

    /// The file of a public key: (b, a) over q_0 … q_L.
    public static func serialize(_ key: PublicKey) throws -> [UInt8] {
        var envelope = envelope(.publicKey, parameters: key.context.parameters)
        let body = message(key)
        envelope.publicKey = body
        return try encode(envelope, payloadBytes: body.b.residues.count + body.a.residues.count)
    }

    /// The file of evaluation keys: the relinearization key if present and the Galois keys in
    /// ascending order of their elements. No secret material is in them or in the file.
    /// - Throws: `outOfRange` if the keys need more than one file can hold (2 GiB).
    public static func serialize(_ keys: EvaluationKeys) throws -> [UInt8] {
        guard keys.store == nil else {
            throw CKKSError.outOfRange("these evaluation keys read their Galois keys from a file when needed; copy that file instead of serializing them")
        }
        let all = (keys.relinearization.map { [$0] } ?? []) + keys.galois.values
        // b in full, a as its 32-byte seed when the key has one.
        let payload = all.reduce(0) { $0 + ($1.seed == nil ? 16 : 8) * $1.b.count }
        guard payload < maximumFileSize - 4096 else {
            throw CKKSError.outOfRange("the evaluation keys need \(payload) bytes, more than one file holds (\(maximumFileSize)); put the Galois keys in several EvaluationKeys and files")
        }
        var envelope = envelope(.evaluationKeys, parameters: keys.context.parameters)
        var body = Hetool_V1_EvaluationKeys()
        if let relinearization = keys.relinearization {
            body.relinearization = message(relinearization)
        }
        body.galoisKeys = keys.galois.keys.sorted().map { element in
            var galois = Hetool_V1_GaloisKey()
            galois.galoisElement = element
            galois.key = message(keys.galois[element]!)
            return galois
        }
        var publicKeyBytes = 0
        if let publicKey = keys.publicKey {
            let pk = message(publicKey)
            body.publicKey = pk
            publicKeyBytes = pk.b.residues.count + pk.a.residues.count
        }
        envelope.evaluationKeys = body
        return try encode(envelope, payloadBytes: payload + publicKeyBytes)
    }

    /// The file of a plaintext: level, scale and the polynomial over q_0 … q_level.
    public static func serialize(_ plaintext: Plaintext) throws -> [UInt8] {
        var envelope = envelope(.plaintext, parameters: plaintext.context.parameters)
        var body = Hetool_V1_Plaintext()
        body.level = UInt32(plaintext.level)
        body.scale = plaintext.scale
        body.polynomial = PackedResidues.message(plaintext.polynomial)
        envelope.plaintext = body
        return try encode(envelope, payloadBytes: body.polynomial.residues.count)
    }

    /// The file of a ciphertext. A fresh symmetric encryption (two components and a seed)
    /// stores c_0 and the 32-byte seed of c_1, about half the size; any other ciphertext
    /// stores every component.
    public static func serialize(_ ciphertext: Ciphertext) throws -> [UInt8] {
        var envelope = envelope(.ciphertext, parameters: ciphertext.context.parameters)
        var body = Hetool_V1_Ciphertext()
        body.level = UInt32(ciphertext.level)
        body.scale = ciphertext.scale
        body.componentCount = UInt32(ciphertext.componentCount)
        if let seed = ciphertext.seed, ciphertext.componentCount == 2 {
            assert(ciphertext.components[1] == Sampler.uniform(basis: ciphertext.components[1].basis, seed: seed,
                                                               domain: Encryptor.ciphertextDomain),
                   "a ciphertext kept a seed its c_1 no longer comes from")
            body.components = [PackedResidues.message(ciphertext.components[0])]
            body.seed = Data(seed.bytes)
        } else {
            body.components = ciphertext.components.map { PackedResidues.message($0) }
        }
        envelope.ciphertext = body
        return try encode(envelope, payloadBytes: body.components.reduce(0) { $0 + $1.residues.count })
    }

    // MARK: Messages

    static func message(_ parameters: CKKSParameters) -> Hetool_V1_Parameters {
        var message = Hetool_V1_Parameters()
        message.logDegree = UInt32(parameters.logDegree)
        message.ciphertextPrimes = parameters.ciphertextPrimes
        message.specialPrimes = parameters.specialPrimes
        message.logScale = UInt32(parameters.logScale)
        message.keySwitchDigits = UInt32(parameters.keySwitchDigits)
        message.errorStdDev = parameters.errorStandardDeviation
        switch parameters.security {
        case .standard128: message.security = .standard128
        case .extended128: message.security = .extended128
        case .insecureTestingOnly: message.security = .insecureTestingOnly
        }
        return message
    }

    static func message(_ key: PublicKey) -> Hetool_V1_PublicKey {
        var message = Hetool_V1_PublicKey()
        message.b = PackedResidues.message(key.b)
        message.a = PackedResidues.message(key.a)
        return message
    }

    static func message(_ key: KeySwitchKey) -> Hetool_V1_KeySwitchKey {
        var message = Hetool_V1_KeySwitchKey()
        message.digitCount = UInt32(key.digitCount)
        message.limbCount = UInt32(key.context.keyBasis.count)
        message.b = PackedResidues.pack(key.b)
        if let seed = key.seed {
            message.aSeed = Data(seed.bytes)
        } else {
            message.a = PackedResidues.pack(key.a)
        }
        return message
    }
}
