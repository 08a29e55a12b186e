import AsyncHTTPClient
import CKKS
@testable import Compiler
import Foundation
import Logging
import Model
import NIOCore
import NIOHTTP1
import Serve
import XCTest

/// The bundled MNIST model compiled once per test process (synthetic cost model, one tiling
/// throughout: seconds, not a calibration), written as `he-tool compile` writes it, with a
/// client (secret key, evaluation-key file) and the five bundled test images encrypted.
final class ServeFixtures: @unchecked Sendable {
    struct Image {
        var name: String
        var label: Int
        var input: [UInt8]
        var sample: [Double]
    }

    let directory: URL
    let modelPath: String
    let model: CompiledModel
    let profile: ClientProfile
    let profileBytes: [UInt8]
    let secretKey: SecretKey
    let secretKeyBytes: [UInt8]
    let keys: EvaluationKeys
    let keyBytes: [UInt8]
    let images: [Image]

    static let shared: Result<ServeFixtures, any Error> = Result { try ServeFixtures() }

    /// The fixtures' directory (key files of GBs in the servers' spill folders), removed when
    /// the test process exits.
    nonisolated(unsafe) static var cleanupPath: String?

    static func get() throws -> ServeFixtures { try shared.get() }

    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Examples").standardized

    private init() throws {
        let start = Date()
        let graph = try ONNXImporter.load(contentsOf: Self.examples.appendingPathComponent("mnist/model.onnx"))
        let dir = Self.examples.appendingPathComponent("mnist")
        let pngs = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".png") }.sorted()
        let preprocessing = try Preprocessing.fromMetadata(of: graph)
        let samples = try pngs.flatMap { try InputLoader.load(dir.appendingPathComponent($0), sampleShape: graph.inputShape, preprocessing: preprocessing) }
        var options = Optimizer.Options()
        options.objective = .latency
        options.searchConversions = false
        let compilation = try Compilation.compile(graph, name: "mnist", options: options, calibrationInputs: samples.map { $0.tensor.values },
                                                  costModel: Self.costModel)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("he-serve-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        Self.cleanupPath = directory.path
        atexit { if let path = ServeFixtures.cleanupPath { try? FileManager.default.removeItem(atPath: path) } }
        modelPath = directory.appendingPathComponent("model.hemodel").path
        try CKKSFile.write(try compilation.model.serialized(), to: URL(fileURLWithPath: modelPath), ownerOnly: false)
        profileBytes = try compilation.profile.serialized()
        try CKKSFile.write(profileBytes, to: directory.appendingPathComponent("client.heprofile"), ownerOnly: false)
        model = try CompiledModel.read(try CKKSFile.read(from: URL(fileURLWithPath: modelPath)))
        profile = try ClientProfile.read(profileBytes)
        let context = try CKKSContext(parameters: profile.parameters)
        let secretKey = KeyGenerator(context: context).secretKey(), profile = self.profile
        self.secretKey = secretKey
        secretKeyBytes = try CKKSFile.serialize(secretKey)
        keys = try ClientSession(profile: profile, secretKey: secretKey).evaluationKeys()
        keyBytes = try CKKSFile.serialize(keys)
        images = try zip(pngs, samples).map { name, sample in
            let label = Int(name.split(separator: "-").last!.split(separator: ".").first!)!
            return Image(name: name, label: label,
                         input: try ClientSession(profile: profile, secretKey: secretKey).encrypt([sample.tensor.values]).serialized(),
                         sample: sample.tensor.values)
        }
        print(String(format: "ServeFixtures: MNIST compiled, keys %.1f MB (%d rotations, N = %d), %d images in %.1f s",
                     Double(keyBytes.count) / 1e6, profile.rotationSteps.count, profile.parameters.degree, images.count,
                     Date().timeIntervalSince(start)))
    }

    /// Made-up costs that grow with the level and the ring like the real ones (the tests check
    /// answers, not timings).
    static func costModel(_ choice: ParameterSelection.Choice) throws -> CostModel {
        let p = choice.parameters
        let unit = Double(p.degree) / 8192
        let factors: [Primitive: Double] = [.add: 1, .multiplyPlain: 2, .multiplyRelinearize: 40, .rescale: 8, .rotate: 38,
                                            .hoistedRotation: 30, .encode: 6,
                                            // One thread: a worker's encode and product at the plain rates (the
                                            // product's accumulation included), so plans are priced as before.
                                            .concurrentEncode: 6, .concurrentMultiplyPlain: 3,
                                            .multiplyScalar: 1, .concurrentMultiplyScalar: 1,
                                            .lazyMultiplyPlain: 2, .lazyMultiplyScalar: 1,
                                            // A scalar sum's own work next to nothing: plans priced as before.
                                            .lazyScalarSum: 0.01,
                                            .concurrentMultiplyRelinearize: 40, .concurrentRescale: 8,
                                            // The fused form at the two steps' price: plans priced as before.
                                            .multiplyRelinearizeRescale: 48, .concurrentMultiplyRelinearizeRescale: 48]
        var micro: [String: [Double]] = [:]
        for primitive in Primitive.allCases {
            micro[primitive.rawValue] = (0...p.maxLevel).map { Double($0 + 1) * unit * (factors[primitive] ?? 10) }
        }
        var table = CostTable(machine: "test", engineVersion: EngineVersion.calibrationKey, threads: 1)
        table.merge(.init(name: choice.preset.name, fingerprint: p.fingerprintHex, logDegree: p.logDegree, microseconds: micro))
        return try CostModel(table: table, parameters: p)
    }

    /// A second client of the same model: its own secret key and evaluation keys.
    func otherClient(rotations: Bool = true) throws -> (SecretKey, [UInt8]) {
        let sk = KeyGenerator(context: secretKey.context).secretKey()
        let keys = rotations ? try ClientSession(profile: profile, secretKey: sk).evaluationKeys()
                             : try KeyGenerator(context: sk.context).evaluationKeys(for: sk, rotations: [])
        return (sk, try CKKSFile.serialize(keys))
    }

    /// A bundled image encrypted under another secret key.
    func encrypt(image: Int, secretKey: SecretKey) throws -> [UInt8] {
        try ClientSession(profile: profile, secretKey: secretKey).encrypt([images[image].sample]).serialized()
    }

    /// The class the result decrypts to.
    func predictedClass(_ result: [UInt8], secretKey: SecretKey? = nil) throws -> Int {
        let scores = try ClientSession(profile: profile, secretKey: secretKey ?? self.secretKey).decrypt(try EncryptedTensorFile.read(result))
        let s = scores[0]
        return s.indices.max { s[$0] < s[$1] }!
    }

    /// A served catalog of this model as `name`.
    func catalog(_ name: String = "mnist") throws -> ModelCatalog {
        try ModelCatalog([try ServedModel.load(name: name, modelPath: modelPath)])
    }

    /// A server on a free loopback port (its own spill directory), started.
    func startServer(_ adjust: (inout ServeConfiguration) -> Void = { _ in }) async throws -> (EvaluationServer, String) {
        var configuration = ServeConfiguration()
        configuration.port = 0
        configuration.maxBodyBytes = keyBytes.count + (1 << 20)
        configuration.keySpillDirectory = directory.appendingPathComponent("spill-\(UUID().uuidString)")
        adjust(&configuration)
        var logger = Logger(label: "he-tool.serve.test")
        logger.logLevel = ProcessInfo.processInfo.environment["HE_SERVE_TEST_LOG"] != nil ? .info : .error
        let server = try EvaluationServer(configuration: configuration, catalog: try catalog(), logger: logger)
        let port = try await server.start()
        return (server, "http://127.0.0.1:\(port)")
    }
}

/// Plain HTTP exchanges for the tests (the status and body of anything, good or bad).
struct RawHTTP {
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var error: ErrorBody? { try? JSONDecoder().decode(ErrorBody.self, from: Data(body)) }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)

    static func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (n, v) in headers { request.headers.add(name: n, value: v) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(600))
        var received: [UInt8] = []
        for try await chunk in response.body { received.append(contentsOf: chunk.readableBytesView) }
        var h: [String: String] = [:]
        for header in response.headers { h[header.name.lowercased()] = header.value }
        return Answer(status: Int(response.status.code), headers: h, body: received)
    }

    /// The value of a Prometheus sample whose name and labels contain all of `parts`.
    static func metric(_ text: String, _ name: String, _ parts: [String] = []) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            if parts.allSatisfy({ line.contains($0) }), let v = line.split(separator: " ").last.flatMap({ Double($0) }) { return v }
        }
        return nil
    }
}
