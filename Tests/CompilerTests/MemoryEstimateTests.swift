import Foundation
import XCTest
@testable import Compiler

/// Issue 17's "memory is part of the plan": the peak-memory estimate of a small plan is within
/// ±25% of the peak resident set (VmHWM) of a child process that evaluates it.
final class MemoryEstimateTests: XCTestCase {
    /// The figure after `label` in `text` ("peak resident memory 674 MB" → 674).
    private func megabytes(after label: String, in text: String) -> Double? {
        guard let range = text.range(of: label + " ") else { return nil }
        return Double(text[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    func testEstimateIsWithinAQuarterOfTheChildsPeak() throws {
        let (_, c, _) = try FlowFixtures.compile("mnist")
        let dir = try temporaryDirectory()
        let model = dir.appendingPathComponent("model.hemodel").path, profile = dir.appendingPathComponent("client.heprofile").path
        try Data(try c.model.serialized()).write(to: URL(fileURLWithPath: model))
        try Data(try c.profile.serialized()).write(to: URL(fileURLWithPath: profile))
        let sk = dir.appendingPathComponent("me.hesk").path, evk = dir.appendingPathComponent("me.heevk").path
        let x = dir.appendingPathComponent("x.hect").path, y = dir.appendingPathComponent("y.hect").path
        let image = FlowFixtures.examples.appendingPathComponent("mnist/test-00-label-7.png").path
        for arguments in [["keygen", "--profile", profile, "--secret-key", sk, "--eval-keys", evk],
                          ["encrypt", image, "--profile", profile, "--secret-key", sk, "--out", x]] {
            let outcome = try ToolRunner.run(arguments)
            XCTAssertEqual(outcome.status, 0, outcome.stderr)
        }
        // Every key in memory (the file read whole), then a budget that keeps them in the file.
        for (keyMemory, resident) in [(nil, nil), (20, 20 << 20)] as [(Int?, Int?)] {
            let outcome = try ToolRunner.run(["eval", "--model", model, "--eval-keys", evk, x, "--out", y, "--threads", "2"]
                                             + (keyMemory.map { ["--key-memory-mb", String($0)] } ?? []))
            XCTAssertEqual(outcome.status, 0, outcome.stderr)
            // The child's own VmHWM (getrusage), the kernel's count; the estimate is made here.
            let measured = try XCTUnwrap(megabytes(after: "peak resident memory", in: outcome.stdout), outcome.stdout) * 1e6
            let estimate = Double(c.model.memoryEstimate(residentKeyBytes: resident).total)
            XCTAssertEqual(measured / estimate, 1, accuracy: 0.25,
                           "keys \(keyMemory.map { "\($0) MB" } ?? "whole"): measured \(measured / 1e6) MB, estimated \(estimate / 1e6) MB")
        }
    }

    /// The plan records each step's simulated peak, and the estimate's ciphertext part is the largest.
    func testPlanRecordsEachStepsPeak() throws {
        let (_, c, _) = try FlowFixtures.compile("mnist")
        let peaks = c.model.plan.steps.map(\.estimatedPeakBytes)
        XCTAssertTrue(peaks.allSatisfy { $0 > 0 }, "\(peaks)")
        XCTAssertEqual(c.model.memoryEstimate().ciphertexts, peaks.max())
        XCTAssertEqual(c.plans[0].largestIntermediateBytes, peaks.max())
        // Read back from the file.
        let read = try CompiledModel.read(try c.model.serialized())
        XCTAssertEqual(read.plan.steps.map(\.estimatedPeakBytes), peaks)
        // The input's ciphertexts alone are at most the first step's peak.
        let p = c.model.parameters
        XCTAssertGreaterThanOrEqual(peaks[0], c.model.inputLayout.tileCount * 2 * p.ciphertextPrimes.count * p.degree * 8)
    }
}
