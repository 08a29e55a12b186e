import CKKS
import Foundation
import Model
import XCTest
@testable import Compiler

/// Shared pieces of the flow tests: the bundled models, the shared data, and a cost table.
enum FlowFixtures {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Examples").standardized

    /// The shared data folder ($HE_TOOL_DATA, ../shared/data next to the clone, /work/shared/data).
    static func dataFolder(_ name: String) throws -> URL {
        var candidates: [URL] = []
        if let path = ProcessInfo.processInfo.environment["HE_TOOL_DATA"], !path.isEmpty { candidates.append(URL(fileURLWithPath: path)) }
        candidates.append(examples.appendingPathComponent("../../shared/data").standardizedFileURL)
        candidates.append(URL(fileURLWithPath: "/work/shared/data"))
        guard let dir = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent(name).path) }) else {
            throw XCTSkip("the shared data folder was not found (looked in \(candidates.map(\.path).joined(separator: ", "))); set HE_TOOL_DATA")
        }
        return dir.appendingPathComponent(name)
    }

    static func graph(_ model: String) throws -> Graph {
        try ONNXImporter.load(contentsOf: examples.appendingPathComponent("\(model)/model.onnx"))
    }

    /// The bundled test PNGs of a model, preprocessed as its metadata says.
    static func bundledImages(_ model: String, graph: Graph) throws -> [NamedSample] {
        let dir = examples.appendingPathComponent(model)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".png") }.sorted()
        let p = try Preprocessing.fromMetadata(of: graph)
        return try names.flatMap { try InputLoader.load(dir.appendingPathComponent($0), sampleShape: graph.inputShape, preprocessing: p) }
    }

    /// A cost model with made-up costs that grow with the level and the ring like the real ones
    /// (key switching ≈ 20 plaintext products): the tests check correctness, not timings, and do
    /// not spend a calibration.
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

    /// Compiles a bundled model; one tiling throughout unless `conversions` (the DP's search
    /// costs a minute on the larger models, and the flow tests check correctness).
    static func compile(_ model: String, objective: Optimizer.Objective = .latency, batch: Int? = nil,
                        conversions: Bool = false, spaceToDepth: Bool = true,
                        circuitPrivacy: Bool = false) throws -> (Graph, Compilation, [NamedSample]) {
        let g = try graph(model)
        let images = try bundledImages(model, graph: g)
        var options = Optimizer.Options()
        options.objective = objective
        options.batch = batch
        options.searchConversions = conversions
        options.spaceToDepth = spaceToDepth
        if circuitPrivacy { options.circuitPrivacy = CircuitPrivacy.Request(slotBits: 0) }
        let c = try Compilation.compile(g, name: model, options: options, calibrationInputs: images.map { $0.tensor.values },
                                        costModel: costModel)
        return (g, c, images)
    }

    /// The plaintext executor's logits of one sample.
    static func plainLogits(_ graph: Graph, _ sample: [Double]) throws -> [Double] {
        try PlainExecutor.run(graph, input: Model.Tensor(shape: [1] + graph.inputShape, values: sample)).values
    }

    static func argmax(_ v: [Double]) -> Int { v.indices.max { v[$0] < v[$1] }! }
}

extension XCTestCase {
    /// A fresh directory under the system's temporary directory, removed when the test ends.
    func temporaryDirectory(_ prefix: String = "he-tool-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
