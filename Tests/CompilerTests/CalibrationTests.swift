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
        c.firstTouch = FirstTouchCost(regionBytes: 4 << 20, maximumBytes: 12 << 20)
        c.keyRead = KeyReadCost(logDegree: 12, keys: 2, rounds: 2)
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

    /// The first-touch probe goes past pages the system still backs to the rate after them
    /// (three regions in a row at 2.5× the first), or to its cap, and takes the last three's median.
    func testFirstTouchProbeSettlesAfterTheJumpOrAtItsCap() {
        let probe = FirstTouchCost(regionBytes: 1 << 20, maximumBytes: 10 << 20)
        var rates: [Double] = []
        for rate in [210.0, 200, 230, 220, 1_300, 1_450, 1_380] {
            XCTAssertTrue(probe.needsAnotherRegion(after: rates), "\(rates)")
            rates.append(rate)
        }
        XCTAssertFalse(probe.needsAnotherRegion(after: rates))
        XCTAssertEqual(FirstTouchCost.settledRate(rates), 1_380)
        // Level rates (no hypervisor): on to the cap, ten regions of 1 MiB.
        let level = [Double](repeating: 250, count: 9)
        XCTAssertTrue(probe.needsAnotherRegion(after: level))
        XCTAssertFalse(probe.needsAnotherRegion(after: level + [260]))
        XCTAssertEqual(FirstTouchCost.settledRate([250, 240, 260, 255]), 255)
        // A real measurement: positive and finite.
        let measured = FirstTouchCost(regionBytes: 4 << 20, maximumBytes: 12 << 20).measure(threads: 2)
        XCTAssertTrue(measured.map { $0 > 0 && $0.isFinite } ?? false, "\(String(describing: measured))")
    }

    func testCacheRoundTripsAndRejectsDamageAndOtherMachines() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("he-cal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = CalibrationCache(directory: directory, threads: 1)
        XCTAssertNil(try cache.load())
        var table = CostTable(machine: MachineIdentity.current, engineVersion: EngineVersion.calibrationKey, threads: 1)
        table.merge(try fastCalibrator().calibrate(name: "small", parameters: smallParameters()))
        try cache.save(table)
        XCTAssertEqual(try cache.load(), table)
        // Another thread count, machine or version: not used.
        XCTAssertNil(try CalibrationCache(directory: directory, threads: 2).load())
        var elsewhere = table
        elsewhere.machine = "another CPU × 64"
        try cache.save(elsewhere)
        XCTAssertNil(try cache.load())
        // The same version built for another CPU target (native against portable): not used.
        var otherBuild = table
        otherBuild.engineVersion = EngineVersion.string + "-" + (EngineVersion.codeGeneration == "native" ? "portable" : "native")
        try cache.save(otherBuild)
        XCTAssertNil(try cache.load())
        XCTAssertTrue(cache.file.lastPathComponent.contains(EngineVersion.codeGeneration), cache.file.lastPathComponent)
        // Damaged files: a clear error naming the file; ensure() measures afresh instead.
        for damage in [Data("{".utf8), Data("{\"format_version\": \(CostTable.formatVersion)}".utf8)] {
            try damage.write(to: cache.file)
            XCTAssertThrowsError(try cache.load()) { error in
                XCTAssertTrue("\(error)".contains(cache.file.path), "\(error)")
            }
        }
        // An older format (before cost profiles) is simply measured again.
        try Data("{\"format_version\": 1, \"sets\": []}".utf8).write(to: cache.file)
        XCTAssertNil(try cache.load())
        var negative = table
        negative.sets[0].microseconds["rotate"]![0] = -1
        try JSONEncoder().encode(negative).write(to: cache.file)
        XCTAssertThrowsError(try cache.load())
        // The first-touch and key-read figures: absent is read (measured later), not a positive
        // number is refused.
        for (rate, good) in [(\CostTable.firstTouchMicrosecondsPerMB, 850.0), (\CostTable.keyReadMicrosecondsPerMB, 790.0)] {
            var rated = table
            rated[keyPath: rate] = good
            try cache.save(rated)
            XCTAssertEqual(try cache.load()?[keyPath: rate], good)
            for bad in [-1.0, 0, 2e6] {
                rated[keyPath: rate] = bad
                try JSONEncoder().encode(rated).write(to: cache.file)
                XCTAssertThrowsError(try cache.load(), "\(rate): \(bad)")
            }
        }
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

/// Cost profiles: one measurement of a ring and key-switching structure at a few levels, fitted,
/// prices every depth and scale of that structure.
final class CostProfileTests: XCTestCase {
    /// A calibration on a busy machine is flagged even when its repetitions agree: by the load
    /// before measuring, or by the share of a core the process got; an idle one is not. The
    /// flag survives the cache file, and a file without it still reads.
    func testBusyMachineIsFlagged() throws {
        let idle = MachineLoad(loadAverage: 0.4, cpuSeconds: 10, wallSeconds: 100)
        XCTAssertNil(MachineLoad.busy(from: idle, to: MachineLoad(loadAverage: 1, cpuSeconds: 12, wallSeconds: 102), cores: 2))
        let loaded = MachineLoad(loadAverage: 3.2, cpuSeconds: 10, wallSeconds: 100)
        XCTAssertNotNil(MachineLoad.busy(from: loaded, to: MachineLoad(loadAverage: 3, cpuSeconds: 12, wallSeconds: 102), cores: 2))
        let starved = MachineLoad.busy(from: idle, to: MachineLoad(loadAverage: 1, cpuSeconds: 11.2, wallSeconds: 102), cores: 2)
        XCTAssertEqual(starved, "load average 0.4 on 2 cores before measuring, 60% of a core while measuring")
        var profile = CostProfile.fit(logDegree: 12, primesPerDigit: 1, specialPrimes: 1, levels: [0, 1, 2],
                                      measured: Dictionary(uniqueKeysWithValues: Primitive.allCases.map { ($0.rawValue, [1.0, 2, 3]) })).0
        profile.busy = starved
        let data = try JSONEncoder().encode(profile)
        XCTAssertEqual(try JSONDecoder().decode(CostProfile.self, from: data).busy, starved)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["busy"] = nil
        XCTAssertNil(try JSONDecoder().decode(CostProfile.self, from: JSONSerialization.data(withJSONObject: object)).busy)
    }

    /// Measurements that follow the forms exactly are fitted exactly (digit boundaries between
    /// measured levels included); the profile prices the measured levels as measured, the levels
    /// between them by linear interpolation, and those beyond by the form.
    func testFitRecoversTheFormsAtUnmeasuredLevels() throws {
        for (alpha, k) in [(1, 1), (2, 2), (3, 2), (5, 3)] {
            let levels = [0, 3, 6, 9, 12, 15]
            let truth: [Primitive: [Double]] = [.add: [3, 2], .multiplyPlain: [5, 4], .rescale: [40, 30], .encode: [200, 25],
                                                .rotate: [100, 20, 7], .hoistedRotation: [20, 9, 5], .multiplyRelinearize: [150, 30, 7],
                                                .concurrentEncode: [110, 13], .concurrentMultiplyPlain: [3, 2],
                                                .multiplyScalar: [2, 1], .concurrentMultiplyScalar: [1, 1],
                                                .lazyMultiplyPlain: [2, 2], .lazyMultiplyScalar: [1, 1], .lazyScalarSum: [30, 12],
                                                .concurrentMultiplyRelinearize: [90, 20, 5], .concurrentRescale: [30, 20],
                                                .multiplyRelinearizeRescale: [170, 35, 7], .concurrentMultiplyRelinearizeRescale: [100, 25, 5]]
            func value(_ p: Primitive, _ level: Int) -> Double {
                zip(truth[p]!, CostProfile.features(p, level: level, primesPerDigit: alpha, specialPrimes: k)).reduce(0) { $0 + $1.0 * $1.1 }
            }
            var measured: [String: [Double]] = [:]
            for p in Primitive.allCases { measured[p.rawValue] = levels.map { value(p, $0) } }
            let (profile, worst) = CostProfile.fit(logDegree: 14, primesPerDigit: alpha, specialPrimes: k, levels: levels, measured: measured)
            XCTAssertLessThan(worst, 1e-9)
            for p in Primitive.allCases {
                for level in 0...18 where !(CostProfile.rescales(p) && level == 0) {
                    XCTAssertEqual(profile.fitted(p, level: level), value(p, level), accuracy: 1e-6 * value(p, level), "\(p) α \(alpha) level \(level)")
                    // A rescale's level 0 is not a measurement of its own.
                    let usable = levels.filter { !(CostProfile.rescales(p) && $0 == 0) }
                    let want: Double
                    if level < usable.first! || level > usable.last! {
                        want = value(p, level)
                    } else {
                        let lower = usable.last { $0 <= level }!, upper = usable.first { $0 >= level }!
                        want = lower == upper ? value(p, lower)
                            : value(p, lower) + (value(p, upper) - value(p, lower)) * Double(level - lower) / Double(upper - lower)
                    }
                    XCTAssertEqual(profile.microseconds(p, level: level), want, accuracy: 1e-6 * want, "\(p) α \(alpha) level \(level)")
                }
            }
            XCTAssertNoThrow(try profile.validate())
        }
    }

    func testProfilePricesItsFamilyOnlyAndIsCachedOnce() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("he-prof-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = CalibrationCache(directory: directory, threads: 1)
        var calibrator = Calibrator()
        calibrator.minimumReps = 3
        calibrator.maximumReps = 5
        calibrator.budgetSeconds = 0.01
        calibrator.firstTouch = FirstTouchCost(regionBytes: 4 << 20, maximumBytes: 12 << 20)
        calibrator.keyRead = KeyReadCost(logDegree: 12, keys: 2, rounds: 3)
        let shallow = try CKKSParameters(logDegree: 10, primeBits: [50, 30, 30], specialPrimeBits: [50], logScale: 30,
                                         keySwitchDigits: nil, security: .insecureTestingOnly)
        var lines: [String] = []
        let model = try cache.model(for: shallow, name: "shallow", calibrator: calibrator) { lines.append($0) }
        XCTAssertEqual(lines.filter { $0.hasPrefix("calibrating") }.count, 1, "\(lines)")
        // The first-touch cost is measured with the first profile, cached, and priced.
        XCTAssertEqual(lines.filter { $0.hasPrefix("measuring what memory") }.count, 1, "\(lines)")
        let rate = try XCTUnwrap(try cache.load()?.firstTouchMicrosecondsPerMB)
        XCTAssertGreaterThan(rate, 0)
        XCTAssertEqual(model.firstTouchMicrosecondsPerMB, rate)
        XCTAssertEqual(model.firstTouchMicroseconds(bytes: 3_000_000), 3 * rate, accuracy: 1e-9 * rate)
        // So is the cost of reading keys from their file, through the key store.
        XCTAssertEqual(lines.filter { $0.hasPrefix("measuring what reading evaluation keys") }.count, 1, "\(lines)")
        let keyRate = try XCTUnwrap(try cache.load()?.keyReadMicrosecondsPerMB)
        XCTAssertGreaterThan(keyRate, 0)
        XCTAssertEqual(model.keyReadMicrosecondsPerMB, keyRate)
        XCTAssertEqual(model.keyReadMicroseconds(bytes: 2_000_000), 2 * keyRate, accuracy: 1e-9 * keyRate)
        XCTAssertEqual(model.costs.fingerprint, shallow.fingerprintHex)
        for p in Primitive.allCases {
            let row = try XCTUnwrap(model.costs.microseconds[p.rawValue])
            XCTAssertEqual(row.count, shallow.maxLevel + 1)
            XCTAssertTrue(row.allSatisfy { $0 > 0 && $0.isFinite }, "\(p): \(row)")
        }
        // Another scale, same structure: no new measurement.
        let otherScale = try CKKSParameters(logDegree: 10, primeBits: [52, 33, 33], specialPrimeBits: [52], logScale: 33,
                                            keySwitchDigits: nil, security: .insecureTestingOnly)
        lines = []
        _ = try cache.model(for: otherScale, name: "other scale", calibrator: calibrator) { lines.append($0) }
        XCTAssertFalse(lines.contains { $0.hasPrefix("calibrating") || $0.hasPrefix("measuring") }, "\(lines)")
        // Another digit structure or a deeper chain: measured (and cached beside it).
        let twoDigits = try CKKSParameters(logDegree: 10, primeBits: [50, 30, 30, 30], specialPrimeBits: [50, 50], logScale: 30,
                                           keySwitchDigits: 2, security: .insecureTestingOnly)
        lines = []
        _ = try cache.model(for: twoDigits, name: "two digits", calibrator: calibrator) { lines.append($0) }
        XCTAssertEqual(lines.filter { $0.hasPrefix("calibrating") }.count, 1, "\(lines)")
        let table = try XCTUnwrap(try cache.load())
        XCTAssertEqual(table.profiles.count, 2)
        XCTAssertThrowsError(try table.profiles[0].costs(for: twoDigits.primesPerDigit == table.profiles[0].primesPerDigit ? shallow : twoDigits, name: "x"))
        // A damaged profile on disk is refused with the file named.
        var damaged = table
        damaged.profiles[0].coefficients[Primitive.rotate.rawValue] = [1]
        try JSONEncoder().encode(damaged).write(to: cache.file)
        XCTAssertThrowsError(try cache.load()) { XCTAssertTrue("\($0)".contains(cache.file.path), "\($0)") }
        // Sizes that would overflow the fit's arithmetic are refused before it runs.
        for hostile in [Int.max, 0] {
            var huge = table
            huge.profiles[0].primesPerDigit = hostile
            try JSONEncoder().encode(huge).write(to: cache.file)
            XCTAssertThrowsError(try cache.load())
            huge = table
            huge.profiles[0].maxLevel = hostile
            try JSONEncoder().encode(huge).write(to: cache.file)
            XCTAssertThrowsError(try cache.load())
        }
    }
}
