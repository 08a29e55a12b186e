import XCTest
@testable import CKKS
import HEMath

/// `relinearizeAndRescale` divides the key product plus P·(c_0, c_1) by P·q_l at once; held
/// coefficient by coefficient to ModDown-then-rescale (the two round to nearest once and twice,
/// so they may differ by one unit, never more, and almost never do), and to the plain product.
final class RelinearizeRescaleTests: XCTestCase {
    func testOneDivisionIsWithinOneOfModDownThenRescale() throws {
        // Single-prime digits (the fused key switch) and digits of three primes with three
        // special primes (the decomposed path, as the CryptoNets plan's n16384-d5-s40-k2).
        let contexts = [
            try TestParameters.small(logDegree: 10, primeBits: [60, 40, 40, 40], specialPrimeBits: [60]),
            try TestParameters.small(logDegree: 10, primeBits: [52, 40, 40, 40, 40, 40], specialPrimeBits: [52, 52, 52], digits: 2),
        ]
        for context in contexts {
            let keygen = KeyGenerator(context: context)
            let sk = keygen.secretKey()
            let evaluator = Evaluator(context: context, keys: try keygen.evaluationKeys(for: sk))
            let encoder = Encoder(context: context)
            let decryptor = Decryptor(secretKey: sk)
            var rng = TestRNG(seed: 29)
            let a = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
            let b = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
            let encryptor = Encryptor(secretKey: sk)
            var ones = 0, differing = 0
            for level in [context.maxLevel, 1] {
                let x = try encryptor.encrypt(encoder.encode(a, scale: 0x1p40, level: level))
                let y = try encryptor.encrypt(encoder.encode(b, scale: 0x1p40, level: level))
                let product = try evaluator.multiplyWithoutRelinearization(x, y)
                let once = try evaluator.relinearizeAndRescale(product)
                let twice = try evaluator.rescale(evaluator.relinearize(product))
                XCTAssertEqual(once.level, level - 1)
                XCTAssertEqual(once.scale, twice.scale)
                XCTAssertEqual(once.componentCount, 2)
                let basis = try context.basis(atLevel: level - 1)
                for c in 0..<2 {
                    var difference = once.components[c]
                    try difference.subtract(twice.components[c])
                    let coefficients = difference.inverseNTT()
                    for t in 0..<context.degree {
                        // The same d ∈ {−1, 0, 1} on every limb.
                        let residues = (0..<basis.count).map { coefficients.limb($0)[$0 * context.degree + t] }
                        let d = [0, 1, -1].first { d in
                            zip(basis.moduli, residues).allSatisfy { m, r in
                                r == (d >= 0 ? UInt64(d) : m.value - 1)
                            }
                        }
                        XCTAssertNotNil(d, "coefficient \(t) of component \(c) differs by more than one unit")
                        if d != 0 { differing += 1 }
                        ones += 1
                    }
                }
                let values = try encoder.decode(decryptor.decrypt(once))
                let expected = zip(a, b).map { $0 * $1 }
                XCTAssertLessThan(zip(values, expected).map { abs($0 - $1) }.max()!, 1e-6)
            }
            // round((c + round(x/P))/q_l) and round((c + x/P)/q_l) differ only where the first
            // argument lies within 1/(2q_l) of a half-integer: about 2^−40 per coefficient, so
            // none of these 2 × 2 × N coefficients should differ (the bound above is the proof;
            // this checks that the two are the same computation in practice).
            XCTAssertEqual(differing, 0, "of \(ones) coefficients")
        }
    }

    func testTwoComponentsAreOnlyRescaledAndLevelZeroIsRefused() throws {
        let context = try TestParameters.small()
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let evaluator = Evaluator(context: context, keys: try keygen.evaluationKeys(for: sk))
        let encoder = Encoder(context: context)
        let x = try Encryptor(secretKey: sk).encrypt(encoder.encode([0.5, -0.25], scale: 0x1p80, level: 2))
        // relinearizeAndRescale of two components is rescaleInPlace; rescale writes new storage:
        // the same residues.
        let once = try evaluator.relinearizeAndRescale(x)
        let rescaled = try evaluator.rescale(x)
        XCTAssertEqual(once.components, rescaled.components)
        XCTAssertEqual(once.level, rescaled.level)
        XCTAssertEqual(once.scale, rescaled.scale)
        let bottom = try Encryptor(secretKey: sk).encrypt(encoder.encode([0.5], scale: 0x1p40, level: 0))
        XCTAssertThrowsError(try evaluator.relinearizeAndRescale(evaluator.multiplyWithoutRelinearization(bottom, bottom)))
        let noKeys = Evaluator(context: context, keys: nil)
        let product = try evaluator.multiplyWithoutRelinearization(x, x)
        XCTAssertThrowsError(try noKeys.relinearizeAndRescale(product)) { error in
            XCTAssertEqual(error as? CKKSError, .missingRelinearizationKey)
        }
    }
}
