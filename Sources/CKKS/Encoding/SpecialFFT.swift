import Foundation
import HEMath

/// The "special" FFT of CKKS (Cheon–Han–Kim–Kim–Song, HEAAN): the canonical embedding of
/// Z[X]/(X^N + 1) restricted to the slots ordered by powers of 5, and its inverse, in
/// O(n log n) for n = N/2 slots.
///
/// ## The embedding
/// With ζ = exp(iπ/N), a primitive 2N-th root of unity, the slots of a real polynomial m are
/// z_j = m(ζ^(5^j mod 2N)) for j = 0 … n − 1 (the other N − n roots give their conjugates).
/// Because 5^j ≡ 1 (mod 4), ζ^(5^j·n) = i^(5^j) = i, so splitting m into its low and high
/// halves gives
///
///     m(ζ^(5^j)) = Σ_{k<n} (m_k + i·m_(k+n)) · ζ^(5^j·k) = c(ζ^(5^j)),  c_k = m_k + i·m_(k+n).
///
/// The special FFT therefore evaluates a complex polynomial c of degree < n at the n points
/// ζ^(5^j); its inverse interpolates. Every c ∈ ℂ^n is reached by exactly one real m, so the
/// encoder needs no separate treatment of the conjugate slots.
///
/// ## Why the butterflies are right (`forward`)
/// Let P_len(c)_j = c(ω_len^(5^j)) for j < len, with ω_len = exp(2πi / 4len) a primitive
/// 4len-th root of unity (so P_n is the map above, since ω_n = ζ). Split c(Y) = e(Y²) + Y·o(Y²)
/// into even and odd coefficients. Then
/// - (ω_len^(5^j))² = ω_(len/2)^(5^j), the j-th point of P_(len/2), so for j < len/2 the
///   halves e and o are needed exactly at the points of P_(len/2);
/// - modulo 4len (a power of two ≥ 8) the powers of 5 form the cyclic group of the residues
///   ≡ 1 (mod 4), of order len; its unique element of order 2 is 1 + 2len, so
///   5^(len/2) ≡ 1 + 2len and the point of index j + len/2 is
///   ω_len^(5^j·(1 + 2len)) = ω_len^(5^j)·(−1)^(5^j) = −ω_len^(5^j), which has the same square.
/// Hence, with u = P_(len/2)(e)_j, v = P_(len/2)(o)_j and w_j = ω_len^(5^j mod 4len):
///
///     P_len(c)_j = u + w_j·v,   P_len(c)_(j+len/2) = u − w_j·v,   j < len/2,
///
/// and P_1(c) = c_0. Unrolling the recursion bottom-up needs the inputs in bit-reversed order
/// (the even/odd splits, repeated), after which each stage writes its outputs in natural order.
///
/// ## Why the inverse is right (`inverse`)
/// Each forward stage is invertible: from A = u + w·v and B = u − w·v follow u = (A + B)/2 and
/// v = (A − B)·w̄/2, as |w| = 1. Undoing the stages from the last to the first, then the bit
/// reversal (an involution), inverts the whole map; the log2(n) factors 1/2 are applied once at
/// the end as 1/n (folded into the caller's factor).
///
/// Tables are computed once per degree; the transforms work in place and allocate nothing.
public final class SpecialFFT: Sendable {
    /// The ring degree N.
    public let degree: Int
    /// The number of slots n = N/2.
    public let slotCount: Int
    /// The rotation group: 5^j mod 2N for j < n.
    public let rotationGroup: [Int]
    /// Bit reversal of log2(n) bits, as a permutation of 0 ..< n.
    let bitReversal: [Int32]
    /// Stage twiddles w_j = ω_len^(5^j mod 4len) for the stage of half-length h = len/2 at
    /// indices h ..< 2h (real and imaginary parts); index 0 is unused.
    let twiddleReal: [Double]
    let twiddleImaginary: [Double]

    /// Builds the tables for ring degree N, a power of two ≥ 2.
    /// - Throws: `CKKSError.invalidParameters` for any other N.
    public convenience init(degree: Int) throws {
        guard degree >= 2, degree.nonzeroBitCount == 1 else {
            throw CKKSError.invalidParameters("the special FFT needs a power-of-two ring degree ≥ 2, got \(degree)")
        }
        self.init(validDegree: degree)
    }

    /// Builds the tables for a degree already known to be a power of two ≥ 2 (a context's).
    init(validDegree degree: Int) {
        let n = degree / 2
        let twoN = 2 * degree
        self.degree = degree
        slotCount = n
        var group = [Int](repeating: 1, count: n)
        for j in 1..<max(n, 1) { group[j] = group[j - 1] * 5 % twoN }
        rotationGroup = group

        let bits = n.trailingZeroBitCount
        bitReversal = (0..<n).map { i in
            Int32(NTTTables.bitReverse(i, bits: bits))
        }

        // ω_len^r = ζ^(r·2N/4len) with ζ = exp(iπ/N): take the exponent on the 2N grid so every
        // twiddle is one correctly reduced cos/sin evaluation (no accumulated recurrences).
        var re = [Double](repeating: 0, count: n)
        var im = [Double](repeating: 0, count: n)
        var h = 1
        while h < n {
            let lenq = 8 * h
            for j in 0..<h {
                let exponent = (group[j] % lenq) * (twoN / lenq)
                let angle = Double.pi * Double(exponent) / Double(degree)
                re[h + j] = cos(angle)
                im[h + j] = sin(angle)
            }
            h <<= 1
        }
        twiddleReal = re
        twiddleImaginary = im
    }

    // MARK: Public, array-based entry points

    /// Evaluates c(ζ^(5^j)) for j < n, in place: on entry `real`/`imaginary` hold the
    /// coefficients c_k, on return the slot values. Both arrays must have n elements.
    public func forward(real: inout [Double], imaginary: inout [Double]) {
        precondition(real.count == slotCount && imaginary.count == slotCount, "the special FFT needs n = \(slotCount) values")
        real.withUnsafeMutableBufferPointer { re in
            imaginary.withUnsafeMutableBufferPointer { im in forward(re.baseAddress!, im.baseAddress!) }
        }
    }

    /// Interpolates, in place: on entry the slot values z_j, on return factor·c_k where c is the
    /// unique polynomial of degree < n with c(ζ^(5^j)) = z_j. Both arrays must have n elements.
    public func inverse(real: inout [Double], imaginary: inout [Double], factor: Double = 1) {
        precondition(real.count == slotCount && imaginary.count == slotCount, "the special FFT needs n = \(slotCount) values")
        real.withUnsafeMutableBufferPointer { re in
            imaginary.withUnsafeMutableBufferPointer { im in inverse(re.baseAddress!, im.baseAddress!, factor: factor) }
        }
    }

    // MARK: Kernels

    /// Permutes n values by bit reversal (an involution: each pair is swapped once).
    func bitReverse(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>) {
        bitReversal.withUnsafeBufferPointer { rev in
            for i in 0..<slotCount {
                let r = Int(rev[i])
                if i < r {
                    swap(&re[i], &re[r])
                    swap(&im[i], &im[r])
                }
            }
        }
    }

    /// The forward special FFT on n values at `re`/`im` (see the type's documentation).
    func forward(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>) {
        let n = slotCount
        bitReverse(re, im)
        twiddleReal.withUnsafeBufferPointer { twr in
            twiddleImaginary.withUnsafeBufferPointer { twi in
                var h = 1
                while h < n {
                    var start = 0
                    while start < n {
                        for j in 0..<h {
                            let a = start + j, b = a + h
                            let wr = twr[h + j], wi = twi[h + j]
                            let vr = re[b] * wr - im[b] * wi
                            let vi = re[b] * wi + im[b] * wr
                            let ur = re[a], ui = im[a]
                            re[a] = ur + vr; im[a] = ui + vi
                            re[b] = ur - vr; im[b] = ui - vi
                        }
                        start += 2 * h
                    }
                    h <<= 1
                }
            }
        }
    }

    /// The inverse special FFT on n values at `re`/`im`, multiplied by `factor`.
    func inverse(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, factor: Double) {
        let n = slotCount
        twiddleReal.withUnsafeBufferPointer { twr in
            twiddleImaginary.withUnsafeBufferPointer { twi in
                var h = n >> 1
                while h >= 1 {
                    var start = 0
                    while start < n {
                        for j in 0..<h {
                            let a = start + j, b = a + h
                            let wr = twr[h + j], wi = -twi[h + j]   // w̄ = w^−1
                            let dr = re[a] - re[b], di = im[a] - im[b]
                            re[a] += re[b]; im[a] += im[b]
                            re[b] = dr * wr - di * wi
                            im[b] = dr * wi + di * wr
                        }
                        start += 2 * h
                    }
                    h >>= 1
                }
            }
        }
        bitReverse(re, im)
        let f = factor / Double(n)
        for k in 0..<n {
            re[k] *= f
            im[k] *= f
        }
    }
}
