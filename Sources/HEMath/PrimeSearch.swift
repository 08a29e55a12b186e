import CGMP

/// Search for NTT-friendly primes: primes q ≡ 1 (mod 2N), so that Z_q holds a primitive
/// 2N-th root of unity and the negacyclic NTT of degree N exists modulo q.
public enum PrimeSearch {
    /// Where to look for primes of a requested bit size b.
    public enum Strategy: Sendable {
        /// Below 2^b, largest first: every prime has exactly b bits (SEAL's `CoeffModulus.Create`).
        case below
        /// Nearest to 2^b first, alternating below and above: primes whose ratio to 2^b is
        /// closest to 1, which keeps CKKS scales aligned after rescaling by them. A prime
        /// above 2^b has b + 1 bits; none is taken at or above 2^62.
        case nearest
    }

    /// Distinct NTT-friendly primes of the requested bit sizes, in the order requested.
    ///
    /// Sizes that repeat (a chain of 40-bit scale primes, two 60-bit primes) get successive
    /// primes of that size, so the chain holds no prime twice. Each is proven prime by GMP.
    /// - Throws: `invalidDegree` unless N is a power of two in [2, 2^17]; `outOfRange` for a
    ///   bit size outside [log2(2N) + 2, 62]; `primesExhausted` when the range runs dry.
    public static func nttPrimes(bitSizes: [Int], degree: Int,
                                 strategy: Strategy = .below) throws -> [UInt64] {
        try NTTTables.validateDegree(degree)
        let twoN = UInt64(2 * degree)
        let minimumBits = twoN.trailingZeroBitCount + 2
        var perSize: [Int: [UInt64]] = [:]
        for bits in Set(bitSizes) {
            guard bits >= minimumBits, bits <= 62 else {
                throw HEMathError.outOfRange(
                    "prime bit size \(bits): must be in \(minimumBits)…62 for ring degree \(degree)")
            }
            let count = bitSizes.filter { $0 == bits }.count
            perSize[bits] = try primes(bits: bits, count: count, twoN: twoN, strategy: strategy)
        }
        var next: [Int: Int] = [:]
        return bitSizes.map { bits in
            defer { next[bits, default: 0] += 1 }
            return perSize[bits]![next[bits, default: 0]]
        }
    }

    /// `count` primes ≡ 1 (mod twoN) near 2^bits following `strategy`.
    static func primes(bits: Int, count: Int, twoN: UInt64, strategy: Strategy) throws -> [UInt64] {
        let center = UInt64(1) << bits
        let floor = UInt64(1) << (bits - 1)
        var found: [UInt64] = []
        // Candidates are 2^b + 1 − k·2N below and 2^b + 1 + k·2N above (k ≥ 1); 2^b + 1 itself
        // is never prime for b ≥ 2 (a Fermat number is prime only for b a power of two ≤ 16,
        // where it is below every size we accept, except 2^16 + 1 = 65537 for b = 16, which the
        // nearest search tries first).
        var down = center + 1 - twoN
        var up = center + 1
        var downOpen = true
        var upOpen = strategy == .nearest
        if upOpen, isProvenPrime(up) { found.append(up) }
        up += twoN
        while found.count < count {
            upOpen = upOpen && up < Modulus.upperBound
            downOpen = downOpen && down > floor
            guard upOpen || downOpen else { break }
            // Take whichever open candidate is nearer 2^b.
            let takeDown = downOpen && (!upOpen || center - down <= up - center)
            if takeDown {
                if isProvenPrime(down) { found.append(down) }
                down -= twoN
            } else {
                if isProvenPrime(up) { found.append(up) }
                up += twoN
            }
        }
        guard found.count == count else {
            throw HEMathError.primesExhausted(bits: bits, degree: Int(twoN / 2),
                                              found: found.count, requested: count)
        }
        return found
    }

    /// True when n is proven prime.
    ///
    /// GMP 6.2's `mpz_probab_prime_p` answers 2 ("definitely prime") only below 35·2^46; above
    /// that, an answer of 1 for n < 2^64 means n passed its Baillie–PSW test, which has no
    /// pseudoprime below 2^64 (Feitsma–Galway's enumeration of base-2 pseudoprimes). As a second,
    /// independent proof we require the deterministic Miller–Rabin test with the first twelve
    /// prime bases, which is exact for n < 3.3·10^24 (Sorenson–Webster). Both must agree.
    public static func isProvenPrime(_ n: UInt64) -> Bool {
        var z = __mpz_struct()
        __gmpz_init_set_ui(&z, UInt(n))
        defer { __gmpz_clear(&z) }
        let gmp = __gmpz_probab_prime_p(&z, 30)
        return gmp == 2 || (gmp == 1 && isPrimeByDeterministicMillerRabin(n))
    }

    /// Miller–Rabin with bases 2, 3, 5, …, 37: exact for every 64-bit n.
    static func isPrimeByDeterministicMillerRabin(_ n: UInt64) -> Bool {
        let bases: [UInt64] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
        if n < 2 { return false }
        for p in bases where n % p == 0 { return n == p }
        var d = n - 1
        var s = 0
        while d & 1 == 0 { d >>= 1; s += 1 }
        // n may exceed 2^62, so use hardware division rather than `Modulus`.
        func mulmod(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let p = a.multipliedFullWidth(by: b)
            return n.dividingFullWidth((high: p.high, low: p.low)).remainder
        }
        witness: for a in bases {
            var x: UInt64 = 1
            var b = a, e = d
            while e > 0 {
                if e & 1 == 1 { x = mulmod(x, b) }
                b = mulmod(b, b)
                e >>= 1
            }
            if x == 1 || x == n - 1 { continue }
            for _ in 1..<s {
                x = mulmod(x, x)
                if x == n - 1 { continue witness }
            }
            return false
        }
        return true
    }

    /// The smallest primitive 2N-th root of unity modulo a prime q ≡ 1 (mod 2N).
    ///
    /// A unit x has order exactly 2N (a power of two) iff x^N = −1. The search raises
    /// x = 2, 3, … to (q−1)/2N until such a root r appears (about every other x does), then
    /// returns the least of all primitive roots r^1, r^3, …, r^(2N−1), so the answer depends
    /// only on q and N.
    public static func minimalPrimitiveRoot(degree: Int, modulus: Modulus) throws -> UInt64 {
        try NTTTables.validateDegree(degree)
        let q = modulus.value
        let twoN = UInt64(2 * degree)
        guard q % twoN == 1, isProvenPrime(q) else {
            throw HEMathError.invalidModulus(
                modulus: q, reason: "needs a prime ≡ 1 (mod \(twoN)) for ring degree \(degree)")
        }
        var root: UInt64 = 0
        var x: UInt64 = 2
        while root == 0 && x < q {
            let r = modulus.power(x, (q - 1) / twoN)
            if modulus.power(r, UInt64(degree)) == q - 1 { root = r }
            x += 1
        }
        guard root != 0 else {
            throw HEMathError.invalidModulus(modulus: q, reason: "no primitive \(twoN)-th root found")
        }
        let rootSquared = modulus.multiply(root, root)
        var candidate = root
        var minimal = root
        for _ in 0..<degree {
            minimal = min(minimal, candidate)
            candidate = modulus.multiply(candidate, rootSquared)
        }
        return minimal
    }
}
