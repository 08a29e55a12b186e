import XCTest
import CKKS
@testable import TileTensors

/// Polynomials up to degree 15 at depth ⌈log2(d + 1)⌉: mock = Horner = CKKS, counts for d = 15.
final class PolynomialTests: XCTestCase {
    func testPolynomialsAtMinimalDepth() throws {
        let parameters = try CKKSParameters(logDegree: 10, primeBits: [60] + Array(repeating: 40, count: 4), specialPrimeBits: [60],
                                            logScale: 40, security: .insecureTestingOnly)
        var rng = TestRNG(seed: 51)
        let shape = try TileShape(parsing: "[5/4, 70/128]")
        let x = Fixtures.random([5, 70], &rng)
        let keygen = KeyGenerator(context: try CKKSContext(parameters: parameters))
        let sk = keygen.secretKey()
        let ckks = CKKSBackend(context: keygen.context, keys: try keygen.evaluationKeys(for: sk), encryptor: Encryptor(secretKey: sk),
                               decryptor: Decryptor(secretKey: sk))
        for d in [1, 2, 3, 4, 5, 7, 8, 11, 15] {
            var c = (0...d).map { _ in Double.random(in: -1...1, using: &rng) / 2 }
            if d == 11 { c[3] = 0; c[8] = 0 }
            if d == 5 { c[0] = 0 }
            let want = try Tensor(shape: x.shape, values: x.values.map { v in c.reversed().reduce(0) { $0 * v + $1 } })
            let mock = MockBackend(slotCount: 512, parameters: parameters)
            let tm = try TileTensor(encrypting: x, shape: shape, backend: mock)
            mock.resetCounts()
            let m = try tm.polynomial(coefficients: c)
            let depth = Int(ceil(log2(Double(d + 1))))
            XCTAssertEqual(m.level, 4 - depth, "degree \(d)")
            if d == 15 {
                let tiles = shape.tileCount
                var counts = OperationCounts()
                counts.multiplications = (3 + 7) * tiles
                counts.relinearizations = (3 + 7) * tiles
                counts.plainMultiplications = 8 * tiles
                counts.rescales = (3 + 15) * tiles
                // Every product is relinearized and rescaled at once.
                counts.fusedRescales = (3 + 7) * tiles
                counts.additions = 15 * tiles
                // Drops to the level a product needs: x for 7 of the 8 degree-1 leaves (not the one
                // under three giant products, whose level is one below x), x² for 3 of
                // the 4 nodes it multiplies, x⁴ for 1 of 2, x⁸ for none.
                counts.levelDrops = (7 + 3 + 1) * tiles
                XCTAssertEqual(mock.counts.closedForm, counts)
            }
            let ct = try TileTensor(encrypting: x, shape: shape, backend: ckks).polynomial(coefficients: c)
            XCTAssertEqual(ct.level, m.level)
            XCTAssertEqual(ct.scale, m.scale)
            assertAgree("polynomial degree \(d)", reference: want, mock: try m.decrypt(), ckks: try ct.decrypt(), bits: 14)
        }
        let t = try TileTensor(encrypting: x, shape: shape, backend: ckks)
        XCTAssertThrowsError(try t.polynomial(coefficients: [1, 0, 0]))
        XCTAssertThrowsError(try t.polynomial(coefficients: Array(repeating: 0.1, count: 32)))   // degree 31 needs 5 levels
    }
}

/// Per-channel polynomial coefficients (plaintext tiles) at minimal depth.
final class PerChannelPolynomialTests: XCTestCase {
    func testPerChannelPolynomials() throws {
        var rng = TestRNG(seed: 81)
        let shape = try TileShape(parsing: "[3/4, */2, 5~/2, 7/8, 2/4]")   // [C, 1, H, W, B]
        let coefficientShape = try TileShape(parsing: "[3/4, */2, */2, */8, */4]")
        let x = Fixtures.random([3, 1, 5, 7, 2], &rng)
        for d in [2, 5, 7] {
            var c = (0...d).map { _ in Fixtures.random([3, 1, 1, 1, 1], &rng, range: -0.5...0.5) }
            if d == 5 { c[2] = try Tensor(zeros: [3, 1, 1, 1, 1]) }
            let want = try Tensor(shape: x.shape, values: (0..<x.values.count).map { o in
                let ch = x.index(ofOffset: o)[0], v = x.values[o]
                return c.reversed().reduce(0) { $0 * v + $1.values[ch] }
            })
            func run<B: TensorBackend>(_ backend: B) throws -> TileTensor<B> {
                try TileTensor(encrypting: x, shape: shape, backend: backend).polynomial(coefficients: c, coefficientShape: coefficientShape)
            }
            let mock = Fixtures.mock()
            let m = try run(mock)
            XCTAssertEqual(m.level, 4 - Int(ceil(log2(Double(d + 1)))))
            let folded = try TileTensor(encrypting: x, shape: shape, backend: mock).multipliedByShifted(c[1], coefficientShape: coefficientShape)
            XCTAssertEqual(folded.level, 3, "x ⊙ (x + β) takes one level")
            let ck = try run(Fixtures.ckks(rotations: []))
            assertAgree("per-channel polynomial degree \(d)", reference: want, mock: try m.decrypt(), ckks: try ck.decrypt(), bits: 15)
            // Padding reads garbage (c_0): a later sum over the padded W dimension still matches.
            let summed = try m.summed(over: 3).decrypt()
            assertAgree("per-channel polynomial then sum", reference: Naive.sum(want, over: 3), mock: summed, ckks: nil)
        }
    }
}
