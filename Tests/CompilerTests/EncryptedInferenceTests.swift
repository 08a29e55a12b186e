import CKKS
import Foundation
import HEMath
import Model
import TileTensors
import XCTest
@testable import Compiler

/// The encrypted flow end to end on the bundled models: compile, the files through their
/// serialized form, keys, encryption, evaluation with evaluation keys only, decryption — the
/// decrypted logits equal the plaintext executor's to 1e-3 relative and the classes agree.
final class EncryptedInferenceTests: XCTestCase {
    struct Client {
        var profile: ClientProfile
        var secretKey: SecretKey
        var keys: EvaluationKeys
    }

    /// Profile and model read back from their bytes, fresh keys.
    func setUp(_ c: Compilation) throws -> (CompiledModel, Client) {
        let model = try CompiledModel.read(try c.model.serialized())
        let profile = try ClientProfile.read(try c.profile.serialized())
        XCTAssertEqual(model.planFingerprint, profile.planFingerprint)
        let context = try CKKSContext(parameters: profile.parameters)
        let sk = KeyGenerator(context: context).secretKey()
        let keys = try ClientSession(profile: profile, secretKey: sk).evaluationKeys()
        return (model, Client(profile: profile, secretKey: sk, keys: keys))
    }

    /// Encrypts `samples` (≤ batch), evaluates, decrypts, and compares with the plaintext executor.
    func check(_ graph: Graph, _ samples: [[Double]], model: CompiledModel, client: Client, label: String,
               relative: Double = 1e-3) throws -> (agree: Int, worst: Double) {
        let input = try EncryptedTensorFile.read(try ClientSession(profile: client.profile, secretKey: client.secretKey).encrypt(samples).serialized())
        let output = try EncryptedTensorFile.read(try EvaluationSession(model: model, keys: client.keys).evaluate(input).serialized())
        let decrypted = try ClientSession(profile: client.profile, secretKey: client.secretKey).decrypt(output)
        XCTAssertEqual(decrypted.count, samples.count)
        var agree = 0, worst = 0.0
        for (i, sample) in samples.enumerated() {
            let want = try FlowFixtures.plainLogits(graph, sample)
            let scale = max(1, want.map(abs).max()!)
            let error = zip(decrypted[i], want).map { abs($0 - $1) }.max()! / scale
            worst = max(worst, error)
            XCTAssertLessThanOrEqual(error, relative, "\(label) image \(i): decrypted \(decrypted[i]) vs plaintext \(want)")
            if FlowFixtures.argmax(decrypted[i]) == FlowFixtures.argmax(want) { agree += 1 }
        }
        return (agree, worst)
    }

    /// A plan over the memory limit whole is fitted by chunking (`Optimizer.chunkedToFit`): its
    /// estimate falls, its layouts and levels stay, the chunks survive the model file, and it
    /// evaluates to the plaintext executor's logits.
    func testChunkedPlanFitsTheMemoryLimitAndEvaluates() throws {
        let (graph, c, images) = try FlowFixtures.compile("mnist", batch: 4)
        let whole = c.plans[0]
        let weightCount = c.chain.steps.reduce(0) { $0 + $1.weightCount }
        let wholeBytes = whole.leastMemoryBytes(weightCount: weightCount)
        let priced = try FlowFixtures.costModel(whole.choice)
        let top = whole.choice.parameters.maxLevel
        let fitted = try XCTUnwrap(Optimizer.chunkedToFit(whole, chain: c.chain, limit: wholeBytes - 1, weightCount: weightCount) { sim in
            try sim.steps.map { step in try step.countsByDepth.reduce(0.0) { $0 + (try priced.microseconds($1.value, level: top - $1.key)) } }
        }, "the bundled MNIST model's throughput plan has a chunkable segment")
        XCTAssertTrue(fitted.simulation.chunks.contains { $0 > 1 }, "\(fitted.simulation.chunks)")
        XCTAssertLessThan(fitted.leastMemoryBytes(weightCount: weightCount), wholeBytes)
        XCTAssertEqual(fitted.simulation.steps.map(\.outputLayout), whole.simulation.steps.map(\.outputLayout))
        XCTAssertEqual(fitted.simulation.steps.map(\.depthAfter), whole.simulation.steps.map(\.depthAfter))
        // The same keys at the same levels, each read once (a segment's by its first step).
        let p = whole.choice.parameters
        func keyBytes(_ s: ChainSimulation) -> Int { s.steps.indices.reduce(0) { $0 + s.keyBytes(step: $1, parameters: p) } }
        XCTAssertEqual(keyBytes(fitted.simulation), keyBytes(whole.simulation))
        XCTAssertGreaterThan(keyBytes(whole.simulation), 0)
        var chunked = c
        (chunked.model, chunked.profile) = try Compilation.files(for: fitted, chain: c.chain, graph: graph, name: "mnist")
        let (model, client) = try setUp(chunked)
        XCTAssertEqual(model.stepChunks, fitted.simulation.chunks)
        let (agree, _) = try check(graph, images.prefix(3).map { $0.tensor.values }, model: model, client: client, label: "chunked plan")
        XCTAssertEqual(agree, 3)
    }

    /// The same plan with two images per slot (complex packing): the profile says so, the keys
    /// hold the conjugation, 6 images (3 in the real parts, 3 in the imaginary parts of a
    /// batch-4 layout) come back in order, each within 1e-3 of the plaintext executor and of
    /// the one-image-per-slot plan's decryption.
    func testComplexPackingGivesTheRealLayoutsLogits() throws {
        let (graph, c, images) = try FlowFixtures.compile("mnist", batch: 4)
        let real = c.plans[0]
        XCTAssertFalse(real.simulation.complexPacking)
        let simulation = try ChainSimulation.run(c.chain, tilings: real.simulation.tilings, batch: real.batch,
                                                 logScale: real.simulation.planningScaleBits, levels: real.simulation.planningLevels,
                                                 complexPacking: true)
        XCTAssertEqual(simulation.steps.map(\.depthAfter), real.simulation.steps.map(\.depthAfter))
        XCTAssertEqual(simulation.rotationSteps, real.simulation.rotationSteps)
        // Each product of ciphertexts (the activations) adds a conjugation per operand (a key
        // switch, counted with the relinearizations).
        func relins(_ s: ChainSimulation) -> Int { s.steps.reduce(0) { $0 + $1.totalCounts.relinearizations } }
        XCTAssertGreaterThan(relins(simulation), relins(real.simulation))
        let complex = Optimizer.Candidate(simulation: simulation, choice: real.choice, stepMicroseconds: real.stepMicroseconds, batch: real.batch)
        XCTAssertEqual(complex.images, 2 * real.images)
        var packed = c
        (packed.model, packed.profile) = try Compilation.files(for: complex, chain: c.chain, graph: graph, name: "mnist")
        let (model, client) = try setUp(packed)
        XCTAssertTrue(model.complexPacking)
        XCTAssertEqual(client.profile.imagesPerEvaluation, 2 * real.batch)
        XCTAssertTrue(client.keys.hasGaloisKey(client.keys.context.conjugationElement))
        let samples = Array((images + images).prefix(6)).map { $0.tensor.values }
        XCTAssertEqual(samples.count, 6)
        let (agree, _) = try check(graph, samples, model: model, client: client, label: "complex packing")
        XCTAssertEqual(agree, 6)
        // Against the one-image-per-slot plan, image by image.
        let (realModel, realClient) = try setUp(c)
        func decrypted(_ model: CompiledModel, _ client: Client, _ samples: [[Double]]) throws -> [[Double]] {
            let session = try ClientSession(profile: client.profile, secretKey: client.secretKey)
            let y = try EvaluationSession(model: model, keys: client.keys).evaluate(try session.encrypt(samples))
            return try session.decrypt(y)
        }
        let a = try decrypted(model, client, samples)
        let b = try decrypted(realModel, realClient, Array(samples[0..<3])) + decrypted(realModel, realClient, Array(samples[3...]))
        for i in samples.indices {
            let scale = max(1, b[i].map(abs).max()!)
            XCTAssertLessThanOrEqual(zip(a[i], b[i]).map { abs($0 - $1) }.max()! / scale, 1e-3, "image \(i): \(a[i]) vs \(b[i])")
        }
        // Keys without the conjugation do not serve the packed model.
        let context = try CKKSContext(parameters: model.parameters)
        let plainKeys = try KeyGenerator(context: context).evaluationKeys(for: client.secretKey, rotations: model.rotationSteps)
        XCTAssertThrowsError(try EvaluationSession(model: model, keys: plainKeys)) { error in
            XCTAssertTrue("\(error)".contains("conjugation"), "\(error)")
        }
    }

    func testMNISTBundledImagesOneAtATime() throws {
        let (graph, c, images) = try FlowFixtures.compile("mnist")
        XCTAssertEqual(c.model.batch, 1)
        let (model, client) = try setUp(c)
        for image in images {
            let (agree, _) = try check(graph, [image.tensor.values], model: model, client: client, label: image.name)
            XCTAssertEqual(agree, 1, image.name)
        }
    }

    func testMNISTFirst200TestImagesInOneBatch() throws {
        let folder = try FlowFixtures.dataFolder("mnist")
        let g = try FlowFixtures.graph("mnist")
        let samples = try InputLoader.load(folder.appendingPathComponent("t10k-images-idx3-ubyte.gz"), sampleShape: g.inputShape,
                                           preprocessing: Preprocessing.fromMetadata(of: g), limit: 200)
        var options = Optimizer.Options()
        options.batch = 200
        options.searchConversions = false
        let c = try Compilation.compile(g, name: "mnist", options: options, calibrationInputs: samples.prefix(50).map { $0.tensor.values },
                                        costModel: FlowFixtures.costModel)
        XCTAssertGreaterThanOrEqual(c.model.batch, 200)
        let (model, client) = try setUp(c)
        let (agree, worst) = try check(g, samples.map { $0.tensor.values }, model: model, client: client, label: "mnist test")
        XCTAssertEqual(agree, 200, "top-1 agreement on the first 200 MNIST test images (worst relative error \(worst))")
    }

    /// The TenSEAL tutorial network leaves partial sums in unknown slots of its output
    /// (`1~?/16`): with circuit privacy the client gets the logits, and every other slot of the
    /// result decrypts to flooding noise only; keys without the public key are refused.
    func testCircuitPrivacyKeepsOnlyTheLogits() throws {
        // Batch 4 with fewer images sent: the padded images' outputs are not read either.
        let (graph, c, images) = try FlowFixtures.compile("tenseal-tutorial", batch: 4, circuitPrivacy: true)
        let privacy = try XCTUnwrap(c.model.circuitPrivacy)
        XCTAssertTrue(c.model.outputLayout.hasUnknowns, "\(c.model.outputLayout)")
        XCTAssertGreaterThan(c.model.parameters.maxLevel, c.plans[0].choice.depth, "the output level keeps several primes")
        let (model, client) = try setUp(c)
        XCTAssertEqual(model.circuitPrivacy, privacy)
        XCTAssertTrue(client.profile.circuitPrivacy)
        XCTAssertNotNil(client.keys.publicKey)
        let keyBytes = try CKKSFile.serialize(client.keys)
        XCTAssertNotNil(try CKKSFile.readEvaluationKeys(keyBytes, context: client.keys.context).publicKey)
        let samples = images.prefix(3).map { $0.tensor.values }
        let (agree, _) = try check(graph, samples, model: model, client: client, label: "circuit privacy")
        XCTAssertEqual(agree, samples.count)

        // Raw slots of the result: the read ones are the logits, all others flooding noise.
        let input = try ClientSession(profile: client.profile, secretKey: client.secretKey).encrypt([samples[0]])
        let output = try EvaluationSession(model: model, keys: client.keys).evaluate(input)
        let backend = CKKSBackend(context: client.secretKey.context, keys: nil, encryptor: nil, decryptor: Decryptor(secretKey: client.secretKey))
        let tiles = try output.tensor(backend: backend, source: "the result").tiles.map { try backend.decryptAndDecode($0) }
        let reads = EvaluationSession.readSlots(model.outputLayout, images: 1)
        var unread: [Double] = []
        for (tile, slots) in zip(tiles, reads) { for (j, v) in tile.enumerated() where !slots.contains(j) { unread.append(v) } }
        XCTAssertLessThan(unread.map(abs).max()!, 16 * pow(2, -Double(privacy.precisionBits)), "unread slots hold more than the flooding")
        let want = try FlowFixtures.plainLogits(graph, samples[0])
        XCTAssertEqual(reads.map(\.count).reduce(0, +), want.count)

        // Keys of the same client without the public key: refused before evaluating.
        var bare = client.keys
        bare.publicKey = nil
        XCTAssertThrowsError(try EvaluationSession(model: model, keys: bare).evaluate(input)) { error in
            XCTAssertTrue("\(error)".contains("public key"), "\(error)")
        }
    }

    func testOtherBundledModels() throws {
        for name in ["fashion-mnist", "cmnist32", "tenseal-tutorial"] {
            let (graph, c, images) = try FlowFixtures.compile(name)
            let (model, client) = try setUp(c)
            let (agree, _) = try check(graph, [images[0].tensor.values], model: model, client: client, label: name)
            XCTAssertEqual(agree, 1, name)
        }
    }

    /// Plans whose steps run in different tilings (converted between them) evaluate exactly as
    /// the plaintext. On the bundled models one tiling now wins, so the test builds such a plan
    /// itself: one tiling up to a step, another from there on (the conversion costs a level, so
    /// the pair is searched in the two smallest rings until one holds the deeper chain).
    func testPlansWithConversionsBetweenTilings() throws {
        let (graph, c, images) = try FlowFixtures.compile("tenseal-tutorial")
        let n = c.chain.steps.count
        var plan: Optimizer.Candidate?
        search: for slots in [8192, 4096] {
            let tilings = InterleavedTiling.enumerate(slots: slots, maxChannelTile: 64, maxImageTile: 16, minimumBatchTile: 1).filter { $0.tB == 1 }
            for a in tilings where a.tX == 16 {
                for b in tilings where b.tX < a.tX {
                    for k in 1..<n {
                        let path = Array(repeating: a, count: k) + Array(repeating: b, count: n - k)
                        guard let simulation = try? ChainSimulation.run(c.chain, tilings: path, batch: 1, logScale: 29, levels: 4 * n + 2),
                              simulation.steps.contains(where: { $0.converted }),
                              let choice = try? ParameterSelection.select(depth: simulation.depth, outputBits: c.outputBits),
                              choice.parameters.slotCount == slots else { continue }
                        plan = Optimizer.Candidate(simulation: simulation, choice: choice, stepMicroseconds: Array(repeating: 1, count: n), batch: 1)
                        break search
                    }
                }
            }
        }
        let converting = try XCTUnwrap(plan, "no plan with a conversion simulates")
        print("conversion test: tilings \(converting.simulation.tilings.map(\.description)), \(converting.choice.preset.name)")
        XCTAssertTrue(converting.simulation.steps.contains { $0.converted })
        let (built, profile) = try Compilation.files(for: converting, chain: c.chain, graph: graph, name: "tenseal-tutorial")
        XCTAssertGreaterThan(Set(built.stepTilings).count, 1)
        let model = try CompiledModel.read(try built.serialized())
        XCTAssertEqual(model.stepTilings, built.stepTilings)
        let context = try CKKSContext(parameters: profile.parameters)
        let sk = KeyGenerator(context: context).secretKey()
        let client = Client(profile: profile, secretKey: sk, keys: try ClientSession(profile: profile, secretKey: sk).evaluationKeys())
        let (agree, _) = try check(graph, [images[0].tensor.values], model: model, client: client, label: "tenseal-tutorial with conversions")
        XCTAssertEqual(agree, 1)
    }

    func testKeysHoldExactlyThePlanRotations() throws {
        let (_, c, _) = try FlowFixtures.compile("tenseal-tutorial")
        let (model, client) = try setUp(c)
        let context = client.secretKey.context
        let bytes = try CKKSFile.serialize(client.keys)
        let keys = try CKKSFile.readEvaluationKeys(bytes, context: context)
        XCTAssertEqual(Set(keys.galois.keys), Set(model.rotationSteps.map { context.galoisElement(forStep: $0) }))
        XCTAssertNotNil(keys.relinearization)
        XCTAssertFalse(model.rotationSteps.isEmpty)
        // A key set without one of them is refused with the step named.
        var partial = keys.galois
        let step = model.rotationSteps[0]
        partial.removeValue(forKey: context.galoisElement(forStep: step))
        let short = EvaluationKeys(context: context, relinearization: keys.relinearization, galois: partial)
        XCTAssertThrowsError(try EvaluationSession.check(short, serve: model)) { error in
            XCTAssertTrue("\(error)".contains("rotations \(step)"), "\(error)")
        }
    }

    func testModelHoldsNoKeyAndProfileNoWeight() throws {
        let (_, c, _) = try FlowFixtures.compile("tenseal-tutorial")
        let modelBytes = try c.model.serialized(), profileBytes = try c.profile.serialized()
        // Every filter value of the plan is in the model file and none is in the profile.
        var probes: [[UInt8]] = []
        for step in c.model.steps {
            if case let .convolution(filters, _, _, _, _) = step.operation {
                probes += filters.filter { $0 != 0 }.prefix(20).map { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
            }
        }
        XCTAssertFalse(probes.isEmpty)
        func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
            guard haystack.count >= needle.count else { return false }
            return (0...(haystack.count - needle.count)).contains { i in haystack[i..<(i + needle.count)].elementsEqual(needle) }
        }
        XCTAssertTrue(probes.allSatisfy { contains(modelBytes, $0) })
        XCTAssertTrue(probes.allSatisfy { !contains(profileBytes, $0) }, "the profile holds a weight")
        // The model file's fields: parameters, plan and steps; its embedded file is a parameter set, not a key.
        XCTAssertEqual(try CKKSFile.header(of: try CKKSFile.serialize(c.model.parameters)).kind, .parameters)
        let raw = try Hetool_Plan_V1_CompiledModel(serializedBytes: Array(modelBytes[IntegrityFrame.headerSize...]))
        XCTAssertEqual(try CKKSFile.header(of: Array(raw.plan.header.parameters)).kind, .parameters)
        XCTAssertTrue(raw.unknownFields.data.isEmpty)
        XCTAssertLessThan(modelBytes.count, 400_000, "a key would be megabytes")
    }

    func testMismatchedFilesAreClearErrors() throws {
        let (_, tutorial, tutorialImages) = try FlowFixtures.compile("tenseal-tutorial")
        let (_, fashion, _) = try FlowFixtures.compile("fashion-mnist")
        let (model, client) = try setUp(tutorial)
        let input = try ClientSession(profile: client.profile, secretKey: client.secretKey).encrypt([tutorialImages[0].tensor.values])
        // A ciphertext packed for another plan.
        let otherModel = try CompiledModel.read(try fashion.model.serialized())
        var foreign = input
        foreign.planFingerprint = otherModel.planFingerprint
        XCTAssertThrowsError(try EvaluationSession(model: model, keys: client.keys).evaluate(foreign)) { error in
            XCTAssertTrue("\(error)".contains("another plan"), "\(error)")
        }
        // Keys for other parameters.
        let otherContext = try CKKSContext(parameters: otherModel.parameters)
        let otherKeys = try KeyGenerator(context: otherContext).evaluationKeys(for: KeyGenerator(context: otherContext).secretKey())
        XCTAssertThrowsError(try EvaluationSession.check(otherKeys, serve: model)) { error in
            XCTAssertTrue("\(error)".contains("other parameters"), "\(error)")
        }
        // An input handed to decrypt, and a profile of another model.
        XCTAssertThrowsError(try ClientSession(profile: client.profile, secretKey: client.secretKey).decrypt(input)) { error in
            XCTAssertTrue("\(error)".contains("not an evaluation result"), "\(error)")
        }
        let output = try EvaluationSession(model: model, keys: client.keys).evaluate(input)
        let otherProfile = try ClientProfile.read(try fashion.profile.serialized())
        var foreignOutput = output
        foreignOutput.planFingerprint = otherProfile.planFingerprint
        XCTAssertThrowsError(try ClientSession(profile: client.profile, secretKey: client.secretKey).decrypt(foreignOutput)) { error in
            XCTAssertTrue("\(error)".contains("another plan"), "\(error)")
        }
        // Too many images for the plan.
        XCTAssertThrowsError(try ClientSession(profile: client.profile, secretKey: client.secretKey).encrypt([[Double]](repeating: tutorialImages[0].tensor.values, count: 2)))
    }

    func testDamagedFilesAreRefused() throws {
        let (_, c, _) = try FlowFixtures.compile("tenseal-tutorial")
        let bytes = try c.model.serialized(), profile = try c.profile.serialized()
        for cut in [0, 1, 10, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try CompiledModel.read(Array(bytes.prefix(cut)))) { XCTAssertTrue($0 is CompilerError, "\($0)") }
        }
        for cut in [0, 7, profile.count / 2, profile.count - 1] {
            XCTAssertThrowsError(try ClientProfile.read(Array(profile.prefix(cut)))) { XCTAssertTrue($0 is CompilerError, "\($0)") }
        }
        XCTAssertThrowsError(try ClientProfile.read(bytes)) { XCTAssertTrue("\($0)".contains("holds a compiled model, not a client profile"), "\($0)") }
        XCTAssertThrowsError(try CompiledModel.read(profile)) { XCTAssertTrue("\($0)".contains("holds a client profile, not a compiled model"), "\($0)") }
        // Flipped bytes, even in a weight, are caught by the checksum (FileIntegrityTests samples every kind).
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var damaged = bytes
            damaged[Int.random(in: IntegrityFrame.headerSize..<damaged.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            XCTAssertThrowsError(try CompiledModel.read(damaged)) { XCTAssertTrue("\($0)".contains("damaged"), "\($0)") }
        }
    }

    /// A group's tiles are decoded without their own checksums only as read from a frame whose
    /// checksum was verified (which covers them): a tile put in afterwards is checked again, and
    /// one damaged behind the group's valid checksum is refused by its fields or decodes whole.
    func testTileChecksumsAreSkippedOnlyInsideACheckedFrame() throws {
        let (_, c, images) = try FlowFixtures.compile("tenseal-tutorial")
        let (_, client) = try setUp(c)
        let input = try ClientSession(profile: client.profile, secretKey: client.secretKey).encrypt([images[0].tensor.values])
        let backend = CKKSBackend(context: client.keys.context, keys: nil, encryptor: nil)
        let read = try EncryptedTensorFile.read(try input.serialized())
        let fresh = try read.tensor(backend: backend, source: "the input")
        XCTAssertEqual(fresh.tiles.count, input.tiles.count)
        // A tile whose last byte (a residue's) is flipped: its own checksum no longer matches.
        var replaced = read
        var tile = [UInt8](replaced.tiles[0])
        tile[tile.count - 1] ^= 0x01
        replaced.tiles[0] = Data(tile)
        XCTAssertThrowsError(try replaced.tensor(backend: backend, source: "the input")) {
            XCTAssertTrue("\($0)".contains("checksum"), "\($0)")
        }
        // The same damage sealed into a valid group frame: no trap, a CompilerError or a decoding.
        var resealed = input
        resealed.tiles[0] = Data(tile)
        if let file = try? EncryptedTensorFile.read(try resealed.serialized()) {
            do { _ = try file.tensor(backend: backend, source: "the input") } catch {
                XCTAssertTrue(error is CompilerError, "\(error)")
            }
        }
    }
}
