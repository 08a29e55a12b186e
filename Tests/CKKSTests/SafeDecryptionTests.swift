import XCTest
@testable import CKKS
import HEMath

final class SafeDecryptionTests: XCTestCase {
    func testPublicDecodingRoundsToThePrecisionAndStaysClose() throws {
        let context = try CKKSContext(parameters: ParameterPreset.named("n8192-l2").parameters())
        let sk = KeyGenerator(context: context).secretKey()
        let encoder = Encoder(context: context)
        var rng = TestRNG(seed: 11)
        let a = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
        let pt = try Decryptor(secretKey: sk).decrypt(Encryptor(secretKey: sk).encrypt(encoder.encode(a, scale: 0x1p40, level: 2)))
        let p = 12
        let released = try encoder.decodePublic(pt, precisionBits: p)
        let step = 0x1p-12
        for (r, v) in zip(released, a) {
            XCTAssertEqual(r / step, (r / step).rounded(), "not a multiple of 2^-12")
            XCTAssertLessThanOrEqual(abs(r - v), 8 * step)
        }
        // Released values carry randomness below 2^-p: two releases differ somewhere.
        XCTAssertNotEqual(released, try encoder.decodePublic(pt, precisionBits: p))
        XCTAssertThrowsError(try encoder.decodePublic(pt, precisionBits: 0))
    }

    func testNoiseFloodingFormulaAndEffect() throws {
        let flooding = try NoiseFlooding(queries: 1000, statisticalBits: 30, log2ErrorBound: 4)
        // √(12·1000)·2^15·2^4 = 109.54…·2^19
        XCTAssertEqual(flooding.standardDeviation, (12_000.0).squareRoot() * 0x1p19, accuracy: 1e-3)
        let context = try TestParameters.small()
        let sk = KeyGenerator(context: context).secretKey()
        let encoder = Encoder(context: context)
        var rng = TestRNG(seed: 12)
        let a = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
        let pt = try Decryptor(secretKey: sk).decrypt(Encryptor(secretKey: sk).encrypt(encoder.encode(a, scale: 0x1p40, level: 2)))
        let flooded = try flooding.flood(pt)
        let before = try coefficients(pt), after = try coefficients(flooded)
        let differences = zip(before, after).map { ($0 - $1).doubleValue }
        let rms = (differences.map { $0 * $0 }.reduce(0, +) / Double(differences.count)).squareRoot()
        XCTAssertEqual(rms / flooding.standardDeviation, 1, accuracy: 0.1, "flooding noise has the wrong size")
        // The message survives with about 40 − log2(σ·√N) bits.
        let decoded = try encoder.decode(flooded)
        let worst = zip(decoded, a).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 0x1p-7)
        // Too much noise for the scale is refused.
        XCTAssertThrowsError(try NoiseFlooding(queries: 1 << 20, statisticalBits: 60, log2ErrorBound: 10).flood(pt))
        XCTAssertThrowsError(try NoiseFlooding(queries: 0, log2ErrorBound: 1))
    }
}
