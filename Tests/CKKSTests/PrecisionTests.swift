import XCTest
@testable import CKKS
import HEMath

/// Every operation against plaintext arithmetic on the decoded slots, precision in bits:
/// −log2 of the largest absolute error over all slots, inputs uniform in [−1, 1].
final class PrecisionTests: XCTestCase {
    private func bits(_ got: [Double], _ want: [Double]) -> Double {
        let worst = zip(got, want).map { abs($0 - $1) }.max()!
        return -log2(max(worst, 0x1p-60))
    }

    private func random(_ count: Int, _ rng: inout TestRNG) -> [Double] {
        (0..<count).map { _ in Double.random(in: -1...1, using: &rng) }
    }

    func testN8192FreshAndProductPrecision() throws {
        let context = try CKKSContext(parameters: ParameterPreset.named("n8192-l2").parameters())
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let keys = try keygen.evaluationKeys(for: sk, rotations: [1, 3, -2, 7], conjugation: true)
        let encoder = Encoder(context: context)
        let evaluator = Evaluator(context: context, keys: keys)
        let decryptor = Decryptor(secretKey: sk)
        let n = context.slotCount
        var rng = TestRNG(seed: 7)
        let a = random(n, &rng), b = random(n, &rng)
        let scale = context.parameters.scale
        let pa = try encoder.encode(a, scale: scale, level: 2)
        let pb = try encoder.encode(b, scale: scale, level: 2)
        func decrypt(_ c: Ciphertext) throws -> [Double] { try encoder.decode(decryptor.decrypt(c)) }

        for encryptor in [Encryptor(publicKey: try keygen.publicKey(for: sk)), Encryptor(secretKey: sk)] {
            let ca = try encryptor.encrypt(pa)
            let cb = try encryptor.encrypt(pb)
            let fresh = bits(try decrypt(ca), a)
            XCTAssertGreaterThanOrEqual(fresh, 20, "fresh encrypt/decrypt: \(fresh) bits")
            print(String(format: "precision N=8192: fresh %.1f bits", fresh))

            let sum = bits(try decrypt(evaluator.add(ca, cb)), zip(a, b).map(+))
            XCTAssertGreaterThanOrEqual(sum, 20, "add: \(sum) bits")
            XCTAssertGreaterThanOrEqual(bits(try decrypt(evaluator.subtract(ca, cb)), zip(a, b).map(-)), 20)
            XCTAssertGreaterThanOrEqual(bits(try decrypt(evaluator.negate(ca)), a.map(-)), 20)
            XCTAssertGreaterThanOrEqual(bits(try decrypt(evaluator.add(ca, pb)), zip(a, b).map(+)), 20)
            XCTAssertGreaterThanOrEqual(bits(try decrypt(evaluator.add(ca, constant: 0.25)), a.map { $0 + 0.25 }), 20)
            XCTAssertGreaterThanOrEqual(bits(try decrypt(evaluator.multiply(ca, integer: -3)), a.map { -3 * $0 }), 18)

            let product = try evaluator.rescale(evaluator.multiply(ca, cb))
            let productBits = bits(try decrypt(product), zip(a, b).map(*))
            XCTAssertGreaterThanOrEqual(productBits, 18, "multiply + relinearize + rescale: \(productBits) bits")
            print(String(format: "precision N=8192: multiply+relinearize+rescale %.1f bits", productBits))
            XCTAssertGreaterThanOrEqual(bits(try decrypt(evaluator.rescale(evaluator.square(ca))), a.map { $0 * $0 }), 18)
            XCTAssertGreaterThanOrEqual(bits(try decrypt(evaluator.rescale(evaluator.multiply(ca, pb))), zip(a, b).map(*)), 18)
            XCTAssertGreaterThanOrEqual(bits(try decrypt(evaluator.rescale(evaluator.multiply(ca, constant: 0.75))), a.map { 0.75 * $0 }), 18)

            for k in [1, 3, -2, 7] {
                let rotated = (0..<n).map { a[(($0 + k) % n + n) % n] }
                XCTAssertGreaterThanOrEqual(bits(try decrypt(evaluator.rotate(ca, by: k)), rotated), 20, "rotate \(k)")
            }
            let hoisted = try evaluator.rotations(of: ca, by: [1, 3, -2, 7])
            for (k, c) in hoisted {
                XCTAssertGreaterThanOrEqual(bits(try decrypt(c), (0..<n).map { a[(($0 + k) % n + n) % n] }), 20, "hoisted \(k)")
            }
            // Conjugation of a real vector is the identity on the real parts, and negates imaginary parts.
            let complex = try encoder.encode(real: a, imaginary: b, scale: scale, level: 2)
            let conjugated = try encoder.decodeComplex(decryptor.decrypt(evaluator.conjugate(encryptor.encrypt(complex))))
            XCTAssertGreaterThanOrEqual(bits(conjugated.real, a), 20)
            XCTAssertGreaterThanOrEqual(bits(conjugated.imaginary, b.map(-)), 20)
        }
    }

    func testRotateAndSum() throws {
        let context = try CKKSContext(parameters: ParameterPreset.named("n8192-l2").parameters())
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let keys = try keygen.evaluationKeys(for: sk, rotations: [1, 2, 4, 8])
        let encoder = Encoder(context: context)
        var rng = TestRNG(seed: 8)
        let a = random(context.slotCount, &rng)
        let ct = try Encryptor(secretKey: sk).encrypt(encoder.encode(a, scale: context.parameters.scale, level: 2))
        let summed = try Evaluator(context: context, keys: keys).rotateAndSum(ct, span: 16)
        let got = try encoder.decode(Decryptor(secretKey: sk).decrypt(summed))
        let n = context.slotCount
        let want = (0..<n).map { i in (0..<16).reduce(0.0) { $0 + a[(i + $1) % n] } }
        XCTAssertGreaterThanOrEqual(bits(got, want), 16)
    }

    func testEveryLevelOfN16384L6KeepsFifteenBits() throws {
        // x ↦ x·y per level, rescaling each time: uses all six levels of the preset.
        let context = try CKKSContext(parameters: ParameterPreset.named("n16384-l6").parameters())
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let evaluator = Evaluator(context: context, keys: try keygen.evaluationKeys(for: sk))
        let encoder = Encoder(context: context)
        let encryptor = Encryptor(publicKey: try keygen.publicKey(for: sk))
        var rng = TestRNG(seed: 9)
        let n = context.slotCount
        var plain = random(n, &rng)
        var ct = try encryptor.encrypt(encoder.encode(plain, scale: context.parameters.scale, level: context.maxLevel))
        while ct.level > 0 {
            let y = random(n, &rng)
            let cy = try encryptor.encrypt(encoder.encode(y, scale: context.parameters.scale, level: ct.level))
            ct = try evaluator.rescale(evaluator.multiply(ct, cy))
            plain = zip(plain, y).map(*)
        }
        XCTAssertEqual(ct.level, 0)
        let precision = bits(try encoder.decode(Decryptor(secretKey: sk).decrypt(ct)), plain)
        XCTAssertGreaterThanOrEqual(precision, 15, "after six multiplications: \(precision) bits")
        print(String(format: "precision n16384-l6 after all six levels: %.1f bits", precision))
    }

    /// Issue 16's deep-chain check: fresh encryption, then 30 × (multiply by a plaintext, rescale).
    /// Each plaintext is encoded at the prime it is rescaled by, as the compiler's kernels do, so
    /// the scale returns exactly to Δ; its values lie in ±[0.7, 1.4] so the message keeps its
    /// size. Returns the worst error in bits relative to the largest |value|, against the same
    /// products in Double.
    private func thirtyLevelPrecision(logDegree: Int, q0: Int, scale: Int, special: Int) throws -> Double {
        let parameters = try CKKSParameters(logDegree: logDegree, primeBits: [q0] + Array(repeating: scale, count: 30),
                                            specialPrimeBits: [special], logScale: scale)
        let context = try CKKSContext(parameters: parameters)
        let sk = KeyGenerator(context: context).secretKey()
        let encoder = Encoder(context: context)
        let evaluator = Evaluator(context: context)
        var rng = TestRNG(seed: 30)
        let n = context.slotCount
        var plain = random(n, &rng)
        var ct = try Encryptor(secretKey: sk).encrypt(encoder.encode(plain, scale: parameters.scale, level: context.maxLevel))
        var steps = 0
        while ct.level > 0 {
            let y = (0..<n).map { _ in Double.random(in: 0.7...1.4, using: &rng) * (Bool.random(using: &rng) ? 1 : -1) }
            let q = Double(parameters.ciphertextPrimes[ct.level])
            ct = try evaluator.rescale(evaluator.multiply(ct, encoder.encode(y, scale: q, level: ct.level)))
            plain = zip(plain, y).map(*)
            steps += 1
        }
        XCTAssertEqual(steps, 30)
        let got = try encoder.decode(Decryptor(secretKey: sk).decrypt(ct))
        let largest = plain.map(abs).max()!
        let worst = zip(got, plain).map { abs($0 - $1) }.max()!
        return -log2(worst / largest)
    }

    /// The set the compiler picks for a 30-level chain at the default 29-bit floor (N = 65536,
    /// Δ = 2^40: N = 32768 cannot hold 30 × 29 bits), and the tightest 128-bit set of N = 32768
    /// (thirty 26-bit primes, log2 QP 880 ≤ 881), where the scale leaves about 11 bits.
    func testThirtyLevelChainKeepsTwelveBits() throws {
        let chosen = try thirtyLevelPrecision(logDegree: 16, q0: 52, scale: 40, special: 52)
        XCTAssertGreaterThanOrEqual(chosen, 20, "N = 65536, Δ = 2^40, after thirty levels: \(chosen) bits")
        let tight = try thirtyLevelPrecision(logDegree: 15, q0: 50, scale: 26, special: 50)
        // The encryption noise is fresh each run: 10.6–12.4 bits seen here (23.9–25.0 at N = 65536).
        XCTAssertGreaterThanOrEqual(tight, 9, "N = 32768, Δ = 2^26, after thirty levels: \(tight) bits")
        print(String(format: "precision after a 30-level chain: %.1f bits (N = 65536, Δ = 2^40), %.1f bits (N = 32768, Δ = 2^26), relative to the largest |value|", chosen, tight))
    }

    /// Issue 16's ResNet-20 finding: with several special primes the approximate basis
    /// conversions of key switching left an offset of mean (k − 1)/2 per coefficient that added
    /// up in the slots near ζ (N = 8192, four special primes: rotation at 11.0–11.8 bits against
    /// 19.4 fresh; N = 65536: 4.9–7.5 of 17.7). Exact conversions make a rotation with four
    /// special primes as precise as with one. The key-switching error k_0 + k_1·s − σ(c)·σ(s) is
    /// read exactly: decrypting σ(c) under σ(s) gives σ(m + e) without key switching.
    func testRotationWithSeveralSpecialPrimesIsAsPreciseAsWithOne() throws {
        var precision: [Int: Double] = [:]
        for special in [[59], [59, 59, 59, 59]] {
            let parameters = try CKKSParameters(logDegree: 13, primeBits: [50] + Array(repeating: 29, count: 16),
                                                specialPrimeBits: special, logScale: 29,
                                                keySwitchDigits: special.count == 1 ? 17 : 3, security: .insecureTestingOnly)
            let context = try CKKSContext(parameters: parameters)
            let keygen = KeyGenerator(context: context)
            let sk = keygen.secretKey()
            let evaluator = Evaluator(context: context, keys: try keygen.evaluationKeys(for: sk, rotations: [1]))
            let encoder = Encoder(context: context)
            var rng = TestRNG(seed: 16)
            let n = context.slotCount
            let a = random(n, &rng)
            let ct = try Encryptor(secretKey: sk).encrypt(encoder.encode(a, scale: parameters.scale, level: context.maxLevel))
            let rotated = try Decryptor(secretKey: sk).decrypt(evaluator.rotate(ct, by: 1))
            precision[special.count] = bits(try encoder.decode(rotated), (0..<n).map { a[($0 + 1) % n] })

            let perm = context.galoisPermutation(context.galoisElement(forStep: 1))
            let sigmaS = SecretKey(context: context, polynomial: sk.withSecret { $0.permuted(by: perm) })
            let unswitched = Ciphertext(context: context, components: ct.components.map { $0.permuted(by: perm) },
                                        level: ct.level, scale: ct.scale)
            let exact = try Decryptor(secretKey: sigmaS).decrypt(unswitched)
            let error = try zip(coefficients(rotated), coefficients(exact)).map { ($0 - $1).doubleValue }
            let mean = error.reduce(0, +) / Double(error.count)
            // The rounding error r_0 + r_1·s has mean 0 and standard deviation about 0.3·√(2N/3) ≈ 22;
            // the approximate ModDown gave a mean of 192 here.
            XCTAssertLessThan(abs(mean), 3, "\(special.count) special primes: key-switching error has mean \(mean)")
        }
        let one = precision[1]!, four = precision[4]!
        XCTAssertGreaterThanOrEqual(four, one - 1.5, "rotation: \(four) bits with four special primes, \(one) with one")
        XCTAssertGreaterThanOrEqual(four, 14, "rotation at N = 8192, Δ = 2^29, four special primes: \(four) bits")
        print(String(format: "rotation precision N = 8192, Δ = 2^29: %.1f bits (1 special prime), %.1f bits (4 special primes)", one, four))
    }
}
