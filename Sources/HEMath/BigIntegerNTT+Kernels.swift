import CGMP

/// The big-integer negacyclic NTT kernels: in place on a `BigIntegerPolynomialBuffer`, calling
/// GMP on raw pointers, with one preallocated scratch integer per call and no Swift
/// `BigInteger` (hence no allocation) per butterfly.
extension BigIntegerNTT {
    /// Forward negacyclic NTT in place (Cooley–Tukey, bit-reversed twiddles, no bit-reversal pass).
    ///
    /// Input: N integers of any size and sign; those outside [0, P) are first reduced mod P
    /// (N comparisons when the input is already reduced). Output: the evaluations
    /// a(ψ^(2·br(i)+1)) in bit-reversed order, each in [0, P).
    ///
    /// Correctness: stage m = 1, 2, …, N/2 applies (X, Y) → (X + W·Y, X − W·Y) with
    /// W = ψ^br(m+i) on pairs t = N/2m apart, the iterative negacyclic CT transform of
    /// Longa–Naehrig, which is also what `NTTTables.forward` computes. Every value stays in
    /// [0, P): W·Y ∈ [0, P²) reduced by truncating division (non-negative operands) to
    /// t ∈ [0, P); X + t ∈ [0, 2P) needs at most one subtraction of P and X − t ∈ (−P, P)
    /// at most one addition of P.
    /// - Throws: `mismatch` unless the buffer holds N integers.
    public func forward(_ buffer: BigIntegerPolynomialBuffer) throws {
        try checkCount(buffer, "the forward NTT input")
        let scratch = makeScratch()
        let a = buffer.pointer(0)
        let t = scratch.pointer(0)
        reduceInPlace(a)
        var gap = degree >> 1
        var m = 1
        while m < degree {
            var x = a
            for i in 0..<m {
                let w = rootPowers.pointer(m + i)
                var y = x + gap
                let end = y
                while x < end {
                    __gmpz_mul(t, y, w)
                    __gmpz_tdiv_r(t, t, p)
                    __gmpz_sub(y, x, t)
                    if y.pointee._mp_size < 0 { __gmpz_add(y, y, p) }
                    __gmpz_add(x, x, t)
                    if __gmpz_cmp(x, p) >= 0 { __gmpz_sub(x, x, p) }
                    x += 1
                    y += 1
                }
                x = y
            }
            m <<= 1
            gap >>= 1
        }
    }

    /// Inverse negacyclic NTT in place (Gentleman–Sande, N^−1 folded into the last stage).
    ///
    /// Input: N evaluations in bit-reversed order (as `forward` leaves them), of any size and
    /// sign; those outside [0, P) are first reduced mod P. Output: the coefficients, in [0, P).
    ///
    /// Correctness: stage h = N/2, N/4, …, 2 applies (X, Y) → (X + Y, (X − Y)·W) with
    /// W = ψ^−br(h+i), undoing the forward stages in reverse order: applied to a forward
    /// butterfly's outputs (X + W'·Y, X − W'·Y) with W = W'^−1 it gives (2X, 2Y), so after the
    /// log N stages every value carries a factor 2^(log N) = N, which N^−1 cancels. The last
    /// stage (h = 1, pairs N/2 apart) computes ((X + Y)·N^−1, (X − Y)·W·N^−1)
    /// with W·N^−1 precomputed. Ranges: X + Y ∈ [0, 2P) takes at most one subtraction;
    /// d = X − Y ∈ (−P, P) and d·W is reduced by floored division, which gives [0, P) for
    /// either sign of d.
    /// - Throws: `mismatch` unless the buffer holds N integers.
    public func inverse(_ buffer: BigIntegerPolynomialBuffer) throws {
        try checkCount(buffer, "the inverse NTT input")
        let scratch = makeScratch()
        let a = buffer.pointer(0)
        let d = scratch.pointer(0)
        reduceInPlace(a)
        var gap = 1
        var h = degree >> 1
        while h > 1 {
            var x = a
            for i in 0..<h {
                let w = inverseRootPowers.pointer(h + i)
                var y = x + gap
                let end = y
                while x < end {
                    __gmpz_sub(d, x, y)
                    __gmpz_add(x, x, y)
                    if __gmpz_cmp(x, p) >= 0 { __gmpz_sub(x, x, p) }
                    __gmpz_mul(y, d, w)
                    __gmpz_fdiv_r(y, y, p)
                    x += 1
                    y += 1
                }
                x = y
            }
            h >>= 1
            gap <<= 1
        }
        // Last stage: h = 1, pairs N/2 apart, N^−1 folded into both outputs.
        var x = a
        var y = a + gap
        for _ in 0..<gap {
            __gmpz_sub(d, x, y)
            __gmpz_add(x, x, y)
            __gmpz_mul(x, x, inverseDegree)
            __gmpz_fdiv_r(x, x, p)
            __gmpz_mul(y, d, inverseDegreeRoot)
            __gmpz_fdiv_r(y, y, p)
            x += 1
            y += 1
        }
    }

    /// c_i = a_i·b_i mod P for every i: in the evaluation domain this is the negacyclic
    /// product. `result` may be `a` or `b` (GMP allows its output to alias its inputs).
    ///
    /// Input: any integers (the floored remainder is in [0, P) whatever their signs); inputs
    /// below P keep the product below P², so one division suffices. Output: in [0, P).
    /// - Throws: `mismatch` unless all three buffers hold N integers.
    public func multiplyPointwise(_ a: BigIntegerPolynomialBuffer, _ b: BigIntegerPolynomialBuffer,
                                  into result: BigIntegerPolynomialBuffer) throws {
        try checkCount(a, "the first factor")
        try checkCount(b, "the second factor")
        try checkCount(result, "the product buffer")
        let x = a.pointer(0), y = b.pointer(0), z = result.pointer(0)
        for i in 0..<degree {
            __gmpz_mul(z + i, x + i, y + i)
            __gmpz_fdiv_r(z + i, z + i, p)
        }
    }
}
