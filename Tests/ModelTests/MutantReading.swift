import Foundation
import XCTest
@testable import Model

/// SplitMix64: a small, fixed, reproducible generator for the mutation tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Reading damaged variants of an input file: each must be read, or refused with a `ModelError`
/// that says something; anything else fails the test (and a trap would end the process).
enum MutantReading {
    /// Reads every variant; returns how many were refused and how many accepted.
    static func read(_ variants: [Data], _ decode: (Data) throws -> Void,
                     file: StaticString = #filePath, line: UInt = #line) -> (refused: Int, accepted: Int) {
        var refused = 0, accepted = 0
        for v in variants {
            do {
                try decode(v)
                accepted += 1
            } catch let e as ModelError {
                XCTAssertFalse(e.description.isEmpty, file: file, line: line)
                refused += 1
            } catch {
                XCTFail("not a ModelError: \(error)", file: file, line: line)
            }
        }
        return (refused, accepted)
    }
}
