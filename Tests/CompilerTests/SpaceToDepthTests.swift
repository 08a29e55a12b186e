import Foundation
import Model
import XCTest
@testable import Compiler

/// The space-to-depth rewrite of a strided first convolution: the packed stride-1 chain equals
/// the plaintext executor on the original network for strides 2–4, paddings 0–2, kernels that are
/// and are not multiples of the stride, and several channels; the packing survives the files.
final class SpaceToDepthTests: XCTestCase {
    var rng = SystemRandomNumberGenerator()

    func random(_ shape: [Int], scale: Double = 0.5) -> Model.Tensor {
        Model.Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Double.random(in: -scale...scale, using: &rng) })
    }

    func network(channels c: Int, size h: Int, filters f: Int, kernel k: Int, stride s: Int, padding p: Int) -> Graph {
        let o = (h + 2 * p - k) / s + 1
        let conv = Conv2d(weights: random([f, c, k, k]), bias: random([f]).values, strideH: s, strideW: s,
                          padding: Padding2d(top: p, left: p, bottom: p, right: p))
        let dense = Dense(weights: random([3, f * o * o]), bias: random([3]).values)
        let layers = [
            Layer(name: "in", operation: .input, inputs: [], shape: [c, h, h]),
            Layer(name: "conv", operation: .conv2d(conv), inputs: [0], shape: [f, o, o]),
            Layer(name: "act", operation: .polynomial(PolynomialActivation(coefficients: [[0], [0], [1]])), inputs: [1], shape: [f, o, o]),
            Layer(name: "flat", operation: .flatten, inputs: [2], shape: [f * o * o]),
            Layer(name: "fc", operation: .dense(dense), inputs: [3], shape: [3]),
        ]
        return Graph(layers: layers, output: 4, batchSize: 1, inputName: "x", outputName: "y")
    }

    func testPackedChainEqualsPlainExecutor() throws {
        for (c, h, f, k, s, p) in [(1, 28, 4, 7, 3, 0), (1, 28, 5, 5, 2, 1), (2, 11, 3, 3, 2, 1), (3, 9, 2, 4, 2, 2),
                                   (1, 13, 2, 5, 4, 1), (2, 10, 3, 2, 3, 0), (1, 8, 2, 3, 3, 2)] {
            let graph = network(channels: c, size: h, filters: f, kernel: k, stride: s, padding: p)
            let lowered = try NetworkLowering.lower(graph)
            let packing = try XCTUnwrap(lowered.packing, "stride \(s)")
            XCTAssertEqual(lowered.sampleShape, [c, h, h])
            XCTAssertEqual(lowered.inputShape, [c * s * s, packing.rows, packing.columns])
            guard case let .convolution(_, shape, _, stride, padding) = lowered.steps[0].operation else { return XCTFail("not a conv") }
            XCTAssertEqual([shape[2], stride, padding], [(k + s - 1) / s, 1, 0])
            let unpacked = try NetworkLowering.lower(graph, packStridedInput: false)
            XCTAssertNil(unpacked.packing)
            for _ in 0..<3 {
                let x = random([1, c, h, h], scale: 1)
                var y = lowered.packed(x.values), z = unpacked.packed(x.values)
                for step in lowered.steps { y = step.apply(y) }
                for step in unpacked.steps { z = step.apply(z) }
                let want = try PlainExecutor.run(graph, input: x).values
                for (a, b) in zip(y, want) { XCTAssertEqual(a, b, accuracy: 1e-10 * max(1, abs(b)), "C\(c) H\(h) K\(k) s\(s) p\(p)") }
                for (a, b) in zip(z, want) { XCTAssertEqual(a, b, accuracy: 1e-10 * max(1, abs(b))) }
            }
        }
    }

    func testPackingIsAPermutationWithZeros() {
        let pack = SpaceToDepth(kernel: 7, stride: 3, padding: 1, sampleShape: [2, 10, 10])
        let sample = (0..<200).map { Double($0 + 1) }
        let packed = pack.apply(sample)
        XCTAssertEqual(packed.count, pack.packedShape.reduce(1, *))
        // Every pixel the convolution reads appears exactly once; everything else is a zero.
        let nonzero = packed.filter { $0 != 0 }
        XCTAssertEqual(Set(nonzero).count, nonzero.count, "no pixel is duplicated")
        XCTAssertTrue(Set(nonzero).isSubset(of: Set(sample)))
        // 2 output rows and a 3×3 packed kernel: packed rows 0…3 cover padded rows 0…11, so
        // every image row (padded rows 1…10) is there once.
        XCTAssertEqual(nonzero.count, 200)
    }

    func testPackingInFilesIsValidated() throws {
        let (graph, compilation, _) = try FlowFixtures.compile("tenseal-tutorial")
        _ = graph
        let profile = compilation.profile, model = compilation.model
        XCTAssertEqual(profile.inputPacking, compilation.chain.packing)
        XCTAssertNotNil(profile.inputPacking)
        XCTAssertEqual(try ClientProfile.read(profile.serialized()).inputPacking, profile.inputPacking)
        XCTAssertEqual(try CompiledModel.read(model.serialized()).inputPacking, model.inputPacking)
        var bad = profile
        bad.plan.header.inputPacking?.rows += 1
        XCTAssertThrowsError(try ClientProfile.read(bad.serialized())) { error in
            // The first step no longer reads what the packing makes.
            XCTAssertTrue("\(error)".contains("step 0 says it reads"), "\(error)")
        }
        bad = profile
        bad.plan.header.inputPacking?.stride = 1
        XCTAssertThrowsError(try ClientProfile.read(bad.serialized())) { error in
            XCTAssertTrue("\(error)".contains("packing"), "\(error)")
        }
    }
}
