import Foundation
import Model
import XCTest
@testable import Compiler

/// A model whose outputs overflow Double on its calibration input (finite weights of 1e300):
/// `compile` says so, naming the calibration input and the layer, instead of calling the
/// disagreement "an internal error".
final class NonFiniteCalibrationTests: XCTestCase {
    func testOverflowingCalibrationOutputsAreNamed() throws {
        let conv = Conv2d(weights: Model.Tensor(shape: [1, 1, 1, 1], values: [1e300]), bias: [0], strideH: 1, strideW: 1, padding: .zero)
        let dense = Dense(weights: Model.Tensor(shape: [2, 16], values: [Double](repeating: 1, count: 32)), bias: [0, 0])
        let graph = Graph(layers: [
            Layer(name: "in", operation: .input, inputs: [], shape: [1, 4, 4]),
            Layer(name: "huge_conv", operation: .conv2d(conv), inputs: [0], shape: [1, 4, 4]),
            Layer(name: "flat", operation: .flatten, inputs: [1], shape: [16]),
            Layer(name: "fc", operation: .dense(dense), inputs: [2], shape: [2]),
        ], output: 3, batchSize: 1, inputName: "x", outputName: "y")
        let finite = [Double](repeating: 0.5, count: 16)
        let overflowing = [Double](repeating: 1e300, count: 16)
        XCTAssertThrowsError(try Compilation.compile(graph, name: "huge", options: Optimizer.Options(), calibrationInputs: [finite, overflowing],
                                                     costModel: FlowFixtures.costModel)) { error in
            let message = "\(error)"
            guard case .infeasible = error as? CompilerError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("calibration input 1") && message.contains("not a finite number") && message.contains("'huge_conv'"), message)
            XCTAssertFalse(message.contains("internal error"), message)
        }
    }
}
