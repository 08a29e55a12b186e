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
    /// X + W·Y and X − W·Y + 2q are again in [0, 4q) < 2^64 (q < 2^62). The last stage
    /// finishes with two conditional subtractions to [0, q).
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
        while t > 1 {
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
                    let va = ya &* w &- ya.multipliedFullWidth(by: ws).high &* q
                    let vb = yb &* w &- yb.multipliedFullWidth(by: ws).high &* q
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
        // Last stage (t = 1): adjacent pairs, then reduce [0, 4q) → [0, q).
        var x = a
        for i in 0..<m {
            let w = roots[m &+ i]
            let ws = shoups[m &+ i]
            let u0 = x[0]
            let u = u0.reducedOnce(twoQ)
            let y0 = x[1]
            let v = y0 &* w &- y0.multipliedFullWidth(by: ws).high &* q
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
        // First stage (t = 1) unrolled: adjacent pairs, one twiddle each.
        if h > 1 {
            var x = a
            for i in 0..<h {
                let w = roots[h &+ i]
                let ws = shoups[h &+ i]
                let u = x[0]
                let v = x[1]
                x[0] = (u &+ v).reducedOnce(twoQ)
                let d = u &- v &+ twoQ
                x[1] = d &* w &- d.multipliedFullWidth(by: ws).high &* q
                x += 2
            }
            h &>>= 1
        }
        var t = degree > 2 ? 2 : 1
        while h > 1 {
            var x = a
            for i in 0..<h {
                let w = roots[h &+ i]
                let ws = shoups[h &+ i]
                var y = x + t
                let end = y
                // t is even here (t ≥ 2): two butterflies per iteration.
                while x < end {
                    let ua = x[0], ub = x[1]
                    let va = y[0], vb = y[1]
                    x[0] = (ua &+ va).reducedOnce(twoQ)
                    x[1] = (ub &+ vb).reducedOnce(twoQ)
                    let da = ua &- va &+ twoQ
                    let db = ub &- vb &+ twoQ
                    y[0] = da &* w &- da.multipliedFullWidth(by: ws).high &* q
                    y[1] = db &* w &- db.multipliedFullWidth(by: ws).high &* q
                    x += 2
                    y += 2
                }
                x = y
            }
            h &>>= 1
            t &<<= 1
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
