import XCTest
@testable import CKKS
import HEMath

/// Complex packing (`Evaluator+ComplexPacking`): two real messages per slot, a in the real parts
/// and b in the imaginary parts. Checked against the plain values, part by part, in bits of
/// precision (−log2 of the largest error).
final class ComplexPackingTests: XCTestCase {
    private func bits(_ got: [Double], _ want: [Double]) -> Double {
        -log2(max(zip(got, want).map { abs($0 - $1) }.max()!, 0x1p-60))
    }

    private func random(_ count: Int, _ rng: inout TestRNG) -> [Double] {
        (0..<count).map { _ in Double.random(in: -1...1, using: &rng) }
    }

    func testAdditionsReachBothPartsAndProductsArePartByPart() throws {
        let context = try TestParameters.small(logDegree: 12, primeBits: [60, 40, 40, 40])
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let keys = try keygen.evaluationKeys(for: sk, conjugation: true)
        let encoder = Encoder(context: context)
        let encryptor = Encryptor(secretKey: sk), decryptor = Decryptor(secretKey: sk)
        let evaluator = Evaluator(context: context, keys: keys)
        let n = context.slotCount, scale = context.parameters.scale, top = context.maxLevel
        var rng = TestRNG(seed: 0xC0FFEE)
        let (a, b, c, d, w) = (random(n, &rng), random(n, &rng), random(n, &rng), random(n, &rng), random(n, &rng))
        let z = try encryptor.encrypt(encoder.encode(real: a, imaginary: b, scale: scale, level: top))
        let y = try encryptor.encrypt(encoder.encode(real: c, imaginary: d, scale: scale, level: top))
        func parts(_ x: Ciphertext) throws -> (real: [Double], imaginary: [Double]) {
            try encoder.decodeComplex(decryptor.decrypt(x))
        }

        // A real plaintext and a real constant added to both parts.
        let plus = try parts(evaluator.addToBothParts(z, encoder.encode(w, scale: scale, level: top)))
        XCTAssertGreaterThanOrEqual(bits(plus.real, zip(a, w).map(+)), 20)
        XCTAssertGreaterThanOrEqual(bits(plus.imaginary, zip(b, w).map(+)), 20)
        let shifted = try parts(evaluator.addToBothParts(z, constant: -0.375))
        XCTAssertGreaterThanOrEqual(bits(shifted.real, a.map { $0 - 0.375 }), 20)
        XCTAssertGreaterThanOrEqual(bits(shifted.imaginary, b.map { $0 - 0.375 }), 20)
        // The plain addition reaches the real parts only (what the packing must avoid).
        let plain = try parts(evaluator.add(z, constant: 1))
        XCTAssertGreaterThanOrEqual(bits(plain.imaginary, b), 20)

        // a² + i·b², relinearized and rescaled: the scale carries the factor 4.
        var square = try evaluator.squarePartsWithoutRelinearization(z)
        XCTAssertEqual(square.scale, 4 * scale * scale)
        try evaluator.relinearizeInPlace(&square)
        let squared = try parts(evaluator.rescale(square))
        XCTAssertGreaterThanOrEqual(bits(squared.real, a.map { $0 * $0 }), 18)
        XCTAssertGreaterThanOrEqual(bits(squared.imaginary, b.map { $0 * $0 }), 18)

        // a·c + i·b·d, the operands at different levels (aligned down first).
        let lower = try evaluator.rescale(evaluator.multiply(y, constant: 1, constantScale: Double(context.parameters.ciphertextPrimes[top])))
        let product = try parts(evaluator.rescale(evaluator.relinearize(evaluator.multiplyPartsWithoutRelinearization(z, lower))))
        XCTAssertGreaterThanOrEqual(bits(product.real, zip(a, c).map(*)), 18)
        XCTAssertGreaterThanOrEqual(bits(product.imaginary, zip(b, d).map(*)), 18)
    }

    func testPartProductsNeedTheConjugationKey() throws {
        let context = try TestParameters.small(logDegree: 12, primeBits: [60, 40, 40, 40])
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let evaluator = Evaluator(context: context, keys: try keygen.evaluationKeys(for: sk))
        let z = try Encryptor(secretKey: sk).encrypt(Encoder(context: context).encode(real: [1], imaginary: [2], scale: context.parameters.scale,
                                                                                     level: context.maxLevel))
        XCTAssertThrowsError(try evaluator.squarePartsWithoutRelinearization(z)) { error in
            XCTAssertTrue("\(error)".contains("conjugation"), "\(error)")
        }
    }
}
