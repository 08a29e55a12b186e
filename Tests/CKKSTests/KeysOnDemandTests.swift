import Foundation
import XCTest
@testable import CKKS
import HEMath

/// Galois keys read from their file when a rotation needs them: the same rotations as keys held
/// in memory, at most the budget of keys decoded at once, a damaged file refused when opened,
/// and a file changed after it was opened refused when a key is read again.
final class KeysOnDemandTests: XCTestCase {
    func testRotationsEqualKeysInMemoryWithinTheBudget() throws {
        let f = SerializationTests.fixture
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-on-demand-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("k.heevk").path
        let bytes = try CKKSFile.serialize(f.evaluationKeys)
        try CKKSFile.write(bytes, to: URL(fileURLWithPath: path), ownerOnly: false)
        // One key in memory at a time: every change of step reads the file again.
        let lazy = try CKKSFile.openEvaluationKeys(path: path, context: f.context, residentBytes: 1)
        let store = try XCTUnwrap(lazy.store)
        XCTAssertEqual(lazy.galoisElements, Set(f.evaluationKeys.galois.keys))
        XCTAssertEqual(lazy.relinearization?.b, f.evaluationKeys.relinearization?.b)
        XCTAssertTrue(lazy.galois.isEmpty, "no Galois key decoded when opened")
        let eager = Evaluator(context: f.context, keys: f.evaluationKeys), onDemand = Evaluator(context: f.context, keys: lazy)
        for step in [1, -3, 1, 1, -3] {
            XCTAssertEqual(try onDemand.rotate(f.publicCiphertext, by: step).components, try eager.rotate(f.publicCiphertext, by: step).components)
        }
        XCTAssertEqual(try onDemand.conjugate(f.publicCiphertext).components, try eager.conjugate(f.publicCiphertext).components)
        let key = GaloisKeyStore.keyBytes(f.context)
        XCTAssertEqual(store.statistics.residentBytes, key, "one key resident")
        XCTAssertEqual(store.statistics.reads, 5, "1, −3, 1 again (−3 evicted it), not the next 1, −3 again, conjugation")
        XCTAssertThrowsError(try onDemand.rotate(f.publicCiphertext, by: 2)) { XCTAssertEqual($0 as? CKKSError, .missingGaloisKey(step: "rotation by 2")) }
        XCTAssertThrowsError(try CKKSFile.serialize(lazy))

        // A flipped byte: refused when opened, as the whole-file reader refuses it.
        var damaged = bytes
        damaged[damaged.count / 2] ^= 0x10
        try CKKSFile.write(damaged, to: URL(fileURLWithPath: path), ownerOnly: false)
        XCTAssertThrowsError(try CKKSFile.openEvaluationKeys(path: path, context: f.context, residentBytes: 1)) {
            XCTAssertTrue("\($0)".contains("checksum"), "\($0)")
        }
        // Other parameters, another kind of file.
        try CKKSFile.write(bytes, to: URL(fileURLWithPath: path), ownerOnly: false)
        XCTAssertThrowsError(try CKKSFile.openEvaluationKeys(path: path, context: f.other, residentBytes: 1)) {
            guard case .parameterMismatch = $0 as? CKKSError else { return XCTFail("\($0)") }
        }
        try CKKSFile.write(try CKKSFile.serialize(f.secretKey), to: URL(fileURLWithPath: path), ownerOnly: true)
        XCTAssertThrowsError(try CKKSFile.openEvaluationKeys(path: path, context: f.context, residentBytes: 1))

        // Opened, then the file is replaced in place by other keys of the same size: the next
        // read of a key no longer matches what was checked.
        try CKKSFile.write(bytes, to: URL(fileURLWithPath: path), ownerOnly: false)
        let opened = try CKKSFile.openEvaluationKeys(path: path, context: f.context, residentBytes: 1)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(bytes.count - 100))
        try handle.write(contentsOf: Data([0xFF, 0xFF, 0xFF]))
        try handle.close()
        // (The file's last entry is the key of the largest element: conjugation's.)
        XCTAssertThrowsError(try Evaluator(context: f.context, keys: opened).conjugate(f.publicCiphertext)) {
            XCTAssertTrue("\($0)".contains("changed after"), "\($0)")
        }
    }

    /// Keys written one at a time (`keygen`'s path for key sets larger than memory) give exactly
    /// the bytes of the whole-set serializer, with and without a public key; a key that fails
    /// to be made leaves no file behind and the destination as it was.
    func testStreamedKeyFileEqualsTheSerializedOne() throws {
        let f = SerializationTests.fixture
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-streamed-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("k.heevk")
        var withPublicKey = f.evaluationKeys
        withPublicKey.publicKey = f.publicKey
        for keys in [f.evaluationKeys, withPublicKey] {
            var made: [UInt64] = []
            let (staged, size) = try CKKSFile.stageEvaluationKeys(
                to: url, context: f.context, relinearization: keys.relinearization, publicKey: keys.publicKey,
                galoisElements: Array(keys.galois.keys).reversed()) { g in
                    made.append(g)
                    return keys.galois[g]!
                }
            try staged.commit()
            let expected = try CKKSFile.serialize(keys)
            XCTAssertEqual(made, keys.galois.keys.sorted(), "each key made once, in ascending order")
            XCTAssertEqual(size, expected.count)
            XCTAssertEqual(try Array(Data(contentsOf: url)), expected)
        }
        struct Refused: Error {}
        let before = try Data(contentsOf: url)
        XCTAssertThrowsError(try CKKSFile.stageEvaluationKeys(
            to: url, context: f.context, relinearization: nil, publicKey: nil,
            galoisElements: Array(f.evaluationKeys.galois.keys)) { g in
                if g == f.evaluationKeys.galois.keys.max() { throw Refused() }
                return f.evaluationKeys.galois[g]!
            }) { XCTAssertTrue($0 is Refused, "\($0)") }
        XCTAssertEqual(try Data(contentsOf: url), before, "the destination untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["k.heevk"], "no temporary file left")
    }

    /// Keys read for one level only (digits 0 ..< dnum(l) over Q_l·P, with a expanded again for
    /// those limbs) rotate exactly as the whole keys in memory, at every level, with several
    /// primes per digit (dnum 3 at the top, 1 at the bottom) and hoisted; a cut key holds the
    /// bytes its level needs, and a cut of another level is read again.
    func testKeysCutPerLevelRotateAsWholeKeys() throws {
        let context = try TestParameters.small(primeBits: [60, 40, 40, 40, 40, 40], specialPrimeBits: [60, 60], digits: 3)
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let keys = try keygen.evaluationKeys(for: sk, rotations: [1, 2, -5], conjugation: true)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-cut-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("k.heevk").path
        try CKKSFile.write(CKKSFile.serialize(keys), to: URL(fileURLWithPath: path), ownerOnly: false)
        let lazy = try CKKSFile.openEvaluationKeys(path: path, context: context, residentBytes: 1 << 30)
        let store = try XCTUnwrap(lazy.store)
        let eager = Evaluator(context: context, keys: keys), onDemand = Evaluator(context: context, keys: lazy)
        var rng = TestRNG(seed: 11)
        let values = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
        let fresh = try Encryptor(secretKey: sk).encrypt(Encoder(context: context).encode(values, scale: context.parameters.scale, level: context.maxLevel))
        XCTAssertGreaterThan(context.keySwitchPlans[context.maxLevel].digits.count, context.keySwitchPlans[1].digits.count)
        var reads = 0
        for level in stride(from: context.maxLevel, through: 0, by: -1) {
            var c = fresh
            try eager.dropLevelInPlace(&c, to: level)
            for step in [1, 2, -5] {
                XCTAssertEqual(try onDemand.rotate(c, by: step).components, try eager.rotate(c, by: step).components, "level \(level), step \(step)")
            }
            XCTAssertEqual(try onDemand.conjugate(c).components, try eager.conjugate(c).components, "level \(level)")
            let hoisted = try onDemand.rotations(of: c, by: [2, 1, -5]), whole = try eager.rotations(of: c, by: [2, 1, -5])
            for step in [1, 2, -5] { XCTAssertEqual(hoisted[step]?.components, whole[step]?.components, "hoisted, level \(level)") }
            reads += 4
            XCTAssertEqual(store.statistics.reads, reads, "four keys read once per level")
        }
        XCTAssertEqual(store.statistics.residentBytes,
                       4 * GaloisKeyStore.keyBytes(context) + 4 * (0..<context.maxLevel).reduce(0) { $0 + GaloisKeyStore.keyBytes(context, level: $1) })
        XCTAssertLessThan(GaloisKeyStore.keyBytes(context, level: 0), GaloisKeyStore.keyBytes(context) / 4)
    }

    /// Threads asking at once: a cut another thread is reading is waited for, not read twice
    /// (each of six cuts is asked for twice, twelve requests, six reads), different cuts are
    /// read at the same time, each read spread over three threads, and every key rotates as
    /// the whole key in memory does; the statistics count the bytes read.
    func testConcurrentRequestsReadEachCutOnce() throws {
        let context = try TestParameters.small(primeBits: [60, 40, 40, 40, 40, 40], specialPrimeBits: [60, 60], digits: 3)
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let steps = [1, 2, -5]
        let keys = try keygen.evaluationKeys(for: sk, rotations: steps)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-concurrent-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("k.heevk").path
        try CKKSFile.write(CKKSFile.serialize(keys), to: URL(fileURLWithPath: path), ownerOnly: false)
        let lazy = try CKKSFile.openEvaluationKeys(path: path, context: context, residentBytes: 1 << 30, readThreads: 3)
        let store = try XCTUnwrap(lazy.store)
        XCTAssertEqual(store.readThreads, 3)
        let eager = Evaluator(context: context, keys: keys), onDemand = Evaluator(context: context, keys: lazy)
        var rng = TestRNG(seed: 12)
        let values = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
        let fresh = try Encryptor(secretKey: sk).encrypt(Encoder(context: context).encode(values, scale: context.parameters.scale, level: context.maxLevel))
        // Request r: level 2 or 4 (r % 2), step r % 3: six cuts, each asked for twice.
        let requests = 12
        let inputs = try (0..<requests).map { r -> Ciphertext in
            var c = fresh
            try eager.dropLevelInPlace(&c, to: 2 + 2 * (r % 2))
            return c
        }
        let results = Locked<[Int: Bool]>([:])
        DispatchQueue.concurrentPerform(iterations: requests) { r in
            let same = (try? onDemand.rotate(inputs[r], by: steps[r % 3]).components == eager.rotate(inputs[r], by: steps[r % 3]).components) ?? false
            results.withLock { $0[r] = same }
        }
        XCTAssertEqual(results.withLock { $0 }, Dictionary(uniqueKeysWithValues: (0..<requests).map { ($0, true) }))
        let s = store.statistics
        XCTAssertEqual(s.reads, 6)
        let bytes = 3 * (GaloisKeyStore.keyBytes(context, level: 2) + GaloisKeyStore.keyBytes(context, level: 4))
        XCTAssertEqual(s.readBytes, bytes)
        XCTAssertEqual(s.residentBytes, bytes)
        XCTAssertGreaterThan(s.readSeconds, 0)
    }
}
