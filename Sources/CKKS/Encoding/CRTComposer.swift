import HEMath

/// Exact CRT composition of RNS residues into their centred value, returned as the nearest
/// `Double`, without big-integer allocation: the fast path of decoding at levels with more
/// than one prime, where coefficients may exceed 64 bits.
///
/// ## Method
/// For residues r_i modulo q_0 … q_(k−1) with Q = ∏ q_i, Q_i = Q/q_i and
/// y_i = r_i·Q_i^−1 mod q_i, the integer S = Σ y_i·Q_i is ≡ x (mod Q), and S/Q = Σ y_i/q_i.
/// The centred value is x = S − v*·Q for the integer v* with x ∈ [−⌊Q/2⌋, ⌊Q/2⌋] (Q is odd).
/// Since S/Q = v* + x/Q with |x/Q| ≤ 1/2, the estimate v = round(Σ y_i/q_i), computed in
/// doubles with an error far below 1/2, is v*, v* − 1 or v* + 1. So S − v·Q = x + t·Q with
/// t ∈ {−1, 0, 1}; t = ±1 exactly when |S − v·Q| > ⌊Q/2⌋. A wrong estimate needs S/Q within
/// a rounding error of a half-integer, i.e. x within a hair of ∓Q/2, so then ⌊Q/2⌋ < |S − v·Q| < Q
/// and x = −sign(S − v·Q)·(Q − |S − v·Q|). All of this is exact arithmetic in W = k + 1 words of
/// two's complement: S < k·Q < 2^(62k + log2 k) and |S − v·Q| < Q fit with room to spare.
/// The final conversion to `Double` rounds to nearest (ties to even) with a sticky bit, as
/// `BigInteger.doubleValue` does, so the result equals composing through GMP then converting.
struct CRTComposer: Sendable {
    /// Number of primes k.
    let count: Int
    /// Words per fixed-width integer, k + 1.
    let width: Int
    let moduli: [Modulus]
    /// (Q/q_i)^−1 mod q_i and its Shoup constant.
    let inverses: [UInt64]
    let inversesShoup: [UInt64]
    /// 1/q_i, for the quotient estimate.
    let reciprocals: [Double]
    /// Q/q_i, little-endian words, `width` per prime (prime-major).
    let punctured: [UInt64]
    /// Q and ⌊Q/2⌋, little-endian, `width` words each.
    let product: [UInt64]
    let halfProduct: [UInt64]

    init(basis: RNSBasis) {
        let k = basis.count
        let w = k + 1
        count = k
        width = w
        moduli = basis.moduli
        inverses = basis.puncturedInverses
        inversesShoup = basis.puncturedInversesShoup
        reciprocals = basis.moduli.map { 1 / Double($0.value) }
        func words(_ x: BigInteger) -> [UInt64] {
            let limbs = x.magnitudeLimbs
            precondition(limbs.count <= w, "CRT constant wider than \(w) words")
            return limbs + [UInt64](repeating: 0, count: w - limbs.count)
        }
        punctured = basis.puncturedProducts.flatMap(words)
        product = words(basis.product)
        halfProduct = words(basis.halfProduct)
    }

    /// Composes coefficient j of limb-major residues (limb i at i·degree) for each j in
    /// `coefficients`, writing its centred value · `factor` to out[j − coefficients.lowerBound].
    /// Residues must be reduced.
    func compose(_ residues: UnsafePointer<UInt64>, degree: Int, coefficients: Range<Int>,
                 factor: Double, into out: UnsafeMutablePointer<Double>) {
        // Widths known at compile time let the compiler unroll the word loops of the common
        // chains (a generic specialised per width); any other width takes the dynamic loop.
        switch width {
        case 2: compose(residues, degree: degree, coefficients: coefficients, factor: factor, into: out, width: Width2.self)
        case 3: compose(residues, degree: degree, coefficients: coefficients, factor: factor, into: out, width: Width3.self)
        case 4: compose(residues, degree: degree, coefficients: coefficients, factor: factor, into: out, width: Width4.self)
        case 5: compose(residues, degree: degree, coefficients: coefficients, factor: factor, into: out, width: Width5.self)
        default: compose(residues, degree: degree, coefficients: coefficients, factor: factor, into: out, width: DynamicWidth.self)
        }
    }

    private func compose<W: WordCount>(_ residues: UnsafePointer<UInt64>, degree: Int, coefficients: Range<Int>,
                                       factor: Double, into out: UnsafeMutablePointer<Double>, width _: W.Type) {
        let w = W.value ?? width
        let k = w - 1
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: w) { accBuffer in
            let acc = accBuffer.baseAddress!
            moduli.withUnsafeBufferPointer { mod in
            inverses.withUnsafeBufferPointer { inv in
            inversesShoup.withUnsafeBufferPointer { invShoup in
            reciprocals.withUnsafeBufferPointer { recip in
            punctured.withUnsafeBufferPointer { qi in
            product.withUnsafeBufferPointer { q in
            halfProduct.withUnsafeBufferPointer { half in
                for j in coefficients {
                    for l in 0..<w { acc[l] = 0 }
                    var estimate = 0.0
                    for i in 0..<k {
                        let y = mod[i].multiplyShoup(residues[i &* degree &+ j], by: inv[i], shoup: invShoup[i])
                        estimate += Double(y) * recip[i]
                        // acc += y · Q_i over Q_i's k words (its top word is zero); the sum stays
                        // below k·Q < 2^(64w), so the last carry lands in the top word.
                        var carry: UInt64 = 0
                        for l in 0..<k {
                            let p = y.multipliedFullWidth(by: qi[i &* w &+ l])
                            let (s1, c1) = acc[l].addingReportingOverflow(p.low)
                            let (s2, c2) = s1.addingReportingOverflow(carry)
                            acc[l] = s2
                            carry = p.high &+ (c1 ? 1 : 0) &+ (c2 ? 1 : 0)
                        }
                        acc[k] &+= carry
                    }
                    // acc −= v · Q, modulo 2^(64w): exact, as the true difference fits. The
                    // estimate is ≥ 0, so adding 1/2 and truncating rounds it to nearest.
                    let v = UInt64(estimate + 0.5)
                    var borrow: UInt64 = 0
                    for l in 0..<w {
                        let p = v.multipliedFullWidth(by: q[l])
                        let (d1, b1) = acc[l].subtractingReportingOverflow(p.low)
                        let (d2, b2) = d1.subtractingReportingOverflow(borrow)
                        acc[l] = d2
                        borrow = p.high &+ (b1 ? 1 : 0) &+ (b2 ? 1 : 0)
                    }
                    // Sign and magnitude.
                    let signMask = UInt64(bitPattern: Int64(bitPattern: acc[w - 1]) >> 63)
                    var negative = signMask != 0
                    Self.negate(acc, width: w, if: signMask)   // branch-free: the sign is random
                    if Self.compare(acc, half.baseAddress!, width: w) > 0 {
                        // |S − vQ| > ⌊Q/2⌋: the centred value is ∓(Q − |S − vQ|).
                        Self.subtract(from: q.baseAddress!, acc, width: w)
                        negative.toggle()
                    }
                    let magnitude = Self.doubleValue(acc, width: w)
                    out[j - coefficients.lowerBound] = (negative ? -magnitude : magnitude) * factor
                }
            }}}}}}}
        }
    }

    /// a ← −a modulo 2^(64·width) when mask is all ones; unchanged when it is zero.
    /// (−a = ~a + 1, and a ^ 0 + 0 = a.)
    @inline(__always)
    static func negate(_ a: UnsafeMutablePointer<UInt64>, width: Int, if mask: UInt64) {
        var carry = mask & 1
        for l in 0..<width {
            let (s, c) = (a[l] ^ mask).addingReportingOverflow(carry)
            a[l] = s
            carry = c ? 1 : 0
        }
    }

    /// −1, 0 or 1 as a < b, a = b, a > b (unsigned, little-endian words).
    @inline(__always)
    static func compare(_ a: UnsafePointer<UInt64>, _ b: UnsafePointer<UInt64>, width: Int) -> Int {
        var l = width - 1
        while l >= 0 {
            if a[l] != b[l] { return a[l] < b[l] ? -1 : 1 }
            l -= 1
        }
        return 0
    }

    /// a ← m − a (unsigned; requires a ≤ m).
    @inline(__always)
    static func subtract(from m: UnsafePointer<UInt64>, _ a: UnsafeMutablePointer<UInt64>, width: Int) {
        var borrow = false
        for l in 0..<width {
            let (d1, b1) = m[l].subtractingReportingOverflow(a[l])
            let (d2, b2) = d1.subtractingReportingOverflow(borrow ? 1 : 0)
            a[l] = d2
            borrow = b1 || b2
        }
    }

    /// The unsigned integer of `width` words as the nearest Double (ties to even).
    ///
    /// The top 64 significant bits go through `Double(UInt64)`, which rounds to nearest even;
    /// any nonzero bit below them is OR-ed into bit 0 (a sticky bit), which lies below the
    /// rounding position and so only turns an apparent tie into a round-up, as it must.
    @inline(__always)
    static func doubleValue(_ a: UnsafePointer<UInt64>, width: Int) -> Double {
        var t = width - 1
        while t > 0 && a[t] == 0 { t -= 1 }
        if t == 0 { return Double(a[0]) }
        let lz = a[t].leadingZeroBitCount
        var top = lz == 0 ? a[t] : (a[t] << lz) | (a[t - 1] >> (64 - lz))
        var sticky = (lz == 0 ? a[t - 1] : a[t - 1] << lz) != 0
        var l = 0
        while l < t - 1 { sticky = sticky || a[l] != 0; l += 1 }
        if sticky { top |= 1 }
        return Double(sign: .plus, exponent: 64 * t - lz, significand: Double(top))
    }
}

/// A word count fixed at compile time (nil: use the composer's own width).
protocol WordCount { static var value: Int? { get } }
enum Width2: WordCount { static var value: Int? { 2 } }
enum Width3: WordCount { static var value: Int? { 3 } }
enum Width4: WordCount { static var value: Int? { 4 } }
enum Width5: WordCount { static var value: Int? { 5 } }
enum DynamicWidth: WordCount { static var value: Int? { nil } }
