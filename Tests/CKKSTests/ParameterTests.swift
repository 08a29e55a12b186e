import XCTest
@testable import CKKS
import HEMath

final class ParameterTests: XCTestCase {
    private var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func testEveryPresetPassesTheTableAndMatchesItsFile() throws {
        XCTAssertEqual(Set(ParameterPreset.builtIn.map(\.name)), ["n8192-l2", "n16384-l6", "n32768-l18"])
        for preset in ParameterPreset.builtIn {
            let p = try preset.parameters()
            let limit = try XCTUnwrap(SecurityTable.maximumLog2QP(degree: p.degree, allowExtended: false))
            XCTAssertLessThanOrEqual(p.log2QP, Double(limit), preset.name)
            XCTAssertEqual(p.ciphertextPrimes.count, preset.primeBits.count)
            XCTAssertEqual(p.specialPrimes.count, 1)
            let file = repositoryRoot.appendingPathComponent("Params/\(preset.name).json")
            let fromFile = try ParameterPreset.decode(json: Data(contentsOf: file), source: file.path)
            XCTAssertEqual(fromFile, preset, "Params/\(preset.name).json differs from the built-in preset")
            XCTAssertFalse(preset.comment.isEmpty)
        }
        // The bench chains: exactly shared/bench's primes_bits.
        XCTAssertEqual(try ParameterPreset.named("n8192-l2").primeBits + [60], [60, 40, 40, 60])
    }

    func testTheTableIsTheStandardsRow() {
        XCTAssertEqual(SecurityTable.standard128, [1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438,
                                                   32768: 881, 65536: 1747])
        XCTAssertEqual(SecurityTable.maximumLog2QP(degree: 131072, allowExtended: false), nil)
        XCTAssertEqual(SecurityTable.maximumLog2QP(degree: 131072, allowExtended: true), 3523)
    }

    func testOversizedChainIsRefusedWithTheNumber() {
        // 60 + 4·40 + 60 = 280 > 218 at N = 8192.
        XCTAssertThrowsError(try CKKSParameters(logDegree: 13, primeBits: [60, 40, 40, 40, 40], specialPrimeBits: [60], logScale: 40)) { error in
            guard case let CKKSError.insecureParameters(bits, limit, n) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(limit, 218)
            XCTAssertEqual(n, 8192)
            XCTAssertEqual(bits, 280, accuracy: 0.5)
            XCTAssertTrue("\(error)".contains("218"))
        }
        // The same chain is accepted only with the test-only flag, and the set says so.
        let insecure = try? CKKSParameters(logDegree: 13, primeBits: [60, 40, 40, 40, 40], specialPrimeBits: [60],
                                           logScale: 40, security: .insecureTestingOnly)
        XCTAssertEqual(insecure?.security, .insecureTestingOnly)
        // N = 2^17 needs the extended table.
        XCTAssertThrowsError(try CKKSParameters(logDegree: 17, primeBits: [60, 40], specialPrimeBits: [60], logScale: 40))
        XCTAssertNoThrow(try CKKSParameters(logDegree: 17, primeBits: [60, 40], specialPrimeBits: [60], logScale: 40, security: .extended128))
        // Tiny rings only in test mode.
        XCTAssertThrowsError(try CKKSParameters(logDegree: 9, primeBits: [20], specialPrimeBits: [20], logScale: 10))
    }

    func testMalformedSetsAreRefused() {
        XCTAssertThrowsError(try CKKSParameters(logDegree: 13, primeBits: [60, 40], specialPrimeBits: [], logScale: 40))
        XCTAssertThrowsError(try CKKSParameters(logDegree: 13, primeBits: [], specialPrimeBits: [60], logScale: 40))
        XCTAssertThrowsError(try CKKSParameters(logDegree: 13, primeBits: [60, 40], specialPrimeBits: [60], logScale: 61))
        XCTAssertThrowsError(try CKKSParameters(logDegree: 13, primeBits: [60, 40, 40], specialPrimeBits: [60], logScale: 40, keySwitchDigits: 4))
        // One digit of 140 bits is not covered by one 60-bit special prime.
        XCTAssertThrowsError(try CKKSParameters(logDegree: 13, primeBits: [60, 40, 40], specialPrimeBits: [60], logScale: 40, keySwitchDigits: 1))
        // Explicit primes that are not NTT-friendly or repeat.
        XCTAssertThrowsError(try CKKSParameters(logDegree: 13, ciphertextPrimes: [97], specialPrimes: [1_152_921_504_606_830_593], logScale: 5, keySwitchDigits: 1))
        XCTAssertThrowsError(try CKKSParameters(logDegree: 13, ciphertextPrimes: [1_152_921_504_606_830_593], specialPrimes: [1_152_921_504_606_830_593], logScale: 40, keySwitchDigits: 1))
    }

    func testFingerprintIsStableAndDistinguishes() throws {
        let a = try ParameterPreset.named("n8192-l2").parameters()
        let b = try ParameterPreset.named("n8192-l2").parameters()
        XCTAssertEqual(a.fingerprint, b.fingerprint)
        XCTAssertEqual(a.fingerprint.count, 32)
        let c = try CKKSParameters(logDegree: 13, primeBits: [60, 40, 40], specialPrimeBits: [60], logScale: 39)
        XCTAssertNotEqual(a.fingerprint, c.fingerprint)
        // The canonical encoding is fixed: the primes are deterministic and the layout versioned.
        XCTAssertEqual(a.ciphertextPrimes[0], try PrimeSearch.nttPrimes(bitSizes: [60, 40, 40, 60], degree: 8192, strategy: .nearest)[0])
        XCTAssertEqual(a.fingerprintHex.count, 64)
    }

    func testPresetNamesAndFiles() throws {
        XCTAssertThrowsError(try ParameterPreset.named("n4096-nope")) { error in
            XCTAssertTrue("\(error)".contains("n8192-l2"), "the error should list the presets")
        }
        XCTAssertThrowsError(try ParameterPreset.decode(json: Data("{\"name\": 3}".utf8), source: "x.json"))
    }
}
