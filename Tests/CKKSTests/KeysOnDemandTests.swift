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
}
