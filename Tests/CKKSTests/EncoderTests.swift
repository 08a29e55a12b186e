import Foundation
import XCTest
@testable import CKKS
import HEMath

/// Deterministic generator for reproducible tests (SplitMix64).
final class EncoderTests: XCTestCase {
    // MARK: Helpers

    /// A small test context over NTT primes of the given sizes (first is q_0), one 60-bit special prime.
    func smallContext(logN: Int, primeBits: [Int] = [60, 50, 50], logScale: Int = 40) throws -> CKKSContext {
        let n = 1 << logN
        let primes = try PrimeSearch.nttPrimes(bitSizes: primeBits + [60], degree: n)
        let parameters = try CKKSParameters(logDegree: logN, ciphertextPrimes: Array(primes.dropLast()),
                                            specialPrimes: [primes.last!], logScale: logScale,
                                            keySwitchDigits: primeBits.count, security: .insecureTestingOnly)
        return try CKKSContext(parameters: parameters)
    }

    /// The n8192-l2-like chain: q_0 of 60 bits, two 40-bit scale primes, a 60-bit special prime.
    static let context8192: CKKSContext = {
        let parameters = try! CKKSParameters(logDegree: 13, primeBits: [60, 40, 40], specialPrimeBits: [60], logScale: 40)
        return try! CKKSContext(parameters: parameters)
    }()

    func randomUnit(_ count: Int, _ rng: inout TestRNG) -> [Double] {
        (0..<count).map { _ in Double.random(in: -1...1, using: &rng) }
    }

    /// The slow, obvious oracle: m(ζ^(5^j mod 2N)) / Δ for j < N/2 by direct summation, with every
    /// power of ζ = exp(iπ/N) taken from its exponent reduced mod 2N.
    func directSlots(_ m: [Double], scale: Double) -> (real: [Double], imaginary: [Double]) {
        let degree = m.count, twoN = 2 * degree
        var re = [Double](), im = [Double]()
        var e = 1
        for _ in 0..<(degree / 2) {
            var sr = 0.0, si = 0.0
            for (i, c) in m.enumerated() {
                let angle = Double.pi * Double(e * i % twoN) / Double(degree)
                sr += c * cos(angle)
                si += c * sin(angle)
            }
            re.append(sr / scale)
            im.append(si / scale)
            e = e * 5 % twoN
        }
        return (re, im)
    }

    /// The centred integer coefficients of a coefficient-form polynomial, through GMP.
    func centredCoefficients(_ p: RNSPolynomial<Coefficient>) throws -> [BigInteger] {
        try p.basis.coefficients(of: p)
    }

    /// X^i ↦ X^(i·g mod 2N), negated when i·g mod 2N ≥ N, applied to every limb.
    func automorphism(_ p: RNSPolynomial<Coefficient>, _ g: UInt64) throws -> RNSPolynomial<Coefficient> {
        let n = p.degree
        var out = [UInt64](repeating: 0, count: p.residues.count)
        for (l, m) in p.basis.moduli.enumerated() {
            for i in 0..<n {
                let a = p.residues[l * n + i]
                let t = Int(UInt64(i) * g % UInt64(2 * n))
                if t < n { out[l * n + t] = a } else { out[l * n + t - n] = m.negate(a) }
            }
        }
        return try RNSPolynomial(basis: p.basis, residues: out)
    }

    func assertClose(_ a: [Double], _ b: [Double], within tolerance: Double, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssert(worst <= tolerance, "\(what): max error \(worst) > \(tolerance)", file: file, line: line)
    }

    func assertEncodingError<T>(_ body: @autoclosure () throws -> T, mentioning text: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case let CKKSError.encoding(message) = error else {
                return XCTFail("expected CKKSError.encoding, got \(error)", file: file, line: line)
            }
            XCTAssert(message.contains(text), "message \"\(message)\" does not mention \"\(text)\"", file: file, line: line)
        }
    }

    // MARK: Oracle tests (N = 16, 64)

    func testDecodeEqualsDirectEvaluation() throws {
        var rng = TestRNG(seed: 1)
        for logN in [4, 6] {
            let context = try smallContext(logN: logN)
            let encoder = Encoder(context: context)
            let n = context.degree
            // Coefficients up to 2^45 (one-prime fast path at level 0) and up to 2^100 (beyond
            // 64 bits, composed over three primes).
            for (level, bits) in [(0, 45), (2, 45), (2, 100)] {
                let basis = try context.basis(atLevel: level)
                let coefficients: [BigInteger] = (0..<n).map { _ in
                    BigInteger(magnitude: [rng.next(), rng.next()], isNegative: Bool.random(using: &rng)) >> (128 - bits)
                }
                let p = try basis.polynomial(coefficients: coefficients)
                let scale = 0x1p40
                let expected = directSlots(coefficients.map(\.doubleValue), scale: scale)
                let actual = try encoder.decodeComplex(coefficients: p, scale: scale)
                let magnitude = Double(n) * Double(sign: .plus, exponent: bits, significand: 1) / scale
                assertClose(actual.real, expected.real, within: 1e-13 * magnitude, "N=\(n) level \(level) real")
                assertClose(actual.imaginary, expected.imaginary, within: 1e-13 * magnitude, "N=\(n) level \(level) imaginary")
                // The GMP composition decodes to the very same doubles.
                let viaGMP = try encoder.decodeComplex(coefficients: p, scale: scale, composition: .gmp)
                XCTAssertEqual(viaGMP.real, actual.real)
                XCTAssertEqual(viaGMP.imaginary, actual.imaginary)
            }
        }
    }

    func testEncodeSatisfiesEmbeddingAndRoundTrips() throws {
        var rng = TestRNG(seed: 2)
        for logN in [4, 6] {
            let context = try smallContext(logN: logN)
            let encoder = Encoder(context: context)
            let n = context.slotCount
            for level in 0...context.maxLevel {
                let re = randomUnit(n, &rng), im = randomUnit(n, &rng)
                let scale = 0x1p40
                // Encoding alone, checked against direct evaluation: m(ζ^(5^j)) = Δ·z_j.
                let m = try encoder.encodeCoefficients(real: re, imaginary: im, scale: scale, level: level)
                let direct = directSlots(try centredCoefficients(m).map(\.doubleValue), scale: scale)
                assertClose(direct.real, re, within: 0x1p-30, "N=\(2 * n) level \(level) embedding, real")
                assertClose(direct.imaginary, im, within: 0x1p-30, "N=\(2 * n) level \(level) embedding, imaginary")
                // Through the NTT form and back.
                let decoded = try encoder.decodeComplex(encoder.encode(real: re, imaginary: im, scale: scale, level: level))
                assertClose(decoded.real, re, within: 0x1p-30, "N=\(2 * n) level \(level) round trip, real")
                assertClose(decoded.imaginary, im, within: 0x1p-30, "N=\(2 * n) level \(level) round trip, imaginary")
            }
        }
    }

    func testSpecialFFTInverts() throws {
        var rng = TestRNG(seed: 3)
        for logN in [1, 2, 5, 10, 14] {
            let fft = try SpecialFFT(degree: 1 << logN)
            let n = fft.slotCount
            let re = randomUnit(n, &rng), im = randomUnit(n, &rng)
            var a = re, b = im
            fft.inverse(real: &a, imaginary: &b, factor: 3)
            fft.forward(real: &a, imaginary: &b)
            assertClose(a, re.map { 3 * $0 }, within: 1e-12, "N=\(1 << logN) forward∘inverse")
            assertClose(b, im.map { 3 * $0 }, within: 1e-12, "N=\(1 << logN) forward∘inverse")
        }
        XCTAssertThrowsError(try SpecialFFT(degree: 12))
        XCTAssertEqual(try SpecialFFT(degree: 16).rotationGroup, [1, 5, 25, 29, 17, 21, 9, 13])
    }

    func testFixedWidthCompositionMatchesGMP() throws {
        var rng = TestRNG(seed: 4)
        for sizes in [[60], [60, 50], [60, 50, 50], [61, 61, 61, 61], [30, 31], [50, 55, 60, 61, 40, 45, 58]] {
            let n = 64
            let basis = try RNSBasis(degree: n, primes: PrimeSearch.nttPrimes(bitSizes: sizes, degree: n))
            let half = basis.halfProduct
            var values: [BigInteger] = [0, 1, -1, half, -half, half - 1, -half + 1, half >> 1, -(half >> 1)]
            while values.count < n {   // uniform residues: centred values spread over (−Q/2, Q/2]
                values.append(try basis.compose(basis.moduli.map { rng.next() % $0.value }))
            }
            let p = try basis.polynomial(coefficients: values)
            var out = [Double](repeating: .nan, count: n)
            p.withUnsafeLimbs { limbs in
                out.withUnsafeMutableBufferPointer { o in
                    CRTComposer(basis: basis).compose(limbs.baseAddress!, degree: n, coefficients: 0..<n,
                                                      factor: 1, into: o.baseAddress!)
                }
            }
            XCTAssertEqual(out, values.map(\.doubleValue), "\(sizes)")
        }
    }

    // MARK: N = 8192, n8192-l2-like chain

    func testRoundTripAtEveryLevelN8192() throws {
        let context = Self.context8192
        let encoder = Encoder(context: context)
        var rng = TestRNG(seed: 5)
        for level in [2, 1, 0] {
            let values = randomUnit(context.slotCount, &rng)
            let plaintext = try encoder.encode(values, scale: context.parameters.scale, level: level)
            XCTAssertEqual(plaintext.level, level)
            XCTAssertEqual(plaintext.polynomial.limbCount, level + 1)
            let decoded = try encoder.decodeComplex(plaintext)
            assertClose(decoded.real, values, within: 0x1p-25, "level \(level) real")
            assertClose(decoded.imaginary, [Double](repeating: 0, count: values.count), within: 0x1p-25, "level \(level) imaginary")
        }
        // A short vector is zero-padded.
        let short = try encoder.decode(encoder.encode([0.5, -0.25, 1], scale: 0x1p40, level: 1))
        assertClose(short, [0.5, -0.25, 1] + [Double](repeating: 0, count: context.slotCount - 3), within: 0x1p-25, "zero padding")
    }

    func testScalarEncodingN8192() throws {
        let context = Self.context8192
        let encoder = Encoder(context: context)
        for (c, level) in [(0.7134, 2), (-3.25, 0), (0.0, 1)] {
            let plaintext = try encoder.encode(scalar: c, scale: 0x1p40, level: level)
            let decoded = try encoder.decodeComplex(plaintext)
            assertClose(decoded.real, [Double](repeating: c, count: context.slotCount), within: 0x1p-30, "scalar \(c)")
            assertClose(decoded.imaginary, [Double](repeating: 0, count: context.slotCount), within: 0x1p-30, "scalar \(c)")
            // Same polynomial as encoding the constant vector, up to rounding of the FFT.
            let vector = try encoder.decode(encoder.encode([Double](repeating: c, count: context.slotCount), scale: 0x1p40, level: level))
            assertClose(vector, decoded.real, within: 0x1p-30, "scalar vs vector \(c)")
        }
        // Beyond 2^62: exact GMP rounding of the constant.
        let big = try encoder.decode(encoder.encode(scalar: 1234.5, scale: 0x1p80, level: 2))
        assertClose(big, [Double](repeating: 1234.5, count: context.slotCount), within: 0x1p-40, "scalar at 2^80")
    }

    func testScale2To80BeyondSixtyFourBitsN8192() throws {
        let context = Self.context8192
        let encoder = Encoder(context: context)
        var rng = TestRNG(seed: 6)
        let n = context.slotCount
        let re = randomUnit(n, &rng), im = randomUnit(n, &rng)
        let m = try encoder.encodeCoefficients(real: re, imaginary: im, scale: 0x1p80, level: 2)
        // The encoding really went through the GMP rounding path and needs more than 64 bits.
        let widths = try centredCoefficients(m).map(\.bitWidth)
        XCTAssertGreaterThan(widths.max()!, 64)
        let decoded = try encoder.decodeComplex(encoder.encode(real: re, imaginary: im, scale: 0x1p80, level: 2))
        assertClose(decoded.real, re, within: 0x1p-25, "2^80 real")
        assertClose(decoded.imaginary, im, within: 0x1p-25, "2^80 imaginary")
        let viaGMP = try encoder.decodeComplex(coefficients: m, scale: 0x1p80, composition: .gmp)
        let fixed = try encoder.decodeComplex(coefficients: m, scale: 0x1p80)
        XCTAssertEqual(viaGMP.real, fixed.real)
        XCTAssertEqual(viaGMP.imaginary, fixed.imaginary)
    }

    // MARK: The contract with the evaluator (N = 64)

    func testGaloisAutomorphismsRotateAndConjugate() throws {
        let context = try smallContext(logN: 6)
        let encoder = Encoder(context: context)
        var rng = TestRNG(seed: 7)
        let n = context.slotCount
        let re = randomUnit(n, &rng), im = randomUnit(n, &rng)
        let m = try encoder.encodeCoefficients(real: re, imaginary: im, scale: 0x1p40, level: 1)
        for step in [1, 2, 5, n - 1, -1, -3] {
            let g = context.galoisElement(forStep: step)
            let rotated = try encoder.decodeComplex(coefficients: automorphism(m, g), scale: 0x1p40)
            let shift = { (j: Int) in ((j + step) % n + n) % n }   // slot j ← slot j + step
            assertClose(rotated.real, (0..<n).map { re[shift($0)] }, within: 0x1p-30, "rotation by \(step), real")
            assertClose(rotated.imaginary, (0..<n).map { im[shift($0)] }, within: 0x1p-30, "rotation by \(step), imaginary")
        }
        let conjugated = try encoder.decodeComplex(coefficients: automorphism(m, context.conjugationElement), scale: 0x1p40)
        assertClose(conjugated.real, re, within: 0x1p-30, "conjugation, real")
        assertClose(conjugated.imaginary, im.map { -$0 }, within: 0x1p-30, "conjugation, imaginary")
    }

    // MARK: Errors

    func testEncodingErrors() throws {
        let context = try smallContext(logN: 6)
        let encoder = Encoder(context: context)
        let n = context.slotCount
        assertEncodingError(try encoder.encode([Double](repeating: 0, count: n + 1), scale: 0x1p40, level: 0), mentioning: "\(n + 1) values")
        assertEncodingError(try encoder.encode(real: [1], imaginary: [Double](repeating: 0, count: n + 1), scale: 0x1p40, level: 0), mentioning: "slots")
        assertEncodingError(try encoder.encode([1, .nan], scale: 0x1p40, level: 0), mentioning: "value 1 is nan")
        assertEncodingError(try encoder.encode([.infinity], scale: 0x1p40, level: 0), mentioning: "value 0 is inf")
        assertEncodingError(try encoder.encode(real: [1], imaginary: [0, -.infinity], scale: 0x1p40, level: 0), mentioning: "imaginary part 1")
        assertEncodingError(try encoder.encode(scalar: .nan, scale: 0x1p40, level: 0), mentioning: "nan")
        for scale in [0, -0x1p40, .nan, .infinity] {
            assertEncodingError(try encoder.encode([1], scale: scale, level: 0), mentioning: "scale")
            assertEncodingError(try encoder.encode(scalar: 1, scale: scale, level: 0), mentioning: "scale")
        }
        for level in [-1, context.maxLevel + 1] {
            assertEncodingError(try encoder.encode([1], scale: 0x1p40, level: level), mentioning: "level \(level)")
            assertEncodingError(try encoder.encode(scalar: 1, scale: 0x1p40, level: level), mentioning: "level \(level)")
        }
        // Q_0 ≈ 2^60: a message of 2^80 would wrap at level 0 but fits at level 2 (Q ≈ 2^160).
        assertEncodingError(try encoder.encode([1, -0.5], scale: 0x1p80, level: 0), mentioning: "lower the scale")
        assertEncodingError(try encoder.encode(scalar: 1, scale: 0x1p80, level: 0), mentioning: "higher level")
        XCTAssertNoThrow(try encoder.encode([1, -0.5], scale: 0x1p80, level: 2))
        assertEncodingError(try encoder.encode([1e300], scale: 0x1p100, level: 2), mentioning: "overflows")
        // Just above and just below Q/2 at level 0, for the scalar (the coefficient is Δ·c exactly).
        let half = try context.basis(atLevel: 0).halfProduct.doubleValue
        assertEncodingError(try encoder.encode(scalar: 2, scale: half, level: 0), mentioning: "wrap")
        XCTAssertNoThrow(try encoder.encode(scalar: 0.5, scale: half, level: 0))
    }

    func testDecodingErrors() throws {
        let context = try smallContext(logN: 6)
        let encoder = Encoder(context: context)
        let plaintext = try encoder.encode([1], scale: 0x1p40, level: 1)
        let m = plaintext.polynomial.inverseNTT()
        XCTAssertThrowsError(try encoder.decode(coefficients: m, scale: 0))
        XCTAssertThrowsError(try encoder.decode(coefficients: m, scale: .nan))
        // A polynomial over primes that are not a level of this context.
        let foreign = try RNSBasis(degree: 64, primes: PrimeSearch.nttPrimes(bitSizes: [40], degree: 64))
        XCTAssertThrowsError(try encoder.decode(coefficients: RNSPolynomial(zeroIn: foreign), scale: 0x1p40)) { error in
            guard case CKKSError.levelMismatch = error else { return XCTFail("expected levelMismatch, got \(error)") }
        }
        // A plaintext of another parameter set.
        let other = Encoder(context: try smallContext(logN: 6, primeBits: [60, 50]))
        XCTAssertThrowsError(try other.decode(plaintext)) { error in
            guard case CKKSError.parameterMismatch = error else { return XCTFail("expected parameterMismatch, got \(error)") }
        }
    }
}
