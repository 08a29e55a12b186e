import CKKS
import Compiler
import Foundation
@testable import Serve
import XCTest

/// The key cache alone: LRU eviction from memory, reload from the spill directory (owner-only
/// files named by id, checked against the id), the directory's own bound.
final class KeyCacheTests: XCTestCase {
    func testEvictionSpillAndReload() throws {
        let f = try ServeFixtures.get()
        let catalog = try f.catalog()
        let (_, small1) = try f.otherClient(rotations: false)
        let (_, small2) = try f.otherClient(rotations: false)
        let k1 = try catalog.parseKeys(small1), k2 = try catalog.parseKeys(small2)
        let size = KeyCache.memorySize(k1)
        XCTAssertGreaterThan(size, 0)
        let dir = f.directory.appendingPathComponent("cache-\(UUID().uuidString)")
        let cache = try KeyCache(memoryCapacity: size + size / 2, directory: dir, spillCapacity: 1 << 40)
        let id1 = KeyID.of(small1), id2 = KeyID.of(small2)
        XCTAssertTrue(try cache.insert(id: id1, keys: k1, fileBytes: small1))
        XCTAssertFalse(try cache.insert(id: id1, keys: k1, fileBytes: small1))
        XCTAssertEqual(cache.statistics.memoryEntries, 1)
        XCTAssertEqual(cache.statistics.memoryBytes, size)
        XCTAssertTrue(try cache.insert(id: id2, keys: k2, fileBytes: small2))
        // Only one fits: the least recently used (id1) left memory but not the directory.
        XCTAssertEqual(cache.statistics.memoryEntries, 1)
        XCTAssertEqual(cache.statistics.spillEntries, 2)
        XCTAssertTrue(cache.contains(id1))
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("\(id1).heevk").path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let dirAttributes = try FileManager.default.attributesOfItem(atPath: dir.path)
        XCTAssertEqual((dirAttributes[.posixPermissions] as? NSNumber)?.intValue, 0o700)
        var parses = 0
        let reloaded = try cache.keys(id1) { parses += 1; return try catalog.parseKeys($0) }
        XCTAssertEqual(reloaded?.1, .spill)
        XCTAssertEqual(parses, 1)
        XCTAssertEqual(try cache.keys(id1, parse: catalog.parseKeys)?.1, .memory)
        XCTAssertEqual(try cache.keys(id2, parse: catalog.parseKeys)?.1, .spill)
        XCTAssertNil(try cache.keys(String(repeating: "0", count: 64), parse: catalog.parseKeys))

        // A damaged spill file counts as absent (the client uploads again).
        let file = dir.appendingPathComponent("\(id1).heevk")
        var bytes = try CKKSFile.read(from: file)
        bytes[bytes.count / 2] ^= 1
        try CKKSFile.write(bytes, to: file, ownerOnly: true)
        XCTAssertEqual(try cache.keys(id2, parse: catalog.parseKeys)?.1, .memory)  // id1 is out of memory now
        XCTAssertNil(try cache.keys(id1, parse: catalog.parseKeys))
        XCTAssertFalse(cache.contains(id1))

        // A restarted cache adopts the files; a spill bound drops the least recently used.
        let restarted = try KeyCache(memoryCapacity: 1 << 40, directory: dir, spillCapacity: small2.count)
        XCTAssertEqual(restarted.statistics.spillEntries, 1)
        XCTAssertEqual(try restarted.keys(id2, parse: catalog.parseKeys)?.1, .spill)
    }
}
