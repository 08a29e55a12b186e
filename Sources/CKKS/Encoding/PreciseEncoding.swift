import Foundation
import HEMath

/// Encoding a few slots to about 100 bits of precision, where `encode`'s double-precision FFT
/// gives 52: a circuit-privacy mask must be 0 in the slots the client does not read to within
/// 2^−(40 + log slot bound + 1.5·log N + 14) ≈ 2^−85 (see `ResultSanitizer`), far beyond what a
/// rounding error of 2^−52 relative leaves.
///
/// For real slot values z_j the coefficients are p_k = (2/N)·Σ_j z_j·cos(π·e_j·k/N) with
/// e_j = 5^j mod 2N (the slot order of `Encoder`: z_j = p(ζ^(e_j)), ζ = e^(iπ/N)); this sums them
/// in double-double arithmetic (each value a pair hi + lo, 106 bits) over the nonzero slots only,
/// from a table of cos(π·t/N) computed by Taylor series in double-double after reduction to
/// [0, π/4]. The error of a coefficient is below (number of terms)·2^−104 relative to the
/// largest |z|, then Δ (a power of two) scales it exactly and it is rounded to an integer.
extension Encoder {
    /// The 0/1 mask of `slots` at scale 2^logScale, to double-double precision, from whichever
    /// side is smaller: the slots themselves, or 1 minus the others (the all-ones vector is the
    /// constant polynomial 1, i.e. Σ_j cos(π·e_j·k/N) = (N/2)·[k = 0]).
    public func encodeMaskPrecisely(_ slots: Set<Int>, logScale: Int, level: Int) throws -> Plaintext {
        let n = slotCount
        guard slots.allSatisfy({ (0..<n).contains($0) }) else {
            throw CKKSError.encoding("a mask slot is outside 0 … \(n - 1)")
        }
        if slots.count <= n / 2 {
            return try encodePrecisely(Dictionary(uniqueKeysWithValues: slots.map { ($0, 1.0) }), constantSum: 0, logScale: logScale, level: level)
        }
        let others = (0..<n).filter { !slots.contains($0) }
        return try encodePrecisely(Dictionary(uniqueKeysWithValues: others.map { ($0, -1.0) }), constantSum: Double(n),
                                   logScale: logScale, level: level)
    }

    /// The plaintext of real values in a few slots (`values[j]` for slot j, all others 0) at
    /// scale 2^logScale, to double-double precision, with `constantSum` added to S_0 (the sum
    /// for k = 0). O(N × nonzero slots).
    /// - Throws: `CKKSError.encoding` for a slot out of range, a non-finite value, a scale beyond
    ///   double-double precision, or a message that does not fit Q_level/2.
    func encodePrecisely(_ values: [Int: Double], constantSum: Double, logScale: Int, level: Int) throws -> Plaintext {
        let basis = try checkedBasis(level: level)
        let n = slotCount, degree = context.degree
        for (j, z) in values {
            guard (0..<n).contains(j), z.isFinite else {
                throw CKKSError.encoding("slot \(j) = \(z): slots are 0 … \(n - 1) and values finite")
            }
        }
        let table = DoubleDouble.cosineTable(degree: degree)
        let twoN = 2 * degree
        var exponents = [Int](repeating: 1, count: n)
        for j in 1..<max(1, n) { exponents[j] = exponents[j - 1] * 5 % twoN }
        let terms = values.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        var sums = [DoubleDouble](repeating: .zero, count: degree)
        sums[0] = DoubleDouble(hi: constantSum, lo: 0)
        for (j, z) in terms {
            let e = exponents[j]
            var t = 0
            for k in 0..<degree {
                sums[k] = sums[k] + table[t] * z
                t += e
                if t >= twoN { t -= twoN }
            }
        }
        // p_k·Δ = S_k · 2^(logScale + 1 − log N), a power of two: exact in both halves. The sums'
        // error, below (terms + 1)·max|z|·2^−104, must stay under 1/4 after that scaling, so
        // that every coefficient is within 3/4 of Δ·p_k.
        let shift = logScale + 1 - context.parameters.logDegree
        let largestValue = max(abs(constantSum), terms.map { abs($0.value) }.max() ?? 0)
        guard Double(shift) + log2(Double(terms.count + 1) * max(largestValue, 1)) - 104 <= -2 else {
            throw CKKSError.encoding("a scale of 2^\(logScale) with \(terms.count) nonzero slots is beyond double-double precision; use a smaller scale")
        }
        let largest = terms.reduce(abs(constantSum)) { $0 + abs($1.value) }   // ≥ every |S_k|
        try checkFits(largest: largest * Double(sign: .plus, exponent: shift, significand: 1),
                      at: 0, largestInput: terms.map { abs($0.value) }.max() ?? 0,
                      scale: Double(sign: .plus, exponent: logScale, significand: 1), level: level, basis: basis)
        var polynomial = RNSPolynomial<Coefficient>(zeroIn: basis)
        let moduli = basis.moduli
        try polynomial.withUnsafeMutableLimbs { limbs in
            for k in 0..<degree where sums[k].hi != 0 || sums[k].lo != 0 {
                let hi = sums[k].hi * Double(sign: .plus, exponent: shift, significand: 1)
                let lo = sums[k].lo * Double(sign: .plus, exponent: shift, significand: 1)
                let whole = hi.rounded(.down)
                let integer = try BigInteger(roundingToNearest: whole) + BigInteger(roundingToNearest: (hi - whole) + lo)
                for (i, m) in moduli.enumerated() { limbs[i * degree + k] = integer.remainder(modulo: m.value) }
            }
        }
        return try Plaintext(context: context, polynomial: polynomial.forwardNTT(), level: level,
                             scale: Double(sign: .plus, exponent: logScale, significand: 1))
    }
}

/// A double-double number hi + lo (|lo| ≤ ulp(hi)/2): about 106 bits of significand, with the
/// error-free transformations of Dekker and Knuth (TwoSum, and TwoProduct through a fused
/// multiply-add).
struct DoubleDouble {
    var hi: Double
    var lo: Double

    static let zero = DoubleDouble(hi: 0, lo: 0)
    /// π to 106 bits: the double nearest π and the double nearest the remainder.
    static let pi = DoubleDouble(hi: 3.141592653589793116, lo: 1.224646799147353207e-16)

    static func twoSum(_ a: Double, _ b: Double) -> DoubleDouble {
        let s = a + b
        let bb = s - a
        return DoubleDouble(hi: s, lo: (a - (s - bb)) + (b - bb))
    }

    static func quickTwoSum(_ a: Double, _ b: Double) -> DoubleDouble {
        let s = a + b
        return DoubleDouble(hi: s, lo: b - (s - a))
    }

    static func + (x: DoubleDouble, y: DoubleDouble) -> DoubleDouble {
        let s = twoSum(x.hi, y.hi)
        let t = twoSum(x.lo, y.lo)
        let u = quickTwoSum(s.hi, s.lo + t.hi)
        return quickTwoSum(u.hi, u.lo + t.lo)
    }

    static prefix func - (x: DoubleDouble) -> DoubleDouble { DoubleDouble(hi: -x.hi, lo: -x.lo) }

    static func * (x: DoubleDouble, y: DoubleDouble) -> DoubleDouble {
        let p = x.hi * y.hi
        let e = fmaError(x.hi, y.hi, p)
        return quickTwoSum(p, e + (x.hi * y.lo + x.lo * y.hi))
    }

    static func * (x: DoubleDouble, y: Double) -> DoubleDouble {
        let p = x.hi * y
        return quickTwoSum(p, fmaError(x.hi, y, p) + x.lo * y)
    }

    /// x / d for a double d.
    static func / (x: DoubleDouble, d: Double) -> DoubleDouble {
        let q = x.hi / d
        let p = q * d
        let e = fmaError(q, d, p)
        return quickTwoSum(q, ((x.hi - p) - e + x.lo) / d)
    }

    /// a·b − p exactly, for p = fl(a·b).
    static func fmaError(_ a: Double, _ b: Double, _ p: Double) -> Double { (-p).addingProduct(a, b) }

    /// (cos θ, sin θ) for 0 ≤ θ ≤ π/4 by their Taylor series (terms below 2^−110 dropped).
    static func cosSin(_ theta: DoubleDouble) -> (DoubleDouble, DoubleDouble) {
        let square = theta * theta
        var cosine = DoubleDouble(hi: 1, lo: 0), sine = theta
        var cTerm = DoubleDouble(hi: 1, lo: 0), sTerm = theta
        var i = 1.0
        while i < 40 {
            cTerm = -(cTerm * square) / ((2 * i - 1) * (2 * i))
            sTerm = -(sTerm * square) / ((2 * i) * (2 * i + 1))
            cosine = cosine + cTerm
            sine = sine + sTerm
            if abs(cTerm.hi) < 0x1p-112 && abs(sTerm.hi) < 0x1p-112 { break }
            i += 1
        }
        return (cosine, sine)
    }

    /// cos(π·t/N) for t = 0 … 2N − 1 (N a power of two ≥ 8), each reduced to an angle in [0, π/4].
    static func cosineTable(degree n: Int) -> [DoubleDouble] {
        cache.withLock { tables in
            if let t = tables[n] { return t }
            let eighth = n / 4   // π·t/N ≤ π/4 ⇔ t ≤ N/4
            var firstOctant: [(DoubleDouble, DoubleDouble)] = []
            firstOctant.reserveCapacity(eighth + 1)
            for u in 0...eighth { firstOctant.append(cosSin(pi * Double(u) / Double(n))) }
            var table = [DoubleDouble](repeating: .zero, count: 2 * n)
            for t in 0..<(2 * n) {
                // cos is even and 2π-periodic: fold t into [0, N] (angle [0, π]).
                let a = t <= n ? t : 2 * n - t
                // cos(π − x) = −cos x: fold into [0, N/2] (angle [0, π/2]).
                let (b, sign) = a <= n / 2 ? (a, 1.0) : (n - a, -1.0)
                // cos(π/2 − x) = sin x: fold into [0, N/4] (angle [0, π/4]).
                let value = b <= eighth ? firstOctant[b].0 : firstOctant[n / 2 - b].1
                table[t] = value * sign
            }
            tables[n] = table
            return table
        }
    }

    private static let cache = Locked<[Int: [DoubleDouble]]>([:])
}

/// A value behind a lock, for state shared between threads (this cache, the tile kernels'
/// product workers).
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    public init(_ value: Value) { self.value = value }
    /// Reads or changes the value under the lock; returns what `body` returns.
    @discardableResult
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
