/// The negacyclic NTT kernels: in place, no allocation, no bit-reversal pass.
extension NTTTables {
    /// Forward negacyclic NTT of N coefficients in place (Cooley–Tukey, Harvey's lazy butterflies).
    ///
    /// Input: N values in [0, 4q) (reduced coefficients are fine). Output: the evaluations
    /// a(ψ^(2·br(i)+1)) in bit-reversed order, reduced to [0, q).
    ///
    /// Correctness: stage m (m = 1, 2, …, N/2) applies the butterflies (X, Y) → (X + W·Y, X − W·Y)
    /// with W = ψ^br(m+i), the standard iterative negacyclic CT transform (Longa–Naehrig). Harvey's
    /// range invariant: operands enter a butterfly in [0, 4q); X is brought to [0, 2q) by one
    /// conditional subtraction, W·Y is computed lazily in [0, 2q) by Shoup, and the outputs
    /// X + W·Y and X − W·Y + 2q are again in [0, 4q) < 2^64 (q < 2^62). The last two stages
    /// run fused on blocks of four values (same butterflies, same twiddles, same ranges), and the
    /// last finishes with two conditional subtractions to [0, q).
    @inlinable
    public func forward(_ a: UnsafeMutablePointer<UInt64>) {
        // Constants in locals: stores through `a` could alias the tables' fields as far as the
        // compiler knows, so reading them through `self` would reload them every butterfly.
        let q = modulus.value
        let twoQ = q &<< 1
        let roots = rootPowers
        let shoups = rootPowersShoup
        var t = degree >> 1
        var m = 1
        // Stages with t ≥ 4 (or t ≥ 2 when N < 4 leaves no pair of final stages to fuse): the
        // first alone when their count is odd, then two at a time (below).
        let stop = degree >= 4 ? 2 : 1
        var single = 0
        if t > stop { single = ((t / stop).trailingZeroBitCount & 1) }
        while t > stop && single > 0 {
            single = 0
            var x = a
            for i in 0..<m {
                let w = roots[m &+ i]
                let ws = shoups[m &+ i]
                var y = x + t
                let end = y
                // t is even here (t ≥ 2): two independent butterflies per iteration overlap
                // their multiplications.
                while x < end {
                    let ua = x[0].reducedOnce(twoQ)
                    let ub = x[1].reducedOnce(twoQ)
                    let ya = y[0], yb = y[1]
                    let va = ya.shoupLazyProduct(w, ws, q)
                    let vb = yb.shoupLazyProduct(w, ws, q)
                    x[0] = ua &+ va
                    x[1] = ub &+ vb
                    y[0] = ua &- va &+ twoQ
                    y[1] = ub &- vb &+ twoQ
                    x += 2
                    y += 2
                }
                x = y
            }
            m &<<= 1
            t &>>= 1
        }
        // Stages m (pairs t apart) and 2m (pairs t/2 apart) fused on blocks of 2t values: each
        // value loaded and stored once for both. Block i is stage m's group i (twiddle m + i) and
        // stage 2m's groups 2i and 2i + 1 (twiddles 2m + 2i, 2m + 2i + 1): the same butterflies,
        // twiddles and ranges as one stage at a time (operands in [0, 4q), outputs in [0, 4q)).
        while t > stop {
            let half = t >> 1
            var x0 = a
            for i in 0..<m {
                let w = roots[m &+ i], ws = shoups[m &+ i]
                let j = (m &+ i) &<< 1
                let wa = roots[j], wsa = shoups[j]
                let wb = roots[j &+ 1], wsb = shoups[j &+ 1]
                var x1 = x0 + half
                var x2 = x1 + half
                var x3 = x2 + half
                let end = x1
                while x0 < end {
                    let u0 = x0[0].reducedOnce(twoQ), u1 = x1[0].reducedOnce(twoQ)
                    let v2 = x2[0].shoupLazyProduct(w, ws, q), v3 = x3[0].shoupLazyProduct(w, ws, q)
                    let a0 = (u0 &+ v2).reducedOnce(twoQ), a2 = (u0 &- v2 &+ twoQ).reducedOnce(twoQ)
                    let b1 = (u1 &+ v3).shoupLazyProduct(wa, wsa, q), b3 = (u1 &- v3 &+ twoQ).shoupLazyProduct(wb, wsb, q)
                    x0[0] = a0 &+ b1
                    x1[0] = a0 &- b1 &+ twoQ
                    x2[0] = a2 &+ b3
                    x3[0] = a2 &- b3 &+ twoQ
                    x0 += 1
                    x1 += 1
                    x2 += 1
                    x3 += 1
                }
                x0 = x3
            }
            m &<<= 2
            t &>>= 2
        }
        if stop == 2 {
            // The last two stages fused (t = 2, then t = 1) on blocks of four: each value is
            // loaded and stored once for both, and the final reduction to [0, q) follows.
            var x = a
            for i in 0..<m {
                let w = roots[m &+ i], ws = shoups[m &+ i]
                let u0 = x[0].reducedOnce(twoQ), u1 = x[1].reducedOnce(twoQ)
                let y2 = x[2], y3 = x[3]
                let v2 = y2.shoupLazyProduct(w, ws, q)
                let v3 = y3.shoupLazyProduct(w, ws, q)
                let a0 = (u0 &+ v2).reducedOnce(twoQ), a1 = u1 &+ v3
                let a2 = (u0 &- v2 &+ twoQ).reducedOnce(twoQ), a3 = u1 &- v3 &+ twoQ
                let j = (m &+ i) &<< 1
                let w0 = roots[j], ws0 = shoups[j]
                let w1 = roots[j &+ 1], ws1 = shoups[j &+ 1]
                let b1 = a1.shoupLazyProduct(w0, ws0, q)
                let b3 = a3.shoupLazyProduct(w1, ws1, q)
                x[0] = (a0 &+ b1).reducedOnce(twoQ).reducedOnce(q)
                x[1] = (a0 &- b1 &+ twoQ).reducedOnce(twoQ).reducedOnce(q)
                x[2] = (a2 &+ b3).reducedOnce(twoQ).reducedOnce(q)
                x[3] = (a2 &- b3 &+ twoQ).reducedOnce(twoQ).reducedOnce(q)
                x += 4
            }
            return
        }
        // N = 2: the single stage (t = 1), then reduce [0, 4q) → [0, q).
        var x = a
        for i in 0..<m {
            let w = roots[m &+ i]
            let ws = shoups[m &+ i]
            let u0 = x[0]
            let u = u0.reducedOnce(twoQ)
            let y0 = x[1]
            let v = y0.shoupLazyProduct(w, ws, q)
            x[0] = (u &+ v).reducedOnce(twoQ).reducedOnce(q)
            x[1] = (u &- v &+ twoQ).reducedOnce(twoQ).reducedOnce(q)
            x += 2
        }
    }

    /// Inverse negacyclic NTT in place (Gentleman–Sande, Harvey's lazy butterflies, N^−1 folded in).
    ///
    /// Input: N evaluations in bit-reversed order (as `forward` leaves them), values in [0, 2q).
    /// Output: the coefficients, reduced to [0, q).
    ///
    /// Correctness: stage h = N/2, N/4, …, 1 applies (X, Y) → (X + Y, (X − Y)·W) with
    /// W = ψ^−br(h+i), which undoes the forward stages in reverse order; the last stage multiplies
    /// both outputs by N^−1 (with W·N^−1 precomputed as one Shoup constant). Range invariant:
    /// operands in [0, 2q); X + Y is brought back to [0, 2q) by one conditional subtraction and
    /// X − Y + 2q ∈ [0, 4q) is fed to the lazy Shoup product, which returns [0, 2q).
    @inlinable
    public func inverse(_ a: UnsafeMutablePointer<UInt64>) {
        let q = modulus.value
        let twoQ = q &<< 1
        let roots = inverseRootPowers
        let shoups = inverseRootPowersShoup
        var h = degree >> 1
        var t = 1
        if degree >= 8 {
            // The first two stages fused (t = 1, then t = 2) on blocks of four values: each is
            // loaded and stored once for both. Same butterflies, twiddles and ranges as below.
            let h2 = h >> 1
            var x = a
            for i in 0..<h2 {
                let j = (h2 &+ i) &<< 1
                let wa = roots[j], wsa = shoups[j]
                let wb = roots[j &+ 1], wsb = shoups[j &+ 1]
                let (s0, t1) = UInt64.gentlemanSande(x[0], x[1], wa, wsa, q, twoQ)
                let (s2, t3) = UInt64.gentlemanSande(x[2], x[3], wb, wsb, q, twoQ)
                let w = roots[h2 &+ i], ws = shoups[h2 &+ i]
                (x[0], x[2]) = UInt64.gentlemanSande(s0, s2, w, ws, q, twoQ)
                (x[1], x[3]) = UInt64.gentlemanSande(t1, t3, w, ws, q, twoQ)
                x += 4
            }
            h &>>= 2
            t = 4
        } else if h > 1 {
            // First stage (t = 1) alone: adjacent pairs, one twiddle each.
            var x = a
            for i in 0..<h {
                let w = roots[h &+ i]
                let ws = shoups[h &+ i]
                (x[0], x[1]) = UInt64.gentlemanSande(x[0], x[1], w, ws, q, twoQ)
                x += 2
            }
            h &>>= 1
            t = 2
        }
        // The middle stages two at a time (below); first one alone when their count is odd.
        if h > 1, (h.trailingZeroBitCount & 1) == 1 {
            var x = a
            for i in 0..<h {
                let w = roots[h &+ i]
                let ws = shoups[h &+ i]
                var y = x + t
                let end = y
                // t is even here (t ≥ 2): two butterflies per iteration.
                while x < end {
                    // All four loads before any store: x and y may alias as far as the
                    // compiler knows, and this keeps the two butterflies independent.
                    let ua = x[0], ub = x[1], va = y[0], vb = y[1]
                    (x[0], y[0]) = UInt64.gentlemanSande(ua, va, w, ws, q, twoQ)
                    (x[1], y[1]) = UInt64.gentlemanSande(ub, vb, w, ws, q, twoQ)
                    x += 2
                    y += 2
                }
                x = y
            }
            h &>>= 1
            t &<<= 1
        }
        // Stages h (pairs t apart) and h/2 (pairs 2t apart) fused on blocks of 4t values: each
        // value loaded and stored once for both (8% off an inverse NTT at N = 16384). Block i
        // holds stage h's groups 2i and 2i + 1 (twiddles h + 2i, h + 2i + 1) and stage h/2's
        // group i (twiddle h/2 + i): the same butterflies, twiddles and ranges as one stage at
        // a time.
        while h > 1 {
            let half = h >> 1
            var x0 = a
            for i in 0..<half {
                let j = (half &+ i) &<< 1
                let wa = roots[j], wsa = shoups[j]
                let wb = roots[j &+ 1], wsb = shoups[j &+ 1]
                let w = roots[half &+ i], ws = shoups[half &+ i]
                var x1 = x0 + t
                var x2 = x1 + t
                var x3 = x2 + t
                let end = x1
                while x0 < end {
                    let (s0, d1) = UInt64.gentlemanSande(x0[0], x1[0], wa, wsa, q, twoQ)
                    let (s2, d3) = UInt64.gentlemanSande(x2[0], x3[0], wb, wsb, q, twoQ)
                    (x0[0], x2[0]) = UInt64.gentlemanSande(s0, s2, w, ws, q, twoQ)
                    (x1[0], x3[0]) = UInt64.gentlemanSande(d1, d3, w, ws, q, twoQ)
                    x0 += 1
                    x1 += 1
                    x2 += 1
                    x3 += 1
                }
                x0 = x3
            }
            h &>>= 2
            t &<<= 2
        }
        // Last stage (h = 1, t = N/2), with N^−1 folded into both outputs; results reduced.
        let n1 = inverseDegree, n1s = inverseDegreeShoup
        let w = inverseDegreeRoot, ws = inverseDegreeRootShoup
        var x = a
        var y = a + t
        for _ in 0..<t {
            let u = x.pointee
            let v = y.pointee
            x.pointee = modulus.multiplyShoup(u &+ v, by: n1, shoup: n1s)
            y.pointee = modulus.multiplyShoup(u &- v &+ twoQ, by: w, shoup: ws)
            x += 1
            y += 1
        }
    }

    /// Forward NTT of a buffer of N values (see `forward(_:)` for ranges).
    @inlinable
    public func forward(_ a: UnsafeMutableBufferPointer<UInt64>) {
        precondition(a.count == degree, "NTT buffer must hold N values")
        forward(a.baseAddress!)
    }

    /// Inverse NTT of a buffer of N values (see `inverse(_:)` for ranges).
    @inlinable
    public func inverse(_ a: UnsafeMutableBufferPointer<UInt64>) {
        precondition(a.count == degree, "NTT buffer must hold N values")
        inverse(a.baseAddress!)
    }

    /// Forward NTT of an array of N values.
    public func forward(_ a: inout [UInt64]) {
        a.withUnsafeMutableBufferPointer { forward($0) }
    }

    /// Inverse NTT of an array of N values.
    public func inverse(_ a: inout [UInt64]) {
        a.withUnsafeMutableBufferPointer { inverse($0) }
    }
}

extension UInt64 {
    /// The inverse transform's butterfly (X, Y) → (X + Y, (X − Y)·W) on values in [0, 2q):
    /// outputs in [0, 2q) (one conditional subtraction, and Shoup's lazy product of X − Y + 2q).
    @inlinable @inline(__always)
    static func gentlemanSande(_ u: UInt64, _ v: UInt64, _ w: UInt64, _ shoup: UInt64, _ q: UInt64,
                               _ twoQ: UInt64) -> (UInt64, UInt64) {
        ((u &+ v).reducedOnce(twoQ), (u &- v &+ twoQ).shoupLazyProduct(w, shoup, q))
    }

    /// self · w mod q lazily, in [0, 2q), with w' = ⌊w·2^64/q⌋ (Shoup): any self < 2^64, w < q.
    /// Written out here (not through `Modulus`) so that the kernels keep q in a register.
    @inlinable @inline(__always)
    func shoupLazyProduct(_ w: UInt64, _ shoup: UInt64, _ q: UInt64) -> UInt64 {
        self &* w &- self.multipliedFullWidth(by: shoup).high &* q
    }
}
