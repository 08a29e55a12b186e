import XCTest
@testable import CKKS
import HEMath

/// Ciphertext × plaintext products read in place: the value form equals the in-place form bit for
/// bit, a plaintext above the ciphertext's level is used without restriction, and a sum of
/// products accumulated by `addProductInPlace` decrypts to the plain sum of products.
final class PlainProductTests: XCTestCase {
    func testFusedSumOfProductsMatchesPlainArithmetic() throws {
        let context = try TestParameters.small(primeBits: [50, 30, 30], specialPrimeBits: [50], digits: 3)
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let encoder = Encoder(context: context)
        let encryptor = Encryptor(secretKey: sk)
        let decryptor = Decryptor(secretKey: sk)
        let evaluator = Evaluator(context: context)
        var rng = TestRNG(seed: 21)
        let slots = context.slotCount
        func vector() -> [Double] { (0..<slots).map { _ in Double.random(in: -1...1, using: &rng) } }
        let scale = 0x1p30
        // Terms at level 1, plaintexts encoded at level 2 (above) and at level 1.
        let xs = (0..<4).map { _ in vector() }
        let ws = (0..<4).map { _ in vector() }
        let cts = try xs.map { try evaluator.droppingLevel(encryptor.encrypt(encoder.encode($0, scale: scale, level: 2)), to: 1) }
        let pts = try ws.enumerated().map { try encoder.encode($0.element, scale: scale, level: $0.offset % 2 == 0 ? 2 : 1) }

        // Value form = in-place form, residue for residue.
        var inPlace = cts[0]
        try evaluator.multiplyInPlace(&inPlace, pts[0])
        let value = try evaluator.multiply(cts[0], pts[0])
        XCTAssertEqual(value.components, inPlace.components)
        XCTAssertEqual(value.scale, inPlace.scale)
        XCTAssertEqual(value.level, 1)

        var acc = value
        for t in 1..<4 { try evaluator.addProductInPlace(&acc, cts[t], pts[t]) }
        let got = try encoder.decode(decryptor.decrypt(acc))
        let expected = (0..<slots).map { i in (0..<4).reduce(0.0) { $0 + xs[$1][i] * ws[$1][i] } }
        let worst = zip(got, expected).map { abs($0 - $1) }.max()!
        print("sum of 4 fused plaintext products: \(String(format: "%.1f", -log2(worst))) bits")
        XCTAssertLessThan(worst, 0x1p-15)

        // Mismatches are typed errors.
        var wrongLevel = try evaluator.multiply(try evaluator.droppingLevel(cts[0], to: 0), pts[1])
        XCTAssertThrowsError(try evaluator.addProductInPlace(&wrongLevel, cts[1], pts[1])) { error in
            guard case CKKSError.levelMismatch = error else { return XCTFail("\(error)") }
        }
        var wrongScale = cts[1]
        XCTAssertThrowsError(try evaluator.addProductInPlace(&wrongScale, cts[1], pts[1])) { error in
            guard case CKKSError.scaleMismatch = error else { return XCTFail("\(error)") }
        }
        let low = try encoder.encode(ws[0], scale: scale, level: 0)
        XCTAssertThrowsError(try evaluator.multiply(cts[0], low)) { error in
            guard case CKKSError.levelMismatch = error else { return XCTFail("\(error)") }
        }
    }

    /// A weight shared by every slot: `addConstantProductInPlace` (each limb times the weight's
    /// residues, nothing encoded) equals the product by the encoded constant plaintext residue
    /// for residue, at the restoring scale (a prime) and at a power of two, for positive,
    /// negative and zero weights, and decrypts to the plain sum.
    func testScalarProductEqualsTheEncodedConstantsProduct() throws {
        let context = try TestParameters.small(primeBits: [50, 30, 30], specialPrimeBits: [50], digits: 3)
        let sk = KeyGenerator(context: context).secretKey()
        let encoder = Encoder(context: context)
        let encryptor = Encryptor(secretKey: sk)
        let decryptor = Decryptor(secretKey: sk)
        let evaluator = Evaluator(context: context)
        var rng = TestRNG(seed: 22)
        let slots = context.slotCount
        let xs = (0..<4).map { _ in (0..<slots).map { _ in Double.random(in: -1...1, using: &rng) } }
        let cts = try xs.map { try encryptor.encrypt(encoder.encode($0, scale: 0x1p30, level: 2)) }
        let weights = [0.731, -0.2468, 0, 1.5]
        for weightScale in [Double(context.parameters.ciphertextPrimes[2]), 0x1p28] {
            let plaintexts = try weights.map { try encoder.encode([Double](repeating: $0, count: slots), scale: weightScale, level: 2) }
            var encoded = try evaluator.multiply(cts[0], plaintexts[0])
            var scalar = try evaluator.multiply(cts[0], constant: weights[0], constantScale: weightScale)
            XCTAssertEqual(encoded.components, scalar.components, "the first product")
            for t in 1..<4 {
                try evaluator.addProductInPlace(&encoded, cts[t], plaintexts[t])
                try evaluator.addConstantProductInPlace(&scalar, cts[t], constant: weights[t], constantScale: weightScale)
            }
            XCTAssertEqual(encoded.components, scalar.components, "residue for residue at scale \(weightScale)")
            XCTAssertEqual(encoded.scale, scalar.scale)
            let got = try encoder.decode(decryptor.decrypt(scalar))
            let worst = (0..<slots).map { i in abs(got[i] - (0..<4).reduce(0.0) { $0 + xs[$1][i] * weights[$1] }) }.max()!
            XCTAssertLessThan(worst, 0x1p-15)
        }
        var wrongScale = cts[1]
        XCTAssertThrowsError(try evaluator.addConstantProductInPlace(&wrongScale, cts[1], constant: 0.5, constantScale: 0x1p28)) { error in
            guard case CKKSError.scaleMismatch = error else { return XCTFail("\(error)") }
        }
    }
}
