import CKKS
import Foundation
import XCTest
@testable import Compiler

final class CalibrationTests: XCTestCase {
    /// A small insecure set so that calibration runs in well under a second.
    func smallParameters() throws -> CKKSParameters {
        try CKKSParameters(logDegree: 10, primeBits: [50, 30, 30], specialPrimeBits: [50], logScale: 30,
                           keySwitchDigits: nil, security: .insecureTestingOnly)
    }

    func fastCalibrator() -> Calibrator {
        var c = Calibrator()
        c.minimumReps = 1
        c.maximumReps = 3
        c.budgetSeconds = 0.001
        return c
    }

    func testEveryPrimitiveAtEveryLevelIsPositiveAndKeyedByFingerprint() throws {
        let parameters = try smallParameters()
        let costs = try fastCalibrator().calibrate(name: "small", parameters: parameters)
        XCTAssertEqual(costs.fingerprint, parameters.fingerprintHex)
        for primitive in Primitive.allCases {
            let row = try XCTUnwrap(costs.microseconds[primitive.rawValue], primitive.rawValue)
            XCTAssertEqual(row.count, parameters.maxLevel + 1)
            XCTAssertTrue(row.allSatisfy { $0 > 0 && $0.isFinite }, "\(primitive): \(row)")
        }
        var table = CostTable(machine: "m", engineVersion: "v", threads: 1)
        table.merge(costs)
        XCTAssertNoThrow(try table.validate())
        // A rotation costs more than an addition at the top level: the measurements are real.
        let top = parameters.maxLevel
        XCTAssertGreaterThan(try table.cost(.rotate, level: top, fingerprint: costs.fingerprint),
                             try table.cost(.add, level: top, fingerprint: costs.fingerprint))
        XCTAssertThrowsError(try table.cost(.rotate, level: top + 1, fingerprint: costs.fingerprint))
        XCTAssertThrowsError(try table.cost(.rotate, level: 0, fingerprint: String(repeating: "0", count: 64))) { error in
            XCTAssertTrue("\(error)".contains("he-tool calibrate"))
        }
    }

    func testCacheRoundTripsAndRejectsDamageAndOtherMachines() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("he-cal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = CalibrationCache(directory: directory, threads: 1)
        XCTAssertNil(try cache.load())
        var table = CostTable(machine: MachineIdentity.current, engineVersion: EngineVersion.string, threads: 1)
        table.merge(try fastCalibrator().calibrate(name: "small", parameters: smallParameters()))
        try cache.save(table)
        XCTAssertEqual(try cache.load(), table)
        // Another thread count, machine or version: not used.
        XCTAssertNil(try CalibrationCache(directory: directory, threads: 2).load())
        var elsewhere = table
        elsewhere.machine = "another CPU × 64"
        try cache.save(elsewhere)
        XCTAssertNil(try cache.load())
        // Damaged files: a clear error naming the file; ensure() measures afresh instead.
        for damage in [Data("{".utf8), Data("{\"format_version\": 1}".utf8)] {
            try damage.write(to: cache.file)
            XCTAssertThrowsError(try cache.load()) { error in
                XCTAssertTrue("\(error)".contains(cache.file.path), "\(error)")
            }
        }
        var negative = table
        negative.sets[0].microseconds["rotate"]![0] = -1
        try JSONEncoder().encode(negative).write(to: cache.file)
        XCTAssertThrowsError(try cache.load())
        var wrongVersion = table
        wrongVersion.formatVersion = 99
        try JSONEncoder().encode(wrongVersion).write(to: cache.file)
        XCTAssertThrowsError(try cache.load())
    }

    func testSinglePrimeChainIsRefused() throws {
        let parameters = try CKKSParameters(logDegree: 10, primeBits: [50], specialPrimeBits: [50], logScale: 30,
                                            keySwitchDigits: nil, security: .insecureTestingOnly)
        XCTAssertThrowsError(try fastCalibrator().calibrate(name: "one", parameters: parameters))
    }
}
