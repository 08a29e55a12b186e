import XCTest
@testable import HEMath

final class ModulusTests: XCTestCase {
    let moduli: [UInt64] = [2, 3, 17, 65537, (1 << 30) - 35, 1_099_511_480_321,
                            1_152_921_504_606_830_593, (1 << 62) - 57]

    func testRejectsOutOfRange() {
        XCTAssertThrowsError(try Modulus(0))
        XCTAssertThrowsError(try Modulus(1))
        XCTAssertThrowsError(try Modulus(1 << 62))
        XCTAssertThrowsError(try Modulus(UInt64.max))
        XCTAssertNoThrow(try Modulus((1 << 62) - 1))
    }

    func testBarrettConstantIsFloorOf2To128OverQ() throws {
        for q in moduli {
            let m = try Modulus(q)
            // k·q ≤ 2^128 < (k+1)·q, checked in 192-bit arithmetic via two words.
            let lo = m.barrettLow.multipliedFullWidth(by: q)
            let hi = m.barrettHigh.multipliedFullWidth(by: q)
            let (mid, c) = hi.low.addingReportingOverflow(lo.high)
            let top = hi.high + (c ? 1 : 0)
            // k·q as (top, mid, lo.low) must be ≤ 2^128 = (1, 0, 0), and 2^128 − k·q < q.
            XCTAssertTrue(top == 0 || (top == 1 && mid == 0 && lo.low == 0), "q=\(q)")
            let gap = (top == 1) ? UInt64(0) : (0 &- lo.low) // 2^128 − k·q, low word
            XCTAssertTrue(gap < q, "q=\(q)")
        }
    }

    func testShiftedBarrettProductAtEveryBitSize() throws {
        var rng = SplitMix64(seed: 7)
        var qs: [UInt64] = [2, 3, 5, 7, (1 << 62) - 57, (1 << 61) + 1, (1 << 31) - 1, (1 << 31) + 11, (1 << 32) - 5, (1 << 32) + 15]
        for k in 2...62 {
            // The smallest and largest k-bit values and a random one (odd; primality is not needed).
            qs += [(1 << UInt64(k - 1)) | 1, (1 << UInt64(k)) - 1, ((1 << UInt64(k - 1)) | (rng.next() % (1 << UInt64(k - 1)))) | 1]
        }
        for q in qs where q >= 2 && q < (1 << 62) {
            let m = try Modulus(q)
            var pairs: [(UInt64, UInt64)] = [(0, 0), (q - 1, q - 1), (q - 1, 1), (1, q - 1), (q - 1, q - 2 < q ? q - 2 : 0)]
            for _ in 0..<300 { pairs.append((rng.next() % q, rng.next() % q)) }
            for (a, b) in pairs {
                let p = a.multipliedFullWidth(by: b)
                XCTAssertEqual(m.multiplyReduced(a, b), remainder128(high: p.high, low: p.low, q), "q=\(q) \(a)·\(b)")
            }
        }
    }

    func testBarrettEqualsRemainderOn128BitInputs() throws {
        var rng = SplitMix64(seed: 1)
        for q in moduli {
            let m = try Modulus(q)
            var inputs: [(UInt64, UInt64)] = [(0, 0), (0, 1), (0, q - 1), (0, q), (0, UInt64.max),
                                              (UInt64.max, UInt64.max), (q - 1, UInt64.max)]
            let qq = (q - 1).multipliedFullWidth(by: q - 1)
            inputs.append((qq.high, qq.low))
            for _ in 0..<2000 { inputs.append((rng.next(), rng.next())) }
            for (h, l) in inputs {
                XCTAssertEqual(m.reduce(high: h, low: l), remainder128(high: h, low: l, q), "q=\(q) x=(\(h),\(l))")
                let lazy = m.reduceLazy(high: h, low: l)
                XCTAssertTrue(lazy < 2 * q && lazy % q == remainder128(high: h, low: l, q))
            }
            for _ in 0..<2000 {
                let x = rng.next()
                XCTAssertEqual(m.reduce(x), x % q)
                let a = rng.next() % q, b = rng.next() % q
                let p = a.multipliedFullWidth(by: b)
                XCTAssertEqual(m.multiply(a, b), remainder128(high: p.high, low: p.low, q))
                XCTAssertEqual(m.multiplyReduced(a, b), remainder128(high: p.high, low: p.low, q), "q=\(q) \(a)·\(b)")
                XCTAssertEqual(m.add(a, b), UInt64((UInt128(a) + UInt128(b)) % UInt128(q)))
                XCTAssertEqual(m.subtract(a, b), (a + q - b) % q)
                XCTAssertEqual(m.add(m.negate(a), a), 0)
            }
            XCTAssertEqual(m.reduce(UInt64.max), UInt64.max % q)
            // Lazy [0, 2q) inputs give [0, 4q) outputs that reduce to the right residue.
            for _ in 0..<500 {
                let a = rng.next() % (2 * q), b = rng.next() % (2 * q)
                let sum = m.addLazy(a, b), difference = m.subtractLazy(a, b)
                XCTAssertTrue(sum < 4 * q && difference < 4 * q)
                XCTAssertEqual(m.reduceFromLazy4(sum), (a % q + b % q) % q)
                XCTAssertEqual(m.reduceFromLazy4(difference), (a % q + q - b % q) % q)
            }
        }
    }

    func testShoupEqualsRemainderIncludingLazyInputs() throws {
        var rng = SplitMix64(seed: 2)
        for q in moduli where q > 2 {
            let m = try Modulus(q)
            let ws: [UInt64] = [0, 1, q - 1, q / 2] + (0..<50).map { _ in rng.next() % q }
            for w in ws {
                let s = m.shoupConstant(w)
                // The largest lazy inputs: 2q − 1, 4q − 1 and the full word.
                let xs: [UInt64] = [0, 1, q - 1, 2 * q - 1, 4 * q - 1, UInt64.max] + (0..<40).map { _ in rng.next() }
                for x in xs {
                    let p = x.multipliedFullWidth(by: w)
                    let expected = remainder128(high: p.high, low: p.low, q)
                    let lazy = m.multiplyShoupLazy(x, by: w, shoup: s)
                    XCTAssertTrue(lazy < 2 * q, "lazy output out of [0, 2q)")
                    XCTAssertEqual(lazy % q, expected)
                    XCTAssertEqual(m.multiplyShoup(x, by: w, shoup: s), expected)
                }
            }
        }
    }

    func testPowerInverseAndSigned() throws {
        let m = try Modulus(1_099_511_480_321)
        XCTAssertEqual(m.power(3, 0), 1)
        XCTAssertEqual(m.power(0, 0), 1)
        XCTAssertEqual(m.power(2, 10), 1024)
        // Fermat: a^(q−1) = 1 for a prime q.
        XCTAssertEqual(m.power(123_456_789, m.value - 1), 1)
        var rng = SplitMix64(seed: 3)
        for _ in 0..<500 {
            let a = 1 + rng.next() % (m.value - 1)
            XCTAssertEqual(m.multiply(a, try m.inverse(a)), 1)
        }
        XCTAssertThrowsError(try m.inverse(0))
        let composite = try Modulus(15)
        XCTAssertThrowsError(try composite.inverse(5))
        XCTAssertEqual(try composite.inverse(7), 13)
        XCTAssertEqual(m.reduce(signed: -1), m.value - 1)
        XCTAssertEqual(m.reduce(signed: Int64.min), m.value - UInt64(Int64.min.magnitude % m.value))
        XCTAssertEqual(m.centered(m.value - 1), -1)
        XCTAssertEqual(m.centered(5), 5)
    }
}
