import CKKS
import Foundation
import HEMath
import TileTensors

/// The server's side of the flow: a compiled model, the client's evaluation keys (never a
/// secret key) and an execution policy (the threads it may use). It evaluates encrypted inputs
/// of the model's plan; the pairing of model and keys is checked once, when the session is made,
/// and each input's pairing with the plan when it is evaluated.
public struct EvaluationSession {
    public let model: CompiledModel
    public let keys: EvaluationKeys
    public let policy: ExecutionPolicy
    /// The most bytes of encoded weight plaintexts a step keeps for re-use
    /// (`TensorBackend.plaintextCacheBytes`; default 1 GiB). Smaller saves memory and costs
    /// encodes; the result is the same bits.
    public var plaintextCacheBytes = TensorBackendDefaults.plaintextCacheBytes

    /// A session of `model` and `keys`.
    /// - Throws: `CompilerError.mismatch` when the keys do not serve the model (`check`).
    public init(model: CompiledModel, keys: EvaluationKeys, policy: ExecutionPolicy = .allCores,
                keysSource: String = "the evaluation keys") throws {
        try Self.check(keys, serve: model, source: keysSource)
        self.model = model
        self.keys = keys
        self.policy = policy
    }

    /// The session of the model and evaluation keys at these paths; errors name the files.
    /// With `keyMemoryBytes` the Galois keys stay in their file and are read when a step needs
    /// them, at most that many bytes of them in memory at once (`GaloisKeyStore`).
    public static func open(model modelPath: String, evaluationKeys keysPath: String, policy: ExecutionPolicy,
                            keyMemoryBytes: Int? = nil) throws -> EvaluationSession {
        let model = try FlowFile.model(modelPath)
        let context = try CKKSContext(parameters: model.parameters)
        let keys: EvaluationKeys
        // A key file larger than one he-tool file read whole (written by `keygen` one key at a
        // time) is always read key by key.
        var status = stat()
        let large = stat(keysPath, &status) == 0 && Int(status.st_size) > CKKSFile.maximumFileSize
        if let keyMemoryBytes = keyMemoryBytes ?? (large ? defaultKeyMemoryBytes : nil) {
            keys = try FlowFile.naming(keysPath, mismatch: "\(keysPath) holds evaluation keys for other parameters than \(modelPath); make them with `he-tool keygen` and that model's client profile") {
                try CKKSFile.openEvaluationKeys(path: keysPath, context: context, residentBytes: keyMemoryBytes,
                                                readThreads: policy.threads)
            }
        } else {
            keys = try FlowFile.evaluationKeys(path: keysPath, context: context, modelPath: modelPath)
        }
        return try EvaluationSession(model: model, keys: keys, policy: policy, keysSource: keysPath)
    }

    /// The Galois keys kept in memory when a key file too large to read whole is opened without
    /// a stated budget: a quarter of the machine's memory (at least one key is kept).
    public static var defaultKeyMemoryBytes: Int { Int(ProcessInfo.processInfo.physicalMemory / 4) }

    /// Checks that evaluation keys serve a compiled model: its parameters, a relinearization key,
    /// every rotation step of the plan, and the public key when the plan sanitizes its results.
    public static func check(_ keys: EvaluationKeys, serve model: CompiledModel, source: String = "the evaluation keys") throws {
        guard keys.context.parameters == model.parameters else {
            throw CompilerError.mismatch("\(source) were made for other parameters than the model's; make them with `he-tool keygen --profile` and this model's client profile")
        }
        guard keys.relinearization != nil else {
            throw CompilerError.mismatch("\(source) have no relinearization key")
        }
        if model.circuitPrivacy != nil, keys.publicKey == nil {
            throw CompilerError.mismatch("\(source) hold no public key, and model '\(model.modelName)' sanitizes its results with one (compiled with --circuit-privacy); make them again with `he-tool keygen --profile` and this model's client profile")
        }
        let missing = model.rotationSteps.filter { !keys.hasGaloisKey(keys.context.galoisElement(forStep: $0)) }
        guard missing.isEmpty else {
            throw CompilerError.mismatch("\(source) lack the Galois keys for rotations \(missing.prefix(8).map(String.init).joined(separator: ", "))\(missing.count > 8 ? " …" : "") that model '\(model.modelName)' uses; make them with `he-tool keygen` and this model's client profile")
        }
        if model.complexPacking, !keys.hasGaloisKey(keys.context.conjugationElement) {
            throw CompilerError.mismatch("\(source) lack the conjugation key that model '\(model.modelName)' uses (it packs two images per slot); make them with `he-tool keygen` and this model's client profile")
        }
    }

    /// Evaluates the model on an encrypted input under the session's policy. `progress(step,
    /// finished)` is called before and after each step. Each step's output is checked against
    /// the layout the plan says it writes.
    public func evaluate(_ input: consuming EncryptedTensorFile, source: String = "the encrypted input",
                         progress: (Int, Bool) -> Void = { _, _ in }) throws -> EncryptedTensorFile {
        guard input.planFingerprint == model.planFingerprint else {
            throw CompilerError.mismatch("\(source) was packed for another plan than model '\(model.modelName)' (encrypt it with this model's client profile)")
        }
        guard input.stage == .input else {
            throw CompilerError.mismatch("\(source) is already an evaluation result, not an encrypted input")
        }
        guard input.images <= model.imagesPerEvaluation else {
            throw CompilerError.invalidFile("\(source) claims \(input.images) images; model '\(model.modelName)' carries \(model.imagesPerEvaluation) per evaluation")
        }
        guard input.layout == model.inputLayout else {
            throw CompilerError.mismatch("\(source) has layout \(input.layout), the model reads \(model.inputLayout)")
        }
        let (images, group, groups) = (input.images, input.group, input.groups)
        // Handed to `freshInput`, which drops the file's bytes once its ciphertexts are read.
        var pending: EncryptedTensorFile? = consume input
        return try policy.run {
            let backend = CKKSBackend(context: keys.context, keys: keys, encryptor: nil, complexPacking: model.complexPacking)
            backend.plaintextCacheBytes = plaintextCacheBytes
            let planned = model.plan.steps
            // Each branch's ciphertexts are released once the last step reading them has run
            // (the input's too: no binding here keeps it alive for the whole run).
            var x = try ChainExecution.run(model.steps, input: freshInput(pending.take()!, backend: backend, source: source), tilings: model.stepTilings,
                                           chunks: model.stepChunks,
                                           willRun: { progress($0, false) },
                                           didRun: { trace in
                // A step inside a chunked segment has no output of its own (the segment's last step's is checked).
                guard trace.fused || trace.output.shape == planned[trace.index].outputLayout else {
                    throw CompilerError.invalidFile("step \(trace.index) (\(planned[trace.index].structure)) wrote layout \(trace.output.shape), the plan says \(planned[trace.index].outputLayout) (the model file is inconsistent; compile it again)")
                }
                progress(trace.index, true)
            })
            guard x.shape == model.outputLayout else {
                throw CompilerError.invalidFile("the evaluation ended in layout \(x.shape), the plan says \(model.outputLayout) (the model file is inconsistent)")
            }
            if let privacy = model.circuitPrivacy {
                x = try Self.sanitized(x, privacy: privacy, images: images, keys: keys, modelName: model.modelName)
            }
            return try EncryptedTensorFile(x, planFingerprint: model.planFingerprint, stage: .output, images: images,
                                           group: group, groups: groups)
        }
    }

    /// The input's ciphertexts, checked to be fresh (at the top level). Consuming: the file's
    /// bytes are released on return, before the first step.
    private func freshInput(_ input: consuming EncryptedTensorFile, backend: CKKSBackend, source: String) throws -> TileTensor<CKKSBackend> {
        let fresh = try (consume input).tensor(backend: backend, source: source)
        guard fresh.level == model.parameters.maxLevel else {
            throw CompilerError.invalidFile("\(source) is at level \(fresh.level); a fresh input is at level \(model.parameters.maxLevel)")
        }
        return fresh
    }

    /// Evaluates every group of the input file at `inputPath` in order (one group in memory at a
    /// time) and writes the results, as groups in the same order, at `outputPath` (each result
    /// appended to a temporary file as it is made, renamed into place once all are).
    /// `group(g, count)` is called before group g. Returns the result's size in bytes.
    @discardableResult
    public func evaluate(inputPath: String, outputPath: String, group: (Int, Int) -> Void = { _, _ in },
                         progress: (Int, Bool) -> Void = { _, _ in }) throws -> Int {
        var size = 0
        let staged = try StagedFile(to: URL(fileURLWithPath: outputPath), ownerOnly: false) { writer in
            // The frames read under the session's policy too (their pages faulted in on its threads).
            try policy.run { try EncryptedTensorGroups.forEach(path: inputPath) { input in
                group(input.group, input.groups)
                let result = try evaluate(input, source: input.groups > 1 ? "\(inputPath), group \(input.group + 1)" : inputPath,
                                          progress: progress)
                try writer.append(try result.serialized())
            } }
            size = writer.count
        }
        try staged.commit()
        return size
    }
}
