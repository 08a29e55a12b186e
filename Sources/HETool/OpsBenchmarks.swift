import CKKS
import HEMath

/// The timed bodies of `bench ops`, in the order and with the keys of shared/bench.
enum OpsBenchmarks {
    /// Every timed key, in order.
    static let keys: Set<String> = ["keygen", "encode", "encrypt_pk", "encrypt_sk", "decrypt", "decode", "add",
                                    "mul_plain", "mul_relin", "relin", "rescale", "rotate", "rotate_hoisted_8"]

    /// Times the operations (all, or those in `only`) and records the object sizes.
    static func run(parameters: CKKSParameters, reps: Int, only: Set<String>? = nil,
                    into report: inout BenchReport) throws {
        let context = try CKKSContext(parameters: parameters)
        let level = context.maxLevel
        let scale = parameters.scale
        var rng = SystemRandomNumberGenerator()
        let a = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
        let b = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
        var failure: Error?
        func time(_ key: String, reps: Int = reps, _ body: () throws -> Void) {
            precondition(OpsBenchmarks.keys.contains(key), "benchmark key \(key) missing from OpsBenchmarks.keys")
            if let only, !only.contains(key) { return }
            report.rows.append((key, Stopwatch.measure(reps: reps) {
                do { try body() } catch { failure = failure ?? error }
            }))
        }

        let keygen = KeyGenerator(context: context)
        let keygenReps = max(1, min(reps, 10))
        time("keygen", reps: keygenReps) { _ = try keygen.publicKey(for: keygen.secretKey()) }
        let sk = keygen.secretKey()
        let pk = try keygen.publicKey(for: sk)
        let hoistedSteps = Array(1...8)
        let keys = try keygen.evaluationKeys(for: sk, rotations: hoistedSteps)
        let encoder = Encoder(context: context)
        let publicEncryptor = Encryptor(publicKey: pk)
        let symmetricEncryptor = Encryptor(secretKey: sk)
        let decryptor = Decryptor(secretKey: sk)
        let evaluator = Evaluator(context: context, keys: keys)

        time("encode") { _ = try encoder.encode(a, scale: scale, level: level) }
        let pa = try encoder.encode(a, scale: scale, level: level)
        let pb = try encoder.encode(b, scale: scale, level: level)
        time("encrypt_pk") { _ = try publicEncryptor.encrypt(pa) }
        time("encrypt_sk") { _ = try symmetricEncryptor.encrypt(pa) }
        let ca = try publicEncryptor.encrypt(pa)
        let cb = try publicEncryptor.encrypt(pb)
        time("decrypt") { _ = try decryptor.decrypt(ca) }
        let decrypted = try decryptor.decrypt(ca)
        time("decode") { _ = try encoder.decode(decrypted) }
        time("add") { _ = try evaluator.add(ca, cb) }
        time("mul_plain") { _ = try evaluator.multiply(ca, pb) }
        time("mul_relin") { _ = try evaluator.multiply(ca, cb) }
        let product3 = try evaluator.multiplyWithoutRelinearization(ca, cb)
        time("relin") { _ = try evaluator.relinearize(product3) }
        let product = try evaluator.relinearize(product3)
        time("rescale") { _ = try evaluator.rescale(product) }
        time("rotate") { _ = try evaluator.rotate(ca, by: 1) }
        time("rotate_hoisted_8") { _ = try evaluator.rotations(of: ca, by: hoistedSteps) }
        if let failure { throw failure }

        // Sizes of the files a client uploads and downloads.
        let oneGalois = EvaluationKeys(context: context, relinearization: nil,
                                       galois: keys.galois.filter { $0.key == context.galoisElement(forStep: 1) })
        let relinOnly = EvaluationKeys(context: context, relinearization: keys.relinearization, galois: [:])
        report.sizes = [
            ("ciphertext", try CKKSFile.serialize(ca).count),
            ("ciphertext_seeded", try CKKSFile.serialize(symmetricEncryptor.encrypt(pa)).count),
            ("relin_key", try CKKSFile.serialize(relinOnly).count),
            ("galois_key", try CKKSFile.serialize(oneGalois).count),
        ]

        // Sanity: the timed pipeline decrypts correctly (as seal_ops.py checks).
        let check = try evaluator.rotate(evaluator.rescale(product), by: 1)
        let got = try encoder.decode(decryptor.decrypt(check))
        let slots = context.slotCount
        let worst = (0..<slots).map { abs(got[$0] - a[($0 + 1) % slots] * b[($0 + 1) % slots]) }.max()!
        guard worst < 1e-3 else {
            throw CKKSError.outOfRange("benchmark sanity check failed: largest error \(worst)")
        }
        report.notes.append(String(format: "sanity: rotate(rescale(a·b), 1) decrypts within %.2e of the plain result", worst))
    }
}
