import Dispatch
import XCTest
@testable import HEMath

/// Tests of BigInteger. Every check compares against something independent of the code under
/// test: Swift's fixed-width arithmetic, limb-level oracles in BigIntegerTestSupport.swift,
/// algebraic identities, or answers computed once with Python 3 and pasted in as fixtures.
final class BigIntegerTests: XCTestCase {
    func big(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> BigInteger {
        guard let value = BigInteger(text) else {
            XCTFail("fixture '\(text)' does not parse", file: file, line: line)
            return 0
        }
        return value
    }

    func assertThrows<T>(
        _ expected: HEMathError, _ expression: @autoclosure () throws -> T,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            XCTAssertEqual(error as? HEMathError, expected, file: file, line: line)
        }
    }

    // MARK: - Small values against Int64

    func testSmallValueRingOperationsMatchInt64() {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<5000 {
            let a = rng.mixedInt64(), b = rng.mixedInt64()
            let x = BigInteger(Int(a)), y = BigInteger(Int(b))
            let (sum, sumOverflow) = a.addingReportingOverflow(b)
            if !sumOverflow { XCTAssertEqual((x + y).int64Value, sum, "\(a) + \(b)") }
            let (difference, differenceOverflow) = a.subtractingReportingOverflow(b)
            if !differenceOverflow { XCTAssertEqual((x - y).int64Value, difference, "\(a) - \(b)") }
            let product = a.multipliedFullWidth(by: b)
            let expected = signMagnitude(high: product.high, low: product.low)
            let actual = x * y
            XCTAssertEqual(actual.magnitudeLimbs, expected.limbs, "\(a) * \(b)")
            XCTAssertEqual(actual.isNegative, expected.isNegative, "\(a) * \(b)")
            if a != .min { XCTAssertEqual((-x).int64Value, -a) }
            XCTAssertEqual(x < y, a < b)
            XCTAssertEqual(x == y, a == b)
            XCTAssertEqual(x.signum, Int(a.signum()))
            XCTAssertEqual(x.bitWidth, 64 - a.magnitude.leadingZeroBitCount)
            var accumulator = x
            accumulator *= y
            accumulator -= y
            accumulator += y
            XCTAssertEqual(accumulator, actual)
        }
    }

    func testSmallValueDivisionMatchesInt64() throws {
        var rng = SplitMix64(seed: 2)
        for _ in 0..<5000 {
            let a = rng.mixedInt64(), b = rng.mixedInt64()
            guard b != 0, !(a == .min && b == -1) else { continue }
            let x = BigInteger(Int(a)), y = BigInteger(Int(b))
            let (q, r) = a.quotientAndRemainder(dividingBy: b)
            let truncated = try x.quotientAndRemainder(dividingBy: y)
            XCTAssertEqual(truncated.quotient.int64Value, q, "\(a) / \(b)")
            XCTAssertEqual(truncated.remainder.int64Value, r, "\(a) % \(b)")
            XCTAssertEqual(try (x / y).int64Value, q)
            XCTAssertEqual(try (x % y).int64Value, r)

            var (fq, fr) = (q, r)
            if fr != 0 && (fr < 0) != (b < 0) { fq -= 1; fr += b }
            let floored = try x.flooredQuotientAndRemainder(dividingBy: y)
            XCTAssertEqual(floored.quotient.int64Value, fq, "\(a) floor/ \(b)")
            XCTAssertEqual(floored.remainder.int64Value, fr, "\(a) floor% \(b)")

            let residue = a.magnitude % b.magnitude
            let canonical = a >= 0 || residue == 0 ? residue : b.magnitude - residue
            XCTAssertEqual(try x.modulo(y).uint64Value, canonical, "\(a) mod \(b)")
            XCTAssertEqual(x.remainder(modulo: b.magnitude), canonical, "\(a) mod \(b.magnitude)")
        }
    }

    func testSmallValueShiftsMatchInt64() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<2000 {
            let a = rng.mixedInt64(), k = Int.random(in: 0...62, using: &rng)
            let x = BigInteger(Int(a))
            XCTAssertEqual((x >> k).int64Value, a >> k, "\(a) >> \(k)")
            XCTAssertEqual((x << -k).int64Value, a >> k, "\(a) << -\(k)")
            let shifted = a.multipliedFullWidth(by: Int64(1) << k)
            let expected = signMagnitude(high: shifted.high, low: shifted.low)
            XCTAssertEqual((x << k).magnitudeLimbs, expected.limbs, "\(a) << \(k)")
            XCTAssertEqual((x >> -k).magnitudeLimbs, expected.limbs, "\(a) >> -\(k)")
            XCTAssertEqual((x << k).isNegative, a < 0)
        }
    }

    func testSmallValueGcdMatchesEuclid() {
        var rng = SplitMix64(seed: 4)
        for _ in 0..<3000 {
            let a = rng.mixedInt64(), b = rng.mixedInt64()
            let g = BigInteger.gcd(BigInteger(Int(a)), BigInteger(Int(b)))
            XCTAssertEqual(g.uint64Value, euclid(a.magnitude, b.magnitude), "gcd(\(a), \(b))")
        }
    }

    func testSmallValueConversionsMatchSwift() throws {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<3000 {
            let a = rng.mixedInt64(), u = rng.next() >> UInt64.random(in: 0...63, using: &rng)
            let x = BigInteger(Int(a)), y = BigInteger(u)
            XCTAssertEqual(x.description, String(a))
            XCTAssertEqual(y.description, String(u))
            let radix = Int.random(in: 2...36, using: &rng)
            XCTAssertEqual(x.toString(radix: radix), String(a, radix: radix))
            XCTAssertEqual(BigInteger(String(a, radix: radix, uppercase: Bool.random(using: &rng)),
                                      radix: radix), x)
            XCTAssertEqual(try BigInteger.parse(String(u), radix: 10), y)
            XCTAssertEqual(x.int64Value, a)
            XCTAssertEqual(x.uint64Value, a >= 0 ? UInt64(a) : nil)
            XCTAssertEqual(y.uint64Value, u)
            XCTAssertEqual(x.doubleValue, Double(a))  // Swift's conversion rounds to nearest even
            XCTAssertEqual(y.doubleValue, Double(u))
            XCTAssertEqual(x.magnitudeLimbs, a == 0 ? [] : [a.magnitude])
        }
    }

    // MARK: - Big values: identities and limb-level oracles

    func testBigDivisionIdentityAndSigns() throws {
        var rng = SplitMix64(seed: 6)
        for _ in 0..<300 {
            let a = rng.bigInteger(bits: 200...2000), b = rng.bigInteger(bits: 64...1200)
            let (q, r) = try a.quotientAndRemainder(dividingBy: b)
            XCTAssertEqual(q * b + r, a)
            XCTAssertLessThan(r.magnitude, b.magnitude)
            XCTAssertTrue(r.isZero || r.isNegative == a.isNegative, "truncated remainder has the dividend's sign")
            XCTAssertEqual(q.isNegative, !q.isZero && (a.isNegative != b.isNegative))
            let (fq, fr) = try a.flooredQuotientAndRemainder(dividingBy: b)
            XCTAssertEqual(fq * b + fr, a)
            XCTAssertLessThan(fr.magnitude, b.magnitude)
            XCTAssertTrue(fr.isZero || fr.isNegative == b.isNegative, "floored remainder has the divisor's sign")
            XCTAssertEqual(try a / b, q)
            XCTAssertEqual(try a % b, r)
            let m = try a.modulo(b)
            XCTAssertFalse(m.isNegative)
            XCTAssertLessThan(m, b.magnitude)
            XCTAssertTrue(try (a - m) % b == 0)
        }
    }

    func testBigRingIdentitiesAndSchoolbookOracles() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let a = rng.bigInteger(bits: 200...2000), b = rng.bigInteger(bits: 200...2000)
            XCTAssertEqual((a + b) - b, a)
            XCTAssertEqual(a * b, b * a)
            XCTAssertEqual(a - a, 0)
            XCTAssertEqual(a + (-a), 0)
            let product = a * b
            XCTAssertEqual(product.magnitudeLimbs, schoolbookProduct(a.magnitudeLimbs, b.magnitudeLimbs))
            XCTAssertEqual(product.isNegative, a.isNegative != b.isNegative)
            let sum = a.magnitude + b.magnitude
            XCTAssertEqual(sum.magnitudeLimbs, schoolbookSum(a.magnitudeLimbs, b.magnitudeLimbs))
            XCTAssertEqual(a < b, (a - b).isNegative)
        }
    }

    func testBigShiftsRoundTripAndFloor() throws {
        var rng = SplitMix64(seed: 8)
        for _ in 0..<300 {
            let a = rng.bigInteger(bits: 200...2000), k = Int.random(in: 0...700, using: &rng)
            let powerOfTwo = try BigInteger(2).pow(k)
            XCTAssertEqual((a << k) >> k, a)
            XCTAssertEqual(a << k, a * powerOfTwo)
            XCTAssertEqual(a >> k, try a.flooredQuotientAndRemainder(dividingBy: powerOfTwo).quotient)
            XCTAssertEqual(a << -k, a >> k)
            var b = a
            b <<= k
            b >>= k
            XCTAssertEqual(b, a)
        }
    }

    func testBigLimbAndStringRoundTrips() throws {
        var rng = SplitMix64(seed: 9)
        for _ in 0..<300 {
            let width = Int.random(in: 200...2000, using: &rng)
            let limbs = rng.limbs(bits: width), negative = Bool.random(using: &rng)
            let a = BigInteger(magnitude: limbs, isNegative: negative)
            XCTAssertEqual(a.magnitudeLimbs, limbs)
            XCTAssertEqual(a.isNegative, negative)
            XCTAssertEqual(a.bitWidth, width)
            XCTAssertEqual(BigInteger(magnitude: limbs + [0, 0], isNegative: negative), a)
            let hex = (negative ? "-" : "") + hexString(limbs)
            XCTAssertEqual(a.toString(radix: 16), hex)
            XCTAssertEqual(BigInteger(hex, radix: 16), a)
            XCTAssertEqual(BigInteger((negative ? "-0x" : "0X") + hexString(limbs).uppercased(), radix: 16), a)
            XCTAssertEqual(BigInteger(a.description), a)
            XCTAssertEqual(try BigInteger.parse(a.description), a)
            let radix = Int.random(in: 2...36, using: &rng)
            XCTAssertEqual(BigInteger(a.toString(radix: radix), radix: radix), a)
        }
    }

    func testBigModuloAndWordRemainderAgree() throws {
        var rng = SplitMix64(seed: 10)
        for _ in 0..<500 {
            let a = rng.bigInteger(bits: 200...2000)
            let m = rng.next() | 1
            let residue = a.remainder(modulo: m)
            XCTAssertLessThan(residue, m)
            XCTAssertEqual(BigInteger(residue), try a.modulo(BigInteger(m)))
            XCTAssertEqual(BigInteger(residue), try a.modulo(-BigInteger(m)))
            XCTAssertTrue(try (a - BigInteger(residue)) % BigInteger(m) == 0)
        }
    }

    func testBigDoubleValueIsNearestWithTiesToEven() throws {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<500 {
            let a = rng.bigInteger(bits: 54...1000)
            let d = a.doubleValue
            XCTAssertTrue(d.isFinite)
            func error(_ candidate: Double) throws -> BigInteger {
                try (a - BigInteger(truncating: candidate)).magnitude
            }
            let e = try error(d), up = try error(d.nextUp), down = try error(d.nextDown)
            XCTAssertLessThanOrEqual(e, up, "\(a) -> \(d)")
            XCTAssertLessThanOrEqual(e, down, "\(a) -> \(d)")
            if e == up || e == down {
                XCTAssertEqual(d.significandBitPattern & 1, 0, "tie must round to even")
            }
        }
    }

    func testBigModularPowerAndInverseIdentities() throws {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<100 {
            let base = rng.bigInteger(bits: 200...600), m = rng.bigInteger(bits: 100...400)
            let e = Int.random(in: 0...40, using: &rng)
            let viaPower = try base.pow(e).modulo(m)
            XCTAssertEqual(try base.pow(BigInteger(e), modulus: m), viaPower)
            if BigInteger.gcd(base, m) == 1 {
                let inverse = try base.inverse(modulo: m)
                XCTAssertFalse(inverse.isNegative)
                XCTAssertLessThan(inverse, m.magnitude)
                XCTAssertEqual(try (base * inverse).modulo(m), 1)
                let negative = try base.pow(BigInteger(-e), modulus: m)
                XCTAssertEqual(try (negative * viaPower).modulo(m), try BigInteger(1).modulo(m))
            } else {
                XCTAssertThrowsError(try base.inverse(modulo: m))
            }
        }
        // gcd(2^a - 1, 2^b - 1) = 2^gcd(a, b) - 1
        for _ in 0..<100 {
            let a = Int.random(in: 1...1500, using: &rng), b = Int.random(in: 1...1500, using: &rng)
            let g = Int(euclid(UInt64(a), UInt64(b)))
            XCTAssertEqual(BigInteger.gcd((BigInteger(1) << a) - 1, -((BigInteger(1) << b) - 1)),
                           (BigInteger(1) << g) - 1)
        }
    }
}
