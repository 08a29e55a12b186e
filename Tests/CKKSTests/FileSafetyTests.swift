import Foundation
import Glibc
import XCTest
@testable import CKKS

/// Special files refused before they are opened, the integrity frame's own checks, and writes
/// of several files as one (all or none).
final class FileSafetyTests: XCTestCase {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("he-tool-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Runs `body` on another thread and fails (instead of hanging the suite) past `seconds`.
    func withinSeconds(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () throws -> Void) {
        let done = expectation(description: what)
        Thread.detachNewThread {
            do { try body() } catch { XCTFail("\(what): \(error)") }
            done.fulfill()
        }
        wait(for: [done], timeout: seconds)
    }

    func testAFIFOIsRefusedWithoutBlocking() throws {
        let fifo = try temporaryDirectory().appendingPathComponent("keys.fifo")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        withinSeconds(10, "read of a FIFO returns") {
            XCTAssertThrowsError(try CKKSFile.read(from: fifo)) { error in
                XCTAssertEqual(error as? CKKSError, .fileSystem("\(fifo.path) is a FIFO (named pipe), not a regular file: give the path of an he-tool file"))
            }
        }
    }

    func testDevicesAndDirectoriesAreRefused() throws {
        withinSeconds(10, "read of /dev/zero returns") {
            XCTAssertThrowsError(try CKKSFile.read(from: URL(fileURLWithPath: "/dev/zero"))) { error in
                guard case let .fileSystem(why)? = error as? CKKSError else { return XCTFail("\(error)") }
                XCTAssertTrue(why.contains("is a device"), why)
            }
        }
        let directory = try temporaryDirectory()
        XCTAssertThrowsError(try CKKSFile.read(from: directory)) { error in
            guard case let .fileSystem(why)? = error as? CKKSError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("is a directory"), why)
        }
    }

    func testFrameChecks() throws {
        let payload = Array("a payload of some length".utf8)
        let sealed = IntegrityFrame.seal(payload, tag: .ciphertext)
        XCTAssertEqual(sealed.count, IntegrityFrame.headerSize + payload.count)
        XCTAssertEqual(IntegrityFrame.tag(of: sealed), .ciphertext)
        let read = try IntegrityFrame.withPayload(of: sealed, expecting: .ciphertext, legacyAdvice: "") { Array($0) }
        XCTAssertEqual(read, payload)

        func failure(_ bytes: [UInt8], _ tag: IntegrityFrame.Tag = .ciphertext) -> IntegrityFrame.Failure? {
            do {
                try IntegrityFrame.withPayload(of: bytes, expecting: tag, legacyAdvice: "advice") { _ in }
                return nil
            } catch { return error as? IntegrityFrame.Failure }
        }
        XCTAssertEqual(failure(sealed, .secretKey), .wrongKind(expected: .secretKey, found: "a ciphertext"))
        XCTAssertEqual(failure(Array(sealed.dropLast())), .damaged("the header says \(payload.count) bytes of content but \(payload.count - 1) follow: truncated"))
        XCTAssertEqual(failure(sealed + [0]), .damaged("the header says \(payload.count) bytes of content but \(payload.count + 1) follow: bytes were added"))
        XCTAssertEqual(failure(Array(sealed.prefix(30))), .damaged("30 bytes, shorter than the 56-byte header: truncated"))
        XCTAssertEqual(failure([]), .notFramed("the file is empty"))
        XCTAssertEqual(failure(Array("hello, world".utf8)), .notFramed("it does not start with the he-tool file signature"))
        // A length field that lies (2^63) is compared, never used to allocate or index.
        var lying = sealed
        for i in 16..<24 { lying[i] = i == 23 ? 0x80 : 0 }
        guard case .damaged? = failure(lying) else { return XCTFail("a lying length was accepted") }
        var flipped = sealed
        flipped[IntegrityFrame.headerSize + 3] ^= 0x10
        XCTAssertEqual(failure(flipped), .damaged("its SHA-256 checksum does not match its content"))
        var unknownKind = sealed
        unknownKind[10] = 0x7A
        XCTAssertEqual(failure(unknownKind), .wrongKind(expected: .ciphertext, found: "an unknown kind 'zect'"))
    }

    func testStagedFilesAreWrittenAllOrNone() throws {
        let directory = try temporaryDirectory()
        let a = directory.appendingPathComponent("a"), b = directory.appendingPathComponent("b")
        try CKKSFile.write([1], to: a, ownerOnly: false)
        // The second destination's directory is missing: staging fails, nothing changes.
        XCTAssertThrowsError(try StagedFile.commitAll([
            StagedFile([2], to: a, ownerOnly: false),
            StagedFile([3], to: directory.appendingPathComponent("missing/b"), ownerOnly: false),
        ]))
        XCTAssertEqual(try CKKSFile.read(from: a), [1])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["a"])
        // A rename that fails after the first one succeeded puts the first file back.
        let stagedA = try StagedFile([4], to: a, ownerOnly: false)
        let stagedB = try StagedFile([5], to: b, ownerOnly: false)
        try FileManager.default.createDirectory(at: b, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(at: b.appendingPathComponent("x"), withIntermediateDirectories: false)
        XCTAssertThrowsError(try StagedFile.commitAll([stagedA, stagedB]))
        XCTAssertEqual(try CKKSFile.read(from: a), [1], "the first file was restored")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)), ["a", "b"])
        try FileManager.default.removeItem(at: b)
        try StagedFile.commitAll([StagedFile([6], to: a, ownerOnly: false), StagedFile([7], to: b, ownerOnly: true)])
        XCTAssertEqual(try CKKSFile.read(from: a), [6])
        XCTAssertEqual(try CKKSFile.read(from: b), [7])
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: b.path)[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)), ["a", "b"])
    }
}
