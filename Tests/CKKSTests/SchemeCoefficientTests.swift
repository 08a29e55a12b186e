import XCTest
@testable import CKKS
import HEMath

/// The scheme checked on raw integer coefficients against exact oracles (the GMP reference ring
/// for products, coefficient permutations for automorphisms), independent of the encoder.
final class SchemeCoefficientTests: XCTestCase {
    func testEncryptDecryptPublicAndSymmetric() throws {
        let context = try TestParameters.small()
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let pk = try keygen.publicKey(for: sk)
        var rng = TestRNG(seed: 1)
        for level in [2, 0] {
            let m = randomCoefficients(count: context.degree, bits: 30, using: &rng)
            let pt = try plaintext(m, context: context, level: level)
            for encryptor in [Encryptor(publicKey: pk), Encryptor(secretKey: sk)] {
                let ct = try encryptor.encrypt(pt)
                XCTAssertEqual(ct.level, level)
                let decrypted = try coefficients(Decryptor(secretKey: sk).decrypt(ct))
                // Fresh noise: |e_0 + e·u + e_1·s| is far below 2^20 for N = 1024, σ = 3.2.
                XCTAssertLessThan(maxDistance(decrypted, m), BigInteger(1 << 20))
                XCTAssertGreaterThan(maxDistance(decrypted, m), 0, "no noise at all: encryption is not randomised")
            }
        }
        // The symmetric ciphertext keeps its seed; the public one does not.
        XCTAssertNotNil(try Encryptor(secretKey: sk).encrypt(plaintext([1], context: context, level: 0, padTo: context.degree)).seed)
    }

    func testProductRelinearizationAndRescaleAgainstReferenceRing() throws {
        for digits in [3, 1] {
            // digits = 1 needs P to cover all of Q: use two special primes with digits = 1 on [45, 40, 40].
            let context = digits == 3 ? try TestParameters.small()
                                      : try TestParameters.small(primeBits: [45, 40, 40], specialPrimeBits: [61, 61, 61], digits: 1)
            let keygen = KeyGenerator(context: context)
            let sk = keygen.secretKey()
            let keys = try keygen.evaluationKeys(for: sk)
            let evaluator = Evaluator(context: context, keys: keys)
            let encryptor = Encryptor(publicKey: try keygen.publicKey(for: sk))
            let decryptor = Decryptor(secretKey: sk)
            var rng = TestRNG(seed: 2)
            let level = 2
            let m1 = randomCoefficients(count: context.degree, bits: 25, using: &rng)
            let m2 = randomCoefficients(count: context.degree, bits: 25, using: &rng)
            let c1 = try encryptor.encrypt(plaintext(m1, context: context, level: level))
            let c2 = try encryptor.encrypt(plaintext(m2, context: context, level: level))
            let basis = try context.basis(atLevel: level)
            let ring = try BigIntegerRing(degree: context.degree, modulus: basis.product)
            let exact = try ring.centered(ring.multiply(m1, m2))

            // Three components decrypt with s², then relinearization keeps the product.
            let three = try evaluator.multiplyWithoutRelinearization(c1, c2)
            XCTAssertEqual(three.componentCount, 3)
            let noise3 = maxDistance(try coefficients(decryptor.decrypt(three)), exact)
            let relinearized = try evaluator.relinearize(three)
            XCTAssertEqual(relinearized.componentCount, 2)
            let noise2 = maxDistance(try coefficients(decryptor.decrypt(relinearized)), exact)
            // |m|·|e|·N ≈ 2^25·2^5·2^10 = 2^40 bounds the product noise; key switching adds little.
            XCTAssertLessThan(noise3, BigInteger(1) << 42, "digits \(digits)")
            XCTAssertLessThan(noise2, BigInteger(1) << 42, "digits \(digits): key switching blew up the noise")

            // Squaring equals multiplying by itself.
            let square = try evaluator.square(c1)
            let exactSquare = try ring.centered(ring.multiply(m1, m1))
            XCTAssertLessThan(maxDistance(try coefficients(decryptor.decrypt(square)), exactSquare), BigInteger(1) << 42)

            // Rescale divides by q_2 with rounding.
            let rescaled = try evaluator.rescale(relinearized)
            XCTAssertEqual(rescaled.level, 1)
            let q2 = BigInteger(basis.moduli[2].value)
            let expected = try exact.map { x in try (x + (q2 >> 1)).flooredQuotientAndRemainder(dividingBy: q2).quotient }
            XCTAssertLessThan(maxDistance(try coefficients(decryptor.decrypt(rescaled)), expected), BigInteger(1 << 12))
            XCTAssertEqual(rescaled.scale, 1 / Double(basis.moduli[2].value))
        }
    }

    func testRotationsAndConjugationAreCoefficientAutomorphisms() throws {
        let context = try TestParameters.small()
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let steps = [1, 2, 5, -1, 100]
        let keys = try keygen.evaluationKeys(for: sk, rotations: steps, conjugation: true, relinearization: false)
        XCTAssertEqual(keys.galois.count, steps.count + 1)
        let evaluator = Evaluator(context: context, keys: keys)
        let decryptor = Decryptor(secretKey: sk)
        var rng = TestRNG(seed: 3)
        for level in [2, 1] {
            let m = randomCoefficients(count: context.degree, bits: 30, using: &rng)
            let ct = try Encryptor(secretKey: sk).encrypt(plaintext(m, context: context, level: level))
            let hoisted = try evaluator.rotations(of: ct, by: steps + [0])
            for k in steps {
                let expected = coefficientAutomorphism(m, context.galoisElement(forStep: k))
                let single = try evaluator.rotate(ct, by: k)
                XCTAssertLessThan(maxDistance(try coefficients(decryptor.decrypt(single)), expected), BigInteger(1 << 20), "step \(k)")
                XCTAssertLessThan(maxDistance(try coefficients(decryptor.decrypt(hoisted[k]!)), expected), BigInteger(1 << 20), "hoisted \(k)")
            }
            XCTAssertEqual(try coefficients(decryptor.decrypt(hoisted[0]!)), try coefficients(decryptor.decrypt(ct)))
            let conjugated = try evaluator.conjugate(ct)
            XCTAssertLessThan(maxDistance(try coefficients(decryptor.decrypt(conjugated)),
                                          coefficientAutomorphism(m, context.conjugationElement)), BigInteger(1 << 20))
        }
        XCTAssertThrowsError(try evaluator.rotate(try Encryptor(secretKey: sk).encrypt(plaintext([1], context: context, level: 0, padTo: context.degree)), by: 3)) { error in
            XCTAssertEqual(error as? CKKSError, .missingGaloisKey(step: "rotation by 3"))
        }
    }

    /// A hoisted set made with two threads in force (whole steps on each thread, the shared
    /// decomposition read by both) is the same ciphertexts, bit for bit, as with one thread.
    func testHoistedStepsOnTwoThreadsAreTheSameCiphertexts() throws {
        let context = try TestParameters.small(logDegree: 11, primeBits: [60, 40, 40, 40], specialPrimeBits: [60, 60], digits: 2)
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let steps = [1, 2, 3, -4, 7, 64]
        let evaluator = Evaluator(context: context, keys: try keygen.evaluationKeys(for: sk, rotations: steps, relinearization: false))
        var rng = TestRNG(seed: 5)
        let m = randomCoefficients(count: context.degree, bits: 30, using: &rng)
        let ct = try Encryptor(secretKey: sk).encrypt(plaintext(m, context: context, level: 3))
        let one = try ExecutionPolicy(threads: 1).run { try evaluator.rotations(of: ct, by: steps + [0]) }
        let two = try ExecutionPolicy(threads: 2).run { try evaluator.rotations(of: ct, by: steps + [0]) }
        XCTAssertEqual(Set(one.keys), Set(steps + [0]))
        for k in steps + [0] {
            XCTAssertEqual(one[k]!.components, two[k]!.components, "step \(k): two threads differ from one")
        }
        let decryptor = Decryptor(secretKey: sk)
        for k in steps {
            XCTAssertLessThan(maxDistance(try coefficients(decryptor.decrypt(two[k]!)), coefficientAutomorphism(m, context.galoisElement(forStep: k))),
                              BigInteger(1 << 20), "step \(k)")
        }
        // A missing key is still named, whichever thread meets it.
        XCTAssertThrowsError(try ExecutionPolicy(threads: 2).run { try evaluator.rotations(of: ct, by: [1, 5, 2]) }) { error in
            XCTAssertEqual(error as? CKKSError, .missingGaloisKey(step: "rotation by 5"))
        }
    }

    func testHoistedSetsOfSeveralSourcesAreEachSourcesOwn() throws {
        // Three sources with 1, 3 and 0 steps (and one at another level), their key switches
        // dealt to the threads together: each the same ciphertexts as the source alone on one
        // thread, on 1 and 2 threads.
        let context = try TestParameters.small(logDegree: 11, primeBits: [60, 40, 40, 40], specialPrimeBits: [60, 60], digits: 2)
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let evaluator = Evaluator(context: context, keys: try keygen.evaluationKeys(for: sk, rotations: [1, 2, 3, -4], relinearization: false))
        var rng = TestRNG(seed: 9)
        let encryptor = Encryptor(secretKey: sk)
        let sources = try [3, 3, 3, 2].map { level in
            try encryptor.encrypt(plaintext(randomCoefficients(count: context.degree, bits: 30, using: &rng), context: context, level: level))
        }
        let steps = [[2], [1, 3, -4], [0], [1, 2]]
        let alone = try ExecutionPolicy(threads: 1).run { try zip(sources, steps).map { try evaluator.rotations(of: $0, by: $1) } }
        for threads in [1, 2] {
            let together = try ExecutionPolicy(threads: threads).run { try evaluator.rotations(ofEach: sources, by: steps) }
            XCTAssertEqual(together.count, sources.count)
            for s in sources.indices {
                XCTAssertEqual(Set(together[s].keys), Set(steps[s]), "source \(s)")
                for k in steps[s] {
                    XCTAssertEqual(together[s][k]!.components, alone[s][k]!.components, "source \(s), step \(k), \(threads) thread(s)")
                    XCTAssertEqual(together[s][k]!.level, sources[s].level)
                }
            }
        }
        // A missing key of any source is named, before anything is made.
        XCTAssertThrowsError(try ExecutionPolicy(threads: 2).run { try evaluator.rotations(ofEach: sources, by: [[1], [5], [], [2]]) }) { error in
            XCTAssertEqual(error as? CKKSError, .missingGaloisKey(step: "rotation by 5"))
        }
        XCTAssertThrowsError(try evaluator.rotations(ofEach: sources, by: [[1]]))
    }

    func testKeySwitchingAgainstReferenceRing() throws {
        // Switching an arbitrary polynomial c with the relinearization key gives (k0, k1) with
        // k0 + k1·s ≈ c·s², where c·s² is computed exactly by the GMP reference ring.
        // Two primes per digit (decomposition path) and one (fused path).
        for (special, digits) in [([60, 60], 2), ([60], 4)] {
            let context = try TestParameters.small(primeBits: [60, 40, 40, 40], specialPrimeBits: special, digits: digits)
            XCTAssertEqual(context.usesFusedKeySwitch(level: 3), digits == 4)
            try checkKeySwitching(context, levels: [3, 2, 0])
        }
    }

    func testMultiPrimeDigitsAgainstReferenceRing() throws {
        // Five primes in dnum = 1 (one digit of all five), 2 (3 + 2 primes), 3 (2 + 2 + 1) and 5
        // (fused) digits, so that L/dnum is not an integer twice; the special primes cover the
        // largest digit. Every level, including those where a digit is cut short.
        let primes = [60, 40, 40, 40, 40]
        for (special, digits) in [([60, 60, 60, 45], 1), ([60, 60, 30], 2), ([60, 45], 3), ([60], 5)] {
            let context = try TestParameters.small(primeBits: primes, specialPrimeBits: special, digits: digits)
            XCTAssertEqual(context.parameters.keySwitchDigits, digits)
            XCTAssertEqual(context.usesFusedKeySwitch(level: 4), digits == 5, "dnum \(digits)")
            try checkKeySwitching(context, levels: [4, 3, 2, 1, 0])
        }
    }

    private func checkKeySwitching(_ context: CKKSContext, levels: [Int]) throws {
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let key = try keygen.relinearizationKey(for: sk)
        var rng = TestRNG(seed: 4)
        for level in levels {
            let basis = try context.basis(atLevel: level)
            let residues = basis.moduli.flatMap { m in (0..<context.degree).map { _ in UInt64.random(in: 0..<m.value, using: &rng) } }
            let c = try RNSPolynomial<Coefficient>(basis: basis, residues: residues)
            let (k0, k1) = context.keySwitch(c.forwardNTT(), key: key, level: level)
            // The entry point the evaluator uses (fused when digits are single primes) agrees
            // with the decomposition path residue for residue.
            var f0 = RNSPolynomial<Evaluation>(basis: basis) { _ in }
            var f1 = RNSPolynomial<Evaluation>(basis: basis) { _ in }
            c.forwardNTT().withUnsafeLimbs { context.keySwitch($0.baseAddress!, level: level, key: key, into: &f0, &f1, adding: false) }
            XCTAssertEqual(f0, k0, "level \(level): k0")
            XCTAssertEqual(f1, k1, "level \(level): k1")
            let s = try sk.withSecret(limbs: Array(0..<basis.count), basis: basis) { try $0 + RNSPolynomial(zeroIn: basis) }  // a test-owned copy
            var combined = k1
            try combined.multiply(s)
            try combined.add(k0)
            let got = try basis.coefficients(of: combined.inverseNTT())
            let ring = try BigIntegerRing(degree: context.degree, modulus: basis.product)
            let sCoefficients = try basis.coefficients(of: s.inverseNTT())
            let sSquared = try ring.multiply(sCoefficients, sCoefficients)
            let expected = try ring.centered(ring.multiply(basis.coefficients(of: c), sSquared))
            let difference = try ring.centered(ring.subtract(got, expected))
            let worst = difference.map { $0.magnitude }.max()!
            // Error ≈ N·σ·(digit product)/P + rounding: far below 2^30 here, while c·s² is ~Q.
            XCTAssertLessThan(worst, BigInteger(1) << 30, "level \(level): key-switching error \(worst)")
        }
    }

    func testSecretTemporariesAreWiped() throws {
        let context = try TestParameters.small()
        let sk = KeyGenerator(context: context).secretKey()
        let basis = try context.basis(atLevel: 1)
        var copy = try sk.withSecret(limbs: [0, 1], basis: basis) { try $0 + RNSPolynomial(zeroIn: basis) }
        XCTAssertTrue(copy.residues.contains { $0 != 0 }, "a ternary secret has nonzero residues")
        copy.wipe()
        XCTAssertTrue(copy.residues.allSatisfy { $0 == 0 })
    }

    func testTypedErrors() throws {
        let context = try TestParameters.small()
        let other = try TestParameters.small(primeBits: [60, 40, 41])
        let sk = KeyGenerator(context: context).secretKey()
        let ct = try Encryptor(secretKey: sk).encrypt(plaintext([1], context: context, level: 2, padTo: context.degree))
        let evaluator = Evaluator(context: context)
        XCTAssertThrowsError(try evaluator.relinearize(evaluator.multiplyWithoutRelinearization(ct, ct))) {
            XCTAssertEqual($0 as? CKKSError, .missingRelinearizationKey)
        }
        XCTAssertThrowsError(try Evaluator(context: other).add(ct, ct)) { error in
            guard case CKKSError.parameterMismatch = error else { return XCTFail("\(error)") }
        }
        var low = try evaluator.rescale(evaluator.multiply(ct, integer: 3))
        low = try evaluator.droppingLevel(low, to: 0)
        XCTAssertThrowsError(try evaluator.rescale(low))
        // Different scales do not add; different levels align.
        let rescaledScale = try evaluator.multiply(ct, constant: 0.5)
        XCTAssertThrowsError(try evaluator.add(ct, rescaledScale)) { error in
            guard case CKKSError.scaleMismatch = error else { return XCTFail("\(error)") }
        }
        let dropped = try evaluator.droppingLevel(ct, to: 1)
        XCTAssertEqual(try evaluator.add(ct, dropped).level, 1)
        XCTAssertThrowsError(try Decryptor(secretKey: KeyGenerator(context: other).secretKey()).decrypt(ct))
    }
}

extension XCTestCase {
    func plaintext(_ head: [BigInteger], context: CKKSContext, level: Int, padTo n: Int) throws -> Plaintext {
        try plaintext(head + [BigInteger](repeating: 0, count: n - head.count), context: context, level: level)
    }
}
