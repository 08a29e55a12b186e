import XCTest
@testable import HEMath

/// The big-integer NTT and the reference ring Z_Q[X]/(X^N + 1) built on it, checked against
/// hand-worked transforms, the NTT's definition, a schoolbook product on `BigInteger`, and the
/// word-size `NTTTables`.
final class BigIntegerRingTests: XCTestCase {
    // MARK: - Oracles and helpers

    /// The slow, obvious oracle: a·b mod (X^N + 1, Q) by schoolbook multiplication over Z.
    func schoolbook(_ a: [BigInteger], _ b: [BigInteger], modulus Q: BigInteger) throws -> [BigInteger] {
        let n = a.count
        var c = [BigInteger](repeating: 0, count: n)
        for i in 0..<n {
            for j in 0..<n {
                if i + j < n { c[i + j] += a[i] * b[j] } else { c[i + j - n] -= a[i] * b[j] }
            }
        }
        return try c.map { try $0.modulo(Q) }
    }

    /// A uniformly-ish random integer in [0, m).
    func randomBelow(_ m: BigInteger, _ rng: inout SplitMix64) throws -> BigInteger {
        try BigInteger(magnitude: rng.limbs(bits: m.bitWidth + 16)).modulo(m)
    }

    func ints(_ values: [Int]) -> [BigInteger] { values.map { BigInteger($0) } }

    // MARK: - Known answers and the definition

    func testKnownAnswerTinyTransforms() throws {
        // N = 2, P = 5 ≡ 1 (mod 4). Root search: x = 2, r = 2^((5−1)/4) = 2, r^2 = 4 = −1, so ψ = 2.
        // Outputs a(ψ^1), a(ψ^3) with ψ^3 = 8 ≡ 3:
        //   a = 1 + 3X: a(2) = 7 ≡ 2, a(3) = 10 ≡ 0;   a = 4 + X: a(2) = 6 ≡ 1, a(3) = 7 ≡ 2.
        XCTAssertEqual(try BigIntegerNTT.nttPrime(atLeastBits: 2, degree: 2), 5)
        let ntt2 = try BigIntegerNTT(degree: 2, modulus: 5)
        XCTAssertEqual(ntt2.root, 2)
        for (input, output) in [([1, 3], [2, 0]), ([4, 1], [1, 2])] {
            let buffer = try ntt2.buffer(from: ints(input))
            try ntt2.forward(buffer)
            XCTAssertEqual(buffer.values, ints(output), "N=2 forward of \(input)")
            try ntt2.inverse(buffer)
            XCTAssertEqual(buffer.values, ints(input), "N=2 inverse")
        }

        // N = 4, P = 17 (the least prime ≡ 1 mod 8 above 2^4). Root search: x = 2 gives
        // r = 2^2 = 4 with 4^4 = 256 ≡ 1 (not −1); x = 3 gives r = 3^2 = 9 with 9^2 = 81 ≡ 13,
        // 13^2 = 169 ≡ 16 = −1, so ψ = 9. Powers: ψ^1 = 9, ψ^2 = 13, ψ^3 = 15, ψ^5 = 8, ψ^7 = 2.
        // Outputs a(ψ^(2·br(i)+1)) for i = 0…3, exponents 1, 5, 3, 7, i.e. points 9, 8, 15, 2.
        // a = 1 + 2X + 3X² + 4X³:
        //   a(9):  9² ≡ 13, 9³ ≡ 15:  1 + 18 + 39 + 60 = 118 ≡ 16
        //   a(8):  8² ≡ 13, 8³ ≡ 2:   1 + 16 + 39 + 8  = 64  ≡ 13
        //   a(15): 15² ≡ 4, 15³ ≡ 9:  1 + 30 + 12 + 36 = 79  ≡ 11
        //   a(2):                     1 + 4  + 12 + 32 = 49  ≡ 15
        // (With the minimal root ψ = 2 the word kernel gives the same values permuted: [15, 11, 13, 16].)
        XCTAssertEqual(try BigIntegerNTT.nttPrime(atLeastBits: 4, degree: 4), 17)
        let ntt4 = try BigIntegerNTT(degree: 4, modulus: 17)
        XCTAssertEqual(ntt4.root, 9)
        let a = try ntt4.buffer(from: ints([1, 2, 3, 4]))
        try ntt4.forward(a)
        XCTAssertEqual(a.values, ints([16, 13, 11, 15]))
        try ntt4.inverse(a)
        XCTAssertEqual(a.values, ints([1, 2, 3, 4]))

        // X · X³ = X⁴ = −1 ≡ 16 in Z_17[X]/(X⁴ + 1).
        let x = try ntt4.buffer(from: ints([0, 1, 0, 0]))
        let x3 = try ntt4.buffer(from: ints([0, 0, 0, 1]))
        try ntt4.forward(x)
        try ntt4.forward(x3)
        try ntt4.multiplyPointwise(x, x3, into: x)
        try ntt4.inverse(x)
        XCTAssertEqual(x.values, ints([16, 0, 0, 0]))
    }

    func testForwardMatchesDefinitionWithBigPrime() throws {
        var rng = SplitMix64(seed: 201)
        let n = 16, logN = 4
        let P = try BigIntegerNTT.nttPrime(atLeastBits: 220, degree: n)
        let ntt = try BigIntegerNTT(degree: n, modulus: P)
        XCTAssertEqual(try ntt.root.pow(BigInteger(n), modulus: P), P - 1, "ψ^N = −1")
        let a = try (0..<n).map { _ in try randomBelow(P, &rng) }
        let buffer = try ntt.buffer(from: a)
        try ntt.forward(buffer)
        for i in 0..<n {
            let point = try ntt.root.pow(BigInteger(2 * NTTTables.bitReverse(i, bits: logN) + 1), modulus: P)
            var value = BigInteger(0), power = BigInteger(1)
            for coefficient in a {
                value = try (value + coefficient * power).modulo(P)
                power = try (power * point).modulo(P)
            }
            XCTAssertEqual(buffer[i], value, "evaluation \(i)")
        }
    }

    // MARK: - Round trips and prime search

    func testRoundTripWithLargePrimes() throws {
        var rng = SplitMix64(seed: 202)
        for logN in 4...12 {
            let n = 1 << logN
            let P = try BigIntegerNTT.nttPrime(atLeastBits: 200 + 7 * logN, degree: n)
            XCTAssertGreaterThanOrEqual(P.bitWidth, 201)
            let ntt = try BigIntegerNTT(degree: n, modulus: P)
            let a = try (0..<n).map { _ in try randomBelow(P, &rng) }
            let buffer = try ntt.buffer(from: a)
            let untouched = buffer.copy()
            try ntt.forward(buffer)
            XCTAssertEqual(untouched.values, a, "N=\(n): a copy is independent of its source")
            XCTAssertTrue(buffer.values.allSatisfy { !$0.isNegative && $0 < P }, "N=\(n): forward output in [0, P)")
            let evaluations = buffer.values
            try ntt.inverse(buffer)
            XCTAssertEqual(buffer.values, a, "N=\(n): inverse ∘ forward must be the identity")

            // Unreduced input (a_i + k·P, k ∈ −2…2) transforms like the reduced one.
            let unreduced = BigIntegerPolynomialBuffer(a.map { $0 + P * BigInteger(Int(rng.next() % 5) - 2) })
            try ntt.forward(unreduced)
            XCTAssertEqual(unreduced.values, evaluations, "N=\(n): forward must reduce its input")
        }
    }

    func testNTTPrimeIsTheSmallestCandidate() throws {
        for (bits, n) in [(61, 8), (130, 64), (257, 1024)] {
            let P = try BigIntegerNTT.nttPrime(atLeastBits: bits, degree: n)
            let twoN = BigInteger(2 * n)
            XCTAssertGreaterThanOrEqual(P, BigInteger(1) << bits)
            XCTAssertEqual(try P.modulo(twoN), 1)
            XCTAssertNotEqual(P.isProbablePrime(), .composite)
            var candidate = (BigInteger(1) << bits) + 1  // 2^bits ≡ 0 (mod 2N) here
            while candidate < P {
                XCTAssertEqual(candidate.isProbablePrime(), .composite, "\(candidate) is a smaller NTT prime")
                candidate += twoN
            }
        }
    }

    // MARK: - Ring products against the schoolbook oracle

    func testRingProductsEqualSchoolbook() throws {
        var rng = SplitMix64(seed: 203)
        for n in [4, 16, 64, 256] {
            let wordPrimes = try PrimeSearch.nttPrimes(bitSizes: [60, 50, 50, 40], degree: n)
            let moduli: [BigInteger] = [
                BigInteger(wordPrimes[0]),                                   // one 60-bit prime
                wordPrimes.reduce(BigInteger(1)) { $0 * BigInteger($1) },   // 200-bit RNS chain
                BigInteger(magnitude: rng.limbs(bits: 60 + Int(rng.next() % 341))),  // random 60…400 bits
                BigInteger(1) << 400,                                        // even: Q/2 is a representative
                (BigInteger(1) << 399) + BigInteger(magnitude: rng.limbs(bits: 300)),  // odd or even, 400 bits
            ]
            for Q in moduli {
                let ring = try BigIntegerRing(degree: n, modulus: Q)
                XCTAssertGreaterThan(ring.ntt.modulus, BigInteger(2 * n) * Q * Q, "P > 2·N·Q²")
                let half = Q >> 1
                let random = { (rng: inout SplitMix64) in
                    (0..<n).map { _ in rng.bigInteger(bits: 1...(Q.bitWidth + 8)) }  // both signs, unreduced
                }
                let constant = { (v: BigInteger) in [BigInteger](repeating: v, count: n) }
                let alternating = (0..<n).map { $0 % 2 == 0 ? Q - 1 : -half }
                let pairs: [([BigInteger], [BigInteger])] = [
                    (random(&rng), random(&rng)),
                    (constant(Q - 1), constant(Q - 1)),
                    (constant(half), constant(half)),        // the largest exact coefficients, N·Q²/4
                    (constant(-half), constant(half + 1)),
                    (constant(0), random(&rng)),
                    (alternating, constant(-half)),
                ]
                for (k, (a, b)) in pairs.enumerated() {
                    XCTAssertEqual(try ring.multiply(a, b), try schoolbook(a, b, modulus: Q),
                                   "N=\(n) Q has \(Q.bitWidth) bits, case \(k)")
                }
            }
        }
    }

    func testAdditiveOperationsAndRepresentatives() throws {
        var rng = SplitMix64(seed: 204)
        let n = 16
        for Q in [BigInteger(97), BigInteger(100), BigInteger(1) << 130, rng.bigInteger(bits: 200...200).magnitude] {
            let ring = try BigIntegerRing(degree: n, modulus: Q)
            let half = Q >> 1
            let a = (0..<n).map { _ in rng.bigInteger(bits: 1...(Q.bitWidth + 20)) }
            var b = (0..<n).map { _ in rng.bigInteger(bits: 1...(Q.bitWidth + 20)) }
            b[0] = half; b[1] = half + 1; b[2] = -half; b[3] = Q; b[4] = 0; b[5] = Q - 1
            XCTAssertEqual(try ring.add(a, b), try zip(a, b).map { try ($0 + $1).modulo(Q) })
            XCTAssertEqual(try ring.subtract(a, b), try zip(a, b).map { try ($0 - $1).modulo(Q) })
            XCTAssertEqual(try ring.negate(b), try b.map { try (-$0).modulo(Q) })
            XCTAssertEqual(try ring.reduce(b), try b.map { try $0.modulo(Q) })
            let centred = try ring.centered(b)
            for (x, c) in zip(b, centred) {
                XCTAssertEqual(try (x - c).modulo(Q), 0, "same class mod Q")
                XCTAssertTrue(c * 2 > -Q && c * 2 <= Q, "\(c) must lie in (−Q/2, Q/2] for Q = \(Q)")
            }
            XCTAssertEqual(centred[0], half, "⌊Q/2⌋ is its own representative")
            XCTAssertEqual(centred[4], 0)
            XCTAssertEqual(centred[5], -1)
        }
        XCTAssertEqual(try BigIntegerRing(degree: 4, modulus: 100).centered(ints([50, 51, -50, 149])),
                       ints([50, -49, 50, 49]))
    }

    // MARK: - Agreement with the word-size NTT

    func testAgreesWithWordNTTAtDegree1024() throws {
        var rng = SplitMix64(seed: 205)
        let n = 1024
        // One 60-bit prime: the ring product is the word product, and the schoolbook one.
        let q = try PrimeSearch.nttPrimes(bitSizes: [60], degree: n)[0]
        let ring = try BigIntegerRing(degree: n, primes: [q])
        let a = (0..<n).map { _ in rng.next() % q }
        let b = (0..<n).map { _ in rng.next() % q }
        let product = try ring.multiply(a.map { BigInteger($0) }, b.map { BigInteger($0) })
        let word = try wordProduct(a, b, modulus: q)
        XCTAssertEqual(product.map { $0.remainder(modulo: q) }, word)
        XCTAssertEqual(word, schoolbookNegacyclic(a, b, modulus: q))

        // An RNS chain of three primes: the big product reduced mod each q_j is the word
        // product of the reduced inputs, which is what the fast RNS path will be held to.
        let chain = try PrimeSearch.nttPrimes(bitSizes: [50, 50, 45], degree: n)
        let big = try BigIntegerRing(degree: n, primes: chain)
        let x = try (0..<n).map { _ in try randomBelow(big.modulus, &rng) }
        let y = try (0..<n).map { _ in try randomBelow(big.modulus, &rng) }
        let z = try big.multiply(x, y)
        for qj in chain {
            XCTAssertEqual(z.map { $0.remainder(modulo: qj) },
                           try wordProduct(x.map { $0.remainder(modulo: qj) }, y.map { $0.remainder(modulo: qj) },
                                           modulus: qj), "limb q = \(qj)")
        }
    }

    /// The negacyclic product by the word-size NTT.
    func wordProduct(_ a: [UInt64], _ b: [UInt64], modulus q: UInt64) throws -> [UInt64] {
        let tables = try NTTTables(degree: a.count, modulus: Modulus(q))
        var fa = a, fb = b
        tables.forward(&fa)
        tables.forward(&fb)
        var fc = zip(fa, fb).map { tables.modulus.multiply($0, $1) }
        tables.inverse(&fc)
        return fc
    }

    // MARK: - Errors

    func testErrors() throws {
        func expect(_ name: String, _ body: () throws -> Void, _ matches: (HEMathError) -> Bool) {
            XCTAssertThrowsError(try body(), name) { error in
                guard let e = error as? HEMathError, matches(e) else { return XCTFail("\(name): \(error)") }
            }
        }
        let isMismatch = { (e: HEMathError) -> Bool in if case .mismatch = e { return true } else { return false } }
        let isDegree = { (e: HEMathError) -> Bool in if case .invalidDegree = e { return true } else { return false } }
        let isModulus = { (e: HEMathError) -> Bool in if case .invalidBigModulus = e { return true } else { return false } }
        let isRange = { (e: HEMathError) -> Bool in if case .outOfRange = e { return true } else { return false } }

        // Mismatched lengths.
        let ring = try BigIntegerRing(degree: 8, modulus: BigInteger(1) << 70)
        let good = [BigInteger](repeating: 1, count: 8), short = [BigInteger](repeating: 1, count: 7)
        expect("multiply", { _ = try ring.multiply(good, short) }, isMismatch)
        expect("multiply", { _ = try ring.multiply(short, good) }, isMismatch)
        expect("add", { _ = try ring.add(good, short) }, isMismatch)
        expect("subtract", { _ = try ring.subtract(short, good) }, isMismatch)
        expect("negate", { _ = try ring.negate(short) }, isMismatch)
        expect("reduce", { _ = try ring.reduce([]) }, isMismatch)
        expect("centered", { _ = try ring.centered(short + short) }, isMismatch)
        let ntt = ring.ntt
        expect("buffer(from:)", { _ = try ntt.buffer(from: short) }, isMismatch)
        expect("forward", { try ntt.forward(BigIntegerPolynomialBuffer(count: 16)) }, isMismatch)
        expect("inverse", { try ntt.inverse(BigIntegerPolynomialBuffer(count: 4)) }, isMismatch)
        let ok = try ntt.buffer(from: good)
        expect("pointwise", { try ntt.multiplyPointwise(ok, ok, into: BigIntegerPolynomialBuffer(count: 7)) }, isMismatch)
        if case let .mismatch(message)? = catchError({ _ = try ring.multiply(good, short) }) {
            XCTAssertTrue(message.contains("7") && message.contains("8"), message)
        }

        // Degrees that are not a power of two in 2…2^17.
        expect("NTT degree 12", { _ = try BigIntegerNTT(degree: 12, modulus: 97) }, isDegree)  // 97 ≡ 1 (mod 24)
        expect("NTT degree 1", { _ = try BigIntegerNTT(degree: 1, modulus: 3) }, isDegree)
        expect("ring degree 6", { _ = try BigIntegerRing(degree: 6, modulus: 1000) }, isDegree)
        expect("ring degree 2^18", { _ = try BigIntegerRing(degree: 1 << 18, modulus: 1000) }, isDegree)
        expect("prime degree 3", { _ = try BigIntegerNTT.nttPrime(atLeastBits: 100, degree: 3) }, isDegree)

        // P not ≡ 1 (mod 2N), or not prime, or not positive.
        expect("13 mod 8", { _ = try BigIntegerNTT(degree: 4, modulus: 13) }, isModulus)
        expect("P = 2^200 + 1, N = 2^12", {
            _ = try BigIntegerNTT(degree: 1 << 12, modulus: (BigInteger(1) << 200) + 1 + (BigInteger(1) << 12))
        }, isModulus)  // ≡ 2^12 + 1 (mod 2^13)
        expect("25 composite", { _ = try BigIntegerNTT(degree: 4, modulus: 25) }, isModulus)
        expect("P = 1", { _ = try BigIntegerNTT(degree: 4, modulus: 1) }, isModulus)
        expect("P = −7", { _ = try BigIntegerNTT(degree: 4, modulus: -7) }, isModulus)

        // Ring moduli and prime lists.
        expect("Q = 1", { _ = try BigIntegerRing(degree: 4, modulus: 1) }, isModulus)
        expect("Q = −5", { _ = try BigIntegerRing(degree: 4, modulus: -5) }, isModulus)
        expect("no primes", { _ = try BigIntegerRing(degree: 4, primes: []) }, isRange)
        expect("prime 1", { _ = try BigIntegerRing(degree: 4, primes: [17, 1]) }, isRange)
        expect("bits 0", { _ = try BigIntegerNTT.nttPrime(atLeastBits: 0, degree: 4) }, isRange)
    }

    /// The HEMathError that `body` throws (nil if none or another type).
    func catchError(_ body: () throws -> Void) -> HEMathError? {
        do { try body(); return nil } catch { return error as? HEMathError }
    }
}
