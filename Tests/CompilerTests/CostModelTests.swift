import CKKS
import TileTensors
import XCTest
@testable import Compiler

/// The cost model prices each counter with the calibrated primitive at the operation's level.
final class CostModelTests: XCTestCase {
    func parameters() throws -> CKKSParameters {
        try CKKSParameters(logDegree: 10, primeBits: [50, 30, 30], specialPrimeBits: [50], logScale: 30,
                           keySwitchDigits: nil, security: .insecureTestingOnly)
    }

    /// A table with made-up, level-dependent costs so that every term can be checked exactly.
    func table(for parameters: CKKSParameters) -> CostTable {
        var micro: [String: [Double]] = [:]
        for (i, p) in Primitive.allCases.enumerated() {
            micro[p.rawValue] = (0...parameters.maxLevel).map { Double((i + 1) * 10 + $0) }
        }
        var table = CostTable(machine: "m", engineVersion: "v", threads: 1)
        table.merge(.init(name: "t", fingerprint: parameters.fingerprintHex, logDegree: parameters.logDegree, microseconds: micro))
        return table
    }

    func testEveryCounterIsPricedAtItsLevel() throws {
        let p = try parameters()
        let model = try CostModel(table: table(for: p), parameters: p)
        // add 10+l, multiply_plain 20+l, multiply_relinearize 30+l, rescale 40+l, rotate 50+l,
        // hoisted_rotation 60+l, encode 70+l.
        var c = OperationCounts()
        c.additions = 2; c.plainMultiplications = 3; c.encodes = 1; c.rescales = 1
        c.multiplications = 1; c.relinearizations = 1; c.rotations = 2
        c.hoistedRotationSets = 1; c.hoistedRotations = 4; c.encryptions = 9
        let l = 1.0
        let tensor: Double = max((30 + l) - (50 + l), 0.1 * (30 + l))
        let linear: Double = 2 * (10 + l) + 3 * (20 + l) + (70 + l) + (40 + l)
        let switches: Double = (1 + 2 + 1) * (50 + l) + 3 * (60 + l)
        let expected = linear + tensor + switches
        XCTAssertEqual(try model.microseconds(c, level: 1), expected, accuracy: 1e-9)
        XCTAssertEqual(try model.microseconds(byLevel: [1: c, 2: OperationCounts()]), expected, accuracy: 1e-9)
        XCTAssertThrowsError(try model.microseconds(c, level: 3))
    }

    /// Encodes and products made by product workers are priced at the concurrent primitives
    /// (concurrent_encode 80 + l, concurrent_multiply_plain 90 + l), their additions not again;
    /// the rest at the ordinary rates.
    func testProductWorkersArePricedAtTheConcurrentRates() throws {
        let p = try parameters()
        let model = try CostModel(table: table(for: p), parameters: p)
        var c = OperationCounts()
        c.encodes = 3; c.concurrentEncodes = 2
        c.plainMultiplications = 5; c.concurrentPlainMultiplications = 4
        c.additions = 4; c.concurrentAdditions = 3
        let l = 1.0
        let expected: Double = (70 + l) + 2 * (80 + l) + (20 + l) + 4 * (90 + l) + (10 + l)
        XCTAssertEqual(try model.microseconds(c, level: 1), expected, accuracy: 1e-9)
    }

    /// A scalar lazy sum is priced per term (lazy_multiply_scalar) and once per sum
    /// (lazy_scalar_sum: its accumulators cleared, reduced and written), nothing else.
    func testScalarLazySumsArePricedPerTermAndPerSum() throws {
        let p = try parameters()
        let t = table(for: p)
        let model = try CostModel(table: t, parameters: p)
        var c = OperationCounts()
        c.scalarMultiplications = 5; c.lazyScalarProducts = 5; c.lazyScalarSums = 2
        func row(_ q: Primitive) -> Double { t.sets[0].microseconds[q.rawValue]![1] }
        XCTAssertEqual(try model.microseconds(c, level: 1), 5 * row(.lazyMultiplyScalar) + 2 * row(.lazyScalarSum), accuracy: 1e-9)
    }

    /// A plaintext's or a constant's addition (one polynomial of two) at half an addition's rate.
    func testPlainAdditionsArePricedAtHalfAnAddition() throws {
        let p = try parameters()
        let t = table(for: p)
        let model = try CostModel(table: t, parameters: p)
        var c = OperationCounts()
        c.additions = 5; c.plainAdditions = 2
        func row(_ q: Primitive) -> Double { t.sets[0].microseconds[q.rawValue]![1] }
        XCTAssertEqual(try model.microseconds(c, level: 1), 4 * row(.add), accuracy: 1e-9)
    }

    /// A relinearization rescaled at once is priced as the two steps less the measured
    /// difference to multiply_relinearize_rescale (at the workers' rates for those made in
    /// workers), never as a surcharge; the mock counts `relinearizeAndRescale` as fused.
    func testFusedRescalesArePricedAtTheMeasuredSaving() throws {
        let p = try parameters()
        var t = table(for: p)
        let l = 1.0
        // multiply_relinearize 30 + l, rescale 40 + l: the fused form 60 + l saves 10 + l;
        // concurrent_multiply_relinearize 140 + l, concurrent_rescale 150 + l: 150 + l saves 140 + l.
        t.sets[0].microseconds[Primitive.multiplyRelinearizeRescale.rawValue] = (0...p.maxLevel).map { 60 + Double($0) }
        t.sets[0].microseconds[Primitive.concurrentMultiplyRelinearizeRescale.rawValue] = (0...p.maxLevel).map { 150 + Double($0) }
        let model = try CostModel(table: t, parameters: p)
        var c = OperationCounts()
        c.multiplications = 2; c.relinearizations = 2; c.rescales = 2
        c.concurrentMultiplications = 1; c.concurrentRelinearizations = 1; c.concurrentRescales = 1
        let twoStep = try model.microseconds(c, level: 1)
        let tensor: Double = max((30 + l) - (50 + l), 0.1 * (30 + l))
        XCTAssertEqual(twoStep, tensor + (50 + l) + (40 + l) + (140 + l) + (150 + l), accuracy: 1e-9)
        c.fusedRescales = 2; c.concurrentFusedRescales = 1
        XCTAssertEqual(try model.microseconds(c, level: 1), twoStep - (10 + l) - (140 + l), accuracy: 1e-9)
        // A fused form measured dearer than the two steps (noise) costs what they cost.
        t.sets[0].microseconds[Primitive.multiplyRelinearizeRescale.rawValue] = (0...p.maxLevel).map { 80 + Double($0) }
        t.sets[0].microseconds[Primitive.concurrentMultiplyRelinearizeRescale.rawValue] = (0...p.maxLevel).map { 400 + Double($0) }
        let plain = try CostModel(table: t, parameters: p)
        XCTAssertEqual(try plain.microseconds(c, level: 1), twoStep, accuracy: 1e-9)

        let mock = MockBackend(slotCount: 8, parameters: p)
        let x = try mock.encrypt(mock.encode([1, 2, 3], scale: p.scale, level: 2))
        let squared = try mock.relinearizeAndRescale(mock.squareWithoutRelinearization(x))
        XCTAssertEqual(squared.level, 1)
        XCTAssertEqual(mock.countsByLevel[2]?.fusedRescales, 1)
        XCTAssertEqual(mock.countsByLevel[2]?.relinearizations, 1)
        XCTAssertEqual(mock.countsByLevel[2]?.rescales, 1)
        // A two-component input is only rescaled: nothing fused.
        _ = try mock.relinearizeAndRescale(squared)
        XCTAssertEqual(mock.counts.fusedRescales, 1)
    }

    func testMockCountsByLevelFeedTheModel() throws {
        let p = try parameters()
        let mock = MockBackend(slotCount: 8, parameters: p)
        let x = try mock.encrypt(mock.encode([1, 2, 3], scale: p.scale, level: 2))
        let product = try mock.rescale(mock.multiply(x, mock.encode([2], scale: p.scale, level: 2)))
        _ = try mock.rotations(of: product, by: [1, 2, 3])
        XCTAssertEqual(mock.countsByLevel[2]?.plainMultiplications, 1)
        XCTAssertEqual(mock.countsByLevel[2]?.rescales, 1)
        XCTAssertEqual(mock.countsByLevel[1]?.hoistedRotations, 3)
        XCTAssertEqual(mock.countsByLevel.values.reduce(OperationCounts(), +), mock.counts)
        XCTAssertEqual(mock.counts.hoistedRotations, 3)
        XCTAssertEqual(mock.counts.encodes, 2)
        let model = try CostModel(table: table(for: p), parameters: p)
        // encode ×2 at 2, encryption (free), multiply_plain and rescale at 2, a set of 3 at 1.
        let encodes: Double = 2 * 72
        let productAndRescale: Double = 22 + 42
        let hoistedSet: Double = 51 + 2 * 61
        let expected = encodes + productAndRescale + hoistedSet
        XCTAssertEqual(try model.microseconds(byLevel: mock.countsByLevel), expected, accuracy: 1e-9)
        mock.resetCounts()
        XCTAssertEqual(mock.counts, OperationCounts())
        XCTAssertTrue(mock.countsByLevel.isEmpty)
        // Parameters without a calibration: a clear error.
        let other = try CKKSParameters(logDegree: 10, primeBits: [50, 31, 30], specialPrimeBits: [50], logScale: 30,
                                       keySwitchDigits: nil, security: .insecureTestingOnly)
        XCTAssertThrowsError(try CostModel(table: table(for: p), parameters: other)) { error in
            XCTAssertTrue("\(error)".contains("he-tool calibrate"))
        }
    }
}
