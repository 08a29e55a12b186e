import XCTest
@testable import CKKS
import HEMath

/// Seeds, the ChaCha20 stream and the three samplers. Statistical checks use fixed seeds, so
/// they are reproducible; their bounds are several standard errors wide, and a biased sampler
/// (a modular reduction instead of rejection, a wrong clip, a missing limb) lands far outside.
final class SamplingTests: XCTestCase {
    /// Seed bytes 0, 1, …, 31.
    private let countingSeed = try! Seed(bytes: (0..<32).map { UInt8($0) })
    private let zeroSeed = try! Seed(bytes: [UInt8](repeating: 0, count: 32))

    private func words(_ count: Int, seed: Seed, domain: UInt64, index: UInt32) -> [UInt64] {
        var stream = SeededStream(seed: seed, domain: domain, index: index)
        return (0..<count).map { _ in stream.nextWord() }
    }

    private func basis(degree: Int, bits: [Int]) throws -> RNSBasis {
        try RNSBasis(degree: degree, primes: PrimeSearch.nttPrimes(bitSizes: bits, degree: degree, strategy: .nearest))
    }

    // MARK: Stream

    /// RFC 7539 / 8439 appendix A.1, test vectors #1 and #2: ChaCha20 blocks 0 and 1 for the
    /// all-zero key and nonce. Our stream for (zero seed, domain 0, index 0) must be exactly this.
    func testKnownAnswerZeroKeyAndNonce() {
        var stream = SeededStream(seed: zeroSeed, domain: 0, index: 0)
        let block0 = stream.nextBytes(count: 64)
        let block1 = stream.nextBytes(count: 64)
        XCTAssertEqual(hex(block0), "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
                       + "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")
        XCTAssertEqual(hex(block1), "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
                       + "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f")
        // Words are the same bytes read little-endian.
        XCTAssertEqual(words(1, seed: zeroSeed, domain: 0, index: 0), [0x903d_f1a0_ade0_b876])
    }

    /// Nonce layout (domain LE ‖ index LE) and counter continuity across refills, against values
    /// computed with Python's `cryptography` ChaCha20 (words 0–513) and an RFC 8439 block function
    /// written in Python from the RFC's text (words 4095–4097, which also gives 0–513) (key 00…1f,
    /// nonce 07 00…00 03 00 00 00). Words 511/512 were a 4 KiB chunk's edge, 4095/4096 the
    /// 32 KiB one's (block 512).
    func testKnownAnswerNonceLayoutAndRefill() {
        let w = words(4098, seed: countingSeed, domain: 7, index: 3)
        XCTAssertEqual(w[0], 0xa292_bffd_130c_6a5a)
        XCTAssertEqual(w[1], 0x3b25_5270_faaa_cb25)
        XCTAssertEqual(w[511], 0xae5a_538d_12ea_8c01)
        XCTAssertEqual(w[512], 0x8d7b_62a1_4c98_36b6)  // block 64
        XCTAssertEqual(w[513], 0x0283_ec49_caf4_e0b2)
        XCTAssertEqual(w[4095], 0x75eb_dad1_a950_6d54)  // last word of the first chunk
        XCTAssertEqual(w[4096], 0xbbf3_2a44_01a3_17ac)  // first word of the second chunk (block 512)
        XCTAssertEqual(w[4097], 0x9b1c_bc8a_fea9_54f9)
        XCTAssertEqual(SeededStream.chunkByteCount, 32_768, "the words above test the chunk edge at this size")
    }

    func testDeterminismAndSeparation() {
        let reference = words(1500, seed: countingSeed, domain: 5, index: 2)
        XCTAssertEqual(words(1500, seed: countingSeed, domain: 5, index: 2), reference)
        XCTAssertNotEqual(words(1500, seed: countingSeed, domain: 6, index: 2), reference)
        XCTAssertNotEqual(words(1500, seed: countingSeed, domain: 5, index: 3), reference)
        XCTAssertNotEqual(words(1500, seed: zeroSeed, domain: 5, index: 2), reference)
        // Domain and index occupy different nonce bytes: swapping them changes the stream.
        XCTAssertNotEqual(words(8, seed: countingSeed, domain: 1, index: 0), words(8, seed: countingSeed, domain: 0, index: 1))

        // Interleaving bytes, doubles and words reads the same underlying word sequence.
        var stream = SeededStream(seed: countingSeed, domain: 5, index: 2)
        XCTAssertEqual(stream.nextDouble(), Double(reference[0] >> 11) * 0x1p-53)
        XCTAssertEqual(stream.nextBytes(count: 3), [0, 8, 16].map { UInt8(truncatingIfNeeded: reference[1] >> $0) })
        XCTAssertEqual(stream.next(), reference[2])
        let seed = stream.nextSeed()
        XCTAssertEqual(seed.bytes, (3..<7).flatMap { k in (0..<8).map { UInt8(truncatingIfNeeded: reference[k] >> (8 * $0)) } })
        XCTAssertEqual(stream.nextWord(), reference[7])
    }

    func testDoublesAndRandomNumberGeneratorConformance() {
        var stream = SeededStream(seed: countingSeed, domain: 1, index: 0)
        let doubles = (0..<(1 << 16)).map { _ in stream.nextDouble() }
        XCTAssertTrue(doubles.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = doubles.reduce(0, +) / Double(doubles.count)
        XCTAssertEqual(mean, 0.5, accuracy: 0.005)

        var a = SeededStream(seed: countingSeed, domain: 2, index: 0)
        var b = SeededStream(seed: countingSeed, domain: 2, index: 0)
        let fromA = (0..<100).map { _ in Int.random(in: -5...5, using: &a) }
        XCTAssertEqual(fromA, (0..<100).map { _ in Int.random(in: -5...5, using: &b) })
        XCTAssertEqual(Set(fromA), Set(-5...5))
    }

    // MARK: Uniform

    func testUniformIsReducedDeterministicAndPrefixStable() throws {
        let full = try basis(degree: 4096, bits: [50, 40, 41, 61])
        let a = Sampler.uniform(basis: full, seed: countingSeed, domain: 9)
        for (i, modulus) in full.moduli.enumerated() {
            XCTAssertTrue(a.limb(i).allSatisfy { $0 < modulus.value }, "limb \(i) not reduced")
            // Residues use the whole range: the largest of 4096 is within 0.5% of q.
            XCTAssertGreaterThan(Double(a.limb(i).max()!), 0.995 * Double(modulus.value))
        }
        XCTAssertEqual(Sampler.uniform(basis: full, seed: countingSeed, domain: 9), a)
        XCTAssertNotEqual(Sampler.uniform(basis: full, seed: countingSeed, domain: 10).residues, a.residues)
        XCTAssertNotEqual(Sampler.uniform(basis: full, seed: zeroSeed, domain: 9).residues, a.residues)
        // Limbs are independent streams, not the same words reduced differently.
        XCTAssertNotEqual(Array(a.limb(1)), Array(a.limb(2)))

        let prefix = Sampler.uniform(basis: try full.prefix(2), seed: countingSeed, domain: 9)
        XCTAssertEqual(prefix.residues, Array(a.residues.prefix(2 * 4096)))
    }

    /// The in-place rejection fill takes the same words as drawing them one by one (a rejected
    /// word drawn again), across chunk boundaries and with heavy rejection, and leaves the
    /// stream at the same word: seeded ciphertexts and keys expand as before.
    func testMaskedFillIsTheWordByWordRejection() throws {
        for (q, count) in [(UInt64(17), 3000), (UInt64(786_433), 1500), ((UInt64(1) << 40) - 87, 2049), (UInt64(3), 1)] {
            let m = try Modulus(q)
            let mask: UInt64 = (1 << UInt64(m.bitWidth)) - 1
            var reference = SeededStream(seed: countingSeed, domain: 9, index: 1)
            var fast = reference
            _ = reference.nextWord(); _ = fast.nextWord()   // start off a chunk boundary
            var expected: [UInt64] = []
            for _ in 0..<count {
                var x = reference.nextWord() & mask
                while x >= q { x = reference.nextWord() & mask }
                expected.append(x)
            }
            var filled = [UInt64](repeating: .max, count: count)
            filled.withUnsafeMutableBufferPointer { fast.fillMasked($0, mask: mask, below: q) }
            XCTAssertEqual(filled, expected, "q = \(q)")
            XCTAssertEqual(fast.nextWord(), reference.nextWord(), "q = \(q): the streams part after the fill")
        }
    }

    /// 2^16 residues mod 17 (5-bit mask, 15/32 rejected): chi-square with 16 degrees of freedom.
    /// Reducing the 5-bit value mod 17 instead of rejecting would make 0…14 twice as likely as
    /// 15 and 16 and give a statistic in the thousands.
    func testUniformChiSquareSmallModulus() throws {
        let q: UInt64 = 17
        var stream = SeededStream(seed: countingSeed, domain: 3, index: 0)
        let samples = Sampler.uniformResidues(count: 1 << 16, modulus: try Modulus(q), using: &stream)
        var counts = [Int](repeating: 0, count: Int(q))
        for x in samples { counts[Int(x)] += 1 }   // traps if any x ≥ q
        let expected = Double(samples.count) / Double(q)
        let chiSquare = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        // Mean 16, standard deviation √32 ≈ 5.7; P(χ²₁₆ > 60) < 10^−6.
        XCTAssertLessThan(chiSquare, 60, "counts \(counts)")
    }

    /// 2^16 residues mod the 20-bit NTT prime 786433 = 3·2^18 + 1: mean within 1% of q/2 and
    /// variance within 3% of q²/12 (standard errors 0.23% and 0.35%).
    func testUniformMeanAndVariance() throws {
        let q: UInt64 = 786_433
        var stream = SeededStream(seed: countingSeed, domain: 4, index: 0)
        let samples = Sampler.uniformResidues(count: 1 << 16, modulus: try Modulus(q), using: &stream).map { Double($0) }
        XCTAssertTrue(samples.allSatisfy { $0 < Double(q) })
        let (mean, variance) = meanAndVariance(samples)
        XCTAssertEqual(mean / (Double(q) / 2), 1, accuracy: 0.01)
        XCTAssertEqual(variance / (Double(q) * Double(q) / 12), 1, accuracy: 0.03)
    }

    // MARK: Ternary

    func testTernaryFrequencies() {
        var stream = SeededStream(seed: countingSeed, domain: 11, index: 0)
        let coefficients = Sampler.ternaryCoefficients(count: 1 << 16, using: &stream)
        XCTAssertEqual(coefficients.count, 1 << 16)
        XCTAssertTrue(coefficients.allSatisfy { (-1...1).contains($0) })
        for value: Int8 in [-1, 0, 1] {
            let frequency = Double(coefficients.filter { $0 == value }.count) / Double(coefficients.count)
            // Standard error 0.0018; a mod-3 reduction of 2-bit values would give 1/2 for −1.
            XCTAssertEqual(frequency, 1.0 / 3.0, accuracy: 0.01, "frequency of \(value)")
        }
    }

    func testTernaryIsTheSameIntegerInEveryLimb() throws {
        let b = try basis(degree: 4096, bits: [50, 40, 40])
        var stream = SeededStream(seed: countingSeed, domain: 12, index: 0)
        let s = Sampler.ternary(basis: b, using: &stream)
        var replay = SeededStream(seed: countingSeed, domain: 12, index: 0)
        let integers = Sampler.ternaryCoefficients(count: 4096, using: &replay).map(Int64.init)
        assertSameIntegerInEveryLimb(s, integers)
        XCTAssertTrue(s.limb(0).contains(b.moduli[0].value - 1), "−1 is stored as q − 1")

        var fresh = Sampler.freshStream()
        let t = Sampler.ternary(basis: b, using: &fresh)
        for (i, m) in b.moduli.enumerated() {
            XCTAssertTrue(t.limb(i).allSatisfy { $0 <= 1 || $0 == m.value - 1 })
        }
    }

    // MARK: Gaussian

    /// σ = 3.2 over 2^16 samples: mean, standard deviation (√(σ² + 1/12) ≈ 3.213 after
    /// rounding), the clip at round(6σ) = 19, and P(0) = erf(0.5 / (σ√2)) ≈ 0.1242.
    func testGaussianMomentsAndClip() {
        var stream = SeededStream(seed: countingSeed, domain: 13, index: 0)
        let e = Sampler.gaussianCoefficients(count: 1 << 16, standardDeviation: 3.2, using: &stream)
        XCTAssertEqual(e.count, 1 << 16)
        let (mean, variance) = meanAndVariance(e.map { Double($0) })
        XCTAssertLessThan(abs(mean), 0.05)
        XCTAssertEqual(variance.squareRoot() / 3.2, 1, accuracy: 0.03)
        XCTAssertLessThanOrEqual(e.map(\.magnitude).max()!, 19)
        XCTAssertGreaterThanOrEqual(e.map(\.magnitude).max()!, 12, "tails are present (|x| ≥ 11.5 is expected ~21 times)")
        let zeros = Double(e.filter { $0 == 0 }.count) / Double(e.count)
        XCTAssertEqual(zeros, 0.1242, accuracy: 0.01)
        // Symmetry: the difference of the two counts has standard deviation ≈ 240.
        XCTAssertLessThan(abs(e.filter { $0 > 0 }.count - e.filter { $0 < 0 }.count), 1200)
    }

    /// The clip re-samples rather than saturating: clipped at 1σ the values stay within
    /// round(3.2) = 3 and ±3 keeps only its share (x in [2.5, 3.2]), no pile-up at the bound.
    func testGaussianClipResamples() {
        var stream = SeededStream(seed: countingSeed, domain: 14, index: 0)
        let e = Sampler.gaussianCoefficients(count: 1 << 16, standardDeviation: 3.2, maxDeviations: 1, using: &stream)
        XCTAssertTrue(e.allSatisfy { abs($0) <= 3 })
        let threes = Double(e.filter { abs($0) == 3 }.count) / Double(e.count)
        // P(2.5 ≤ |x| ≤ 3.2 | |x| ≤ 3.2) = 0.1173 / 0.6827 ≈ 0.172; saturation would give ≈ 0.43.
        XCTAssertEqual(threes, 0.172, accuracy: 0.015)
    }

    func testGaussianIsTheSameIntegerInEveryLimb() throws {
        let b = try basis(degree: 4096, bits: [50, 40, 40])
        var stream = SeededStream(seed: countingSeed, domain: 15, index: 0)
        let e = Sampler.gaussian(basis: b, standardDeviation: 3.2, using: &stream)
        var replay = SeededStream(seed: countingSeed, domain: 15, index: 0)
        assertSameIntegerInEveryLimb(e, Sampler.gaussianCoefficients(count: 4096, standardDeviation: 3.2, using: &replay))
    }

    // MARK: Seed

    func testSeed() throws {
        for count in [0, 31, 33, 64] {
            XCTAssertThrowsError(try Seed(bytes: [UInt8](repeating: 1, count: count))) { error in
                guard case CKKSError.invalidFormat = error else { return XCTFail("\(error)") }
            }
        }
        let bytes = (0..<32).map { UInt8(255 - $0) }
        XCTAssertEqual(try Seed(bytes: bytes).bytes, bytes)
        let a = Seed.random(), b = Seed.random()
        XCTAssertEqual(a.bytes.count, 32)
        XCTAssertNotEqual(a, b)
        XCTAssertNotEqual(a.bytes, [UInt8](repeating: 0, count: 32))
        var s = Sampler.freshStream(), t = Sampler.freshStream()
        XCTAssertNotEqual(s.nextWord(), t.nextWord())
    }

    // MARK: Helpers

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    private func meanAndVariance(_ xs: [Double]) -> (Double, Double) {
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count - 1)
        return (mean, variance)
    }

    private func assertSameIntegerInEveryLimb(_ p: RNSPolynomial<Coefficient>, _ integers: [Int64],
                                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(integers.count, p.degree, file: file, line: line)
        for (i, modulus) in p.basis.moduli.enumerated() {
            let centred = p.limb(i).map { modulus.centered($0) }
            XCTAssertEqual(centred, integers, "limb \(i)", file: file, line: line)
        }
    }
}
