import XCTest
@testable import HEMath

final class RNSTests: XCTestCase {
    private func randomBig(below q: BigInteger, using rng: inout SplitMix64) throws -> BigInteger {
        let words = q.bitWidth / 64 + 2
        return try BigInteger(magnitude: (0..<words).map { _ in rng.next() }).modulo(q)
    }

    func testCRTRoundTripIncludingHalfProducts() throws {
        var rng = SplitMix64(seed: 20)
        for (n, sizes) in [(1024, [60, 40, 40, 60]), (4096, [30, 35, 45, 50, 55, 61]), (8192, Array(repeating: 40, count: 12))] {
            let basis = try RNSBasis(degree: n, primes: PrimeSearch.nttPrimes(bitSizes: sizes, degree: n))
            let q = basis.product
            let half = q >> 1   // Q is odd, so the centred range is [−(Q−1)/2, (Q−1)/2]
            var values: [BigInteger] = [0, 1, -1, half, -half, half - 1, -half + 1]
            for _ in 0..<300 { values.append(try randomBig(below: q, using: &rng) - half) }
            for x in values {
                XCTAssertEqual(try basis.compose(basis.decompose(x)), x)
                // Any representative of the class composes to the centred one.
                XCTAssertEqual(try basis.compose(basis.decompose(x + q * 3)), x)
                XCTAssertEqual(try basis.compose(basis.decompose(x - q)), x)
            }
            // (Q+1)/2 lies above the centred range: it composes to (Q+1)/2 − Q = −(Q−1)/2.
            XCTAssertEqual(try basis.compose(basis.decompose(half + 1)), -half)
            XCTAssertEqual(try basis.compose(basis.decompose(q)), 0)
        }
    }

    func testCRTErrors() throws {
        let basis = try RNSBasis(degree: 16, primes: PrimeSearch.nttPrimes(bitSizes: [30, 30], degree: 16))
        XCTAssertThrowsError(try basis.compose([1]))
        XCTAssertThrowsError(try basis.compose([basis.moduli[0].value, 0]))
        XCTAssertThrowsError(try basis.polynomial(coefficients: [1, 2, 3]))
        XCTAssertThrowsError(try RNSBasis(degree: 16, primes: [basis.moduli[0].value, basis.moduli[0].value]))
        XCTAssertThrowsError(try RNSBasis(degree: 16, primes: []))
        XCTAssertThrowsError(try RNSPolynomial<Coefficient>(basis: basis, residues: [UInt64](repeating: 0, count: 31)))
        XCTAssertThrowsError(try RNSPolynomial<Coefficient>(basis: basis, residues: [UInt64](repeating: UInt64.max, count: 32)))
        let other = try RNSBasis(degree: 16, primes: PrimeSearch.nttPrimes(bitSizes: [31, 31], degree: 16))
        var a = RNSPolynomial<Coefficient>(zeroIn: basis)
        XCTAssertThrowsError(try a.add(RNSPolynomial<Coefficient>(zeroIn: other)))
    }

    func testPolynomialCoefficientsRoundTrip() throws {
        var rng = SplitMix64(seed: 21)
        let n = 256
        let basis = try RNSBasis(degree: n, primes: PrimeSearch.nttPrimes(bitSizes: [60, 50, 40], degree: n))
        let half = basis.product >> 1
        let coefficients = try (0..<n).map { _ in try randomBig(below: basis.product, using: &rng) - half }
        let p = try basis.polynomial(coefficients: coefficients)
        XCTAssertEqual(try basis.coefficients(of: p), coefficients)
        XCTAssertEqual(try basis.coefficients(of: p.forwardNTT().inverseNTT()), coefficients)
    }

    func testRNSProductEqualsSchoolbookPerLimbAndRingOps() throws {
        var rng = SplitMix64(seed: 22)
        for (logN, limbs) in [(6, 3), (10, 4), (12, 8)] {
            let n = 1 << logN
            let basis = try RNSBasis(degree: n, primes: PrimeSearch.nttPrimes(bitSizes: Array(repeating: 50, count: limbs), degree: n))
            let ra = basis.moduli.flatMap { m in (0..<n).map { _ in rng.next() % m.value } }
            let rb = basis.moduli.flatMap { m in (0..<n).map { _ in rng.next() % m.value } }
            let a = try RNSPolynomial<Coefficient>(basis: basis, residues: ra)
            let b = try RNSPolynomial<Coefficient>(basis: basis, residues: rb)
            let product = try (a.forwardNTT() * b.forwardNTT()).inverseNTT()
            for i in 0..<limbs where i < 2 || logN < 12 {
                XCTAssertEqual(Array(product.limb(i)),
                               schoolbookNegacyclic(Array(a.limb(i)), Array(b.limb(i)), modulus: basis.moduli[i].value))
            }
            // a − b + b = a; a + (−a) = 0; (a·3)·(−1) = −3a; accumulate a·b into 0 equals a·b.
            XCTAssertEqual(try (a - b) + b, a)
            XCTAssertEqual(try a + (-a), RNSPolynomial<Coefficient>(zeroIn: basis))
            var scaled = a
            try scaled.multiply(byScalar: 3)
            var threeA = try a + a + a
            threeA.negate()
            try scaled.multiply(byScalar: -1)
            XCTAssertEqual(scaled, threeA)
            var accumulated = RNSPolynomial<Evaluation>(zeroIn: basis)
            try accumulated.addProduct(a.forwardNTT(), b.forwardNTT())
            XCTAssertEqual(accumulated.inverseNTT(), product)
        }
    }

    func testParallelNTTMatchesSerial() throws {
        // 8 limbs × 2^13 residues crosses the parallel threshold; each limb must match its own NTT.
        var rng = SplitMix64(seed: 23)
        let n = 1 << 13
        XCTAssertGreaterThanOrEqual(8 * n, RNSParallelism.minimumResidues)
        let basis = try RNSBasis(degree: n, primes: PrimeSearch.nttPrimes(bitSizes: Array(repeating: 45, count: 8), degree: n))
        let residues = basis.moduli.flatMap { m in (0..<n).map { _ in rng.next() % m.value } }
        let p = try RNSPolynomial<Coefficient>(basis: basis, residues: residues)
        let evaluated = p.forwardNTT()
        for i in 0..<basis.count {
            var limb = Array(p.limb(i))
            basis.ntt[i].forward(&limb)
            XCTAssertEqual(Array(evaluated.limb(i)), limb)
        }
        XCTAssertEqual(evaluated.inverseNTT(), p)
    }

    func testFastBasisConversionWithinBound() throws {
        var rng = SplitMix64(seed: 24)
        let n = 64
        // k = 1 … 12 and 20 source primes: 2 … 12 take the Montgomery sums with k fixed at
        // compile time (8 at its bound: 8·(q − 1) < 2^64 for 61-bit q; 9 … 12 with 59-bit q),
        // 20 Barrett with its periodic reduction, and 9 with 61-bit q Barrett (past the bound).
        for (k, bits) in [(1, 61), (2, 61), (3, 61), (4, 61), (5, 61), (6, 61), (7, 61), (8, 61), (9, 61),
                          (9, 59), (10, 59), (11, 59), (12, 59), (20, 61)] {
            let primes = try PrimeSearch.nttPrimes(bitSizes: Array(repeating: bits, count: k) + Array(repeating: 59, count: 4), degree: n)
            let source = try RNSBasis(degree: n, primes: Array(primes.prefix(k)))
            let target = try RNSBasis(degree: n, primes: Array(primes.suffix(4)))
            let converter = try BasisConverter(from: source, to: target)
            let q = source.product
            var xs = try (0..<n).map { _ in try randomBig(below: q, using: &rng) }
            xs[0] = 0
            xs[1] = q - 1
            let converted = try converter.convert(source.polynomial(coefficients: xs))
            var seen = Set<Int>()
            for (c, x) in xs.enumerated() {
                // out_j must equal (x + u·Q) mod p_j for one u in [0, k), the same for every j.
                let u = (0..<k).first { u in
                    (0..<target.count).allSatisfy { j in
                        converted.limb(j)[j * n + c] == (x + q * BigInteger(u)).remainder(modulo: target.moduli[j].value)
                    }
                }
                XCTAssertNotNil(u, "coefficient \(c): conversion outside x + [0, k)·Q")
                if let u { seen.insert(u) }
            }
            XCTAssertTrue(seen.contains(0))
            if k >= 3 { XCTAssertTrue(seen.count > 1, "a test that never sees u > 0 cannot catch a wrong bound") }
        }
        // The exact centred conversion: out ≡ x_c, the representative in (−Q/2, Q/2], with no
        // multiple of Q (the other end, x_c ∓ Q, only within 2^−40·Q of ±Q/2, where the Double
        // rounding may tie), for 2, 3, 5 and 20 source primes.
        for k in [2, 3, 4, 5, 20] {
            let primes = try PrimeSearch.nttPrimes(bitSizes: Array(repeating: 50, count: k) + [55, 55], degree: n)
            let source = try RNSBasis(degree: n, primes: Array(primes.prefix(k)))
            let target = try RNSBasis(degree: n, primes: Array(primes.suffix(2)))
            let converter = try BasisConverter(from: source, to: target)
            let half = source.halfProduct
            var xs = try (0..<n).map { _ in try randomBig(below: source.product, using: &rng) - half }
            xs[0] = half
            xs[1] = -half
            xs[2] = 0
            xs[3] = 1
            xs[4] = -1
            let input = try source.polynomial(coefficients: xs)
            var out = [UInt64](repeating: 0, count: 2 * n)
            var scratch = [UInt64](repeating: 0, count: 2 * k * n)
            input.withUnsafeLimbs { i in
                out.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { s in converter.convertCentered(i.baseAddress!, into: o.baseAddress!, scratch: s.baseAddress!) }
                }
            }
            let edge = half - (source.product >> 40)
            for (c, x) in xs.enumerated() {
                let allowed = x.magnitude > edge ? [x, x > 0 ? x - source.product : x + source.product] : [x]
                let ok = allowed.contains { v in
                    (0..<2).allSatisfy { j in out[j * n + c] == v.remainder(modulo: target.moduli[j].value) }
                }
                XCTAssertTrue(ok, "k = \(k): centred conversion of coefficient \(c) is not x_c")
            }
        }

        let a = try RNSBasis(degree: 16, primes: PrimeSearch.nttPrimes(bitSizes: [30], degree: 16))
        let b = try RNSBasis(degree: 32, primes: PrimeSearch.nttPrimes(bitSizes: [30], degree: 32))
        XCTAssertThrowsError(try BasisConverter(from: a, to: b))
    }

    func testPrefixSharesTables() throws {
        let basis = try RNSBasis(degree: 1024, primes: PrimeSearch.nttPrimes(bitSizes: [60, 40, 40, 60], degree: 1024))
        let prefix = try basis.prefix(2)
        XCTAssertTrue(prefix.ntt[1] === basis.ntt[1])
        XCTAssertEqual(prefix.product, BigInteger(basis.moduli[0].value) * BigInteger(basis.moduli[1].value))
        XCTAssertThrowsError(try basis.prefix(0))
        XCTAssertThrowsError(try basis.prefix(5))
        XCTAssertEqual(basis.log2Product, 200, accuracy: 0.01)
    }
}
