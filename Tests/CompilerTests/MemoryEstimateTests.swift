import CKKS
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

    /// Each step is charged the memory it touches first: the bytes by which its peak exceeds
    /// the input's read and every earlier step's peak (together the plan's peak over the read),
    /// at the calibrated rate, on top of its operations.
    func testStepsArePricedForTheMemoryTheyTouchFirst() throws {
        let (_, c, _) = try FlowFixtures.compile("mnist")
        let plan = c.plans[0], p = plan.choice.parameters
        let fresh = plan.simulation.firstTouchBytes(parameters: p)
        let peaks = plan.simulation.steps.indices.map { plan.simulation.peakBytes(step: $0, maxLevel: p.maxLevel) }
        let read = 2 * plan.simulation.inputLayout.tileCount * p.ciphertextPrimes.count * p.degree * 8
        XCTAssertTrue(fresh.allSatisfy { $0 >= 0 }, "\(fresh)")
        XCTAssertEqual(fresh.reduce(0, +), max(0, peaks.max()! - read), "\(fresh) \(peaks) \(read)")
        for i in fresh.indices where fresh[i] > 0 {
            XCTAssertEqual(peaks[i], max(read, peaks[..<i].max() ?? 0) + fresh[i], "step \(i)")
        }
        let model = try FlowFixtures.costModel(plan.choice)
        XCTAssertEqual(model.firstTouchMicrosecondsPerMB, 0, "the fixtures' table has no first-touch figure")
        let touching = CostModel(costs: model.costs, firstTouchMicrosecondsPerMB: 1_400)
        let without = try Optimizer.stepMicroseconds(plan.simulation, parameters: p, model: model)
        let with = try Optimizer.stepMicroseconds(plan.simulation, parameters: p, model: touching)
        for i in fresh.indices {
            XCTAssertEqual(with[i] - without[i], Double(fresh[i]) / 1e6 * 1_400, accuracy: 1e-6 * max(with[i], 1), "step \(i)")
        }
        XCTAssertGreaterThan(fresh.reduce(0, +), 0, "the MNIST plan's steps grow past its input's read")
    }

    /// When the plan's key file is read key by key (larger than one he-tool file), each step is
    /// charged the keys it is the first to read at the calibrated rate; a file read whole
    /// before the first step (the bundled plans') charges no step.
    func testStepsArePricedForTheKeysTheyReadFromTheirFile() throws {
        let (_, c, _) = try FlowFixtures.compile("mnist", conversions: true)
        let plan = c.plans[0], p = plan.choice.parameters
        let keyBytes = plan.simulation.steps.indices.map { plan.simulation.keyBytes(step: $0, parameters: p) }
        XCTAssertGreaterThan(keyBytes.filter { $0 > 0 }.count, 1, "\(keyBytes)")
        XCTAssertFalse(Optimizer.keysReadOnDemand(plan.simulation, parameters: p), "the fixture's keys fit one file")
        let model = try FlowFixtures.costModel(plan.choice)
        XCTAssertEqual(model.keyReadMicrosecondsPerMB, 0, "the fixtures' table has no key-read figure")
        let reading = CostModel(costs: model.costs, keyReadMicrosecondsPerMB: 800)
        let without = try Optimizer.stepMicroseconds(plan.simulation, parameters: p, model: model)
        XCTAssertEqual(try Optimizer.stepMicroseconds(plan.simulation, parameters: p, model: reading), without,
                       "keys read whole before the first step are no step's cost")
        let onDemand = try Optimizer.stepMicroseconds(plan.simulation, parameters: p, model: reading, keyFileLimit: 0)
        for i in keyBytes.indices {
            XCTAssertEqual(onDemand[i] - without[i], Double(keyBytes[i]) / 1e6 * 800, accuracy: 1e-6 * max(onDemand[i], 1), "step \(i)")
        }
    }

    /// Each step records the Galois keys it is the first to read, cut at its levels: a server
    /// reading keys on demand reads exactly those bytes in that step (checked against the key
    /// store's own count, step by step, on a plan with conversions between tilings), and the
    /// estimate's keys part is what it holds, not the whole budget.
    func testPlanRecordsTheKeysEachStepReads() throws {
        let (graph, c, samples) = try FlowFixtures.compile("mnist", conversions: true)
        let model = try CompiledModel.read(try c.model.serialized())
        let expected = model.plan.steps.map(\.estimatedKeyBytes)
        XCTAssertGreaterThan(expected.filter { $0 > 0 }.count, 1, "\(expected)")
        let context = try CKKSContext(parameters: model.parameters)
        let sk = KeyGenerator(context: context).secretKey()
        let client = try ClientSession(profile: c.profile, secretKey: sk)
        let dir = try temporaryDirectory()
        let path = dir.appendingPathComponent("me.heevk").path
        try CKKSFile.write(CKKSFile.serialize(try client.evaluationKeys()), to: URL(fileURLWithPath: path), ownerOnly: false)
        let keys = try CKKSFile.openEvaluationKeys(path: path, context: context, residentBytes: 1 << 30, readThreads: 2)
        let store = try XCTUnwrap(keys.store)
        var before = 0
        var read = [Int](repeating: 0, count: expected.count)
        let output = try EvaluationSession(model: model, keys: keys).evaluate(try client.encrypt([samples[0].tensor.values])) { step, finished in
            let now = store.statistics.readBytes
            if finished { read[step] = now - before } else { before = now }
        }
        XCTAssertEqual(read, expected)
        let all = expected.reduce(0, +)
        XCTAssertEqual(store.statistics.residentBytes, all)
        XCTAssertLessThan(all, model.rotationSteps.count * GaloisKeyStore.keyBytes(context), "keys cut below the top level")
        // The estimate's keys: those read and the relinearization key, under a large budget;
        // under a small one the budget and a key in use beside it.
        let whole = GaloisKeyStore.keyBytes(context)
        XCTAssertEqual(model.memoryEstimate(residentKeyBytes: 1 << 30).keys, all + whole)
        XCTAssertEqual(model.memoryEstimate(residentKeyBytes: all / 2).keys, max(all / 2, whole) + 2 * whole)
        let logits = try client.decrypt(output)[0], want = try FlowFixtures.plainLogits(graph, samples[0].tensor.values)
        XCTAssertEqual(FlowFixtures.argmax(logits), FlowFixtures.argmax(want))
    }
}
