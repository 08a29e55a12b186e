import Foundation
import XCTest
@testable import CKKS
import HEMath

/// The file format: exact round trips of every object, hostile input (truncations, byte flips,
/// wrong versions, kinds and parameter sets, out-of-range fields), no secret in evaluation
/// keys, and atomic owner-only writes.
final class SerializationTests: XCTestCase {
    /// Keys and objects made once for the whole class (key generation dominates otherwise).
    struct Fixture {
        let context: CKKSContext
        let other: CKKSContext
        let secretKey: SecretKey
        let publicKey: PublicKey
        let evaluationKeys: EvaluationKeys
        let plaintext: Plaintext
        let publicCiphertext: Ciphertext
        let seededCiphertext: Ciphertext
        let productCiphertext: Ciphertext
        let lowerCiphertext: Ciphertext
    }

    static let fixture: Fixture = {
        do {
            let context = try TestParameters.small()
            let other = try TestParameters.small(primeBits: [60, 40], specialPrimeBits: [60])
            let keygen = KeyGenerator(context: context)
            let sk = keygen.secretKey()
            let pk = try keygen.publicKey(for: sk)
            let keys = try keygen.evaluationKeys(for: sk, rotations: [1, -3], conjugation: true)
            var rng = TestRNG(seed: 7)
            let basis = try context.basis(atLevel: 2)
            let m = (0..<context.degree).map { _ in BigInteger(Int.random(in: -(1 << 30)...(1 << 30), using: &rng)) }
            let pt = try Plaintext(context: context, polynomial: basis.polynomial(coefficients: m).forwardNTT(),
                                   level: 2, scale: Double(1 << 30))
            let publicCT = try Encryptor(publicKey: pk).encrypt(pt)
            let seededCT = try Encryptor(secretKey: sk).encrypt(pt)
            let evaluator = Evaluator(context: context, keys: keys)
            let product = try evaluator.multiplyWithoutRelinearization(publicCT, seededCT)
            let lower = try evaluator.rescale(evaluator.multiply(publicCT, publicCT))
            return Fixture(context: context, other: other, secretKey: sk, publicKey: pk, evaluationKeys: keys,
                           plaintext: pt, publicCiphertext: publicCT, seededCiphertext: seededCT,
                           productCiphertext: product, lowerCiphertext: lower)
        } catch {
            fatalError("fixture: \(error)")
        }
    }()

    var f: Fixture { Self.fixture }

    /// The protobuf message inside a framed file (its integrity frame stripped).
    static func payload(_ bytes: [UInt8]) -> [UInt8] { Array(bytes[IntegrityFrame.headerSize...]) }

    /// `payload` framed with a correct checksum under the tag of `original`: an edited file as a
    /// writer would make it, so that the reader's own checks behind the frame are exercised.
    static func resealed(_ payload: [UInt8], like original: [UInt8]) -> [UInt8] {
        IntegrityFrame.seal(payload, tag: IntegrityFrame.tag(of: original)!)
    }

    // MARK: Round trips

    func testParametersRoundTrip() throws {
        let sets = [
            f.context.parameters,
            try CKKSParameters(logDegree: 13, primeBits: [60, 40, 40], specialPrimeBits: [60], logScale: 40),
            try CKKSParameters(logDegree: 11, primeBits: [50, 30, 30, 30], specialPrimeBits: [61, 40], logScale: 30,
                               keySwitchDigits: 2, security: .insecureTestingOnly),
        ]
        for parameters in sets {
            let bytes = try CKKSFile.serialize(parameters)
            let read = try CKKSFile.readParameters(bytes)
            XCTAssertEqual(read, parameters)
            XCTAssertEqual(read.fingerprint, parameters.fingerprint)
            XCTAssertEqual(try CKKSFile.serialize(read), bytes, "serialization is deterministic")
            let header = try CKKSFile.header(of: bytes)
            XCTAssertEqual(header, CKKSFile.Header(formatVersion: CKKSFile.formatVersion, kind: .parameters,
                                                   parametersFingerprint: parameters.fingerprint))
        }
        // The file starts with the integrity frame's signature; its content with the magic
        // string (field 1, written first).
        let bytes = try CKKSFile.serialize(f.context.parameters)
        XCTAssertEqual(Array(bytes[0..<8]), [0x89, 0x48, 0x45, 0x54, 0x0D, 0x0A, 0x1A, 0x0A])
        let content = IntegrityFrame.headerSize
        XCTAssertEqual(Array(bytes[(content + 2)..<(content + 9)]), Array("he-tool".utf8))
    }

    func testSecretKeyRoundTrip() throws {
        let bytes = try CKKSFile.serialize(f.secretKey)
        let read = try CKKSFile.readSecretKey(bytes, context: f.context)
        XCTAssertEqual(read.withSecret { $0 }, f.secretKey.withSecret { $0 })
        XCTAssertEqual(try CKKSFile.header(of: bytes).kind, .secretKey)
        // The key read back decrypts what the original encrypted.
        let decrypted = try Decryptor(secretKey: read).decrypt(f.publicCiphertext)
        XCTAssertEqual(decrypted.polynomial, try Decryptor(secretKey: f.secretKey).decrypt(f.publicCiphertext).polynomial)
    }

    func testPublicKeyRoundTrip() throws {
        let read = try CKKSFile.readPublicKey(CKKSFile.serialize(f.publicKey), context: f.context)
        XCTAssertEqual(read.b, f.publicKey.b)
        XCTAssertEqual(read.a, f.publicKey.a)
        XCTAssertEqual(read.b.limbCount, f.context.maxLevel + 1)
    }

    func testEvaluationKeysRoundTrip() throws {
        let bytes = try CKKSFile.serialize(f.evaluationKeys)
        let read = try CKKSFile.readEvaluationKeys(bytes, context: f.context)
        let original = f.evaluationKeys
        XCTAssertEqual(read.relinearization?.digitCount, original.relinearization?.digitCount)
        XCTAssertEqual(read.relinearization?.b, original.relinearization?.b)
        XCTAssertEqual(read.relinearization?.a, original.relinearization?.a)
        XCTAssertEqual(Set(read.galois.keys), Set(original.galois.keys))
        XCTAssertEqual(read.galois.count, 3)
        for (g, key) in original.galois {
            XCTAssertEqual(read.galois[g]?.b, key.b, "element \(g)")
            XCTAssertEqual(read.galois[g]?.a, key.a, "element \(g)")
            XCTAssertEqual(read.galois[g]?.digitCount, key.digitCount)
        }
        XCTAssertEqual(try CKKSFile.serialize(read), bytes, "deterministic: Galois keys in ascending order")
        // Without relinearization and without Galois keys.
        let empty = EvaluationKeys(context: f.context, relinearization: nil, galois: [:])
        let readEmpty = try CKKSFile.readEvaluationKeys(CKKSFile.serialize(empty), context: f.context)
        XCTAssertNil(readEmpty.relinearization)
        XCTAssertTrue(readEmpty.galois.isEmpty)
        // The keys read back still rotate correctly: same result as with the originals.
        let rotatedWithRead = try Evaluator(context: f.context, keys: read).rotate(f.publicCiphertext, by: 1)
        let rotated = try Evaluator(context: f.context, keys: original).rotate(f.publicCiphertext, by: 1)
        XCTAssertEqual(rotatedWithRead.components, rotated.components)
    }

    func testKeySwitchingKeysAreStoredSeeded() throws {
        // A generated key stores the seed of its uniform halves: the file holds b and 32 bytes
        // for a, and the reader expands a back exactly.
        let key = try XCTUnwrap(f.evaluationKeys.relinearization)
        XCTAssertNotNil(key.seed)
        let seeded = try CKKSFile.serialize(EvaluationKeys(context: f.context, relinearization: key, galois: [:]))
        var unseededKey = key
        unseededKey.seed = nil
        let full = try CKKSFile.serialize(EvaluationKeys(context: f.context, relinearization: unseededKey, galois: [:]))
        let halves = key.b.count * 8
        XCTAssertEqual(full.count - seeded.count, halves - Seed.byteCount, accuracy: 16, "the seeded file drops a")
        let read = try XCTUnwrap(CKKSFile.readEvaluationKeys(seeded, context: f.context).relinearization)
        XCTAssertEqual(read.a, key.a)
        XCTAssertEqual(read.b, key.b)
        XCTAssertEqual(read.seed, key.seed)
        // An unseeded file (as version 1 wrote them) still reads, and keeps no seed.
        let readFull = try XCTUnwrap(CKKSFile.readEvaluationKeys(full, context: f.context).relinearization)
        XCTAssertEqual(readFull.a, key.a)
        XCTAssertNil(readFull.seed)
    }

    func testPlaintextRoundTrip() throws {
        let read = try CKKSFile.readPlaintext(CKKSFile.serialize(f.plaintext), context: f.context)
        XCTAssertEqual(read.polynomial, f.plaintext.polynomial)
        XCTAssertEqual(read.level, f.plaintext.level)
        XCTAssertEqual(read.scale, f.plaintext.scale)
    }

    func testCiphertextRoundTrips() throws {
        let decryptor = Decryptor(secretKey: f.secretKey)
        for (name, ct) in [("public", f.publicCiphertext), ("product", f.productCiphertext),
                           ("rescaled", f.lowerCiphertext), ("seeded", f.seededCiphertext)] {
            let bytes = try CKKSFile.serialize(ct)
            let read = try CKKSFile.readCiphertext(bytes, context: f.context)
            XCTAssertEqual(read.components, ct.components, name)
            XCTAssertEqual(read.level, ct.level, name)
            XCTAssertEqual(read.scale.bitPattern, ct.scale.bitPattern, name)
            XCTAssertEqual(read.seed, ct.seed, name)
            XCTAssertEqual(try decryptor.decrypt(read).polynomial, try decryptor.decrypt(ct).polynomial, name)
            XCTAssertEqual(try CKKSFile.serialize(read), bytes, "\(name): deterministic")
        }
        XCTAssertEqual(f.productCiphertext.componentCount, 3)
        XCTAssertEqual(f.lowerCiphertext.level, 1)
    }

    func testSeededCiphertextStoresTheSeedInsteadOfC1() throws {
        let seeded = f.seededCiphertext
        let seed = try XCTUnwrap(seeded.seed)
        let unseeded = Ciphertext(context: f.context, components: seeded.components, level: seeded.level,
                                  scale: seeded.scale, seed: nil)
        let seededBytes = try CKKSFile.serialize(seeded)
        let unseededBytes = try CKKSFile.serialize(unseeded)
        XCTAssertLessThan(Double(seededBytes.count), 0.6 * Double(unseededBytes.count))
        let message = try Hetool_V1_Envelope(serializedBytes: Self.payload(seededBytes))
        XCTAssertEqual(message.ciphertext.components.count, 1)
        XCTAssertEqual(Array(message.ciphertext.seed), seed.bytes)
        XCTAssertEqual(message.ciphertext.componentCount, 2)
        // c_1 comes back identical, from the seed.
        let read = try CKKSFile.readCiphertext(seededBytes, context: f.context)
        XCTAssertEqual(read.components[1], seeded.components[1])
        XCTAssertEqual(read.seed, seed)
        let readUnseeded = try CKKSFile.readCiphertext(unseededBytes, context: f.context)
        XCTAssertNil(readUnseeded.seed)
        XCTAssertEqual(readUnseeded.components, read.components)
    }

    // MARK: Hostile input

    /// One valid file per kind with the reader that must accept it and a check that whatever
    /// a reader returns is a valid object.
    func kinds() throws -> [(name: String, bytes: [UInt8], read: ([UInt8], CKKSContext) throws -> Void)] {
        let small = EvaluationKeys(context: f.context, relinearization: f.evaluationKeys.relinearization,
                                   galois: [f.context.galoisElement(forStep: 1): f.evaluationKeys.galois[f.context.galoisElement(forStep: 1)]!])
        return [
            ("parameters", try CKKSFile.serialize(f.context.parameters), { bytes, context in
                let p = try CKKSFile.readParameters(bytes)
                try p.validate()
                guard p.fingerprint == context.parameters.fingerprint else {
                    throw CKKSError.parameterMismatch("test: another parameter set")
                }
            }),
            ("secret key", try CKKSFile.serialize(f.secretKey), { bytes, context in
                let sk = try CKKSFile.readSecretKey(bytes, context: context)
                try sk.withSecret { try Self.assertReduced($0) }
            }),
            ("public key", try CKKSFile.serialize(f.publicKey), { bytes, context in
                let pk = try CKKSFile.readPublicKey(bytes, context: context)
                try Self.assertReduced(pk.b)
                try Self.assertReduced(pk.a)
            }),
            ("evaluation keys", try CKKSFile.serialize(small), { bytes, context in
                let keys = try CKKSFile.readEvaluationKeys(bytes, context: context)
                for key in (keys.relinearization.map { [$0] } ?? []) + keys.galois.values {
                    for d in 0..<key.digitCount {
                        let (b, a) = try key.digit(d)
                        try Self.assertReduced(b)
                        try Self.assertReduced(a)
                    }
                }
                for g in keys.galois.keys { XCTAssertTrue(g & 1 == 1 && g < UInt64(2 * context.degree)) }
            }),
            ("plaintext", try CKKSFile.serialize(f.plaintext), { bytes, context in
                let pt = try CKKSFile.readPlaintext(bytes, context: context)
                XCTAssertTrue(pt.scale.isFinite && pt.scale > 0)
                try Self.assertReduced(pt.polynomial)
            }),
            ("ciphertext", try CKKSFile.serialize(f.publicCiphertext), { bytes, context in
                let ct = try CKKSFile.readCiphertext(bytes, context: context)
                XCTAssertTrue((2...3).contains(ct.componentCount) && ct.scale.isFinite && ct.scale > 0)
                try ct.components.forEach(Self.assertReduced)
                _ = try Decryptor(secretKey: Self.fixture.secretKey).decrypt(ct)
            }),
            ("seeded ciphertext", try CKKSFile.serialize(f.seededCiphertext), { bytes, context in
                let ct = try CKKSFile.readCiphertext(bytes, context: context)
                try ct.components.forEach(Self.assertReduced)
            }),
        ]
    }

    /// Re-checks residues < q outside the reader (a polynomial built without validation fails).
    static func assertReduced<F>(_ p: RNSPolynomial<F>) throws {
        _ = try RNSPolynomial<F>(basis: p.basis, residues: p.residues)
    }

    /// Runs `read` and requires a `CKKSError` (any other error or success fails).
    func assertRejects(_ what: String, file: StaticString = #filePath, line: UInt = #line,
                       _ read: () throws -> Void) {
        do {
            try read()
            XCTFail("\(what): accepted", file: file, line: line)
        } catch is CKKSError {
        } catch {
            XCTFail("\(what): threw a non-CKKS error \(error)", file: file, line: line)
        }
    }

    func testTruncationsAreRejected() throws {
        var rng = TestRNG(seed: 11)
        for (name, bytes, read) in try kinds() {
            XCTAssertNoThrow(try read(bytes, f.context), name)
            var lengths = Array(0..<min(64, bytes.count))
            if bytes.count > 64 { lengths += (0..<200).map { _ in Int.random(in: 64..<bytes.count, using: &rng) } }
            lengths.append(bytes.count - 1)
            for length in lengths {
                assertRejects("\(name) truncated to \(length) bytes") { try read(Array(bytes[..<length]), f.context) }
            }
        }
    }

    /// Any flipped byte of a file, at sampled positions over the whole file (header, envelope,
    /// the middle of key bodies), is caught by the checksum and named as damage.
    func testFlippedBytesAreDetectedAsDamage() throws {
        var rng = TestRNG(seed: 21)
        for (name, bytes, read) in try kinds() {
            var positions = Array(0..<min(80, bytes.count)) + [bytes.count / 2, bytes.count - 1]
            positions += (0..<150).map { _ in Int.random(in: 0..<bytes.count, using: &rng) }
            for position in positions {
                var mutated = bytes
                mutated[position] ^= UInt8.random(in: 1...255, using: &rng)
                XCTAssertThrowsError(try read(mutated, f.context), "\(name): flip at \(position)") { error in
                    guard case let .invalidFormat(why)? = error as? CKKSError else { return XCTFail("\(name): \(error)") }
                    if position >= IntegrityFrame.headerSize || (24..<56).contains(position) {
                        XCTAssertTrue(why.contains("damaged"), "\(name), flip at \(position): \(why)")
                    }
                }
            }
        }
    }

    /// A file of an earlier he-tool (format version 2, no frame) is refused with what to do.
    func testEarlierVersionsAreRefusedWithAdvice() throws {
        for (name, bytes, read) in try kinds() {
            var legacy = try Hetool_V1_Envelope(serializedBytes: Self.payload(bytes))
            legacy.formatVersion = 2
            XCTAssertThrowsError(try read(try legacy.serializedBytes(), f.context), name) { error in
                guard case let .invalidFormat(why)? = error as? CKKSError else { return XCTFail("\(name): \(error)") }
                XCTAssertTrue(why.contains("earlier he-tool") && why.contains("he-tool "), why)
            }
        }
    }

    /// Behind the frame: payloads with flipped bytes, re-framed with a valid checksum (as a buggy
    /// or hostile writer would), are rejected by the parser's own checks or decode to valid objects.
    func testByteFlipsThrowOrDecodeToValidObjects() throws {
        var rng = TestRNG(seed: 12)
        for (name, original, read) in try kinds() {
            let bytes = Self.payload(original)
            let content = try Self.contentRanges(bytes)
            var accepted = 0
            for trial in 0..<500 {
                var mutated = bytes
                // Half the flips hit the envelope and the first fields, half anywhere.
                let position = trial % 2 == 0 ? Int.random(in: 0..<min(160, bytes.count), using: &rng)
                                              : Int.random(in: 0..<bytes.count, using: &rng)
                mutated[position] ^= UInt8.random(in: 1...255, using: &rng)
                do {
                    try read(Self.resealed(mutated, like: original), f.context)
                    accepted += 1
                    // Only a value can change (a residue that stays reduced, the scale, the seed,
                    // a Galois element that stays valid); never the structure, kind or fingerprint.
                    XCTAssertTrue(content.contains { $0.contains(position) },
                                  "\(name): a flip at \(position), outside every value, was accepted")
                } catch is CKKSError {
                } catch {
                    XCTFail("\(name): flip at \(position) threw a non-CKKS error \(error)")
                }
            }
            // Most flips land in residues; some still give valid (different) objects.
            XCTAssertLessThan(accepted, 500, "\(name): no flip was ever rejected")
        }
    }

    /// Byte ranges of a file that hold values rather than structure: packed residues, seeds,
    /// scales and Galois elements (found by searching the file for their encodings).
    static func contentRanges(_ bytes: [UInt8]) throws -> [Range<Int>] {
        let file = Data(bytes)
        let envelope = try Hetool_V1_Envelope(serializedBytes: bytes)
        var payloads: [Data] = []
        var scales: [Double] = []
        var galois: [Hetool_V1_GaloisKey] = []
        switch envelope.body {
        case let .secretKey(k)?: payloads = [k.polynomial.residues]
        case let .publicKey(k)?: payloads = [k.b.residues, k.a.residues]
        case let .evaluationKeys(k)?:
            let keys = (k.hasRelinearization ? [k.relinearization] : []) + k.galoisKeys.map(\.key)
            payloads = keys.flatMap { [$0.b, $0.a.isEmpty ? $0.aSeed : $0.a] }
            galois = k.galoisKeys
        case let .plaintext(p)?:
            payloads = [p.polynomial.residues]
            scales = [p.scale]
        case let .ciphertext(c)?:
            payloads = c.components.map(\.residues) + (c.seed.isEmpty ? [] : [c.seed])
            scales = [c.scale]
        case .parameters?, nil: break
        }
        var ranges = payloads.compactMap { file.range(of: $0) }
        XCTAssertEqual(ranges.count, payloads.count)
        for scale in scales {
            let encoded = Data([0x11]) + withUnsafeBytes(of: scale.bitPattern.littleEndian) { Data($0) }
            if let r = file.range(of: encoded) { ranges.append((r.lowerBound + 1)..<r.upperBound) }
        }
        for entry in galois {
            var element = Hetool_V1_GaloisKey()
            element.galoisElement = entry.galoisElement
            let encoded: [UInt8] = try element.serializedBytes()   // tag, varint
            if let r = file.range(of: Data(encoded) + Data([0x12])) { ranges.append((r.lowerBound + 1)..<(r.upperBound - 1)) }
        }
        return ranges
    }

    func testFutureVersionAndOtherParametersAreRejected() throws {
        for (name, bytes, read) in try kinds() {
            var envelope = try Hetool_V1_Envelope(serializedBytes: Self.payload(bytes))
            let next = UInt32(CKKSFile.formatVersion + 1)
            envelope.formatVersion = next
            let future: [UInt8] = Self.resealed(try envelope.serializedBytes(), like: bytes)
            XCTAssertThrowsError(try read(future, f.context), name) { error in
                guard case let .invalidFormat(why)? = error as? CKKSError else { return XCTFail("\(name): \(error)") }
                XCTAssertTrue(why.contains("format version \(next)") && why.contains("newer he-tool"), why)
            }
            if name == "parameters" { continue }
            XCTAssertThrowsError(try read(bytes, f.other), name) { error in
                guard case let .parameterMismatch(why)? = error as? CKKSError else { return XCTFail("\(name): \(error)") }
                XCTAssertTrue(why.contains(CKKSFile.hexPrefix(self.f.context.parameters.fingerprint)), why)
                XCTAssertTrue(why.contains(CKKSFile.hexPrefix(self.f.other.parameters.fingerprint)), why)
            }
        }
        // A file of a newer version whose body this reader cannot even parse still names its version.
        var header = Hetool_V1_EnvelopeHeader()
        header.magic = "he-tool"
        header.formatVersion = UInt32(CKKSFile.formatVersion + 1)
        let alien: [UInt8] = IntegrityFrame.seal(try header.serializedBytes() + [0xA2, 0x06, 3, 1, 2, 3], tag: .ciphertext)  // field 100, 3 bytes
        XCTAssertThrowsError(try CKKSFile.readCiphertext(alien, context: f.context)) { error in
            XCTAssertEqual(error as? CKKSError, .invalidFormat("the file has format version \(CKKSFile.formatVersion + 1) inside its frame; this he-tool reads format version \(CKKSFile.formatVersion): use a newer he-tool"))
        }
        // A newer frame version is named as such.
        var newerFrame = try CKKSFile.serialize(f.publicCiphertext)
        newerFrame[8] = 2
        XCTAssertThrowsError(try CKKSFile.readCiphertext(newerFrame, context: f.context)) { error in
            XCTAssertEqual(error as? CKKSError, .invalidFormat(IntegrityFrame.Failure.unsupportedVersion(2).description))
        }
        // A parameters file whose fingerprint is another set's.
        let parameterBytes = try CKKSFile.serialize(f.context.parameters)
        var parameters = try Hetool_V1_Envelope(serializedBytes: Self.payload(parameterBytes))
        parameters.parametersFingerprint = Data(f.other.parameters.fingerprint)
        assertRejects("parameters with a foreign fingerprint") {
            _ = try CKKSFile.readParameters(Self.resealed(parameters.serializedBytes(), like: parameterBytes))
        }
        // Not a protobuf at all, and a protobuf that is not ours.
        assertRejects("random bytes") { _ = try CKKSFile.readCiphertext((0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37) }, context: f.context) }
        var notOurs = header
        notOurs.magic = "other-tool"
        notOurs.formatVersion = 1
        assertRejects("foreign magic") { _ = try CKKSFile.readCiphertext(notOurs.serializedBytes(), context: f.context) }
    }

    func testKindsAreNotConfused() throws {
        let files = try kinds()
        for (name, bytes, _) in files {
            for (readerName, _, read) in files where readerName != name && !(readerName.hasSuffix("ciphertext") && name.hasSuffix("ciphertext")) {
                XCTAssertThrowsError(try read(bytes, f.context), "\(name) read as \(readerName)") { error in
                    guard case let .invalidFormat(why)? = error as? CKKSError else { return XCTFail("\(error)") }
                    let kind = try! CKKSFile.header(of: bytes).kind
                    XCTAssertTrue(why.contains("holds \(kind)"), why)
                }
            }
        }
        XCTAssertThrowsError(try CKKSFile.readSecretKey(CKKSFile.serialize(f.publicKey), context: f.context)) { error in
            XCTAssertEqual(error as? CKKSError, .invalidFormat("the file holds a public key, not a secret key"))
        }
    }

    /// Decodes a valid file, applies `change` to its message, and requires the reader to reject it.
    func assertRejectsEdited(_ what: String, _ bytes: [UInt8], read: ([UInt8]) throws -> Void,
                             line: UInt = #line, _ change: (inout Hetool_V1_Envelope) -> Void) throws {
        var envelope = try Hetool_V1_Envelope(serializedBytes: Self.payload(bytes))
        change(&envelope)
        let edited: [UInt8] = Self.resealed(try envelope.serializedBytes(), like: bytes)
        assertRejects(what, line: line) { try read(edited) }
    }

    func testOutOfRangeFieldsAreRejected() throws {
        let ct = try CKKSFile.serialize(f.publicCiphertext)
        let readCT = { (bytes: [UInt8]) in _ = try CKKSFile.readCiphertext(bytes, context: self.f.context) }
        try assertRejectsEdited("level 3", ct, read: readCT) { $0.ciphertext.level = 3 }
        try assertRejectsEdited("level 1 with 3 limbs", ct, read: readCT) { $0.ciphertext.level = 1 }
        for scale in [0, -1, .nan, .infinity, 5e-324, 0.5, 0x1p500] as [Double] {
            try assertRejectsEdited("scale \(scale)", ct, read: readCT) { $0.ciphertext.scale = scale }
        }
        for count in [0, 1, 4, 1000] as [UInt32] {
            try assertRejectsEdited("\(count) components", ct, read: readCT) { $0.ciphertext.componentCount = count }
        }
        try assertRejectsEdited("a seed with two stored components", ct, read: readCT) { $0.ciphertext.seed = Data(count: 32) }
        try assertRejectsEdited("a 31-byte seed", try CKKSFile.serialize(f.seededCiphertext), read: readCT) {
            $0.ciphertext.seed = Data(count: 31)
        }
        try assertRejectsEdited("a seed with 3 components", try CKKSFile.serialize(f.seededCiphertext), read: readCT) {
            $0.ciphertext.componentCount = 3
        }
        try assertRejectsEdited("limb count 4", ct, read: readCT) { $0.ciphertext.components[0].limbCount = 4 }
        try assertRejectsEdited("8 bytes short", ct, read: readCT) { $0.ciphertext.components[1].residues.removeLast(8) }
        let q0 = f.context.keyBasis.moduli[0].value
        let q2 = f.context.keyBasis.moduli[2].value
        try assertRejectsEdited("a residue equal to q_2", ct, read: readCT) { e in
            Self.setResidue(&e.ciphertext.components[1].residues, index: 2 * 1024 + 5, to: q2)
        }
        try assertRejectsEdited("unknown field", ct, read: readCT) { e in
            try! e.ciphertext.merge(serializedBytes: [0xF8, 0x06, 0x01] as [UInt8])  // field 111 = 1
        }

        let pt = try CKKSFile.serialize(f.plaintext)
        let readPT = { (bytes: [UInt8]) in _ = try CKKSFile.readPlaintext(bytes, context: self.f.context) }
        try assertRejectsEdited("plaintext scale NaN", pt, read: readPT) { $0.plaintext.scale = .nan }
        try assertRejectsEdited("plaintext level 5", pt, read: readPT) { $0.plaintext.level = 5 }
        try assertRejectsEdited("plaintext residue q_0", pt, read: readPT) { e in
            Self.setResidue(&e.plaintext.polynomial.residues, index: 0, to: q0)
        }
        try assertRejectsEdited("plaintext without polynomial", pt, read: readPT) { $0.plaintext.clearPolynomial() }

        let keys = try CKKSFile.serialize(f.evaluationKeys)
        let readKeys = { (bytes: [UInt8]) in _ = try CKKSFile.readEvaluationKeys(bytes, context: self.f.context) }
        try assertRejectsEdited("even Galois element", keys, read: readKeys) { $0.evaluationKeys.galoisKeys[0].galoisElement = 4 }
        try assertRejectsEdited("Galois element 2N + 1", keys, read: readKeys) { $0.evaluationKeys.galoisKeys[0].galoisElement = 2049 }
        try assertRejectsEdited("duplicate Galois element", keys, read: readKeys) { e in
            e.evaluationKeys.galoisKeys[1].galoisElement = e.evaluationKeys.galoisKeys[0].galoisElement
        }
        try assertRejectsEdited("digit count 2", keys, read: readKeys) { $0.evaluationKeys.relinearization.digitCount = 2 }
        try assertRejectsEdited("limb count 3", keys, read: readKeys) { $0.evaluationKeys.galoisKeys[0].key.limbCount = 3 }
        try assertRejectsEdited("seed of a short", keys, read: readKeys) { $0.evaluationKeys.relinearization.aSeed.removeLast(1) }
        try assertRejectsEdited("both a and its seed", keys, read: readKeys) { e in
            e.evaluationKeys.relinearization.a = e.evaluationKeys.relinearization.b
        }
        try assertRejectsEdited("neither a nor its seed", keys, read: readKeys) { $0.evaluationKeys.relinearization.aSeed = Data() }
        try assertRejectsEdited("b residue = special prime", keys, read: readKeys) { e in
            let p = self.f.context.keyBasis.moduli[3].value
            Self.setResidue(&e.evaluationKeys.relinearization.b, index: (2 * 4 + 3) * 1024 + 7, to: p)
        }
        try assertRejectsEdited("Galois entry without key", keys, read: readKeys) { $0.evaluationKeys.galoisKeys[2].clearKey() }

        let sk = try CKKSFile.serialize(f.secretKey)
        let readSK = { (bytes: [UInt8]) in _ = try CKKSFile.readSecretKey(bytes, context: self.f.context) }
        try assertRejectsEdited("secret key not ternary", sk, read: readSK) { e in
            Self.setResidue(&e.secretKey.polynomial.residues, index: 9, to: 12345)
        }
        try assertRejectsEdited("secret key limbs 3", sk, read: readSK) { $0.secretKey.polynomial.limbCount = 3 }

        let pk = try CKKSFile.serialize(f.publicKey)
        let readPK = { (bytes: [UInt8]) in _ = try CKKSFile.readPublicKey(bytes, context: self.f.context) }
        try assertRejectsEdited("public key without a", pk, read: readPK) { $0.publicKey.clearA() }

        let params = try CKKSFile.serialize(f.context.parameters)
        let readParams = { (bytes: [UInt8]) in _ = try CKKSFile.readParameters(bytes) }
        try assertRejectsEdited("composite prime", params, read: readParams) { $0.parameters.specialPrimes[0] += 2048 * 3 }
        try assertRejectsEdited("security unspecified", params, read: readParams) { $0.parameters.security = .unspecified }
        try assertRejectsEdited("digits 0", params, read: readParams) { $0.parameters.keySwitchDigits = 0 }
        try assertRejectsEdited("32-byte fingerprint of 31", params, read: readParams) { $0.parametersFingerprint.removeLast() }
        try assertRejectsEdited("kind unspecified", params, read: readParams) { $0.kind = .unspecified }
        try assertRejectsEdited("no body", params, read: readParams) { $0.body = nil }
        try assertRejectsEdited("no version", params, read: readParams) { $0.formatVersion = 0 }
    }

    static func setResidue(_ data: inout Data, index: Int, to value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { data.replaceSubrange((8 * index)..<(8 * index + 8), with: $0) }
    }

    // MARK: No secret in evaluation keys

    func testEvaluationKeysContainNoSecretMaterial() throws {
        let secretBytes = Data(try CKKSFile.serialize(f.secretKey))
        let residues = f.secretKey.withSecret { PackedResidues.pack($0) }
        let keyBytes = Data(try CKKSFile.serialize(f.evaluationKeys))
        let windows = stride(from: 0, to: residues.count - 64, by: residues.count / 9).map { residues[$0..<($0 + 64)] }
        XCTAssertGreaterThanOrEqual(windows.count, 8)
        for window in windows {
            XCTAssertNotNil(secretBytes.range(of: window), "control: the window is in the secret-key file")
            XCTAssertNil(keyBytes.range(of: window), "a window of the secret key is in the evaluation-keys file")
        }
        let envelope = try Hetool_V1_Envelope(serializedBytes: Self.payload(Array(keyBytes)))
        guard case .evaluationKeys? = envelope.body else { return XCTFail("body is \(String(describing: envelope.body))") }
        if case .secretKey? = envelope.body { XCTFail("a secret key body") }
        XCTAssertTrue(envelope.unknownFields.data.isEmpty)
        XCTAssertEqual(envelope.kind, .evaluationKeys)
    }

    // MARK: Files

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("he-tool-serialization-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testSecretKeyFileIsOwnerOnly() throws {
        let directory = try temporaryDirectory()
        let url = directory.appendingPathComponent("secret.key")
        try CKKSFile.writeSecretKey(f.secretKey, to: url)
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let read = try CKKSFile.readSecretKey(CKKSFile.read(from: url), context: f.context)
        XCTAssertEqual(read.withSecret { $0 }, f.secretKey.withSecret { $0 })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["secret.key"])
        // Replacing a world-readable file with a secret key makes it owner-only too.
        let other = directory.appendingPathComponent("public.then.secret")
        try CKKSFile.write([1, 2, 3], to: other, ownerOnly: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: other.path)
        try CKKSFile.writeSecretKey(f.secretKey, to: other)
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: other.path)[.posixPermissions] as? NSNumber)?.intValue, 0o600)
    }

    func testWriteIntoMissingDirectoryThrowsAndLeavesNothing() throws {
        let directory = try temporaryDirectory()
        let url = directory.appendingPathComponent("missing/ct.bin")
        XCTAssertThrowsError(try CKKSFile.write([1, 2, 3], to: url, ownerOnly: false)) { error in
            guard case let .fileSystem(why)? = error as? CKKSError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains(url.path), why)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
        // A destination that is a directory: the rename fails and the temporary file is removed.
        let blocked = directory.appendingPathComponent("blocked")
        try FileManager.default.createDirectory(at: blocked, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("x"), withIntermediateDirectories: false)
        assertRejects("write over a directory") { try CKKSFile.write([1], to: blocked, ownerOnly: true) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["blocked"])
    }

    func testExistingFileIsReplacedAtomically() throws {
        let directory = try temporaryDirectory()
        let url = directory.appendingPathComponent("ct.bin")
        let first = try CKKSFile.serialize(f.publicCiphertext)
        let second = try CKKSFile.serialize(f.seededCiphertext)
        try CKKSFile.write(first, to: url, ownerOnly: false)
        let inode = try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? NSNumber
        // Someone holding the old file open keeps reading the old content: a new inode took its name.
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        try CKKSFile.write(second, to: url, ownerOnly: false)
        XCTAssertEqual(try CKKSFile.read(from: url), second)
        XCTAssertEqual(try handle.readToEnd().map(Array.init), first)
        XCTAssertNotEqual(try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? NSNumber, inode)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["ct.bin"], "no temporary file left")
        let read = try CKKSFile.readCiphertext(CKKSFile.read(from: url), context: f.context)
        XCTAssertEqual(read.components, f.seededCiphertext.components)
    }

    func testReadErrorsNameThePath() throws {
        let directory = try temporaryDirectory()
        let missing = directory.appendingPathComponent("nothing-here.ct")
        XCTAssertThrowsError(try CKKSFile.read(from: missing)) { error in
            XCTAssertEqual(error as? CKKSError, .fileSystem("no file at \(missing.path)"))
        }
        // A sparse file larger than any he-tool file is refused before it is read.
        let huge = directory.appendingPathComponent("huge.bin")
        XCTAssertTrue(FileManager.default.createFile(atPath: huge.path, contents: nil))
        let handle = try FileHandle(forWritingTo: huge)
        try handle.truncate(atOffset: UInt64(CKKSFile.maximumFileSize) + 1)
        try handle.close()
        XCTAssertThrowsError(try CKKSFile.read(from: huge)) { error in
            guard case let .fileSystem(why)? = error as? CKKSError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains(huge.path) && why.contains("\(CKKSFile.maximumFileSize + 1)"), why)
        }
        assertRejects("a directory") { _ = try CKKSFile.read(from: directory) }
        assertRejects("an empty file") {
            let empty = directory.appendingPathComponent("empty")
            try CKKSFile.write([], to: empty, ownerOnly: false)
            _ = try CKKSFile.readCiphertext(CKKSFile.read(from: empty), context: f.context)
        }
    }
}
