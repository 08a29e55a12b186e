import CKKS
import Foundation
import Model
import TileTensors
import XCTest
@testable import Compiler

/// Issue 16's "precision is planned": the compiler simulates the chosen plan with CKKS's errors
/// and raises the scale until the predicted logit error is within 1e-3 of the largest logit.
/// Networks with small logits (a head that shrinks them 1000×: the last rescale's absolute
/// error then matters) and with large ones, compiled with the defaults, run end to end within
/// 1e-3; the prediction is checked against the measured error.
final class PrecisionPlanningTests: XCTestCase {
    /// conv-x²-conv-x²-pool-dense on 2×8×8 with the head's weights times `headScale`.
    static func network(headScale: Double) -> Graph {
        var s = ResidualGraphTests.Sketch([2, 8, 8])
        let x = s.quadratic(s.conv(s.quadratic(s.conv(0, 4, k: 3, pad: 1)), 4, k: 3, pad: 1))
        let head = s.head(x, classes: 3)
        if case .dense(var dense) = s.layers[head].operation {
            dense.weights = Model.Tensor(shape: dense.weights.shape, values: dense.weights.values.map { $0 * headScale })
            dense.bias = dense.bias.map { $0 * headScale }
            s.layers[head] = Layer(name: s.layers[head].name, operation: .dense(dense), inputs: s.layers[head].inputs, shape: s.layers[head].shape)
        }
        return s.graph()
    }

    /// Compiles (optionally with the scale capped, as a tight ring caps it), runs the samples end
    /// to end and returns the compilation and the worst measured error relative to the largest logit.
    func run(_ graph: Graph, label: String, calibrated: Bool, scaleCap: Int? = nil,
             target: Double = PrecisionEstimate.defaultTarget) throws -> (Compilation, Double) {
        let samples = ResidualGraphTests.samples(graph, count: 2)
        var options = Optimizer.Options()
        options.searchConversions = false
        options.maximumRelativeLogitError = target
        if let scaleCap {
            options.minimumScaleBits = scaleCap
            options.maximumScaleBits = scaleCap
        }
        let c = try Compilation.compile(graph, name: label, options: options, calibrationInputs: calibrated ? samples : [],
                                        costModel: FlowFixtures.costModel)
        let estimate = try XCTUnwrap(c.precision)
        XCTAssertLessThanOrEqual(estimate.bound, target, "\(label): the chosen plan's prediction")
        let report = CompilationReport.lines(c).joined(separator: "\n")
        XCTAssertTrue(report.contains("precision: predicted logit error"), report)
        if !calibrated { XCTAssertTrue(report.contains("no calibration inputs"), "the assumed range is stated:\n\(report)") }
        let profile = c.profile
        let context = try CKKSContext(parameters: profile.parameters)
        let sk = KeyGenerator(context: context).secretKey()
        let keys = try ClientSession(profile: profile, secretKey: sk).evaluationKeys()
        var worst = 0.0
        for sample in samples {
            let input = try ClientSession(profile: profile, secretKey: sk).encrypt([sample])
            let output = try EvaluationSession(model: c.model, keys: keys).evaluate(input)
            let got = try ClientSession(profile: profile, secretKey: sk).decrypt(output)[0]
            let want = try PlainExecutor.run(graph, input: Model.Tensor(shape: [1] + graph.inputShape, values: sample)).values
            worst = max(worst, zip(got, want).map { abs($0 - $1) }.max()! / want.map(abs).max()!)
        }
        print(String(format: "precision planning, %@: scale 2^%d, N = %d, %d decimals, predicted ≤ %.2g, measured %.2g (relative to the largest logit)",
                     label, estimate.logScale, profile.parameters.degree, profile.outputDecimals, estimate.bound, worst))
        return (c, worst)
    }

    /// The prediction follows the measurement: a plan held at a 20-bit scale (the target set
    /// loose so nothing is raised) errs by about what its simulation said.
    func testPredictionMatchesTheMeasuredError() throws {
        let (c, measured) = try run(Self.network(headScale: 1), label: "20-bit scale", calibrated: true, scaleCap: 20, target: 0.5)
        let bound = c.precision!.bound
        XCTAssertEqual(c.precision!.logScale, 20)
        XCTAssertGreaterThan(measured, 1e-3, "a 20-bit scale is too small for this network: the test must see an error to predict")
        XCTAssertLessThanOrEqual(measured, 1.5 * bound, "measured \(measured), predicted ≤ \(bound)")
        XCTAssertGreaterThanOrEqual(measured, bound / 10, "measured \(measured), predicted ≤ \(bound): far too pessimistic")
    }

    /// The same network with the scale held at 20 bits and the default target: the compile
    /// raises the scale past it until the prediction holds, and the run is within 1e-3.
    func testScaleIsRaisedUntilThePredictionHolds() throws {
        let (c, measured) = try run(Self.network(headScale: 1), label: "raised from 20 bits", calibrated: true, scaleCap: 20)
        XCTAssertGreaterThan(c.precision!.logScale, 20)
        XCTAssertLessThanOrEqual(measured, 1e-3)
    }

    /// Logits 1000× smaller (no calibration inputs: the assumed range) and 1000× larger than a
    /// few units, default options: within 1e-3 of the largest logit, top-1 agreeing.
    func testSmallAndLargeLogitsWithinOneThousandth() throws {
        let (small, e1) = try run(Self.network(headScale: 1e-3), label: "small logits", calibrated: false)
        XCTAssertLessThanOrEqual(e1, 1e-3)
        XCTAssertGreaterThan(small.profile.outputDecimals, 3, "small logits are shown with more decimals")
        let (_, e2) = try run(Self.network(headScale: 1e3), label: "large logits", calibrated: true)
        XCTAssertLessThanOrEqual(e2, 1e-3)
    }
}
