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

    /// A lazy sum of products (`sumOfProducts`: 128-bit accumulation, one reduction per residue)
    /// equals the products added term by term, residue for residue: plaintexts (some above the
    /// ciphertexts' level) and constants mixed, with 61- and 62-bit primes and 70 terms, past
    /// the 63 (15) products a 128-bit accumulator holds at those sizes (so the intermediate
    /// reduction runs).
    func testLazySumEqualsTermByTermProducts() throws {
        let context = try TestParameters.small(primeBits: [61, 61, 61], specialPrimeBits: [61], digits: 3)
        let sk = KeyGenerator(context: context).secretKey()
        let encoder = Encoder(context: context)
        let encryptor = Encryptor(secretKey: sk)
        let decryptor = Decryptor(secretKey: sk)
        let evaluator = Evaluator(context: context)
        var rng = TestRNG(seed: 23)
        let slots = context.slotCount
        func vector() -> [Double] { (0..<slots).map { _ in Double.random(in: -1...1, using: &rng) } }
        XCTAssertTrue(try context.basis(atLevel: 1).moduli.allSatisfy { $0.lazyProductCapacity < 70 }, "70 terms need an intermediate reduction")
        let scale = 0x1p40, weightScale = 0x1p20
        let xs = (0..<70).map { _ in vector() }
        let cts = try xs.map { try evaluator.droppingLevel(encryptor.encrypt(encoder.encode($0, scale: scale, level: 2)), to: 1) }
        var weights: [ProductWeight] = []
        var plain: [[Double]] = []
        for t in 0..<70 {
            if t % 3 == 0 {
                let c = Double.random(in: -2...2, using: &rng)
                weights.append(.constant(c, scale: weightScale))
                plain.append([Double](repeating: c, count: slots))
            } else {
                let w = vector()
                weights.append(.plaintext(try encoder.encode(w, scale: weightScale, level: t % 2 == 0 ? 2 : 1)))
                plain.append(w)
            }
        }
        var byTerm: Ciphertext?
        for (a, w) in zip(cts, weights) {
            switch w {
            case .plaintext(let p):
                if byTerm == nil { byTerm = try evaluator.multiply(a, p) } else { try evaluator.addProductInPlace(&byTerm!, a, p) }
            case .constant(let c, let s):
                if byTerm == nil { byTerm = try evaluator.multiply(a, constant: c, constantScale: s) } else {
                    try evaluator.addConstantProductInPlace(&byTerm!, a, constant: c, constantScale: s)
                }
            }
        }
        let lazy = try evaluator.sumOfProducts(Array(zip(cts, weights)))
        XCTAssertEqual(lazy.components, byTerm!.components, "residue for residue")
        XCTAssertEqual(lazy.scale, byTerm!.scale)
        XCTAssertEqual(lazy.level, 1)
        let got = try encoder.decode(decryptor.decrypt(lazy))
        let worst = (0..<slots).map { i in abs(got[i] - (0..<70).reduce(0.0) { $0 + xs[$1][i] * plain[$1][i] }) }.max()!
        XCTAssertLessThan(worst, 0x1p-10)
        // Mismatched terms are typed errors.
        XCTAssertThrowsError(try evaluator.sumOfProducts([(cts[0], weights[0]), (cts[1], .constant(1, scale: 0x1p21))])) { error in
            guard case CKKSError.scaleMismatch = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try evaluator.sumOfProducts([]))

        // Several sums over shared inputs (`sumsOfProducts`, each input read once for all):
        // each equals its own lazy sum, residue for residue; inputs no sum reads are skipped.
        let sums: [[(input: Int, weight: ProductWeight)]] = [
            (0..<70).map { ($0, weights[$0]) },
            [(3, weights[5]), (7, weights[9]), (3, weights[0])],
            (20..<40).map { ($0, weights[69 - $0]) },
        ]
        let inputs = cts + [try evaluator.droppingLevel(cts[0], to: 0)]   // the last is never read
        let together = try evaluator.sumsOfProducts(inputs: inputs, sums: sums)
        XCTAssertEqual(together.count, 3)
        for (b, terms) in sums.enumerated() {
            let alone = try evaluator.sumOfProducts(terms.map { (cts[$0.input], $0.weight) })
            XCTAssertEqual(together[b].components, alone.components, "sum \(b)")
            XCTAssertEqual(together[b].scale, alone.scale)
        }
        XCTAssertThrowsError(try evaluator.sumsOfProducts(inputs: inputs, sums: [[(1, weights[1]), (70, weights[1])]])) { error in
            guard case CKKSError.levelMismatch = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try evaluator.sumsOfProducts(inputs: inputs, sums: [[(71, weights[1])]]))
    }

    /// Constant weights only (the register-blocked kernel, `constantLazySums`): sums equal the
    /// products added term by term, residue for residue, at N = 4096 (four coefficient blocks),
    /// with 61-bit primes past the 63 products an accumulator holds, an odd term count, two sums
    /// over the same inputs in the same order (made together) and one over others.
    func testConstantLazySumsEqualTermByTermProducts() throws {
        let context = try TestParameters.small(logDegree: 12, primeBits: [61, 61, 61], specialPrimeBits: [61], digits: 3)
        let sk = KeyGenerator(context: context).secretKey()
        let encoder = Encoder(context: context)
        let encryptor = Encryptor(secretKey: sk)
        let evaluator = Evaluator(context: context)
        var rng = TestRNG(seed: 29)
        let slots = context.slotCount
        let cts = try (0..<71).map { _ in
            try evaluator.droppingLevel(encryptor.encrypt(encoder.encode((0..<slots).map { _ in Double.random(in: -1...1, using: &rng) },
                                                                          scale: 0x1p40, level: 2)), to: 1)
        }
        let weights = (0..<71).map { _ in ProductWeight.constant(Double.random(in: -2...2, using: &rng), scale: 0x1p20) }
        let order = (0..<69).map { ($0 * 7) % 71 }
        let sums: [[(input: Int, weight: ProductWeight)]] = [
            order.map { ($0, weights[$0]) },
            order.map { ($0, weights[70 - $0]) },      // the same inputs in the same order: a twin
            [(5, weights[1]), (5, weights[2]), (9, weights[3])],
        ]
        let together = try evaluator.sumsOfProducts(inputs: cts, sums: sums)
        for (b, terms) in sums.enumerated() {
            var byTerm: Ciphertext?
            for (input, weight) in terms {
                guard case let .constant(c, scale) = weight else { return XCTFail("constants only") }
                if byTerm == nil { byTerm = try evaluator.multiply(cts[input], constant: c, constantScale: scale) } else {
                    try evaluator.addConstantProductInPlace(&byTerm!, cts[input], constant: c, constantScale: scale)
                }
            }
            XCTAssertEqual(together[b].components, byTerm!.components, "sum \(b), residue for residue")
            XCTAssertEqual(together[b].scale, byTerm!.scale)
        }
    }
}
