import Foundation
import Model
import XCTest
@testable import Compiler

/// Issue 17's "every size limit is a clear error": a network no plan of which fits the memory
/// or the key limit is refused at compile time with the smallest figure it would need, and
/// compiles when given that figure.
final class SizeLimitTests: XCTestCase {
    private func compile(_ options: Optimizer.Options) throws -> Compilation {
        let graph = PrecisionPlanningTests.network(headScale: 1)
        return try Compilation.compile(graph, name: "limits", options: options,
                                       calibrationInputs: ResidualGraphTests.samples(graph, count: 1), costModel: FlowFixtures.costModel)
    }

    /// The figure after `flag` in `message` (e.g. "--max-key-mb 123 or more").
    private func figure(after flag: String, in message: String) -> Int? {
        guard let range = message.range(of: flag + " ") else { return nil }
        return Int(message[range.upperBound...].prefix { $0.isNumber })
    }

    func testKeyLimitIsRefusedWithTheSmallestKeySet() throws {
        var options = Optimizer.Options()
        options.searchConversions = false
        options.maximumKeyBytes = 1_000_000
        options.keyLimitIsHard = true
        var message = ""
        XCTAssertThrowsError(try compile(options)) { message = "\($0)" }
        XCTAssertTrue(message.contains("--max-key-mb"), message)
        let needed = try XCTUnwrap(figure(after: "--max-key-mb", in: message), message)
        options.maximumKeyBytes = needed * 1_000_000
        let c = try compile(options)
        XCTAssertLessThanOrEqual(c.plans[0].evaluationKeyBytes, needed * 1_000_000)
        // Without the user's limit it is a preference only: the same 1 MB compiles.
        options.maximumKeyBytes = 1_000_000
        options.keyLimitIsHard = false
        XCTAssertNoThrow(try compile(options))
    }

    func testMemoryLimitIsRefusedWithTheSmallestIntermediates() throws {
        var options = Optimizer.Options()
        options.searchConversions = false
        options.maximumIntermediateBytes = 1_000
        var message = ""
        XCTAssertThrowsError(try compile(options)) { message = "\($0)" }
        let needed = try XCTUnwrap(figure(after: "--max-memory-mb", in: message), message)
        options.maximumIntermediateBytes = needed * 1_000_000
        let c = try compile(options)
        XCTAssertLessThanOrEqual(c.plans[0].largestIntermediateBytes, needed * 1_000_000)
    }
}
