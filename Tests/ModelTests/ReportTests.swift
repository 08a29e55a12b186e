import Foundation
import XCTest
@testable import Model

/// What the CLI prints: prediction JSON, the inspect table, the audit table.
final class ReportTests: XCTestCase {
    func testPredictionJSONHasTheDocumentedShape() throws {
        let logits = Tensor(shape: [2, 3], values: [0.5, 2, -1, 3, 3, 0.25])
        let rows = [Array(logits.values[0..<3]), Array(logits.values[3..<6])]
        let report = ClassificationReport(inputs: ["a \"quoted\" name.png", "b.npy[1]"], scores: rows, classNames: nil, k: 2)
        XCTAssertEqual(try report.json(), """
        {"outputs":[{"input":"a \\"quoted\\" name.png","logits":[0.5,2,-1],"top":[{"class":1,"score":2},{"class":0,"score":0.5}]},\
        {"input":"b.npy[1]","logits":[3,3,0.25],"top":[{"class":0,"score":3},{"class":1,"score":3}]}]}
        """)
        // Names, rounding to the profile's decimals, control characters and non-finite logits.
        let named = ClassificationReport(inputs: ["tab\there\n"], scores: [[1.23456, .nan, -.infinity]], classNames: ["one", "two", "thr\"ee"],
                                         k: 3, decimals: 2)
        let decoded = try JSONDecoder().decode(ClassificationReport.self, from: Data(try named.json().utf8))
        XCTAssertEqual(decoded, named)
        XCTAssertEqual(decoded.outputs[0].logits, [1.23, nil, nil])
        XCTAssertEqual(decoded.outputs[0].top.map(\.class), [0, 1, 2])
        XCTAssertEqual(decoded.outputs[0].top[0].name, "one")
        let parsed = try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: [[String: Any]]]
        XCTAssertEqual(parsed?["outputs"]?.count, 2)
        XCTAssertEqual(report.text(), "a \"quoted\" name.png: 1: 2, 0: 0.5\nb.npy[1]: 0: 3, 1: 3")
    }

    func testInspectTableListsLayersPolynomialsAndDepth() throws {
        let graph = try ONNXImporter.load(contentsOf: Fixtures.onnx("conv_bn_poly_op17"))
        let text = GraphDescription.text(graph, fileName: "m.onnx")
        XCTAssertTrue(text.contains("N×6×8×7"), text)
        XCTAssertTrue(text.contains("parameters: \(graph.parameterCount), multiplicative depth: 7"), text)
        XCTAssertTrue(text.contains("degree 2, depth 1, x²"), text)
        XCTAssertTrue(text.contains("/conv1/Conv + /bn1/BatchNormalization"), text)
        XCTAssertTrue(text.contains("metadata he_tool.activation_ranges: [4.0, 4.0]"), text)
        // 6·3·3·3 + 6 (conv1) + 18 (a, b, c per channel) + 8·6·3·3 + 8 (conv2) + 3 (x²) + 5·8 + 5 (fc)
        XCTAssertEqual(graph.parameterCount, 168 + 18 + 440 + 3 + 45)
    }

    func testAuditTableFlagsEscapingLayers() throws {
        let rows = [RangeAudit.Row(layer: 2, name: "act1", degree: 2, observedMaximum: 7.5, worstInput: 1, trainedBound: 5),
                    RangeAudit.Row(layer: 4, name: "act2", degree: 2, observedMaximum: 1, worstInput: 0, trainedBound: 5)]
        let text = AuditReport.text(rows, inputNames: ["x.png", "y.png"])
        XCTAssertTrue(text.contains("ESCAPES"), text)
        XCTAssertTrue(text.contains("1.50"), text)
        XCTAssertTrue(text.contains("y.png"), text)
        XCTAssertTrue(text.contains("1 polynomial layer(s) see inputs outside"), text)
    }

    func testPolynomialDepthAndFormula() {
        XCTAssertEqual(PolynomialActivation(coefficients: [[0], [0], [1]]).multiplicativeDepth, 1)
        XCTAssertEqual(PolynomialActivation(coefficients: [[0], [0], [0], [0], [1]]).multiplicativeDepth, 2)
        XCTAssertEqual(PolynomialActivation(coefficients: [[0.1], [0.5], [0.25]]).multiplicativeDepth, 2)
        XCTAssertEqual(PolynomialActivation(coefficients: [[0], [1], [0], [2]]).multiplicativeDepth, 2)
        XCTAssertEqual(PolynomialActivation(coefficients: [[1], [0], [0], [0], [0], [0], [0], [0], [1]]).multiplicativeDepth, 4)
        XCTAssertEqual(PolynomialActivation(coefficients: [[0.125], [-1], [0.25], [0]]).formula, "0.25·x² - x + 0.125")
        XCTAssertEqual(PolynomialActivation(coefficients: [[0.125], [-1], [0.25], [0]]).degree, 2)
    }
}

final class GraphValidationTests: XCTestCase {
    func testMalformedHandBuiltGraphsAreErrorsNotCrashes() throws {
        let input = Layer(name: "x", operation: .input, inputs: [], shape: [4])
        let dense = Layer(name: "fc", operation: .dense(Dense(weights: Tensor(zeros: [2, 4]), bias: [0, 0])), inputs: [0], shape: [2])
        XCTAssertNoThrow(try Graph(layers: [input, dense], output: 1, batchSize: nil, inputName: "x", outputName: "y").validate())
        let cases: [Graph] = [
            Graph(layers: [input, dense], output: 5, batchSize: nil, inputName: "x", outputName: "y"),
            Graph(layers: [input, Layer(name: "fc", operation: dense.operation, inputs: [1], shape: [2])], output: 1, batchSize: nil, inputName: "x", outputName: "y"),
            Graph(layers: [input, Layer(name: "fc", operation: dense.operation, inputs: [0], shape: [3])], output: 1, batchSize: nil, inputName: "x", outputName: "y"),
            Graph(layers: [input, Layer(name: "sum", operation: .add, inputs: [0], shape: [4])], output: 1, batchSize: nil, inputName: "x", outputName: "y"),
        ]
        for g in cases {
            XCTAssertThrowsError(try PlainExecutor.run(g, input: Tensor(zeros: [1, 4]))) { error in
                XCTAssertTrue("\(error)".contains("malformed graph"), "\(error)")
            }
        }
    }
}
