import XCTest
@testable import CKKS
import HEMath

/// `NoiseModel` against measured errors: each operation's error isolated on real ciphertexts
/// (N = 8192, Δ = 2^40, one and four special primes), its slot RMS within a factor 1.3 of the
/// model's deviation. The compiler's precision planning injects exactly these deviations.
final class NoiseModelTests: XCTestCase {
    private func rms(_ a: [Double], _ b: [Double]) -> Double {
        (zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(a.count)).squareRoot()
    }

    func testModelledDeviationsMatchMeasuredErrors() throws {
        for special in [[60], [60, 60, 60, 60]] {
            let parameters = try CKKSParameters(logDegree: 13, primeBits: [50] + Array(repeating: 40, count: 8),
                                                specialPrimeBits: special, logScale: 40,
                                                keySwitchDigits: special.count == 1 ? nil : 3, security: .insecureTestingOnly)
            let context = try CKKSContext(parameters: parameters)
            let model = NoiseModel(parameters: parameters)
            let keygen = KeyGenerator(context: context)
            let sk = keygen.secretKey()
            let evaluator = Evaluator(context: context, keys: try keygen.evaluationKeys(for: sk, rotations: [1]))
            let encoder = Encoder(context: context)
            let decryptor = Decryptor(secretKey: sk)
            var rng = TestRNG(seed: 41)
            let n = context.slotCount
            let a = (0..<n).map { _ in Double.random(in: -1...1, using: &rng) }
            let level = context.maxLevel
            let scale = parameters.scale
            let ct = try Encryptor(secretKey: sk).encrypt(encoder.encode(a, scale: scale, level: level))
            let decrypted = try encoder.decode(decryptor.decrypt(ct))
            func check(_ measured: Double, _ predicted: Double, _ what: String) {
                let ratio = measured / predicted
                print(String(format: "noise model, %d special prime(s), %@: measured/modelled %.3f", special.count, what, ratio))
                XCTAssertTrue((1 / 1.3...1.3).contains(ratio),
                              "\(special.count) special prime(s), \(what): measured \(measured), modelled \(predicted)")
            }

            // Fresh: the encryption error and the encoding's rounding.
            let fresh = (model.freshEncryption * model.freshEncryption + model.encodingRounding * model.encodingRounding).squareRoot()
            check(rms(decrypted, a), model.slotDeviation(fresh, scale: scale), "fresh encryption")

            // Rotation: decrypt(rotate(c)) − rotate(decrypt(c)) is the key switch's error alone.
            let rotated = try encoder.decode(decryptor.decrypt(evaluator.rotate(ct, by: 1)))
            check(rms(rotated, (0..<n).map { decrypted[($0 + 1) % n] }),
                  model.slotDeviation(model.keySwitching[level], scale: scale), "rotation")

            // Rescale: a product by b encoded at q_l keeps the scale; against the decrypted input
            // times b the difference is the rescale's rounding (b's own rounding is 2^−40 of it).
            let b = (0..<n).map { _ in Double.random(in: 0.5...1, using: &rng) }
            let factor = try encoder.encode(b, scale: Double(parameters.ciphertextPrimes[level]), level: level)
            let rescaled = try encoder.decode(decryptor.decrypt(evaluator.rescale(evaluator.multiply(ct, factor))))
            check(rms(rescaled, zip(decrypted, b).map(*)), model.slotDeviation(model.rounding, scale: scale), "rescale")
        }
    }
}
