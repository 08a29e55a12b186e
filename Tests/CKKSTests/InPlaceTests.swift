import XCTest
@testable import CKKS
import HEMath

/// The in-place forms write into the ciphertext's own buffers: the limb storage of every
/// component keeps its address (no reallocation), and the results equal the value forms'.
final class InPlaceTests: XCTestCase {
    private func addresses(_ c: Ciphertext) -> [UnsafePointer<UInt64>] {
        c.components.map { $0.withUnsafeLimbs { $0.baseAddress! } }
    }

    func testInPlaceFormsKeepTheirStorage() throws {
        let context = try CKKSContext(parameters: ParameterPreset.named("n8192-l2").parameters())
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let evaluator = Evaluator(context: context, keys: try keygen.evaluationKeys(for: sk, rotations: [1], conjugation: true))
        let encoder = Encoder(context: context)
        var rng = TestRNG(seed: 13)
        let a = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
        let pa = try encoder.encode(a, scale: 0x1p40, level: 2)
        let decryptor = Decryptor(secretKey: sk)
        func decode(_ c: Ciphertext) throws -> [Double] { try encoder.decode(decryptor.decrypt(c)) }

        var x = try Encryptor(publicKey: keygen.publicKey(for: sk)).encrypt(pa)
        let other = x
        let expectedRotation = try decode(evaluator.rotate(other, by: 1))
        x = try Encryptor(publicKey: keygen.publicKey(for: sk)).encrypt(pa)   // uniquely owned again
        let before = addresses(x)
        try evaluator.rotateInPlace(&x, by: 1)
        XCTAssertEqual(addresses(x), before, "rotateInPlace reallocated")
        XCTAssertLessThan(zip(try decode(x), expectedRotation).map { abs($0 - $1) }.max()!, 1e-5)
        try evaluator.conjugateInPlace(&x)
        try evaluator.addInPlace(&x, constant: 0.5)
        try evaluator.multiplyInPlace(&x, pa)
        XCTAssertEqual(addresses(x), before, "conjugate/add/multiply in place reallocated")
        try evaluator.rescaleInPlace(&x)
        XCTAssertEqual(x.level, 1)
        XCTAssertEqual(addresses(x), before, "rescaleInPlace reallocated")
        try evaluator.dropLevelInPlace(&x, to: 0)
        XCTAssertEqual(addresses(x), before, "dropLevelInPlace reallocated")

        // Relinearization adds into c0 and c1 in place.
        let y = try Encryptor(secretKey: sk).encrypt(pa)
        var product = try evaluator.multiplyWithoutRelinearization(y, y)
        let productAddresses = addresses(product)
        try evaluator.relinearizeInPlace(&product)
        XCTAssertEqual(addresses(product), Array(productAddresses.prefix(2)), "relinearizeInPlace reallocated")
        let squared = try decode(evaluator.rescale(product))
        XCTAssertLessThan(zip(squared, a.map { $0 * $0 }).map { abs($0 - $1) }.max()!, 1e-5)

        // The ciphertext product into caller-owned storage.
        var out = try evaluator.multiplyWithoutRelinearization(y, y)
        let outAddresses = addresses(out)
        let z = try Encryptor(secretKey: sk).encrypt(encoder.encode(a.map { -$0 }, scale: 0x1p40, level: 2))
        try evaluator.multiplyWithoutRelinearization(y, z, into: &out)
        XCTAssertEqual(addresses(out), outAddresses, "product into out reallocated")
        let negSquared = try decode(evaluator.rescale(evaluator.relinearize(out)))
        XCTAssertLessThan(zip(negSquared, a.map { -$0 * $0 }).map { abs($0 - $1) }.max()!, 1e-5)
        var wrongLevel = try evaluator.droppingLevel(out, to: 1)
        XCTAssertThrowsError(try evaluator.multiplyWithoutRelinearization(y, z, into: &wrongLevel))
    }
}
