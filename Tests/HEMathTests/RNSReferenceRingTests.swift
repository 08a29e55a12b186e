import XCTest
@testable import HEMath

/// The fast RNS path against the GMP reference ring: same inputs, identical results.
final class RNSReferenceRingTests: XCTestCase {
    func testRNSProductsEqualReferenceRing() throws {
        var rng = SplitMix64(seed: 30)
        let cases: [(logN: Int, bits: [Int])] = [
            (12, [30, 45, 60]),
            (13, [60, 40, 40, 60]),
            (13, [35, 50, 55, 60, 30]),
            (14, [60, 40, 40, 40, 40, 40, 40, 60]),
        ]
        for c in cases {
            let n = 1 << c.logN
            let basis = try RNSBasis(degree: n, primes: PrimeSearch.nttPrimes(bitSizes: c.bits, degree: n))
            let ring = try BigIntegerRing(degree: n, modulus: basis.product)
            let words = basis.product.bitWidth / 64 + 1
            func randomCoefficients() throws -> [BigInteger] {
                try (0..<n).map { _ in
                    try BigInteger(magnitude: (0..<words).map { _ in rng.next() }).modulo(basis.product) - basis.halfProduct
                }
            }
            var a = try randomCoefficients()
            let b = try randomCoefficients()
            a[0] = basis.halfProduct           // the extremes of the centred range
            a[1] = -basis.halfProduct
            let rnsProduct = try (basis.polynomial(coefficients: a).forwardNTT()
                                  * basis.polynomial(coefficients: b).forwardNTT()).inverseNTT()
            let expected = try ring.centered(ring.multiply(a, b))
            XCTAssertEqual(try basis.coefficients(of: rnsProduct), expected, "N=\(n) bits=\(c.bits)")
            // Sums and differences as well.
            let rnsSum = try basis.polynomial(coefficients: a) - basis.polynomial(coefficients: b)
            XCTAssertEqual(try basis.coefficients(of: rnsSum), try ring.centered(ring.subtract(a, b)))
        }
    }
}
