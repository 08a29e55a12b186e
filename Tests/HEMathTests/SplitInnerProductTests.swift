import XCTest
@testable import HEMath

/// Key switching's split inner product against the products reduced and added one by one.
final class SplitInnerProductTests: XCTestCase {
    /// Primes of 30 to 58 bits (half widths 15 … 29), 1 to 9 digits and, at 58 bits, the 31
    /// digits the partial sums hold; residues at their largest (q − 1) and random; the digits
    /// and key limbs strided as in key switching. Outside the range (59 bits, 32 digits at 58
    /// bits, a degree not a multiple of 8) `applies` is false.
    func testSplitInnerProductEqualsProductsAddedOneByOne() throws {
        let n = 64
        let primes = try PrimeSearch.nttPrimes(bitSizes: [30, 40, 52, 53, 58], degree: n)
        var rng = SystemRandomNumberGenerator()
        for prime in primes {
            let m = try Modulus(prime)
            for digits in [1, 2, 3, 5, 9, 31] where SplitInnerProduct.applies(modulus: m, digits: digits, degree: n) {
                let xStride = 3 * n, keyStride = 2 * n
                func values(_ count: Int) -> [UInt64] {
                    (0..<count).map { $0 % 7 == 0 ? prime - 1 : UInt64.random(in: 0..<prime, using: &rng) }
                }
                let x = values(digits * xStride), b = values(digits * keyStride), a = values(digits * keyStride)
                var out0 = [UInt64](repeating: 0, count: n), out1 = [UInt64](repeating: 0, count: n)
                x.withUnsafeBufferPointer { xs in b.withUnsafeBufferPointer { bs in a.withUnsafeBufferPointer { as_ in
                    out0.withUnsafeMutableBufferPointer { o0 in out1.withUnsafeMutableBufferPointer { o1 in
                        SplitInnerProduct.limb(modulus: m, degree: n, digits: digits, x: xs.baseAddress!, xStride: xStride,
                                               b: bs.baseAddress!, a: as_.baseAddress!, keyStride: keyStride,
                                               out0: o0.baseAddress!, out1: o1.baseAddress!)
                    } }
                } } }
                for c in 0..<n {
                    var e0: UInt64 = 0, e1: UInt64 = 0
                    for d in 0..<digits {
                        e0 = m.add(e0, m.multiply(x[d * xStride + c], b[d * keyStride + c]))
                        e1 = m.add(e1, m.multiply(x[d * xStride + c], a[d * keyStride + c]))
                    }
                    XCTAssertEqual(out0[c], e0, "\(m.bitWidth)-bit prime, \(digits) digits, coefficient \(c)")
                    XCTAssertEqual(out1[c], e1, "\(m.bitWidth)-bit prime, \(digits) digits, coefficient \(c)")
                }
            }
        }
        let m58 = try Modulus(primes[4])
        XCTAssertTrue(SplitInnerProduct.applies(modulus: m58, digits: 31, degree: n))
        XCTAssertFalse(SplitInnerProduct.applies(modulus: m58, digits: 32, degree: n))
        XCTAssertFalse(SplitInnerProduct.applies(modulus: m58, digits: 2, degree: 4))
        let m59 = try Modulus(PrimeSearch.nttPrimes(bitSizes: [59], degree: n)[0])
        XCTAssertFalse(SplitInnerProduct.applies(modulus: m59, digits: 2, degree: n))
    }
}
