import XCTest
@testable import HEMath

final class NTTTests: XCTestCase {
    /// Known answers: evaluations a(ψ^(2·br(i)+1)), worked by hand for N = 4 (and checked by a
    /// direct Python evaluation of the definition, which also gave the N = 8 cases).
    func testKnownAnswers() throws {
        let cases: [(q: UInt64, n: Int, psi: UInt64, input: [UInt64], output: [UInt64])] = [
            (17, 4, 2, [1, 2, 3, 4], [15, 11, 13, 16]),
            (17, 8, 3, [1, 2, 3, 4, 5, 6, 7, 8], [5, 0, 13, 8, 9, 11, 5, 8]),
            (97, 8, 8, [5, 0, 96, 1, 2, 3, 0, 7], [42, 25, 72, 57, 32, 81, 33, 86]),
        ]
        for c in cases {
            let tables = try NTTTables(degree: c.n, modulus: Modulus(c.q))
            XCTAssertEqual(tables.root, c.psi)
            var a = c.input
            tables.forward(&a)
            XCTAssertEqual(a, c.output, "forward q=\(c.q) N=\(c.n)")
            tables.inverse(&a)
            XCTAssertEqual(a, c.input, "inverse q=\(c.q) N=\(c.n)")
        }
        // N = 2 by hand: q = 5 ≡ 1 (mod 4), ψ = 2 (2^2 = −1); a = 1 + 3X ↦ (a(2), a(−2)) = (7, −5) = (2, 0).
        let t2 = try NTTTables(degree: 2, modulus: Modulus(5))
        var b: [UInt64] = [1, 3]
        t2.forward(&b)
        XCTAssertEqual(b, [2, 0])
        t2.inverse(&b)
        XCTAssertEqual(b, [1, 3])
    }

    func testProductsEqualSchoolbook() throws {
        var rng = SplitMix64(seed: 10)
        for (logN, bits) in [(2, 10), (3, 20), (4, 30), (6, 40), (8, 50), (10, 60), (11, 62), (12, 45)] {
            let n = 1 << logN
            for q in try PrimeSearch.nttPrimes(bitSizes: [bits, bits], degree: n) {
                let tables = try NTTTables(degree: n, modulus: Modulus(q))
                let a = (0..<n).map { _ in rng.next() % q }
                let b = (0..<n).map { _ in rng.next() % q }
                var fa = a, fb = b
                tables.forward(&fa)
                tables.forward(&fb)
                var fc = zip(fa, fb).map { tables.modulus.multiply($0, $1) }
                tables.inverse(&fc)
                XCTAssertEqual(fc, schoolbookNegacyclic(a, b, modulus: q), "N=\(n) q=\(q)")
            }
        }
    }

    func testRoundTripAllDegreesAndLazyInputs() throws {
        var rng = SplitMix64(seed: 11)
        for logN in 1...17 {
            let n = 1 << logN
            let bits = max(logN + 3, 61)
            let q = try PrimeSearch.nttPrimes(bitSizes: [bits], degree: n)[0]
            let tables = try NTTTables(degree: n, modulus: Modulus(q))
            let a = (0..<n).map { _ in rng.next() % q }
            // Forward accepts [0, 4q): feed a + k·q with k in 0…3 and expect the same result.
            var lazy = a.map { $0 + q * (rng.next() % 4) }
            var plain = a
            tables.forward(&plain)
            tables.forward(&lazy)
            XCTAssertEqual(lazy, plain, "N=\(n): forward must accept [0, 4q)")
            XCTAssertTrue(plain.allSatisfy { $0 < q })
            // Inverse accepts [0, 2q).
            var lazyInverse = plain.map { $0 + q * (rng.next() % 2) }
            tables.inverse(&plain)
            tables.inverse(&lazyInverse)
            XCTAssertEqual(plain, a, "N=\(n): inverse ∘ forward must be the identity")
            XCTAssertEqual(lazyInverse, a, "N=\(n): inverse must accept [0, 2q)")
        }
    }

    func testLinearityAndMonomials() throws {
        // X^k ↦ ψ^((2·br(i)+1)·k): check the transform of each monomial at N = 16 directly.
        let n = 16
        let q = try PrimeSearch.nttPrimes(bitSizes: [30], degree: n)[0]
        let tables = try NTTTables(degree: n, modulus: Modulus(q))
        let m = tables.modulus
        for k in 0..<n {
            var e = [UInt64](repeating: 0, count: n)
            e[k] = 1
            tables.forward(&e)
            for i in 0..<n {
                let exponent = UInt64((2 * NTTTables.bitReverse(i, bits: 4) + 1) * k)
                XCTAssertEqual(e[i], m.power(tables.root, exponent))
            }
        }
    }

    func testRejectsBadDegreeAndModulus() {
        XCTAssertThrowsError(try NTTTables(degree: 12, modulus: Modulus(13)))
        XCTAssertThrowsError(try NTTTables(degree: 1 << 18, modulus: Modulus(786_433)))
        XCTAssertThrowsError(try NTTTables(degree: 8, modulus: Modulus(19)))   // 19 ≢ 1 mod 16
        XCTAssertThrowsError(try NTTTables(degree: 8, modulus: Modulus(33)))   // 33 ≡ 1 mod 16, not prime
    }
}
