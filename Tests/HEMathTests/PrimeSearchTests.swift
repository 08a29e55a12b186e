import XCTest
@testable import HEMath

final class PrimeSearchTests: XCTestCase {
    func testKnownPrimesMatchIndependentSearch() throws {
        // Fixtures from sympy.isprime over the same candidate sequences.
        XCTAssertEqual(try PrimeSearch.nttPrimes(bitSizes: [60, 60], degree: 8192),
                       [1_152_921_504_606_830_593, 1_152_921_504_606_748_673])
        XCTAssertEqual(try PrimeSearch.nttPrimes(bitSizes: [40, 40, 40], degree: 8192),
                       [1_099_511_480_321, 1_099_510_890_497, 1_099_510_824_961])
        XCTAssertEqual(try PrimeSearch.nttPrimes(bitSizes: [40, 40, 40, 40], degree: 8192, strategy: .nearest),
                       [1_099_511_480_321, 1_099_511_922_689, 1_099_512_004_609, 1_099_512_266_753])
    }

    func testEveryPrimeIsNTTFriendlyProvenAndDistinct() throws {
        for logN in [10, 12, 13, 14, 15, 16, 17] {
            let n = 1 << logN
            let sizes = [60] + Array(repeating: 40, count: 6) + [30, 50, 60]
            for strategy in [PrimeSearch.Strategy.below, .nearest] {
                let primes = try PrimeSearch.nttPrimes(bitSizes: sizes, degree: n, strategy: strategy)
                XCTAssertEqual(primes.count, sizes.count)
                XCTAssertEqual(Set(primes).count, primes.count, "primes must be distinct")
                for (p, bits) in zip(primes, sizes) {
                    XCTAssertEqual(p % UInt64(2 * n), 1)
                    XCTAssertTrue(PrimeSearch.isProvenPrime(p))
                    if p < 1 << 46 { XCTAssertTrue(isPrimeByTrialDivision(p), "\(p) is composite") }
                    let width = 64 - p.leadingZeroBitCount
                    if strategy == .below { XCTAssertEqual(width, bits) } else { XCTAssertTrue(width == bits || width == bits + 1) }
                }
            }
        }
    }

    func testPrimalityProofAgreesWithOracles() {
        // Carmichael numbers and strong pseudoprimes to small bases are composite.
        for c: UInt64 in [0, 1, 4, 561, 1105, 2047, 3_215_031_751, 3_825_123_056_546_413_051,
                          (1 << 61) + 1, 1_152_921_504_606_830_593 * 1 + 2] {
            XCTAssertFalse(PrimeSearch.isProvenPrime(c), "\(c)")
        }
        // Mersenne primes 2^31 − 1 and 2^61 − 1, and the largest prime below 2^64 (2^64 − 59).
        for p: UInt64 in [2, 3, 65537, (1 << 31) - 1, (1 << 61) - 1, UInt64.max - 58] {
            XCTAssertTrue(PrimeSearch.isProvenPrime(p), "\(p)")
        }
        var rng = SplitMix64(seed: 12)
        for _ in 0..<3000 {
            let n = rng.next() >> 40
            XCTAssertEqual(PrimeSearch.isProvenPrime(n), isPrimeByTrialDivision(n), "\(n)")
        }
    }

    func testRefusals() {
        XCTAssertThrowsError(try PrimeSearch.nttPrimes(bitSizes: [63], degree: 4096))
        XCTAssertThrowsError(try PrimeSearch.nttPrimes(bitSizes: [40], degree: 3000))
        XCTAssertThrowsError(try PrimeSearch.nttPrimes(bitSizes: [15], degree: 8192))
        // Only a handful of 20-bit primes are 1 mod 2^18.
        XCTAssertThrowsError(try PrimeSearch.nttPrimes(bitSizes: Array(repeating: 20, count: 20), degree: 1 << 17)) { error in
            guard case HEMathError.primesExhausted = error else { return XCTFail("\(error)") }
        }
    }

    func testMinimalPrimitiveRoot() throws {
        // Hand-checked: mod 17, 2^4 = 16 = −1 so 2 is a primitive 8th root; 3 generates Z_17^*.
        XCTAssertEqual(try PrimeSearch.minimalPrimitiveRoot(degree: 4, modulus: Modulus(17)), 2)
        XCTAssertEqual(try PrimeSearch.minimalPrimitiveRoot(degree: 8, modulus: Modulus(17)), 3)
        XCTAssertEqual(try PrimeSearch.minimalPrimitiveRoot(degree: 4, modulus: Modulus(97)), try minimalByBruteForce(q: 97, n: 4))
        let q = try PrimeSearch.nttPrimes(bitSizes: [50], degree: 1024)[0]
        let m = try Modulus(q)
        let psi = try PrimeSearch.minimalPrimitiveRoot(degree: 1024, modulus: m)
        XCTAssertEqual(m.power(psi, 1024), q - 1)
        XCTAssertEqual(m.power(psi, 2048), 1)
        XCTAssertThrowsError(try PrimeSearch.minimalPrimitiveRoot(degree: 4, modulus: Modulus(19)))
    }

    private func minimalByBruteForce(q: UInt64, n: UInt64) throws -> UInt64 {
        let m = try Modulus(q)
        return (2..<q).first { m.power($0, n) == q - 1 }!
    }
}

/// Trial division by every odd d ≤ √n: the slow, obvious primality oracle (used up to ~2^46).
func isPrimeByTrialDivision(_ n: UInt64) -> Bool {
    if n < 2 { return false }
    if n % 2 == 0 { return n == 2 }
    var d: UInt64 = 3
    while d * d <= n {
        if n % d == 0 { return false }
        d += 2
    }
    return true
}
