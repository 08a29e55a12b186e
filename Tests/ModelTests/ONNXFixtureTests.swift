import Foundation
import XCTest
@testable import Model

/// The plaintext executor against onnxruntime on every fixture model, and what the importer
/// made of each (fusions, folding, refusals).
final class ONNXFixtureTests: XCTestCase {
    func testEveryFixtureMatchesOnnxruntime() throws {
        let models = try Fixtures.runnableModels()
        XCTAssertGreaterThanOrEqual(models.count, 12)
        for name in models {
            let expected = try Fixtures.expected(name)
            let graph = try ONNXImporter.load(contentsOf: Fixtures.onnx(name))
            let output = try PlainExecutor.run(graph, input: expected.inputTensor)
            XCTAssertEqual(output.shape, expected.output_shape, name)
            let reference = expected.nodes.last == "Softmax" ? softmaxRows(output) : output.values
            // Sample by sample: the max-norm error relative to that sample's largest output.
            let width = reference.count / output.shape[0]
            for row in 0..<output.shape[0] {
                let range = (row * width)..<((row + 1) * width)
                let error = maxRelativeError(Array(reference[range]), Array(expected.output![range]))
                XCTAssertLessThan(error, 1e-5, "\(name) sample \(row): relative error \(error)")
            }
        }
    }

    func testFoldingChangesNoOutput() throws {
        for name in try Fixtures.runnableModels() {
            let expected = try Fixtures.expected(name)
            let folded = try ONNXImporter.load(contentsOf: Fixtures.onnx(name))
            let unfolded = try ONNXImporter.load(contentsOf: Fixtures.onnx(name), options: ImportOptions(foldLinearLayers: false))
            let a = try PlainExecutor.run(folded, input: expected.inputTensor)
            let b = try PlainExecutor.run(unfolded, input: expected.inputTensor)
            XCTAssertLessThan(maxRelativeError(a.values, b.values), 1e-9, name)
            XCTAssertLessThanOrEqual(folded.layers.count, unfolded.layers.count, name)
        }
    }

    func testBatchNormFoldsIntoConvolutionsAndActivationsFuse() throws {
        let graph = try ONNXImporter.load(contentsOf: Fixtures.onnx("conv_bn_poly_op17"))
        XCTAssertEqual(graph.layers.map(\.operation.kind),
                       ["input", "conv2d", "polynomial", "conv2d", "polynomial", "globalAveragePool", "flatten", "dense"])
        XCTAssertEqual(graph.layers.map(\.shape), [[3, 8, 7], [6, 8, 7], [6, 8, 7], [8, 4, 3], [8, 4, 3], [8, 1, 1], [8], [5]])
        guard case let .polynomial(p1) = graph.layers[2].operation, case let .polynomial(p2) = graph.layers[4].operation else {
            return XCTFail("no polynomial layers")
        }
        XCTAssertEqual(p1.degree, 2)
        XCTAssertEqual(p1.channelCount, 6)
        XCTAssertFalse(p1.isShared)
        XCTAssertEqual(p2.coefficients, [[0], [0], [1]]) // Pow(x, 2)
        XCTAssertEqual(p2.multiplicativeDepth, 1)
        XCTAssertEqual(p1.multiplicativeDepth, 2)
        // conv 1 + poly 2 + conv 1 + x² 1 + pool 1 + dense 1
        XCTAssertEqual(graph.multiplicativeDepth, 7)
        let unfolded = try ONNXImporter.load(contentsOf: Fixtures.onnx("conv_bn_poly_op17"), options: ImportOptions(foldLinearLayers: false))
        XCTAssertEqual(unfolded.layers.filter { $0.operation.kind == "affine" }.count, 2)
    }

    func testTheDynamoExportImportsToTheSameLayers() throws {
        for (legacy, dynamo) in [("conv_bn_poly_op17", "conv_bn_poly_dynamo_op20"), ("pad_reshape_op11", "pad_reshape_dynamo_op20"),
                                 ("mlp_spellings_op11", "mlp_spellings_dynamo_op20")] {
            let a = try ONNXImporter.load(contentsOf: Fixtures.onnx(legacy))
            let b = try ONNXImporter.load(contentsOf: Fixtures.onnx(dynamo))
            XCTAssertEqual(a.layers.map(\.operation.kind), b.layers.map(\.operation.kind), dynamo)
            XCTAssertEqual(a.layers.map(\.shape), b.layers.map(\.shape), dynamo)
            XCTAssertEqual(a.multiplicativeDepth, b.multiplicativeDepth, dynamo)
        }
    }

    func testEveryActivationSpellingFuses() throws {
        for name in ["mlp_spellings_op11", "mlp_spellings_op20", "mlp_spellings_dynamo_op20"] {
            let graph = try ONNXImporter.load(contentsOf: Fixtures.onnx(name))
            XCTAssertEqual(graph.layers.map(\.operation.kind),
                           ["input", "dense", "polynomial", "dense", "polynomial", "dense", "polynomial", "dense"], name)
            let polys = graph.polynomialLayers.map { i -> PolynomialActivation in
                guard case let .polynomial(p) = graph.layers[i].operation else { fatalError() }
                return p
            }
            func close(_ a: [[Double]], _ b: [[Double]]) -> Bool {
                a.count == b.count && zip(a, b).allSatisfy { x, y in x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) < 1e-6 } }
            }
            // 0.125 + 0.5·x + 0.25·x**2 (Pow with a float exponent, constants on the left)
            XCTAssertTrue(close(polys[0].coefficients, [[0.125], [0.5], [0.25]]), "\(name) \(polys[0].coefficients)")
            // x*(0.3x + 1) - 0.2/2 + x/4 = 0.3x² + 1.25x - 0.1 (Horner, Sub, Div)
            XCTAssertTrue(close(polys[1].coefficients, [[-0.1], [1.25], [0.3]]), "\(name) \(polys[1].coefficients)")
            // 0.05·x³ + x
            XCTAssertTrue(close(polys[2].coefficients, [[0], [1], [0], [0.05]]), "\(name) \(polys[2].coefficients)")
            XCTAssertEqual(polys[2].multiplicativeDepth, 2)
        }
    }

    func testResidualAddAndPaddingFold() throws {
        let residual = try ONNXImporter.load(contentsOf: Fixtures.onnx("residual_op18"))
        XCTAssertEqual(residual.layers.map(\.operation.kind),
                       ["input", "conv2d", "polynomial", "conv2d", "add", "polynomial", "averagePool", "globalAveragePool", "flatten", "dense"])
        let padded = try ONNXImporter.load(contentsOf: Fixtures.onnx("pad_reshape_op11"))
        // (x - 0.5)/0.25 and BN merge into one affine; the Pad folds into the convolution.
        XCTAssertEqual(padded.layers.map(\.operation.kind), ["input", "affine", "conv2d", "polynomial", "flatten", "dense"])
        guard case let .conv2d(conv) = padded.layers[2].operation else { return XCTFail() }
        XCTAssertEqual(conv.padding, Padding2d(top: 2, left: 1, bottom: 1, right: 0))
    }

    func testAffineAfterPoolingFoldsThroughFlattenIntoDense() throws {
        let graph = try ONNXImporter.load(contentsOf: Fixtures.onnx("pool_bn_dense_op15"))
        XCTAssertEqual(graph.layers.map(\.operation.kind), ["input", "conv2d", "polynomial", "averagePool", "flatten", "dense"])
        XCTAssertTrue(graph.layers[5].name.contains("BatchNormalization"), graph.layers[5].name)
    }

    func testPerFeatureQuadraticOnADenseLayer() throws {
        let graph = try ONNXImporter.load(contentsOf: Fixtures.onnx("mlp_per_feature_op12"))
        XCTAssertEqual(graph.layers.map(\.operation.kind), ["input", "dense", "polynomial", "dense"])
        guard case let .polynomial(p) = graph.layers[2].operation else { return XCTFail() }
        XCTAssertEqual(p.degree, 2)
        XCTAssertEqual(p.channelCount, 5)
        XCTAssertEqual(p.coefficients.map(\.count), [5, 5, 5])
    }

    func testFinalSoftmaxIsDroppedWithANote() throws {
        let graph = try ONNXImporter.load(contentsOf: Fixtures.onnx("final_softmax_op13"))
        XCTAssertEqual(graph.notes.count, 1)
        XCTAssertTrue(graph.notes[0].contains("Softmax"), graph.notes[0])
    }

    func testNonPolynomialOperatorsAreRefusedWithTheirNode() throws {
        let cases: [(String, String, String, Int)] = [
            ("relu_op13", "Relu", "/Relu", 1),
            ("maxpool_op11", "MaxPool", "/MaxPool", 2),
            ("sigmoid_op17", "Sigmoid", "/Sigmoid", 1),
        ]
        for (file, op, node, position) in cases {
            XCTAssertThrowsError(try ONNXImporter.load(contentsOf: Fixtures.onnx(file)), file) { error in
                guard case let ModelError.unsupportedOperator(opType, name, pos, advice) = error else {
                    return XCTFail("\(file): \(error)")
                }
                XCTAssertEqual(opType, op)
                XCTAssertEqual(name, node)
                XCTAssertEqual(pos, position)
                XCTAssertTrue(advice.contains("Examples/training") && advice.contains("polynomial"), advice)
                XCTAssertTrue("\(error)".contains(node))
            }
            let refusals = try ONNXImporter.refusals(data: Fixtures.data("onnx/\(file).onnx"))
            XCTAssertEqual(refusals.count, 1, file)
        }
        if case let ModelError.unsupportedOperator(_, _, _, advice)? = try ONNXImporter.refusals(data: Fixtures.data("onnx/maxpool_op11.onnx")).first {
            XCTAssertTrue(advice.contains("average pooling"))
        } else { XCTFail() }
    }

    func testFixedBatchIsEnforcedAndDynamicBatchAcceptsAny() throws {
        let fixed = try ONNXImporter.load(contentsOf: Fixtures.onnx("conv_square_op17_batch2"))
        XCTAssertEqual(fixed.batchSize, 2)
        XCTAssertThrowsError(try PlainExecutor.run(fixed, input: Tensor(zeros: [3, 1, 8, 8])))
        let dynamic = try ONNXImporter.load(contentsOf: Fixtures.onnx("conv_square_op11"))
        XCTAssertNil(dynamic.batchSize)
        XCTAssertEqual(try PlainExecutor.run(dynamic, input: Tensor(zeros: [5, 1, 8, 8])).shape, [5, 10])
        XCTAssertThrowsError(try PlainExecutor.run(dynamic, input: Tensor(zeros: [1, 1, 8, 9]))) { error in
            XCTAssertTrue("\(error)".contains("1×8×8"), "\(error)")
        }
    }
}
