import XCTest
@testable import HEMath

/// The constant-factor lazy sums (`RNSPolynomial.lazySums` with scalar weights) against the
/// products reduced and added one by one, on both kernels: the split one (primes of up to 58
/// bits, eight residues per vector instruction) and the word one (larger primes).
final class ConstantLazySumTests: XCTestCase {
    /// Primes of 30 to 58 bits (split, with 2^(63−2h) − 1 terms between folds: 2,047 at 52 bits,
    /// 511 at 53, 31 at 58) and of 59 and 61 bits (word); residues and weights at their largest
    /// (q − 1) and random, weights given unreduced; a sum of 4,099 terms (an odd count), twins over the
    /// same inputs in the same order, short sums of every length modulo four, and an empty one.
    func testSplitAndWordKernelsEqualProductsAddedOneByOne() throws {
        let n = 64
        let primes = try PrimeSearch.nttPrimes(bitSizes: [30, 40, 52, 53, 58, 59, 61], degree: n)
        let basis = try RNSBasis(degree: n, primes: primes)
        // Split with half widths 15, 20, 26, 27 (511 terms between folds), 29 (31 terms); word kernel for 59 and 61 bits.
        XCTAssertEqual(basis.moduli.map { RNSPolynomial<Evaluation>.splitHalfWidth($0) }, [15, 20, 26, 27, 29, nil, nil])
        var rng = SystemRandomNumberGenerator()
        let inputs: [RNSPolynomial<Evaluation>] = try (0..<40).map { s in
            let residues = basis.moduli.flatMap { m in
                (0..<n).map { j in s < 8 || j % 5 == 0 ? m.value - 1 : UInt64.random(in: 0..<m.value, using: &rng) }
            }
            return try RNSPolynomial(basis: basis, residues: residues)
        }
        let long = (0..<4099).map { ($0 * 7) % inputs.count }
        // Twins (made together) and lone sums of every remainder of four terms a pass: 4k + 3
        // (with two folds), 3, 0, 1, 2, 4 + 1, 4 + 2.
        let sums: [[Int]] = [long, long, [3, 3, 17], [], [5], [6, 7], [6, 7], [9, 10, 11, 12, 13], [9, 10, 11, 12, 13],
                             [20, 21, 22, 23, 24, 25], [20, 21, 22, 23, 24, 25], [30], [30], [31, 32, 33, 34, 35, 36]]
        let constants: [[[UInt64]]] = sums.enumerated().map { b, terms in
            terms.indices.map { k in
                basis.moduli.map { m in
                    k % 3 == 0 && b == 0 ? m.value - 1 : (k % 11 == 0 ? UInt64.max - UInt64(k) : UInt64.random(in: 0...UInt64.max, using: &rng))
                }
            }
        }
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * n * sums.count * basis.count)
        defer { scratch.deallocate() }
        let lazy = try RNSPolynomial<Evaluation>.lazySums(
            inputs: inputs,
            sums: sums.enumerated().map { b, terms in terms.enumerated().map { k, s in (s, .constant(constants[b][k])) } },
            basis: basis, scratch: scratch)
        XCTAssertEqual(lazy.count, sums.count)
        for (b, terms) in sums.enumerated() {
            var expected = [UInt64](repeating: 0, count: basis.count * n)
            for (i, m) in basis.moduli.enumerated() {
                for (k, s) in terms.enumerated() {
                    let w = m.reduce(constants[b][k][i])
                    inputs[s].withUnsafeLimbs { x in
                        for j in 0..<n { expected[i * n + j] = m.add(expected[i * n + j], m.multiply(x[i * n + j], w)) }
                    }
                }
            }
            lazy[b].withUnsafeLimbs { got in
                for (i, m) in basis.moduli.enumerated() {
                    let kernel = RNSPolynomial<Evaluation>.splitHalfWidth(m).map { "split, h = \($0)" } ?? "word"
                    XCTAssertEqual(Array(got[(i * n)..<((i + 1) * n)]), Array(expected[(i * n)..<((i + 1) * n)]),
                                   "sum \(b), limb \(i) (\(kernel) kernel)")
                }
            }
        }
    }
}
