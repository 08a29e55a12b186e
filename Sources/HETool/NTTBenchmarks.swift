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
                        for j in 0..<n { x[j] = m.multiply(x[j], yi[j]) }
                    }
                }))
            }
        }
    }

    static func bigint(degree n: Int, primes: [UInt64], reps: Int, into report: inout BenchReport) throws {
        throw HEMathError.outOfRange("the bigint kernel is not available yet")
    }
}
