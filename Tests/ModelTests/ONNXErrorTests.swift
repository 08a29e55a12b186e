import Foundation
import XCTest
@testable import Model

/// Import errors: each is a typed `ModelError` that names the tensor or node and says what to do.
final class ONNXErrorTests: XCTestCase {
    private let w12: [Float] = (0..<12).map { Float($0) / 4 }

    private func assertError(_ data: Data, _ check: (ModelError) -> Bool, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ONNXImporter.load(data: data), file: file, line: line) { error in
            guard let e = error as? ModelError else { return XCTFail("not a ModelError: \(error)", file: file, line: line) }
            XCTAssertTrue(check(e), "\(e)", file: file, line: line)
            for f in fragments { XCTAssertTrue("\(e)".contains(f), "'\(f)' missing in: \(e)", file: file, line: line) }
        }
    }

    func testAHandWrittenDenseModelRuns() throws {
        let graph = try ONNXImporter.load(data: ONNXBuilder.dense(weight: ONNXBuilder.floats("w", [3, 4], w12)))
        let y = try PlainExecutor.run(graph, input: Tensor(shape: [1, 4], values: [1, 2, 3, 4]))
        let x: [Double] = [1, 2, 3, 4], bias: [Double] = [0.5, -1, 2]
        var expected: [Double] = []
        for o in 0..<3 {
            var sum = bias[o]
            for i in 0..<4 { sum += Double(o * 4 + i) / 4 * x[i] }
            expected.append(sum)
        }
        XCTAssertEqual(y.values, expected)
    }

    func testMissingInitializerNamesTheTensorAndNode() throws {
        assertError(try ONNXBuilder.dense(weight: nil), {
            if case .missingTensor("w", "fc") = $0 { return true } else { return false }
        }, ["'w'", "'fc'"])
    }

    func testShapeMismatchNamesTheTensors() throws {
        assertError(try ONNXBuilder.dense(weight: ONNXBuilder.floats("w", [4, 3], w12)), {
            if case .shapeMismatch = $0 { return true } else { return false }
        }, ["'w'", "'x'", "expects 3 input features", "has 4"])
    }

    func testTruncatedRawInitializerIsInvalidFile() throws {
        let short = ONNXBuilder.raw("w", [3, 4], type: 1, bytes: [UInt8](repeating: 0, count: 47))
        assertError(try ONNXBuilder.dense(weight: short), {
            if case .invalidFile = $0 { return true } else { return false }
        }, ["'w'", "48 bytes", "47"])
    }

    func testFloat16AndFloat64Initializers() throws {
        // 1.0, -2.0, 0.5, 65504 (largest half), 2^-24 (smallest subnormal), 0 …
        let halves: [UInt16] = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0, 0, 0, 0, 0, 0, 0]
        let bytes = halves.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        let half = try ONNXTensorDecoder.decode(ONNXBuilder.raw("h", [12], type: 10, bytes: bytes), context: "test")
        XCTAssertEqual(Array(half.values.prefix(5)), [1, -2, 0.5, 65504, 0x1p-24])
        var typed = Onnx_TensorProto()
        typed.dims = [2]; typed.dataType = 10; typed.int32Data = [0x3c00, 0xbc00]
        XCTAssertEqual(try ONNXTensorDecoder.decode(typed, context: "test").values, [1, -1])
        let doubles = w12.flatMap { withUnsafeBytes(of: Double($0).bitPattern.littleEndian, Array.init) }
        let graph = try ONNXImporter.load(data: ONNXBuilder.dense(weight: ONNXBuilder.raw("w", [3, 4], type: 11, bytes: doubles)))
        guard case let .dense(d) = graph.layers[1].operation else { return XCTFail() }
        XCTAssertEqual(d.weights.values, w12.map(Double.init))
    }

    func testOpsetsOutside11To21AreRefused() throws {
        for opset: Int64 in [10, 22] {
            assertError(try ONNXBuilder.dense(weight: ONNXBuilder.floats("w", [3, 4], w12), opset: opset), {
                if case .unsupportedOpset = $0 { return true } else { return false }
            }, ["\(opset)", "opset_version"])
        }
    }

    func testUnknownOperatorAndUnfusableProductsAreRefusedWithTheirNode() throws {
        let unknown = ONNXBuilder.node("Einsum", ["y"], ["z"], name: "mystery")
        assertError(try ONNXBuilder.dense(weight: ONNXBuilder.floats("w", [3, 4], w12), extraNodes: [unknown], output: "z"), {
            if case .unsupportedOperator("Einsum", "mystery", 1, _) = $0 { return true } else { return false }
        }, ["Einsum", "'mystery'", "node 1"])
        // y * (y + 1) fuses (same source); y * x does not.
        let plusOne = ONNXBuilder.node("Add", ["y", "one"], ["y1"], name: "plus")
        let product = ONNXBuilder.node("Mul", ["y", "y1"], ["z"], name: "square-ish")
        var one = ONNXBuilder.floats("one", [], [1])
        one.dims = []
        var data = try ONNXBuilder.model(nodes: [ONNXBuilder.node("Gemm", ["x", "w", "b"], ["y"], name: "fc", attributes: [ONNXBuilder.intAttribute("transB", 1)]), plusOne, product],
                                         initializers: [ONNXBuilder.floats("w", [3, 4], w12), ONNXBuilder.floats("b", [3], [0, 0, 0]), one],
                                         inputs: [ONNXBuilder.valueInfo("x", [nil, 4])], output: "z")
        let graph = try ONNXImporter.load(data: data)
        guard case let .polynomial(p) = graph.layers[2].operation else { return XCTFail("\(graph.layers)") }
        XCTAssertEqual(p.coefficients, [[0], [1], [1]])
        let gemm2 = ONNXBuilder.node("Gemm", ["x", "w2", "b"], ["v"], name: "fc2", attributes: [ONNXBuilder.intAttribute("transB", 1)])
        let mixed = ONNXBuilder.node("Mul", ["y", "v"], ["z"], name: "mixed")
        data = try ONNXBuilder.model(nodes: [ONNXBuilder.node("Gemm", ["x", "w", "b"], ["y"], name: "fc", attributes: [ONNXBuilder.intAttribute("transB", 1)]), gemm2, mixed],
                                     initializers: [ONNXBuilder.floats("w", [3, 4], w12), ONNXBuilder.floats("w2", [3, 4], w12), ONNXBuilder.floats("b", [3], [0, 0, 0])],
                                     inputs: [ONNXBuilder.valueInfo("x", [nil, 4])], output: "z")
        assertError(data, { if case .unsupportedFeature("mixed", 2, _) = $0 { return true } else { return false } }, ["two different tensors"])
    }

    func testNonIntegerPowerAndDivisionByZeroAreRefused() throws {
        for (op, value, fragment) in [("Pow", Float(0.5), "exponent"), ("Div", Float(0), "division by zero")] {
            var c = ONNXBuilder.floats("c", [], [value])
            c.dims = []
            let n = ONNXBuilder.node(op, ["y", "c"], ["z"], name: "act")
            let data = try ONNXBuilder.model(nodes: [ONNXBuilder.node("Gemm", ["x", "w", "b"], ["y"], name: "fc", attributes: [ONNXBuilder.intAttribute("transB", 1)]), n],
                                             initializers: [ONNXBuilder.floats("w", [3, 4], w12), ONNXBuilder.floats("b", [3], [0, 0, 0]), c],
                                             inputs: [ONNXBuilder.valueInfo("x", [nil, 4])], output: "z")
            assertError(data, { if case .unsupportedFeature("act", 1, _) = $0 { return true } else { return false } }, [fragment])
        }
    }

    func testNotAnONNXFileAndTwoInputs() throws {
        assertError(Data("hello, this is not a model".utf8), { if case .invalidFile = $0 { return true } else { return false } }, ["truncated or corrupted"])
        assertError(Data(), { if case .invalidFile = $0 { return true } else { return false } }, ["empty"])
        let data = try ONNXBuilder.model(nodes: [ONNXBuilder.node("Add", ["x", "x2"], ["y"], name: "sum")],
                                         inputs: [ONNXBuilder.valueInfo("x", [nil, 4]), ONNXBuilder.valueInfo("x2", [nil, 4])], output: "y")
        assertError(data, { if case .invalidFile = $0 { return true } else { return false } }, ["2 graph inputs"])
        XCTAssertThrowsError(try ONNXImporter.load(contentsOf: URL(fileURLWithPath: "/nonexistent/model.onnx"))) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/model.onnx does not exist"), "\(error)")
        }
    }
}

/// Hand-built models for the folding rules torch's fixtures do not reach.
final class FoldingTests: XCTestCase {
    /// Gemm → y*y → Mul by per-feature constants → Gemm: the factors move into the second Gemm's
    /// weights, the activation becomes x² (depth 1 instead of 2), and the outputs are unchanged.
    func testActivationFactorMovesIntoTheNextDenseLayer() throws {
        let w1 = ONNXBuilder.floats("w1", [3, 4], (0..<12).map { Float($0) / 8 - 0.5 })
        let w2 = ONNXBuilder.floats("w2", [2, 3], [0.5, -1, 2, 1.5, 0.25, -0.75])
        let b = ONNXBuilder.floats("b", [3], [0.1, -0.2, 0.3])
        let b2 = ONNXBuilder.floats("b2", [2], [1, -1])
        let factor = ONNXBuilder.floats("f", [3], [0.5, -2, 3])
        let nodes = [
            ONNXBuilder.node("Gemm", ["x", "w1", "b"], ["y"], name: "fc1", attributes: [ONNXBuilder.intAttribute("transB", 1)]),
            ONNXBuilder.node("Mul", ["y", "y"], ["sq"], name: "square"),
            ONNXBuilder.node("Mul", ["f", "sq"], ["act"], name: "scale"),
            ONNXBuilder.node("Gemm", ["act", "w2", "b2"], ["z"], name: "fc2", attributes: [ONNXBuilder.intAttribute("transB", 1)]),
        ]
        let data = try ONNXBuilder.model(nodes: nodes, initializers: [w1, w2, b, b2, factor], inputs: [ONNXBuilder.valueInfo("x", [nil, 4])], output: "z")
        let folded = try ONNXImporter.load(data: data)
        let unfolded = try ONNXImporter.load(data: data, options: ImportOptions(foldLinearLayers: false))
        guard case let .polynomial(p) = folded.layers[2].operation, case let .polynomial(q) = unfolded.layers[2].operation else {
            return XCTFail("\(folded.layers)")
        }
        XCTAssertEqual(p.coefficients, [[0], [0], [1]])
        XCTAssertEqual(q.coefficients, [[0], [0], [0.5, -2, 3]])
        XCTAssertEqual(folded.multiplicativeDepth, unfolded.multiplicativeDepth - 1)
        let x = Tensor(shape: [2, 4], values: [1, -2, 0.5, 3, 0, 1, 2, -1])
        XCTAssertLessThan(maxRelativeError(try PlainExecutor.run(folded, input: x).values, try PlainExecutor.run(unfolded, input: x).values), 1e-12)
    }
}
