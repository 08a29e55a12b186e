import Foundation

/// A word-size modulus q with 2 ≤ q < 2^62 and the constants that make reduction by it fast.
///
/// The bound 2^62 leaves two spare bits, so that lazy values in [0, 4q) still fit a word:
/// Harvey's NTT butterflies keep their operands there and reduce only once at the end.
/// Every operation documents its input range and output range; "reduced" means [0, q).
public struct Modulus: Sendable, Hashable, CustomStringConvertible {
    /// The modulus q.
    public let value: UInt64
    /// ⌊2^128 / q⌋, high word. It equals ⌊2^64 / q⌋, the 64-bit Barrett constant.
    public let barrettHigh: UInt64
    /// ⌊2^128 / q⌋, low word.
    public let barrettLow: UInt64

    /// Number of bits k of q, and ⌊2^(2k) / q⌋ (< 2^(k+1) ≤ 2^63): the constants of the shifted
    /// Barrett reduction of a product of two reduced values (`multiplyReduced`).
    public let bits: Int
    public let barrettProduct: UInt64

    /// Largest supported modulus (exclusive): 2^62.
    public static let upperBound: UInt64 = 1 << 62

    /// Makes a modulus; throws unless 2 ≤ q < 2^62.
    public init(_ value: UInt64) throws {
        guard value >= 2, value < Modulus.upperBound else {
            throw HEMathError.invalidModulus(modulus: value, reason: "must satisfy 2 ≤ q < 2^62")
        }
        self.value = value
        // ⌊2^128/q⌋ = ⌊2^64/q⌋·2^64 + ⌊(2^64 mod q)·2^64 / q⌋. Both divisions have a
        // dividend whose high word is below q, so dividingFullWidth cannot overflow.
        let (high, rem) = value.dividingFullWidth((high: 1, low: 0))
        self.barrettHigh = high
        self.barrettLow = value.dividingFullWidth((high: rem, low: 0)).quotient
        let k = UInt64.bitWidth - value.leadingZeroBitCount
        self.bits = k
        // 2^(2k) / q: a two-word dividend whose high word 2^(2k−64) < 2^(k−1) ≤ q when 2k ≥ 64.
        self.barrettProduct = 2 * k >= 64
            ? value.dividingFullWidth((high: 1 << UInt64(2 * k - 64), low: 0)).quotient
            : (1 << UInt64(2 * k)) / value
    }

    /// Number of bits of q.
    @inlinable public var bitWidth: Int { UInt64.bitWidth - value.leadingZeroBitCount }

    /// log2(q) as a real number, for security and scale accounting.
    public var log2: Double { Foundation.log2(Double(value)) }

    public var description: String { "\(value)" }

    // MARK: Addition

    /// (a + b) mod q for reduced a, b. Output reduced.
    @inlinable @inline(__always)
    public func add(_ a: UInt64, _ b: UInt64) -> UInt64 {
        (a &+ b).reducedOnce(value)
    }

    /// (a − b) mod q for reduced a, b. Output reduced.
    @inlinable @inline(__always)
    public func subtract(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let d = a &- b
        // a − b wrapped below zero sets the top bit (a, b < 2^62), so add q back.
        return d &+ (value & (0 &- (d >> 63)))
    }

    /// a + b without reduction, for lazy a, b in [0, 2q): output in [0, 4q) (fits a word, q < 2^62).
    @inlinable @inline(__always)
    public func addLazy(_ a: UInt64, _ b: UInt64) -> UInt64 {
        a &+ b
    }

    /// a − b + 2q without reduction, for lazy a, b in [0, 2q): output in (0, 4q).
    @inlinable @inline(__always)
    public func subtractLazy(_ a: UInt64, _ b: UInt64) -> UInt64 {
        a &- b &+ (value &<< 1)
    }

    /// Maps a lazy value in [0, 4q) to [0, q) with two branch-free conditional subtractions.
    @inlinable @inline(__always)
    public func reduceFromLazy4(_ a: UInt64) -> UInt64 {
        a.reducedOnce(value &<< 1).reducedOnce(value)
    }

    /// −a mod q for reduced a. Output reduced (−0 is 0).
    @inlinable @inline(__always)
    public func negate(_ a: UInt64) -> UInt64 {
        a == 0 ? 0 : value &- a
    }

    // MARK: Barrett reduction

    /// x mod q for any 64-bit x (Barrett with the one-word constant ⌊2^64/q⌋).
    ///
    /// Correctness: with k = ⌊2^64/q⌋ = 2^64/q − e (0 ≤ e < 1), the estimate
    /// t = ⌊x·k / 2^64⌋ exceeds x/q − 2, so x − t·q lies in [0, 2q); one subtraction finishes.
    @inlinable @inline(__always)
    public func reduce(_ x: UInt64) -> UInt64 {
        let t = x.multipliedFullWidth(by: barrettHigh).high
        return (x &- t &* value).reducedOnce(value)
    }

    /// x mod q for a 128-bit x = high·2^64 + low (Barrett with the two-word constant ⌊2^128/q⌋).
    ///
    /// Correctness: the quotient estimate t = ⌊x·⌊2^128/q⌋ / 2^128⌋ is computed exactly (its low
    /// word suffices, because only x − t·q mod 2^64 is needed), and t > x/q − 2 for every
    /// x < 2^128, so x − t·q lies in [0, 2q) ⊂ [0, 2^63); one subtraction finishes.
    @inlinable @inline(__always)
    public func reduce(high: UInt64, low: UInt64) -> UInt64 {
        reduceLazy(high: high, low: low).reducedOnce(value)
    }

    /// As `reduce(high:low:)` without the final subtraction. Output in [0, 2q).
    @inlinable @inline(__always)
    public func reduceLazy(high: UInt64, low: UInt64) -> UInt64 {
        // x·k / 2^128 with x = (xh, xl), k = (kh, kl):
        // x·k = xh·kh·2^128 + (xh·kl + xl·kh)·2^64 + xl·kl.
        let carry0 = low.multipliedFullWidth(by: barrettLow).high
        let mid1 = low.multipliedFullWidth(by: barrettHigh)
        let mid2 = high.multipliedFullWidth(by: barrettLow)
        let (s1, c1) = mid1.low.addingReportingOverflow(carry0)
        let (_, c2) = s1.addingReportingOverflow(mid2.low)
        let t = high &* barrettHigh &+ mid1.high &+ mid2.high
            &+ (c1 ? 1 : 0) &+ (c2 ? 1 : 0)
        return low &- t &* value
    }

    /// (a · b) mod q for any a, b with a·b < 2^128 (in particular any two words). Output reduced.
    @inlinable @inline(__always)
    public func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let p = a.multipliedFullWidth(by: b)
        return reduce(high: p.high, low: p.low)
    }

    /// (a · b) mod q for reduced a, b (both < q): the shifted Barrett reduction of the product,
    /// three multiplications instead of `multiply`'s six. Output reduced.
    ///
    /// Correctness (Menezes et al., HAC 14.42, with base 2): x = a·b < q² < 2^(2k); with
    /// μ = ⌊2^(2k)/q⌋ the estimate t = ⌊⌊x / 2^(k−1)⌋ · μ / 2^(k+1)⌋ satisfies x/q − 3 < t ≤ x/q,
    /// so x − t·q lies in [0, 3q) ⊂ [0, 2^64) and two conditional subtractions finish. The shifts
    /// are in range: x / 2^(k−1) < 2^(k+1) ≤ 2^63 fits a word, and 2 ≤ k ≤ 62.
    @inlinable @inline(__always)
    public func multiplyReduced(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = a.multipliedFullWidth(by: b)
        let k = UInt64(truncatingIfNeeded: bits)
        let x1 = (x.high &<< (65 &- k)) | (x.low &>> (k &- 1))
        let y = x1.multipliedFullWidth(by: barrettProduct)
        let t = (y.high &<< (63 &- k)) | (y.low &>> (k &+ 1))
        return (x.low &- t &* value).reducedOnce(value &<< 1).reducedOnce(value)
    }

    // MARK: Shoup multiplication by a fixed operand

    /// Shoup's constant ⌊w·2^64 / q⌋ for a reduced w, precomputed once per fixed operand.
    @inlinable
    public func shoupConstant(_ w: UInt64) -> UInt64 {
        precondition(w < value, "Shoup operand must be reduced")
        return value.dividingFullWidth((high: w, low: 0)).quotient
    }

    /// x·w mod q, lazily: output in [0, 2q), for any 64-bit x and reduced w with s = ⌊w·2^64/q⌋.
    ///
    /// Correctness: s = w·2^64/q − e (0 ≤ e < 1), so h = ⌊x·s/2^64⌋ lies in (x·w/q − 2, x·w/q];
    /// hence x·w − h·q ∈ [0, 2q), and since 2q < 2^64 the wrapped word arithmetic is exact.
    @inlinable @inline(__always)
    public func multiplyShoupLazy(_ x: UInt64, by w: UInt64, shoup s: UInt64) -> UInt64 {
        let h = x.multipliedFullWidth(by: s).high
        return x &* w &- h &* value
    }

    /// x·w mod q for any 64-bit x and reduced w with its Shoup constant s. Output reduced.
    @inlinable @inline(__always)
    public func multiplyShoup(_ x: UInt64, by w: UInt64, shoup s: UInt64) -> UInt64 {
        multiplyShoupLazy(x, by: w, shoup: s).reducedOnce(value)
    }

    // MARK: Powers and inverses

    /// base^exponent mod q by square-and-multiply. Output reduced; 0^0 = 1.
    public func power(_ base: UInt64, _ exponent: UInt64) -> UInt64 {
        var result: UInt64 = 1 % value
        var b = reduce(base)
        var e = exponent
        while e > 0 {
            if e & 1 == 1 { result = multiply(result, b) }
            b = multiply(b, b)
            e >>= 1
        }
        return result
    }

    /// a^−1 mod q by the extended Euclidean algorithm; throws when gcd(a, q) ≠ 1.
    public func inverse(_ a: UInt64) throws -> UInt64 {
        // Invariants: r0 ≡ s0·a, r1 ≡ s1·a (mod q); all |values| ≤ q < 2^62 fit Int64.
        var (r0, r1) = (Int64(value), Int64(reduce(a)))
        var (s0, s1): (Int64, Int64) = (0, 1)
        while r1 != 0 {
            let quotient = r0 / r1
            (r0, r1) = (r1, r0 - quotient * r1)
            (s0, s1) = (s1, s0 - quotient * s1)
        }
        guard r0 == 1 else {
            throw HEMathError.notInvertible(value: "\(a)", modulus: "\(value)")
        }
        return s0 < 0 ? UInt64(s0 + Int64(value)) : UInt64(s0)
    }

    // MARK: Signed values

    /// A signed integer's residue in [0, q).
    @inlinable @inline(__always)
    public func reduce(signed x: Int64) -> UInt64 {
        let r = reduce(x.magnitude)
        return x < 0 ? negate(r) : r
    }

    /// The centred representative of a reduced a, in (−q/2, q/2].
    @inlinable @inline(__always)
    public func centered(_ a: UInt64) -> Int64 {
        a > value >> 1 ? Int64(bitPattern: a &- value) : Int64(a)
    }
}

extension UInt64 {
    /// Self minus c if self ≥ c, branch-free: maps [0, 2c) onto [0, c), for any c < 2^63.
    ///
    /// self − c lies in [−c, c), inside the signed 64-bit range, so its sign bit (spread by an
    /// arithmetic shift) is the mask that adds c back. No data-dependent branch: the NTT's
    /// corrections are taken about half the time, where a branch would mispredict.
    @inlinable @inline(__always)
    public func reducedOnce(_ c: UInt64) -> UInt64 {
        let d = self &- c
        return d &+ (c & UInt64(bitPattern: Int64(bitPattern: d) &>> 63))
    }
}
