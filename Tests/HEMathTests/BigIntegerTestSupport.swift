@testable import HEMath

// Test-only helpers for BigIntegerTests: a reproducible random source and small oracles that
// work on plain UInt64 limbs, independent of GMP.

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so a failing random test
/// reproduces from its seed alone.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An Int64 whose magnitude has a random bit length (so small and large values, and
    /// interesting quotients, are all common), with a random sign; now and then Int64.min
    /// or Int64.max, the values where overflow lurks.
    mutating func mixedInt64() -> Int64 {
        switch next() % 64 {
        case 0: return .min
        case 1: return .max
        default:
            let bits = Int.random(in: 0...63, using: &self)
            let magnitude = bits == 0 ? 0 : Int64(next() >> UInt64(64 - bits))
            return Bool.random(using: &self) ? -magnitude : magnitude
        }
    }

    /// Little-endian limbs of a random magnitude with exactly `bits` bits (top bit set).
    mutating func limbs(bits: Int) -> [UInt64] {
        precondition(bits > 0)
        var limbs = (0..<((bits + 63) / 64)).map { _ in next() }
        let topBits = bits - 64 * (limbs.count - 1)
        limbs[limbs.count - 1] >>= UInt64(64 - topBits)
        limbs[limbs.count - 1] |= 1 << UInt64(topBits - 1)
        return limbs
    }

    /// A random nonzero BigInteger with a bit width in `bits` and a random sign.
    mutating func bigInteger(bits: ClosedRange<Int>) -> BigInteger {
        let width = Int.random(in: bits, using: &self)
        return BigInteger(magnitude: limbs(bits: width), isNegative: Bool.random(using: &self))
    }
}

/// Removes high zero limbs, the normal form `magnitudeLimbs` returns.
func normalized(_ limbs: [UInt64]) -> [UInt64] {
    var result = limbs
    while result.last == 0 { result.removeLast() }
    return result
}

/// Schoolbook product of two little-endian magnitudes, built on `multipliedFullWidth`.
func schoolbookProduct(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
    var result = [UInt64](repeating: 0, count: a.count + b.count)
    for i in a.indices {
        var carry: UInt64 = 0
        for j in b.indices {
            let (high, low) = a[i].multipliedFullWidth(by: b[j])
            let (s1, o1) = result[i + j].addingReportingOverflow(low)
            let (s2, o2) = s1.addingReportingOverflow(carry)
            result[i + j] = s2
            carry = high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)  // cannot overflow: high ≤ 2^64 - 2
        }
        result[i + b.count] = carry
    }
    return normalized(result)
}

/// Sum of two little-endian magnitudes with explicit carries.
func schoolbookSum(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
    var result: [UInt64] = []
    var carry = false
    for i in 0..<max(a.count, b.count) {
        let (s1, o1) = (i < a.count ? a[i] : 0).addingReportingOverflow(i < b.count ? b[i] : 0)
        let (s2, o2) = s1.addingReportingOverflow(carry ? 1 : 0)
        result.append(s2)
        carry = o1 || o2
    }
    if carry { result.append(1) }
    return normalized(result)
}

/// Lowercase hexadecimal of a little-endian magnitude, limb by limb ("0" for none).
func hexString(_ limbs: [UInt64]) -> String {
    let limbs = normalized(limbs)
    guard let top = limbs.last else { return "0" }
    var text = String(top, radix: 16)
    for limb in limbs.dropLast().reversed() {
        let digits = String(limb, radix: 16)
        text += String(repeating: "0", count: 16 - digits.count) + digits
    }
    return text
}

/// The signed 128-bit result of `Int64.multipliedFullWidth` as (isNegative, magnitude limbs).
func signMagnitude(high: Int64, low: UInt64) -> (isNegative: Bool, limbs: [UInt64]) {
    var hi = UInt64(bitPattern: high), lo = low
    let negative = high < 0
    if negative {  // two's complement negation of the 128-bit value
        lo = ~lo &+ 1
        hi = ~hi &+ (lo == 0 ? 1 : 0)
    }
    return (negative, normalized([lo, hi]))
}

/// Euclid's algorithm on machine words, as an oracle for `gcd`.
func euclid(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}
