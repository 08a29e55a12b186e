import XCTest
@testable import TileTensors

/// `PairTable` against `Dictionary` on keys that collide in their low bits and make it grow.
final class PairTableTests: XCTestCase {
    func testAgreesWithADictionary() {
        var table = PairTable(capacity: 1)
        var reference: [[Int]: Int] = [:]
        var rng = SystemRandomNumberGenerator()
        for n in 0..<20_000 {
            // Few distinct first keys, steps that are multiples of a power of two, negatives.
            let a = Int.random(in: -3...40, using: &rng)
            let b = Int.random(in: -64...64, using: &rng) * 1024
            let got = table.value(a, b, orInsert: n)
            if let known = reference[[a, b]] {
                XCTAssertEqual(got.value, known)
                XCTAssertFalse(got.inserted)
            } else {
                reference[[a, b]] = n
                XCTAssertEqual(got.value, n)
                XCTAssertTrue(got.inserted)
            }
        }
        XCTAssertEqual(table.count, reference.count)
        for (key, value) in reference { XCTAssertEqual(table.value(key[0], key[1]), value) }
        XCTAssertNil(table.value(41, 0))
        XCTAssertFalse(table.insert(reference.keys.first![0], reference.keys.first![1]))
        XCTAssertTrue(table.insert(1_000_000, -1))
    }
}
