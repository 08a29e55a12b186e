import XCTest
@testable import CKKS
import HEMath

/// Small, fast parameter sets and coefficient-level oracles for the scheme's tests.
enum TestParameters {
    /// N = 1024, q = 60 + 40 + 40 bits, one 60-bit special prime: insecure, for speed.
    static func small(logDegree: Int = 10, primeBits: [Int] = [60, 40, 40], specialPrimeBits: [Int] = [60],
                      digits: Int? = nil) throws -> CKKSContext {
        try CKKSContext(parameters: CKKSParameters(
            logDegree: logDegree, primeBits: primeBits, specialPrimeBits: specialPrimeBits, logScale: 40,
            keySwitchDigits: digits, security: .insecureTestingOnly))
    }
}

/// A seeded generator for reproducible test inputs (not for keys).
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The automorphism X ↦ X^g on integer coefficients (the slow, obvious oracle).
func coefficientAutomorphism(_ m: [BigInteger], _ g: UInt64) -> [BigInteger] {
    let n = m.count
    var out = [BigInteger](repeating: 0, count: n)
    for i in 0..<n {
        let e = Int((UInt64(i) * g) % UInt64(2 * n))
        if e < n { out[e] = m[i] } else { out[e - n] = -m[i] }
    }
    return out
}

extension XCTestCase {
    /// Plaintext from integer coefficients at a level (scale 1: the coefficients are the message).
    func plaintext(_ coefficients: [BigInteger], context: CKKSContext, level: Int, scale: Double = 1) throws -> Plaintext {
        let basis = try context.basis(atLevel: level)
        return try Plaintext(context: context, polynomial: basis.polynomial(coefficients: coefficients).forwardNTT(),
                             level: level, scale: scale)
    }

    /// The centred integer coefficients of a plaintext.
    func coefficients(_ p: Plaintext) throws -> [BigInteger] {
        try p.polynomial.basis.coefficients(of: p.polynomial.inverseNTT())
    }

    /// max_i |a_i − b_i| as a BigInteger.
    func maxDistance(_ a: [BigInteger], _ b: [BigInteger]) -> BigInteger {
        zip(a, b).map { ($0 - $1).magnitude }.max() ?? 0
    }

    func randomCoefficients(count: Int, bits: Int, using rng: inout TestRNG) -> [BigInteger] {
        (0..<count).map { _ in BigInteger(Int.random(in: -(1 << bits)...(1 << bits), using: &rng)) }
    }
}
