import HEMath

/// The timed bodies of `bench ntt`. Each call works in place on buffers made beforehand, so the
/// timings hold no allocation.
enum NTTBenchmarks {
    static func rns(degree n: Int, primes: [UInt64], reps: Int, into report: inout BenchReport) throws {
        let basis = try RNSBasis(degree: n, primes: primes)
        var rng = SystemRandomNumberGenerator()
        var a = basis.moduli.flatMap { m in (0..<n).map { _ in UInt64.random(in: 0..<m.value, using: &rng) } }
        let b = basis.moduli.flatMap { m in (0..<n).map { _ in UInt64.random(in: 0..<m.value, using: &rng) } }
        let tables = basis.ntt
        let moduli = basis.moduli
        a.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            report.rows.append(("ntt_forward", Stopwatch.measure(reps: reps) {
                for i in 0..<tables.count { tables[i].forward(base + i * n) }
            }))
            report.rows.append(("ntt_inverse", Stopwatch.measure(reps: reps) {
                for i in 0..<tables.count { tables[i].inverse(base + i * n) }
            }))
            b.withUnsafeBufferPointer { other in
                let y = other.baseAddress!
                report.rows.append(("mul_pointwise", Stopwatch.measure(reps: reps) {
                    for i in 0..<moduli.count {
                        let m = moduli[i]
                        let x = base + i * n
                        let yi = y + i * n
                        for j in 0..<n { x[j] = m.multiplyReduced(x[j], yi[j]) }
                    }
                }))
            }
        }
    }

    /// The reference ring's kernel: GMP integers modulo one prime P > 2·N·Q², Q = ∏ primes.
    static func bigint(degree n: Int, primes: [UInt64], reps: Int, into report: inout BenchReport) throws {
        let ring = try BigIntegerRing(degree: n, primes: primes)
        let ntt = ring.ntt
        let words = ntt.modulus.bitWidth / 64 + 1
        var rng = SystemRandomNumberGenerator()
        func randomVector() throws -> BigIntegerPolynomialBuffer {
            try ntt.buffer(from: (0..<n).map { _ in BigInteger(magnitude: (0..<words).map { _ in rng.next() }) })
        }
        let a = try randomVector()
        let b = try randomVector()
        // The kernels keep values in [0, P), so repeating them in place times the same work.
        var failure: Error?
        func timed(_ body: () throws -> Void) -> Stopwatch.Summary {
            Stopwatch.measure(reps: reps) { do { try body() } catch { failure = error } }
        }
        report.rows.append(("ntt_forward", timed { try ntt.forward(a) }))
        report.rows.append(("ntt_inverse", timed { try ntt.inverse(a) }))
        report.rows.append(("mul_pointwise", timed { try ntt.multiplyPointwise(a, b, into: a) }))
        if let failure { throw failure }
        report.notes.append("P has \(ntt.modulus.bitWidth) bits (P > 2·N·Q², Q of \(ring.modulus.bitWidth) bits)")
    }
}
