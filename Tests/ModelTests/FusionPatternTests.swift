import Foundation
import XCTest
@testable import Model

/// a·x² + b·x + c written every way torch (or a person) writes it: each fuses into one
/// polynomial layer with per-feature coefficients (c, b, a), and runs like the unfused graph.
final class FusionPatternTests: XCTestCase {
    let a: [Float] = [0.5, -0.25, 2], b: [Float] = [1, 0.5, -3], c: [Float] = [0.125, 0, -1]

    private func model(_ steps: [(String, [String], String)]) throws -> Data {
        let w = ONNXBuilder.floats("w", [3, 4], (0..<12).map { Float($0) / 8 - 0.7 })
        let bias = ONNXBuilder.floats("bias", [3], [0.1, 0.2, -0.3])
        var two = ONNXBuilder.floats("two", [], [2]); two.dims = []
        let constants = [ONNXBuilder.floats("a", [3], a), ONNXBuilder.floats("b", [3], b), ONNXBuilder.floats("c", [3], c),
                         ONNXBuilder.floats("nb", [1, 3], b.map { -$0 }), ONNXBuilder.floats("inva", [3], a.map { 1 / $0 }), two]
        var nodes = [ONNXBuilder.node("Gemm", ["x", "w", "bias"], ["y"], name: "fc", attributes: [ONNXBuilder.intAttribute("transB", 1)])]
        for (i, step) in steps.enumerated() { nodes.append(ONNXBuilder.node(step.0, step.1, [step.2], name: "act/\(step.0)_\(i)")) }
        return try ONNXBuilder.model(nodes: nodes, initializers: [w, bias] + constants, inputs: [ONNXBuilder.valueInfo("x", [nil, 4])],
                                     output: steps.last!.2)
    }

    func testEveryOrderFusesToTheSameQuadratic() throws {
        let patterns: [[(String, [String], String)]] = [
            [("Mul", ["y", "y"], "t"), ("Mul", ["t", "a"], "u"), ("Mul", ["y", "b"], "v"), ("Add", ["u", "v"], "w"), ("Add", ["w", "c"], "z")],
            [("Mul", ["a", "y"], "t"), ("Mul", ["t", "y"], "u"), ("Mul", ["b", "y"], "v"), ("Add", ["v", "u"], "w"), ("Add", ["c", "w"], "z")],
            [("Mul", ["y", "a"], "t"), ("Mul", ["y", "t"], "u"), ("Mul", ["y", "b"], "v"), ("Add", ["c", "v"], "w"), ("Add", ["u", "w"], "z")],
            [("Pow", ["y", "two"], "t"), ("Mul", ["a", "t"], "u"), ("Mul", ["y", "b"], "v"), ("Add", ["u", "v"], "w"), ("Add", ["w", "c"], "z")],
            [("Mul", ["a", "y"], "t"), ("Add", ["t", "b"], "u"), ("Mul", ["y", "u"], "v"), ("Add", ["v", "c"], "z")],
            [("Mul", ["y", "y"], "t"), ("Div", ["t", "inva"], "u"), ("Mul", ["y", "nb"], "v"), ("Sub", ["u", "v"], "w"), ("Add", ["w", "c"], "z")],
            [("Mul", ["y", "nb"], "t"), ("Sub", ["c", "t"], "u"), ("Mul", ["y", "y"], "v"), ("Mul", ["v", "a"], "w"), ("Add", ["u", "w"], "z")],
            [("Add", ["y", "y"], "t2"), ("Mul", ["t2", "y"], "t"), ("Mul", ["t", "a"], "u"), ("Div", ["u", "two"], "u2"), ("Mul", ["y", "b"], "v"), ("Add", ["u2", "v"], "w"), ("Add", ["w", "c"], "z")],
        ]
        for (n, steps) in patterns.enumerated() {
            let data = try model(steps)
            let graph = try ONNXImporter.load(data: data)
            XCTAssertEqual(graph.layers.map(\.operation.kind), ["input", "dense", "polynomial"], "pattern \(n)")
            guard case let .polynomial(p) = graph.layers.last?.operation else { XCTFail("pattern \(n)"); continue }
            XCTAssertEqual(p.degree, 2, "pattern \(n)")
            for (k, expected) in [c, b, a].enumerated() {
                for ch in 0..<3 { XCTAssertEqual(p.coefficient(k, channel: ch), Double(expected[ch]), accuracy: 1e-6, "pattern \(n) x^\(k) channel \(ch)") }
            }
            // The fused graph computes what the nodes say, element by element.
            let x = Tensor(shape: [2, 4], values: [1, -2, 0.5, 3, 0, 1, 2, -1])
            let y = try PlainExecutor.run(graph, input: x)
            let pre = try PlainExecutor.runRecordingAll(graph, input: x)[1]!
            for (j, v) in pre.values.enumerated() {
                let ch = j % 3
                let expected = Double(a[ch]) * v * v + Double(b[ch]) * v + Double(c[ch])
                XCTAssertEqual(y.values[j], expected, accuracy: 1e-5 * max(1, abs(expected)), "pattern \(n)")
            }
        }
    }
}

/// The pass-through and constant-only operators torch's eval-mode exports rarely contain.
final class PassThroughTests: XCTestCase {
    func testDropoutIdentityAndConstantSqueezeUnsqueeze() throws {
        let w = ONNXBuilder.floats("w", [3, 4], (0..<12).map { Float($0) / 4 })
        let b = ONNXBuilder.floats("b", [3], [0, 1, 2])
        let target = ONNXBuilder.floats("target", [1, 2, 1], [1, 3]) // Squeeze → [1, 3] → Reshape x to N×3
        let axes = ONNXBuilder.floats("axes", [1], [2])
        var axesInt = axes; axesInt.dataType = 7; axesInt.floatData = []; axesInt.int64Data = [2]
        var targetInt = target; targetInt.dataType = 7; targetInt.floatData = []; targetInt.int64Data = [-1, 3]
        let nodes = [
            ONNXBuilder.node("Gemm", ["x", "w", "b"], ["y"], name: "fc", attributes: [ONNXBuilder.intAttribute("transB", 1)]),
            ONNXBuilder.node("Dropout", ["y"], ["d", "mask"], name: "drop"),
            ONNXBuilder.node("Identity", ["d"], ["i"], name: "id"),
            ONNXBuilder.node("Squeeze", ["target", "axes"], ["shape"], name: "squeeze"),
            ONNXBuilder.node("Unsqueeze", ["shape", "axes"], ["shape3"], name: "unsqueeze"),
            ONNXBuilder.node("Squeeze", ["shape3", "axes"], ["shape2"], name: "squeeze2"),
            ONNXBuilder.node("Reshape", ["i", "shape2"], ["z"], name: "reshape"),
        ]
        let data = try ONNXBuilder.model(nodes: nodes, initializers: [w, b, targetInt, axesInt],
                                         inputs: [ONNXBuilder.valueInfo("x", [nil, 4])], output: "z", opset: 13)
        let graph = try ONNXImporter.load(data: data)
        XCTAssertEqual(graph.layers.map(\.operation.kind), ["input", "dense"])
        let y = try PlainExecutor.run(graph, input: Tensor(shape: [1, 4], values: [1, 0, 0, 0]))
        XCTAssertEqual(y.values, [0, 2, 4])
        // Squeeze of a computed tensor is refused with the node's name.
        let bad = ONNXBuilder.node("Squeeze", ["y", "axes"], ["z"], name: "squeeze-x")
        let badData = try ONNXBuilder.model(nodes: [nodes[0], bad], initializers: [w, b, axesInt],
                                            inputs: [ONNXBuilder.valueInfo("x", [nil, 4])], output: "z", opset: 13)
        XCTAssertThrowsError(try ONNXImporter.load(data: badData)) { error in
            guard case ModelError.unsupportedFeature("squeeze-x", 1, _) = error else { return XCTFail("\(error)") }
        }
    }
}
