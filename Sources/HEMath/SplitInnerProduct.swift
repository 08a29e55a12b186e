/// Key switching's inner product with the key over one limb, eight coefficients at a time:
/// out0 = Σ_d x_d ⊙ b_d and out1 = Σ_d x_d ⊙ a_d mod q, by the split products of
/// `RNSPolynomial+SplitLazySum` (residues split into halves of h = ⌈b/2⌉ bits, three 64-bit
/// partial sums per output held in vector registers, 32 × 32-bit vector products), reduced once
/// per coefficient by the 128-bit Barrett.
///
/// Ranges and correctness: every x_d, b_d, a_d reduced modulo q < 2^58; the partial sums take
/// at most 2^(63−2h) − 1 products without wrapping (the argument at `RNSPolynomial+SplitLazySum`),
/// so the kernel applies only to that many digits (31 at 58 bits, 2,047 at 52), and
/// A·2^(2h) + B·2^h + C is the exact sum of products. The same residues as the word kernel.
public enum SplitInnerProduct {
    typealias Lanes = SIMD8<UInt64>

    /// Whether the kernel takes a limb of prime m with `digits` digits at degree n (n a
    /// multiple of 8, the prime at most 58 bits, the digits within the partial sums' capacity).
    @inlinable
    public static func applies(modulus m: Modulus, digits: Int, degree n: Int) -> Bool {
        let h = (m.bitWidth + 1) / 2
        return n % 8 == 0 && n >= 8 && h <= 29 && digits >= 1 && digits <= (1 << (63 - 2 * h)) - 1
    }

    /// The two sums for coefficients 0 ..< n of one limb (x_d at x + d·xStride, the key's b_d
    /// and a_d at b + d·keyStride and a + d·keyStride); `applies` must hold.
    public static func limb(modulus m: Modulus, degree n: Int, digits: Int,
                            x: UnsafePointer<UInt64>, xStride: Int,
                            b: UnsafePointer<UInt64>, a: UnsafePointer<UInt64>, keyStride: Int,
                            out0: UnsafeMutablePointer<UInt64>, out1: UnsafeMutablePointer<UInt64>) {
        precondition(applies(modulus: m, digits: digits, degree: n), "SplitInnerProduct.limb outside its range")
        typealias Split = RNSPolynomial<Evaluation>
        guard let h = Split.splitHalfWidth(m) else { return }
        let shape = Split.SplitShape(h: h)
        let mask = Lanes(repeating: shape.mask), shift = shape.h
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 6) { sums in
            let lanes = UnsafeMutableRawPointer(sums.baseAddress!).assumingMemoryBound(to: UInt64.self)
            var c = 0
            while c < n {
                var a0 = Lanes(), m0 = Lanes(), l0 = Lanes()
                var a1 = Lanes(), m1 = Lanes(), l1 = Lanes()
                for d in 0..<digits {
                    let xv = UnsafeRawPointer(x + d * xStride + c).loadUnaligned(as: Lanes.self)
                    let bv = UnsafeRawPointer(b + d * keyStride + c).loadUnaligned(as: Lanes.self)
                    let av = UnsafeRawPointer(a + d * keyStride + c).loadUnaligned(as: Lanes.self)
                    let (xl, xh) = Split.halves(xv, mask, shift)
                    let (bl, bh) = Split.halves(bv, mask, shift)
                    let (al, ah) = Split.halves(av, mask, shift)
                    a0 &+= xh &* bh
                    m0 &+= xh &* bl &+ xl &* bh
                    l0 &+= xl &* bl
                    a1 &+= xh &* ah
                    m1 &+= xh &* al &+ xl &* ah
                    l1 &+= xl &* al
                }
                sums[0] = a0; sums[1] = m0; sums[2] = l0
                sums[3] = a1; sums[4] = m1; sums[5] = l1
                for i in 0..<8 {
                    out0[c + i] = Split.splitValue(lanes[i], lanes[8 + i], lanes[16 + i], shape, m)
                    out1[c + i] = Split.splitValue(lanes[24 + i], lanes[32 + i], lanes[40 + i], shape, m)
                }
                c += 8
            }
        }
    }
}
