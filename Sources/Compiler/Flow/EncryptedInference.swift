import CKKS
import Foundation
import TileTensors

/// The encrypted flow on both sides: the client makes keys, encrypts packed inputs and decrypts
/// outputs with a profile; the server evaluates a compiled model on an encrypted input with
/// evaluation keys only. Every pairing of files is checked first, with an error naming both.
public enum EncryptedInference {
    // MARK: client

    /// Evaluation keys for a profile: relinearization and exactly the plan's rotation steps.
    public static func evaluationKeys(profile: ClientProfile, secretKey: SecretKey) throws -> EvaluationKeys {
        let keygen = KeyGenerator(context: secretKey.context)
        var keys = try keygen.evaluationKeys(for: secretKey, rotations: profile.rotationSteps)
        if profile.circuitPrivacy { keys.publicKey = try keygen.publicKey(for: secretKey) }
        return keys
    }

    /// Packs preprocessed samples (C·H·W each, at most the plan's batch) in the plan's input
    /// layout and encrypts them symmetrically (seeded ciphertexts: half the upload).
    public static func encrypt(_ samples: [[Double]], profile: ClientProfile, secretKey: SecretKey) throws -> EncryptedTensorFile {
        guard secretKey.context.parameters == profile.parameters else {
            throw CompilerError.mismatch("the secret key was made for other parameters than the profile's; run `he-tool keygen --profile` with this profile")
        }
        guard (1...profile.batch).contains(samples.count) else {
            throw CompilerError.mismatch("\(samples.count) images given; this plan carries 1 … \(profile.batch) per ciphertext (compile with --batch or --objective throughput for more)")
        }
        let size = profile.inputShape.reduce(1, *)
        guard samples.allSatisfy({ $0.count == size }) else {
            throw CompilerError.mismatch("a sample does not have the \(size) values of the profile's input \(profile.inputShape)")
        }
        var padded = samples.map { profile.inputPacking?.apply($0) ?? $0 }
        let packedSize = profile.packedShape.reduce(1, *)
        while padded.count < profile.batch { padded.append([Double](repeating: 0, count: packedSize)) }
        let context = secretKey.context
        let backend = CKKSBackend(context: context, keys: nil, encryptor: Encryptor(secretKey: secretKey))
        let tensor = try TileTensor(encrypting: ChainExecution.inputTensor(padded, shape: profile.packedShape),
                                    shape: profile.inputLayout, backend: backend)
        return try EncryptedTensorFile(tensor, planFingerprint: profile.planFingerprint, stage: .input, images: samples.count)
    }

    /// The outputs of each image, decrypted and mapped as the profile says (rounded).
    public static func decrypt(_ file: EncryptedTensorFile, profile: ClientProfile, secretKey: SecretKey,
                               source: String = "the result") throws -> [[Double]] {
        guard file.planFingerprint == profile.planFingerprint else {
            throw CompilerError.mismatch("\(source) was computed for another plan than the profile's (model '\(profile.modelName)')")
        }
        guard file.stage == .output else {
            throw CompilerError.mismatch("\(source) is an encrypted input, not an evaluation result; run `he-tool eval` on it first")
        }
        guard secretKey.context.parameters == profile.parameters else {
            throw CompilerError.mismatch("the secret key was made for other parameters than the profile's")
        }
        guard file.images <= profile.batch else {
            throw CompilerError.invalidFile("\(source) claims \(file.images) images; the plan carries \(profile.batch)")
        }
        guard file.layout == profile.outputLayout else {
            throw CompilerError.mismatch("\(source) has layout \(file.layout), the profile's output layout is \(profile.outputLayout)")
        }
        let backend = CKKSBackend(context: secretKey.context, keys: nil, encryptor: nil, decryptor: Decryptor(secretKey: secretKey))
        let tensor = try file.tensor(backend: backend, source: source).decrypt()
        let scores = profile.scores(fromOutput: tensor, images: file.images)
        // A scale or a residue damaged in a way that still parses can decode to NaN or ±∞:
        // never print such a number as a result.
        guard scores.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            throw CompilerError.invalidFile("\(source) decrypts to values that are not finite numbers: it is damaged or was not made with this key; evaluate again")
        }
        return scores
    }

    // MARK: server

    /// Checks that evaluation keys serve a compiled model: its parameters, a relinearization key
    /// when the plan multiplies ciphertexts, and every rotation step of the plan.
    public static func checkKeys(_ keys: EvaluationKeys, model: CompiledModel, source: String = "the evaluation keys") throws {
        guard keys.context.parameters == model.parameters else {
            throw CompilerError.mismatch("\(source) were made for other parameters than the model's; make them with `he-tool keygen --profile` and this model's client profile")
        }
        guard keys.relinearization != nil else {
            throw CompilerError.mismatch("\(source) have no relinearization key")
        }
        if model.circuitPrivacy != nil, keys.publicKey == nil {
            throw CompilerError.mismatch("\(source) hold no public key, and model '\(model.modelName)' sanitizes its results with one (compiled with --circuit-privacy); make them again with `he-tool keygen --profile` and this model's client profile")
        }
        let missing = model.rotationSteps.filter { keys.galois[keys.context.galoisElement(forStep: $0)] == nil }
        guard missing.isEmpty else {
            throw CompilerError.mismatch("\(source) lack the Galois keys for rotations \(missing.prefix(8).map(String.init).joined(separator: ", "))\(missing.count > 8 ? " …" : "") that model '\(model.modelName)' uses; make them with `he-tool keygen` and this model's client profile")
        }
    }

    /// Evaluates the model on an encrypted input. `progress(step, finished)` is called before
    /// and after each step.
    public static func evaluate(_ input: EncryptedTensorFile, model: CompiledModel, keys: EvaluationKeys,
                                source: String = "the encrypted input",
                                progress: (Int, Bool) -> Void = { _, _ in }) throws -> EncryptedTensorFile {
        guard input.planFingerprint == model.planFingerprint else {
            throw CompilerError.mismatch("\(source) was packed for another plan than model '\(model.modelName)' (encrypt it with this model's client profile)")
        }
        guard input.stage == .input else {
            throw CompilerError.mismatch("\(source) is already an evaluation result, not an encrypted input")
        }
        guard input.images <= model.batch else {
            throw CompilerError.invalidFile("\(source) claims \(input.images) images; model '\(model.modelName)' carries \(model.batch) per evaluation")
        }
        guard input.layout == model.inputLayout else {
            throw CompilerError.mismatch("\(source) has layout \(input.layout), the model reads \(model.inputLayout)")
        }
        try checkKeys(keys, model: model)
        let backend = CKKSBackend(context: keys.context, keys: keys, encryptor: nil)
        let fresh = try input.tensor(backend: backend, source: source)
        guard fresh.level == model.parameters.maxLevel else {
            throw CompilerError.invalidFile("\(source) is at level \(fresh.level); a fresh input is at level \(model.parameters.maxLevel)")
        }
        // Each branch's ciphertexts are released once the last step reading them has run.
        var x = try ChainExecution.run(model.steps, input: fresh, tilings: model.stepTilings,
                                       willRun: { progress($0, false) }, didRun: { progress($0.index, true) })
        guard x.shape == model.outputLayout else {
            throw CompilerError.invalidFile("the evaluation ended in layout \(x.shape), the plan says \(model.outputLayout) (the model file is inconsistent)")
        }
        if let privacy = model.circuitPrivacy {
            x = try sanitized(x, privacy: privacy, images: input.images, keys: keys, modelName: model.modelName)
        }
        return try EncryptedTensorFile(x, planFingerprint: model.planFingerprint, stage: .output, images: input.images)
    }
}
