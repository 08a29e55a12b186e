import CKKS
import Compiler
import Foundation
import HEMath
import Model
import TileTensors

/// The parameters of every CKKS fuzz target and of its seeds: N = 64, q = 50 + 30 + 30 bits,
/// two 50-bit special primes, two key-switching digits. Insecure on purpose — the readers' code
/// paths do not depend on N, and small files make fast fuzzing.
public enum FuzzCKKS {
    public static let parameters: CKKSParameters = {
        do {
            return try CKKSParameters(logDegree: 6, primeBits: [50, 30, 30], specialPrimeBits: [50, 50], logScale: 30,
                                      keySwitchDigits: 2, security: .insecureTestingOnly)
        } catch { fatalError("fuzz parameters: \(error)") }
    }()
    public static let context: CKKSContext = {
        do { return try CKKSContext(parameters: parameters) } catch { fatalError("fuzz context: \(error)") }
    }()
    public static let backend = CKKSBackend(context: context, keys: nil, encryptor: nil)

    /// The payload of a framed file (what the CKKS/model/profile targets mutate: the target seals
    /// it again, so mutations reach the parser past the checksum).
    public static func payload(_ framed: [UInt8]) -> [UInt8] { Array(framed.dropFirst(IntegrityFrame.headerSize)) }

    /// A secret key, evaluation keys and ciphertexts (fresh and seeded, levels 2 and 0, 3 components) of `parameters`.
    public struct Files {
        public var secretKey: [UInt8]
        public var evaluationKeys: [UInt8]
        public var evaluationKeysRelinOnly: [UInt8]
        /// Relinearization key and the public key (what a circuit-private plan's keys hold).
        public var evaluationKeysWithPublicKey: [UInt8]
        public var ciphertexts: [(name: String, bytes: [UInt8])]
        public var publicKey: [UInt8]
        public var tensor: [UInt8]
        public var tensorTwoTiles: [UInt8]
    }

    public static func files() throws -> Files {
        let generator = KeyGenerator(context: context)
        let sk = generator.secretKey()
        let keys = try generator.evaluationKeys(for: sk, rotations: [1, 4])
        let relinOnly = EvaluationKeys(context: context, relinearization: try generator.relinearizationKey(for: sk), galois: [:])
        let encoder = Encoder(context: context)
        let values = (0..<context.slotCount).map { Double($0) / 8 - 1 }
        let pt = try encoder.encode(values, scale: parameters.scale, level: context.maxLevel)
        let symmetric = try Encryptor(secretKey: sk).encrypt(pt)
        let asymmetric = try Encryptor(publicKey: try generator.publicKey(for: sk)).encrypt(pt)
        let low = try encoder.encode(values, scale: parameters.scale, level: 0)
        let lowCt = try Encryptor(publicKey: try generator.publicKey(for: sk)).encrypt(low)
        let evaluator = Evaluator(context: context)
        let product = try evaluator.multiplyWithoutRelinearization(asymmetric, asymmetric)
        // Five dimensions, as every plan layout (and so every tensor file) has.
        let unit = try TileDimension(size: 1, tileSize: 1)
        let shape = try TileShape([try TileDimension(size: 4, tileSize: 4), try TileDimension(size: 8, tileSize: 8), unit, unit, unit])
        let shape2 = try TileShape([try TileDimension(size: 8, tileSize: 4), try TileDimension(size: 8, tileSize: 8), unit, unit, unit])
        let plan = Array(repeating: UInt8(7), count: 32)
        let tensor = EncryptedTensorFile(parametersFingerprint: parameters.fingerprint, planFingerprint: plan, stage: .input,
                                         layout: shape, images: 1, tiles: [try CKKSFile.serialize(symmetric)])
        let tensor2 = EncryptedTensorFile(parametersFingerprint: parameters.fingerprint, planFingerprint: plan, stage: .output,
                                          layout: shape2, images: 2,
                                          tiles: [try CKKSFile.serialize(asymmetric), try CKKSFile.serialize(lowCt)])
        return Files(secretKey: try CKKSFile.serialize(sk),
                     evaluationKeys: try CKKSFile.serialize(keys),
                     evaluationKeysRelinOnly: try CKKSFile.serialize(relinOnly),
                     evaluationKeysWithPublicKey: try CKKSFile.serialize(EvaluationKeys(
                        context: context, relinearization: relinOnly.relinearization, galois: [:],
                        publicKey: try generator.publicKey(for: sk))),
                     ciphertexts: [("seeded.hect", try CKKSFile.serialize(symmetric)),
                                   ("public.hect", try CKKSFile.serialize(asymmetric)),
                                   ("level0.hect", try CKKSFile.serialize(lowCt)),
                                   ("three.hect", try CKKSFile.serialize(product))],
                     publicKey: try CKKSFile.serialize(try generator.publicKey(for: sk)),
                     tensor: try tensor.serialized(),
                     tensorTwoTiles: try tensor2.serialized())
    }
}

/// A compiled model and its client profile, compiled from a small ONNX fixture of the
/// repository with a synthetic cost model (no calibration): the seeds of the model, profile
/// and serve targets.
public enum FuzzCompiled {
    /// The fixtures whose compilations are the model and profile seeds (those that compile).
    public static let seedModels = ["conv_square_op13", "pool_bn_dense_op15", "residual_op13", "mlp_per_feature_op12"]

    public static func compile(_ onnx: String = "Tests/ModelTests/Fixtures/onnx/conv_square_op13.onnx",
                               circuitPrivacy: Bool = false) throws -> Compilation {
        let graph = try ONNXImporter.load(data: Data(try repositoryFile(onnx)))
        var options = Optimizer.Options()
        options.objective = .latency
        options.searchConversions = false
        if circuitPrivacy { options.circuitPrivacy = CircuitPrivacy.Request(slotBits: 0) }
        return try Compilation.compile(graph, name: "fuzz", options: options, calibrationInputs: [], costModel: costModel)
    }

    /// The seeds of a compiled-file target: `file` of each seed model's compilation, and of one
    /// compiled with circuit privacy, as payloads named `<model>.<ext>.payload`.
    public static func seedPayloads(ext: String, _ file: (Compilation) throws -> [UInt8]) throws -> [(name: String, bytes: [UInt8])] {
        var seeds: [(name: String, bytes: [UInt8])] = []
        for onnx in seedModels {
            guard let c = try? compile("Tests/ModelTests/Fixtures/onnx/\(onnx).onnx") else { continue }
            seeds.append((name: "\(onnx).\(ext).payload", bytes: FuzzCKKS.payload(try file(c))))
        }
        if let c = try? compile(circuitPrivacy: true) {
            seeds.append((name: "conv_square_op13-cp.\(ext).payload", bytes: FuzzCKKS.payload(try file(c))))
        }
        return seeds
    }

    /// Made-up costs growing with the level and the ring, like the test suite's.
    public static func costModel(_ choice: ParameterSelection.Choice) throws -> CostModel {
        let p = choice.parameters
        let unit = Double(p.degree) / 8192
        let factors: [Primitive: Double] = [.add: 1, .multiplyPlain: 2, .multiplyRelinearize: 40, .rescale: 8, .rotate: 38,
                                            .hoistedRotation: 30, .encode: 6]
        var micro: [String: [Double]] = [:]
        for primitive in Primitive.allCases {
            micro[primitive.rawValue] = (0...p.maxLevel).map { Double($0 + 1) * unit * (factors[primitive] ?? 10) }
        }
        // ParameterCosts has no public memberwise initializer: through its Codable form.
        let json: [String: Any] = ["name": choice.preset.name, "fingerprint": p.fingerprintHex, "log_degree": p.logDegree,
                                   "microseconds": micro]
        let costs = try JSONDecoder().decode(CostTable.ParameterCosts.self, from: try JSONSerialization.data(withJSONObject: json))
        let table = CostTable(machine: "fuzz", engineVersion: EngineVersion.string, threads: 1, sets: [costs])
        return try CostModel(table: table, parameters: p)
    }
}
