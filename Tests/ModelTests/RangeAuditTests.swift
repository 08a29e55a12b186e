import Foundation
import XCTest
@testable import Model

final class RangeAuditTests: XCTestCase {
    /// The audit's maxima are the true maxima of the activation inputs (checked against a run of
    /// the unfused graph prefix), and the tight model (trained range 0.5) is reported as escaping.
    func testAuditFindsTheLargestInputOfEachPolynomial() throws {
        let expected = try Fixtures.expected("conv_bn_poly_op17")
        let graph = try ONNXImporter.load(contentsOf: Fixtures.onnx("conv_bn_poly_op17"))
        let rows = try RangeAudit.run(graph, calibration: expected.inputTensor, chunk: 2)
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows.map(\.trainedBound), [4.0, 4.0])
        let all = try PlainExecutor.runRecordingAll(graph, input: expected.inputTensor)
        for row in rows {
            let x = all[graph.layers[row.layer].inputs[0]]!
            XCTAssertEqual(row.observedMaximum, x.values.map(abs).max()!)
            XCTAssertEqual(row.degree, 2)
            XCTAssertFalse(row.escapes, "\(row)")
            let block = x.count / 3
            let worstValue = x.values[(row.worstInput * block)..<((row.worstInput + 1) * block)].map(abs).max()!
            XCTAssertEqual(worstValue, row.observedMaximum)
        }
        let tight = try ONNXImporter.load(contentsOf: Fixtures.onnx("conv_bn_poly_op13_tight"))
        let tightRows = try RangeAudit.run(tight, calibration: expected.inputTensor)
        XCTAssertEqual(tightRows.map(\.trainedBound), [0.5, 0.5])
        XCTAssertTrue(tightRows.allSatisfy(\.escapes))
        // A flag overrides the metadata.
        let overridden = try RangeAudit.run(tight, calibration: expected.inputTensor, bounds: [1e6])
        XCTAssertTrue(overridden.allSatisfy { !$0.escapes })
        XCTAssertThrowsError(try RangeAudit.run(tight, calibration: expected.inputTensor, bounds: [1, 2, 3]))
    }

    func testMalformedRangeMetadataIsAClearError() throws {
        var graph = try ONNXImporter.load(contentsOf: Fixtures.onnx("conv_square_op11"))
        XCTAssertNil(try RangeAudit.trainedBounds(of: graph))
        graph.metadata[RangeAudit.metadataKey] = "[1, 2]"
        XCTAssertThrowsError(try RangeAudit.trainedBounds(of: graph)) { error in
            XCTAssertTrue("\(error)".contains("1 numbers"), "\(error)")
        }
        graph.metadata[RangeAudit.metadataKey] = "3"
        XCTAssertEqual(try RangeAudit.trainedBounds(of: graph), [3])
    }
}
