import CKKS
import Foundation
import Model
import XCTest
@testable import Compiler

/// The lowering's folds on a hand-built network that has all of them — a per-channel quadratic
/// before a padded convolution (γ added), an average pooling (1/k² folded), a per-feature
/// activation after a flatten, a shared quadratic before a dense layer and one at the very end
/// (not folded) — checked in plain arithmetic and encrypted against the plaintext executor.
final class NetworkLoweringTests: XCTestCase {
    var rng = SystemRandomNumberGenerator()

    func random(_ shape: [Int], scale: Double = 0.5) -> Model.Tensor {
        Model.Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Double.random(in: -scale...scale, using: &rng) })
    }

    func network(perFeature: [Double]) -> Graph {
        let conv1 = Conv2d(weights: random([3, 2, 3, 3]), bias: random([3]).values, strideH: 1, strideW: 1, padding: .zero)
        let act1 = PolynomialActivation(coefficients: [[0.1, -0.2, 0.05], [0.5, 0.3, 0.7], [0.2, -0.15, 0.3]])
        let conv2 = Conv2d(weights: random([3, 3, 3, 3]), bias: random([3]).values, strideH: 1, strideW: 1,
                           padding: Padding2d(top: 1, left: 1, bottom: 1, right: 1))
        let pool = Pool2d(kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padding: .zero, countIncludePad: true)
        let act2 = PolynomialActivation(coefficients: [perFeature.map { $0 * 0.1 }, perFeature, perFeature.map { $0 * 0.4 }])
        let dense1 = Dense(weights: random([4, 12]), bias: random([4]).values)
        let act3 = PolynomialActivation(coefficients: [[0.05], [1], [0.25]])
        let dense2 = Dense(weights: random([3, 4]), bias: random([3]).values)
        let layers = [
            Layer(name: "in", operation: .input, inputs: [], shape: [2, 6, 6]),
            Layer(name: "conv1", operation: .conv2d(conv1), inputs: [0], shape: [3, 4, 4]),
            Layer(name: "act1", operation: .polynomial(act1), inputs: [1], shape: [3, 4, 4]),
            Layer(name: "conv2", operation: .conv2d(conv2), inputs: [2], shape: [3, 4, 4]),
            Layer(name: "pool", operation: .averagePool(pool), inputs: [3], shape: [3, 2, 2]),
            Layer(name: "flat", operation: .flatten, inputs: [4], shape: [12]),
            Layer(name: "act2", operation: .polynomial(act2), inputs: [5], shape: [12]),
            Layer(name: "fc1", operation: .dense(dense1), inputs: [6], shape: [4]),
            Layer(name: "act3", operation: .polynomial(act3), inputs: [7], shape: [4]),
            Layer(name: "fc2", operation: .dense(dense2), inputs: [8], shape: [3]),
            Layer(name: "act4", operation: .polynomial(act3), inputs: [9], shape: [3]),
        ]
        return Graph(layers: layers, output: 10, batchSize: 1, inputName: "x", outputName: "y")
    }

    /// Per feature of a [3, 2, 2] image flattened: constant within each channel's 4 features.
    let channelwise = [0.9, 0.9, 0.9, 0.9, 1.2, 1.2, 1.2, 1.2, 0.6, 0.6, 0.6, 0.6]

    func testLoweredChainEqualsPlainExecutor() throws {
        let graph = network(perFeature: channelwise)
        let lowered = try NetworkLowering.lower(graph)
        XCTAssertTrue(lowered.steps.contains { if case .addChannelConstants = $0.operation { return true }; return false },
                      "the quadratic before the padded conv adds γ")
        XCTAssertTrue(lowered.steps.contains { if case .windowSum = $0.operation { return true }; return false })
        XCTAssertEqual(lowered.steps.last.map { if case .polynomial = $0.operation { return true }; return false }, true,
                       "the last activation has no linear layer to fold into")
        for _ in 0..<5 {
            let x = random([1, 2, 6, 6], scale: 1)
            var y = x.values
            for step in lowered.steps { y = step.apply(y) }
            let want = try PlainExecutor.run(graph, input: x).values
            for (a, b) in zip(y, want) { XCTAssertEqual(a, b, accuracy: 1e-10 * max(1, abs(b))) }
        }
    }

    func testPerFeatureCoefficientsThatDifferWithinAChannelAreRefused() {
        var mixed = channelwise
        mixed[1] = 0.8
        XCTAssertThrowsError(try NetworkLowering.lower(network(perFeature: mixed))) { error in
            XCTAssertTrue("\(error)".contains("differ within a channel"), "\(error)")
        }
    }

    func testEncryptedEqualsPlainExecutor() throws {
        let graph = network(perFeature: channelwise)
        let inputs = (0..<3).map { _ in random([1, 2, 6, 6], scale: 1).values }
        let c = try Compilation.compile(graph, name: "folds", options: Optimizer.Options(), calibrationInputs: inputs,
                                        costModel: FlowFixtures.costModel)
        let context = try CKKSContext(parameters: c.profile.parameters)
        let sk = KeyGenerator(context: context).secretKey()
        let keys = try ClientSession(profile: c.profile, secretKey: sk).evaluationKeys()
        for x in inputs {
            let out = try EvaluationSession(model: c.model, keys: keys).evaluate(try ClientSession(profile: c.profile, secretKey: sk).encrypt([x]))
            let got = try ClientSession(profile: c.profile, secretKey: sk).decrypt(out)[0]
            let want = try PlainExecutor.run(graph, input: Model.Tensor(shape: [1, 2, 6, 6], values: x)).values
            let scale = max(1, want.map(abs).max()!)
            for (a, b) in zip(got, want) { XCTAssertEqual(a, b, accuracy: 1e-3 * scale, "\(got) vs \(want)") }
        }
    }
}
