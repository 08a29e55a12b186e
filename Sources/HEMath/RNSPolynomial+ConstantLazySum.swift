/// `lazySums` when every factor is a constant (scalar weights: one-pixel tiles, the batch
/// plans' convolutions and dense layers), blocked for the registers: a sum takes its terms two
/// at a time, so its 128-bit accumulator is read and written once per two products; and two
/// sums that read the same inputs in the same order (a dense layer's neighbouring outputs) are
/// made together, each input residue loaded once for both. The coefficients are taken
/// `constantSumChunk` at a time, so that a run's inputs and the accumulators stay in L2 while
/// every sum of the call passes over them.
///
/// Measured in isolation (845 inputs of 4 limbs at N = 16384, 4 sums of 32 terms): 0.68 ns per
/// product against 0.94 for one term at a time over whole limbs. That is the word kernel, for
/// primes above 2^58; smaller ones take the split kernel (RNSPolynomial+SplitLazySum), eight
/// residues per vector instruction.
extension RNSPolynomial {
    /// Coefficients per block of the constant-factor kernel: 2 · 8 KB of accumulator per sum and
    /// 8 KB per input of a run (32 inputs: 256 KB), within L2.
    @usableFromInline static var constantSumChunk: Int { 1024 }

    /// `lazySums` with `constants[b][k]` the residues of sum b's k-th term's constant (already
    /// checked against the basis by the caller), `sums[b][k]` its input. Same inputs, output and
    /// correctness argument as `lazySums`: each accumulator holds a reduced value plus at most
    /// `lazyProductCapacity` products below q², and is reduced exactly.
    static func constantLazySums(inputs: [RNSPolynomial], sums: [[Int]], constants: [[[UInt64]]],
                                 basis: RNSBasis, scratch: UnsafeMutablePointer<UInt64>) -> [RNSPolynomial] {
        let moduli = basis.moduli
        let n = basis.degree, limbs = basis.count, count = sums.count
        let chunk = Swift.min(Self.constantSumChunk, n)
        // Sum b + 1 is b's twin when it reads the same inputs in the same order.
        let twin = (0..<count).map { b in b + 1 < count && sums[b] == sums[b + 1] }
        // Each sum reduced straight into its own polynomial's storage (no buffer copied after).
        let storages = withUninitializedStorages(count: count, words: limbs * n) { results in
        withBasePointers(inputs) { bases in
            RNSParallelism.forEachLimb(count: limbs, degree: n * Swift.max(count, 1)) { i in
                let m = moduli[i]
                let capacity = m.lazyProductCapacity
                let weights = constants.map { terms in terms.map { m.reduce($0[i]) } }
                let region = scratch + 2 * n * count * i
                if Self.splitHalfWidth(m) != nil, n >= 16 {
                    // Primes of up to 58 bits: eight residues at a time (RNSPolynomial+SplitLazySum).
                    splitLimb(i, modulus: m, degree: n, sums: sums, twin: twin, weights: weights, bases: bases,
                              region: region, results: results)
                    return
                }
                var j0 = 0
                while j0 < n {
                    let len = Swift.min(chunk, n - j0)
                    var b = 0
                    while b < count {
                        let pair = twin[b] && capacity >= 2
                        let width = pair ? 2 : 1
                        let la = region + 2 * chunk * b, ha = la + chunk
                        let lb = region + 2 * chunk * (b + 1), hb = lb + chunk
                        for w in 0..<width {
                            let low = region + 2 * chunk * (b + w)
                            low.update(repeating: 0, count: 2 * chunk)
                        }
                        let terms = sums[b]
                        var pending = 0
                        var k = 0
                        while k < terms.count {
                            let take = Swift.min(capacity >= 2 ? 2 : 1, terms.count - k)
                            if pending + take > capacity {
                                for w in 0..<width {
                                    let low = region + 2 * chunk * (b + w)
                                    reduceInPlace(low, low + chunk, len, m)
                                }
                                pending = 0
                            }
                            let u0 = bases[terms[k]] + i * n + j0
                            if take == 2 {
                                let u1 = bases[terms[k + 1]] + i * n + j0
                                if pair {
                                    accumulate(u0, u1, weights[b][k], weights[b][k + 1], weights[b + 1][k], weights[b + 1][k + 1],
                                               la, ha, lb, hb, len)
                                } else {
                                    accumulate(u0, u1, weights[b][k], weights[b][k + 1], la, ha, len)
                                }
                            } else {
                                accumulate(u0, times: weights[b][k], into: la, ha, len)
                                if pair { accumulate(u0, times: weights[b + 1][k], into: lb, hb, len) }
                            }
                            pending += take
                            k += take
                        }
                        for w in 0..<width {
                            let low = region + 2 * chunk * (b + w), high = low + chunk
                            let limb = results[b + w] + i * n + j0
                            for j in 0..<len { limb[j] = m.reduce(high: high[j], low: low[j]) }
                        }
                        b += width
                    }
                    j0 += len
                }
            }
        }
        }
        return storages.map { RNSPolynomial(basis: basis, storage: $0) }
    }

    /// `count` word arrays of `words` each, made uninitialised and handed to `body` as base
    /// pointers valid for the call; `body` must write every word of every one (they are
    /// trivially typed, and returned as written).
    static func withUninitializedStorages(count: Int, words: Int,
                                          _ body: ([UnsafeMutablePointer<UInt64>]) -> Void) -> [[UInt64]] {
        var pointers: [UnsafeMutablePointer<UInt64>] = []
        pointers.reserveCapacity(count)
        var made: [[UInt64]] = []
        made.reserveCapacity(count)
        // Each array's initializer holds its buffer while the next ones are made; the last
        // runs `body` with all of them. The innermost finishes first: `made` is in reverse.
        func make(_ k: Int) {
            guard k < count else { return body(pointers) }
            made.append([UInt64](unsafeUninitializedCapacity: words) { buffer, initialized in
                pointers.append(buffer.baseAddress!)
                make(k + 1)
                initialized = words
            })
        }
        make(0)
        return made.reversed()
    }

    /// Calls `body` with the base address of every polynomial's residues, each valid for the call.
    static func withBasePointers<R>(_ polynomials: [RNSPolynomial], _ body: ([UnsafePointer<UInt64>]) -> R) -> R {
        var pointers: [UnsafePointer<UInt64>] = []
        pointers.reserveCapacity(polynomials.count)
        func nest(_ k: Int) -> R {
            guard k < polynomials.count else { return body(pointers) }
            return polynomials[k].withUnsafeLimbs { buffer in
                pointers.append(buffer.baseAddress!)
                return nest(k + 1)
            }
        }
        return nest(0)
    }

    /// low:high[j] ← (low:high[j]) mod q, as a reduced value in low (high 0), for j < n.
    @inline(__always)
    static func reduceInPlace(_ low: UnsafeMutablePointer<UInt64>, _ high: UnsafeMutablePointer<UInt64>, _ n: Int, _ m: Modulus) {
        for j in 0..<n {
            low[j] = m.reduce(high: high[j], low: low[j])
            high[j] = 0
        }
    }

    /// low:high[j] += u0[j]·w0 + u1[j]·w1 for j < n (128-bit sums, no reduction).
    @inline(__always)
    static func accumulate(_ u0: UnsafePointer<UInt64>, _ u1: UnsafePointer<UInt64>, _ w0: UInt64, _ w1: UInt64,
                           _ low: UnsafeMutablePointer<UInt64>, _ high: UnsafeMutablePointer<UInt64>, _ n: Int) {
        for j in 0..<n {
            let (p0, q0) = u0[j].multipliedFullWidth(by: w0)
            let (p1, q1) = u1[j].multipliedFullWidth(by: w1)
            var (s, c) = low[j].addingReportingOverflow(q0)
            var h = high[j] &+ p0 &+ (c ? 1 : 0)
            (s, c) = s.addingReportingOverflow(q1)
            h = h &+ p1 &+ (c ? 1 : 0)
            low[j] = s
            high[j] = h
        }
    }

    /// Two sums over the same two inputs: la:ha[j] += u0[j]·a0 + u1[j]·a1 and
    /// lb:hb[j] += u0[j]·b0 + u1[j]·b1 for j < n, each input residue loaded once.
    @inline(__always)
    static func accumulate(_ u0: UnsafePointer<UInt64>, _ u1: UnsafePointer<UInt64>, _ a0: UInt64, _ a1: UInt64, _ b0: UInt64, _ b1: UInt64,
                           _ la: UnsafeMutablePointer<UInt64>, _ ha: UnsafeMutablePointer<UInt64>,
                           _ lb: UnsafeMutablePointer<UInt64>, _ hb: UnsafeMutablePointer<UInt64>, _ n: Int) {
        for j in 0..<n {
            let x0 = u0[j], x1 = u1[j]
            var (p, q) = x0.multipliedFullWidth(by: a0)
            var (s, c) = la[j].addingReportingOverflow(q)
            var h = ha[j] &+ p &+ (c ? 1 : 0)
            (p, q) = x1.multipliedFullWidth(by: a1)
            (s, c) = s.addingReportingOverflow(q)
            h = h &+ p &+ (c ? 1 : 0)
            la[j] = s
            ha[j] = h
            (p, q) = x0.multipliedFullWidth(by: b0)
            (s, c) = lb[j].addingReportingOverflow(q)
            h = hb[j] &+ p &+ (c ? 1 : 0)
            (p, q) = x1.multipliedFullWidth(by: b1)
            (s, c) = s.addingReportingOverflow(q)
            h = h &+ p &+ (c ? 1 : 0)
            lb[j] = s
            hb[j] = h
        }
    }
}
