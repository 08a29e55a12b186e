import CKKS
import Foundation
import TileTensors

/// The client's side of the flow: a profile and the secret key made for it. It makes the
/// evaluation keys, encrypts packed inputs and decrypts results; every pairing (key and
/// profile, result and plan) is checked here, with an error naming both sides.
public struct ClientSession {
    public let profile: ClientProfile
    public let secretKey: SecretKey

    /// A session of `profile` and `secretKey`.
    /// - Throws: `CompilerError.mismatch` when the key was made for other parameters.
    public init(profile: ClientProfile, secretKey: SecretKey, keySource: String = "the secret key") throws {
        guard secretKey.context.parameters == profile.parameters else {
            throw CompilerError.mismatch("\(keySource) was made for other parameters than the profile's (model '\(profile.modelName)'); make keys for this profile with `he-tool keygen --profile`")
        }
        self.profile = profile
        self.secretKey = secretKey
    }

    /// A session with a fresh secret key (from the system CSPRNG) for `profile`.
    public static func withNewKey(profile: ClientProfile) throws -> ClientSession {
        let context = try CKKSContext(parameters: profile.parameters)
        return try ClientSession(profile: profile, secretKey: KeyGenerator(context: context).secretKey())
    }

    /// The session of the profile and secret key at these paths; errors name the files.
    public static func open(profile profilePath: String, secretKey keyPath: String) throws -> ClientSession {
        let profile = try FlowFile.profile(profilePath)
        let context = try CKKSContext(parameters: profile.parameters)
        let data = try FlowFile.bytes(keyPath)
        if let tag = IntegrityFrame.tag(of: data), tag != .secretKey {
            throw CompilerError.mismatch("\(keyPath) holds \(tag.noun), not a secret key")
        }
        let key = try FlowFile.naming(keyPath, mismatch: "\(keyPath) is a secret key for other parameters than \(profilePath)'s; make keys for this profile with `he-tool keygen --profile \(profilePath)`") {
            try CKKSFile.readSecretKey(data, context: context)
        }
        return try ClientSession(profile: profile, secretKey: key, keySource: keyPath)
    }

    /// Evaluation keys for the plan: relinearization, exactly the plan's rotation steps (and the
    /// conjugation under complex packing), and the public key when the plan sanitizes its results.
    public func evaluationKeys() throws -> EvaluationKeys {
        let keygen = KeyGenerator(context: secretKey.context)
        var keys = try keygen.evaluationKeys(for: secretKey, rotations: profile.rotationSteps, conjugation: profile.complexPacking)
        if profile.circuitPrivacy { keys.publicKey = try keygen.publicKey(for: secretKey) }
        return keys
    }

    /// Any number of samples in groups of the plan's images per evaluation, in order (the last group may be
    /// partly filled): one `encrypt` each, numbered for `EncryptedTensorGroups`.
    public func encryptGroups(_ samples: [[Double]]) throws -> [EncryptedTensorFile] {
        var groups: [EncryptedTensorFile] = []
        try encryptGroups(samples) { groups.append($0) }
        return groups
    }

    /// `encryptGroups` handing each group to `body` as soon as it is made (a file written group
    /// by group holds one group in memory).
    public func encryptGroups(_ samples: [[Double]], _ body: (EncryptedTensorFile) throws -> Void) throws {
        guard !samples.isEmpty else { throw CompilerError.mismatch("no images given") }
        let size = profile.imagesPerEvaluation
        let count = (samples.count + size - 1) / size
        guard count <= EncryptedTensorFile.maximumGroups else {
            throw CompilerError.mismatch("\(samples.count) images make \(count) groups of \(size); one file holds at most \(EncryptedTensorFile.maximumGroups): split them over several files")
        }
        for g in 0..<count {
            try body(try encrypt(Array(samples[(g * size)..<min(samples.count, (g + 1) * size)]), group: g, groups: count))
        }
    }

    /// Packs preprocessed samples (C·H·W each, at most the plan's images per evaluation) in the
    /// plan's input layout and encrypts them symmetrically (seeded ciphertexts: half the
    /// upload), as group `group` of a file of `groups`. Under complex packing the first `batch`
    /// samples are the slots' real parts and the next ones their imaginary parts.
    public func encrypt(_ samples: [[Double]], group: Int = 0, groups: Int = 1) throws -> EncryptedTensorFile {
        guard (1...profile.imagesPerEvaluation).contains(samples.count) else {
            throw CompilerError.mismatch("\(samples.count) images given; this plan carries 1 … \(profile.imagesPerEvaluation) per ciphertext (compile with --batch or --objective throughput for more)")
        }
        let size = profile.inputShape.reduce(1, *)
        guard samples.allSatisfy({ $0.count == size }) else {
            throw CompilerError.mismatch("a sample does not have the \(size) values of the profile's input \(profile.inputShape)")
        }
        var padded = samples.map { profile.inputPacking?.apply($0) ?? $0 }
        let packedSize = profile.packedShape.reduce(1, *)
        while padded.count < profile.imagesPerEvaluation { padded.append([Double](repeating: 0, count: packedSize)) }
        let backend = CKKSBackend(context: secretKey.context, keys: nil, encryptor: Encryptor(secretKey: secretKey),
                                  complexPacking: profile.complexPacking)
        let tensor = try ChainExecution.inputTiles(padded, shape: profile.packedShape, layout: profile.inputLayout,
                                                   complexPacking: profile.complexPacking, backend: backend)
        return try EncryptedTensorFile(tensor, planFingerprint: profile.planFingerprint, stage: .input, images: samples.count,
                                       group: group, groups: groups)
    }

    /// The outputs of each image, decrypted and mapped as the profile says (rounded).
    public func decrypt(_ file: EncryptedTensorFile, source: String = "the result") throws -> [[Double]] {
        guard file.planFingerprint == profile.planFingerprint else {
            throw CompilerError.mismatch("\(source) was computed for another plan than the profile's (model '\(profile.modelName)')")
        }
        guard file.stage == .output else {
            throw CompilerError.mismatch("\(source) is an encrypted input, not an evaluation result; run `he-tool eval` on it first")
        }
        guard file.images <= profile.imagesPerEvaluation else {
            throw CompilerError.invalidFile("\(source) claims \(file.images) images; the plan carries \(profile.imagesPerEvaluation)")
        }
        guard file.layout == profile.outputLayout else {
            throw CompilerError.mismatch("\(source) has layout \(file.layout), the profile's output layout is \(profile.outputLayout)")
        }
        let backend = CKKSBackend(context: secretKey.context, keys: nil, encryptor: nil, decryptor: Decryptor(secretKey: secretKey),
                                  complexPacking: profile.complexPacking)
        let scores = try ChainExecution.outputSamples(file.tensor(backend: backend, source: source), complexPacking: profile.complexPacking,
                                                      images: file.images) { profile.scores(fromOutput: $0, images: $1) }
        // A scale or a residue damaged in a way that still parses can decode to NaN or ±∞:
        // never print such a number as a result.
        guard scores.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            throw CompilerError.invalidFile("\(source) decrypts to values that are not finite numbers: it is damaged or was not made with this key; evaluate again")
        }
        return scores
    }

    /// The result file at `path`, decrypted (`decrypt(_:source:)`): every group's images in order.
    public func decrypt(path: String) throws -> [[Double]] {
        var scores: [[Double]] = []
        try EncryptedTensorGroups.forEach(path: path) { group in
            scores += try decrypt(group, source: group.groups > 1 ? "\(path), group \(group.group + 1)" : path)
        }
        return scores
    }

    /// Writes the secret key (owner-only) and the evaluation keys: both files or neither, each
    /// through a temporary file renamed into place. The Galois keys are made and written one at
    /// a time (`CKKSFile.stageEvaluationKeys`), so a key set larger than memory can be made.
    /// `progress(done, total)` is called after each Galois key. Returns the evaluation keys'
    /// size in bytes.
    @discardableResult
    public func writeKeys(secretKey secretPath: String, evaluationKeys keysPath: String,
                          progress: (Int, Int) -> Void = { _, _ in }) throws -> Int {
        let keygen = KeyGenerator(context: secretKey.context)
        let elements = keygen.galoisElements(rotations: profile.rotationSteps, conjugation: profile.complexPacking)
        var done = 0
        let (stagedKeys, size) = try CKKSFile.stageEvaluationKeys(
            to: URL(fileURLWithPath: keysPath), context: secretKey.context,
            relinearization: try keygen.relinearizationKey(for: secretKey),
            publicKey: profile.circuitPrivacy ? try keygen.publicKey(for: secretKey) : nil,
            galoisElements: elements) { g in
                defer { done += 1; progress(done, elements.count) }
                return try keygen.galoisKey(element: g, for: secretKey)
            }
        var secretBytes = try CKKSFile.serialize(secretKey)
        defer { secretBytes.withUnsafeMutableBytes { if let base = $0.baseAddress { explicit_bzero(base, $0.count) } } }
        let stagedSecret = try StagedFile(secretBytes, to: URL(fileURLWithPath: secretPath), ownerOnly: true)
        try StagedFile.commitAll([stagedKeys, stagedSecret])
        return size
    }
}
