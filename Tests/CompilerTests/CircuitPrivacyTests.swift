@testable import CKKS
import Foundation
import HEMath
import XCTest
@testable import Compiler

/// Circuit privacy (`ResultSanitizer`, sized by `CircuitPrivacy`): the flooding sampler is exact,
/// a sanitized result decrypts to the read slots, and two circuits that agree on the read slots
/// give results a two-sample Kolmogorov–Smirnov test cannot tell apart — which it can without
/// the sanitization, and with the mask alone.
final class CircuitPrivacyTests: XCTestCase {
    /// N = 4096 (insecure, for speed), chain scale 2^30, output slots below 2^6: the sizing gives
    /// two 59-bit primes at the output level and one 30-bit level above it.
    static let request = CircuitPrivacy.Request(slotBits: 6)
    static let sizes = CircuitPrivacy.sized(request, logDegree: 12, logScale: 30)

    func context() throws -> CKKSContext {
        let base = CircuitPrivacy.basePrimeBits(Self.sizes.outputModulusBits(logScale: 30, outputBits: 4))
        let p = try CKKSParameters(logDegree: 12, primeBits: base + [30], specialPrimeBits: [60], logScale: 30,
                                   security: .insecureTestingOnly)
        return try CKKSContext(parameters: p)
    }

    func testFloodingIsUniformOnItsInterval() throws {
        let ctx = try context()
        let basis = try ctx.basis(atLevel: 1)
        var stream = Sampler.freshStream()
        // Narrow: the 8 values −4 … 3, equally often (4096 draws: 512 each, σ ≈ 21).
        let narrow = try basis.coefficients(of: Sampler.flooding(basis: basis, bits: 2, using: &stream))
        var counts: [Int: Int] = [:]
        for v in narrow { counts[Int(v.doubleValue), default: 0] += 1 }
        XCTAssertEqual(Set(counts.keys), Set(-4...3))
        for (v, c) in counts { XCTAssertTrue((400...624).contains(c), "value \(v) drawn \(c) times of 4096") }
        // Wide (two words per coefficient): within [−2^100, 2^100), both halves used, mean ≈ 0.
        let wide = try basis.coefficients(of: Sampler.flooding(basis: basis, bits: 100, using: &stream)).map(\.doubleValue)
        let bound = 0x1p100
        XCTAssertTrue(wide.allSatisfy { $0 >= -bound && $0 < bound })
        XCTAssertGreaterThan(wide.max()!, bound * 0.99)
        XCTAssertLessThan(wide.min()!, -bound * 0.99)
        let mean = wide.reduce(0, +) / Double(wide.count)
        XCTAssertLessThan(abs(mean), bound * 0.05)   // σ of the mean ≈ 2^100/√(3·4096) ≈ 0.009·2^100
    }

    /// x ⊙ w at the output level with one rescale, as a last layer computes it.
    func circuit(_ ctx: CKKSContext, _ encryptor: Encryptor, x: [Double], w: [Double]) throws -> Ciphertext {
        let encoder = Encoder(context: ctx)
        let top = ctx.maxLevel
        let ct = try encryptor.encrypt(encoder.encode(x, scale: ctx.parameters.scale, level: top))
        let q = Double(ctx.parameters.ciphertextPrimes[top])
        let product = try Evaluator(context: ctx).multiply(ct, encoder.encode(w, scale: q, level: top))
        return try Evaluator(context: ctx).rescale(product)
    }

    /// Two-sample Kolmogorov–Smirnov statistic sup |F_a − F_b|.
    func ks(_ a: [Double], _ b: [Double]) -> Double {
        let x = a.sorted(), y = b.sorted()
        var i = 0, j = 0, d = 0.0
        while i < x.count && j < y.count {
            let v = min(x[i], y[j])
            while i < x.count && x[i] <= v { i += 1 }
            while j < y.count && y[j] <= v { j += 1 }
            d = max(d, abs(Double(i) / Double(x.count) - Double(j) / Double(y.count)))
        }
        return d
    }

    func testSanitizedResultsOfAgreeingCircuitsAreIndistinguishable() throws {
        let ctx = try context()
        let keygen = KeyGenerator(context: ctx)
        let sk = keygen.secretKey()
        let pk = try keygen.publicKey(for: sk)
        let encryptor = Encryptor(secretKey: sk)
        let decryptor = Decryptor(secretKey: sk)
        let encoder = Encoder(context: ctx)
        let n = ctx.slotCount
        let read = 10
        var rng = SystemRandomNumberGenerator()
        let x = (0..<n).map { _ in Double.random(in: -1...1, using: &rng) }
        // Two "models": the same weights where the client reads (so the same logits), different
        // ones elsewhere (the partial sums a layout leaves in garbage slots).
        let wA = (0..<n).map { _ in Double.random(in: -4...4, using: &rng) }
        var wB = wA
        for j in read..<n { wB[j] = -3 * wA[j] }
        let logits = (0..<read).map { x[$0] * wA[$0] }
        let sizes = Self.sizes
        let outputLevel = ctx.maxLevel - 1
        let maskPlain = try encoder.encodeMaskPrecisely(Set(0..<read), logScale: sizes.maskLogScale, level: outputLevel)
        let sanitizer = ResultSanitizer(publicKey: pk)

        func unread(_ ct: Ciphertext) throws -> [Double] {
            Array(try encoder.decode(decryptor.decrypt(ct))[read...])
        }
        let a = try circuit(ctx, encryptor, x: x, w: wA), b = try circuit(ctx, encryptor, x: x, w: wB)
        XCTAssertEqual(a.level, outputLevel)
        // The critical value of the two-sample test at α = 10^-6 for these sample sizes.
        let m = Double(n - read)
        let critical = (-log(1e-6 / 2) / 2).squareRoot() * (2 / m).squareRoot()

        // Unsanitized: the garbage slots differ outright.
        let plain = ks(try unread(a), try unread(b))
        XCTAssertGreaterThan(plain, critical)
        // Sanitized: the same distribution, and the read slots are the logits.
        let sa = try sanitizer.sanitize(a, mask: maskPlain, floodBits: sizes.floodBits)
        let sb = try sanitizer.sanitize(b, mask: maskPlain, floodBits: sizes.floodBits)
        let sanitized = ks(try unread(sa), try unread(sb))
        XCTAssertLessThan(sanitized, critical, "sanitized results of two agreeing circuits are told apart (KS D = \(sanitized))")
        print("circuit privacy, two-sample KS over \(n - read) unread slots: D = \(String(format: "%.4f", plain)) unsanitized, \(String(format: "%.4f", sanitized)) sanitized; critical value at α = 1e-6: \(String(format: "%.4f", critical))")
        for ct in [sa, sb] {
            XCTAssertNil(ct.seed)
            let values = try encoder.decode(decryptor.decrypt(ct))
            for j in 0..<read { XCTAssertEqual(values[j], logits[j], accuracy: 1e-3) }
            // The flooding dominates the unread slots and stays below the precision it promised.
            let rest = values[read...]
            let rms = (rest.reduce(0) { $0 + $1 * $1 } / Double(rest.count)).squareRoot()
            XCTAssertLessThan(rms, pow(2, -Double(sizes.precisionBits)))
            XCTAssertGreaterThan(rms, pow(2, -Double(sizes.precisionBits) - 4))
        }
        // The same result sanitized twice shares no c_1: it is re-randomized each time.
        let again = try sanitizer.sanitize(a, mask: maskPlain, floodBits: sizes.floodBits)
        XCTAssertNotEqual(again.components[1].residues, sa.components[1].residues)
    }

    /// The double-double cosine table: Σ_j cos(π·e_j·k/N) over all slots is (N/2)·[k = 0]
    /// exactly, so any error of the table shows; and cos(π/4) = √2/2.
    func testCosineTableHolds104Bits() {
        let n = 1024, twoN = 2 * n
        let table = DoubleDouble.cosineTable(degree: n)
        let rootHalf = DoubleDouble(hi: 0.7071067811865476, lo: -4.833646656726457e-17)
        let d = table[n / 4] + (-rootHalf)
        XCTAssertLessThan(abs(d.hi + d.lo), 0x1p-104)
        var exponents = [1]
        for _ in 1..<(n / 2) { exponents.append(exponents.last! * 5 % twoN) }
        var worst = 0.0
        for k in 1..<n {
            var sum = DoubleDouble.zero
            for e in exponents { sum = sum + table[e * k % twoN] }
            worst = max(worst, abs(sum.hi + sum.lo))
        }
        XCTAssertLessThan(worst, 0x1p-95)
    }

    /// The precise mask is 1 in its slots and 0 elsewhere up to its integer rounding (≤ N·2^-m,
    /// evaluated here from its integer coefficients in double-double); `encode` in doubles leaves
    /// about 2^-56 here — which no flooding could hide behind the logits' precision.
    func testPreciseMaskIsExactWhereDoublesAreNot() throws {
        let ctx = try context()
        let encoder = Encoder(context: ctx)
        let level = ctx.maxLevel - 1
        let m = Self.sizes.maskLogScale
        let slots: Set<Int> = [0, 3, 17, 100, 1000]
        let precise = try encoder.encodeMaskPrecisely(slots, logScale: m, level: level)
        var dense = [Double](repeating: 0, count: ctx.slotCount)
        for j in slots { dense[j] = 1 }
        let rough = try encoder.encode(dense, scale: precise.scale, level: level)
        // Both agree to double precision (the slot order is the encoder's).
        let a = try encoder.decode(precise), b = try encoder.decode(rough)
        for j in 0..<ctx.slotCount { XCTAssertEqual(a[j], b[j], accuracy: 1e-9) }
        func slotValues(_ p: Plaintext, _ checked: [Int]) throws -> [Double] {
            let coefficients = try p.polynomial.basis.coefficients(of: p.polynomial.inverseNTT())
            let dd = try coefficients.map { c -> DoubleDouble in
                let hi = c.doubleValue
                return DoubleDouble(hi: hi, lo: (c - (try BigInteger(roundingToNearest: hi))).doubleValue)
            }
            let degree = ctx.degree, twoN = 2 * degree
            let table = DoubleDouble.cosineTable(degree: degree)
            var e = 1, exponents: [Int] = []
            for _ in 0..<ctx.slotCount { exponents.append(e); e = e * 5 % twoN }
            return checked.map { j in
                var sum = DoubleDouble.zero
                for k in 0..<degree { sum = sum + dd[k] * table[exponents[j] * k % twoN] }
                let v = sum * Double(sign: .plus, exponent: -m, significand: 1)
                return (v.hi + (-(slots.contains(j) ? 1.0 : 0.0))) + v.lo
            }
        }
        let checked = Array(slots) + [1, 2, 5, 50, 999, 2047]
        let preciseErrors = try slotValues(precise, checked).map(abs)
        let roughErrors = try slotValues(rough, checked).map(abs)
        // Integer coefficients within 1 of exact: at most N·2^-m per slot (2^-66 here).
        XCTAssertLessThan(preciseErrors.max()!, Double(ctx.degree) * pow(2, -Double(m)), "\(preciseErrors)")
        XCTAssertGreaterThan(roughErrors.max()!, 0x1p-63, "\(roughErrors)")
        // Many slots: the complement is encoded instead, to the same precision.
        let most = Set(0..<ctx.slotCount).subtracting([7, 8, 9])
        let complement = try encoder.encodeMaskPrecisely(most, logScale: m, level: level)
        let c = try encoder.decode(complement)
        for j in [0, 7, 8, 9, 10] { XCTAssertEqual(c[j], most.contains(j) ? 1 : 0, accuracy: 1e-9) }
    }

    func testSizingMatchesTheBounds() {
        let s = CircuitPrivacy.sized(.init(slotBits: 9), logDegree: 14, logScale: 40)
        XCTAssertEqual(s.floodBits, 40 + 9 + 14 + 40 + 1)
        // Flooding std in a logit: 2^b·√(N/6) / (2^(s−1)·2^m) ≤ 2^−14.
        XCTAssertLessThanOrEqual(Double(s.floodBits) + 0.5 * log2(16384.0 / 6) - Double(39 + s.maskLogScale), -14)
        XCTAssertEqual(CircuitPrivacy.basePrimeBits(135), [45, 45, 45])
        XCTAssertEqual(CircuitPrivacy.basePrimeBits(52), [52])
    }
}
