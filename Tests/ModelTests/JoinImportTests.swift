import Foundation
import XCTest
@testable import Model

/// Joins of computed tensors from ONNX: Add and Sub of two branches, Concat along the
/// channels, with the plaintext executor computing them; Concat along another axis or with a
/// constant is refused with the node's name.
final class JoinImportTests: XCTestCase {
    /// x (N×2×3×3) → conv a (1×1, 2→2) and conv b (1×1, 2→1) → `join` of their outputs.
    static func model(_ join: Onnx_NodeProto) throws -> Data {
        let wa = ONNXBuilder.floats("wa", [2, 2, 1, 1], [1, 2, -1, 0.5])
        let wb = ONNXBuilder.floats("wb", [1, 2, 1, 1], [0.25, -3])
        let wc = ONNXBuilder.floats("wc", [2, 2, 1, 1], [0, 1, 1, 0])
        let nodes = [ONNXBuilder.node("Conv", ["x", "wa"], ["a"], name: "conv_a"),
                     ONNXBuilder.node("Conv", ["x", "wb"], ["b"], name: "conv_b"),
                     ONNXBuilder.node("Conv", ["x", "wc"], ["c"], name: "conv_c"), join]
        return try ONNXBuilder.model(nodes: nodes, initializers: [wa, wb, wc], inputs: [ONNXBuilder.valueInfo("x", [nil, 2, 3, 3])],
                                     output: "y")
    }

    func sample() -> Tensor { Tensor(shape: [1, 2, 3, 3], values: (0..<18).map { Double($0) / 4 - 2 }) }

    func testConcatAlongChannels() throws {
        let g = try ONNXImporter.load(data: try Self.model(ONNXBuilder.node("Concat", ["a", "b"], ["y"], name: "cat", attributes: [ONNXBuilder.intAttribute("axis", 1)])))
        XCTAssertEqual(g.outputShape, [3, 3, 3])
        XCTAssertEqual(g.layers[g.output].operation, .concat)
        let x = sample().values
        let y = try PlainExecutor.run(g, input: sample()).values
        for p in 0..<9 {
            XCTAssertEqual(y[p], x[p] + 2 * x[9 + p], accuracy: 1e-12)          // a, channel 0
            XCTAssertEqual(y[9 + p], -x[p] + 0.5 * x[9 + p], accuracy: 1e-12)   // a, channel 1
            XCTAssertEqual(y[18 + p], 0.25 * x[p] - 3 * x[9 + p], accuracy: 1e-12) // b
        }
        XCTAssertEqual(g.multiplicativeDepth, 1)
    }

    func testAddAndSubOfBranches() throws {
        let add = try ONNXImporter.load(data: try Self.model(ONNXBuilder.node("Add", ["a", "c"], ["y"], name: "sum")))
        let sub = try ONNXImporter.load(data: try Self.model(ONNXBuilder.node("Sub", ["a", "c"], ["y"], name: "difference")))
        let x = sample().values
        let s = try PlainExecutor.run(add, input: sample()).values, d = try PlainExecutor.run(sub, input: sample()).values
        for p in 0..<9 {
            XCTAssertEqual(s[p], x[p] + 2 * x[9 + p] + x[9 + p], accuracy: 1e-12)
            XCTAssertEqual(d[9 + p], -x[p] + 0.5 * x[9 + p] - x[p], accuracy: 1e-12)
        }
    }

    func testConcatOffTheChannelsIsRefused() throws {
        let node = ONNXBuilder.node("Concat", ["a", "c"], ["y"], name: "cat_h", attributes: [ONNXBuilder.intAttribute("axis", 2)])
        XCTAssertThrowsError(try ONNXImporter.load(data: try Self.model(node))) { error in
            XCTAssertTrue("\(error)".contains("cat_h") && "\(error)".contains("axis 2"), "\(error)")
        }
    }
}
