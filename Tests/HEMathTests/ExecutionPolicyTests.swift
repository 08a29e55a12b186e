import Foundation
import HEMath
import XCTest

/// An execution policy is in force inside `run`, on the calling thread only, and nests.
final class ExecutionPolicyTests: XCTestCase {
    /// What another thread saw (written before the semaphore is signalled, read after).
    final class Seen: @unchecked Sendable { var threads = -1 }

    func testPolicyIsScopedToTheThreadAndTheCall() throws {
        XCTAssertNil(ExecutionPolicy.current)
        ExecutionPolicy(threads: 1).run {
            XCTAssertEqual(ExecutionPolicy.current?.threads, 1)
            // Another thread meanwhile runs under its own (none).
            let seen = Seen()
            let done = DispatchSemaphore(value: 0)
            Thread {
                seen.threads = ExecutionPolicy.current?.threads ?? 0
                done.signal()
            }.start()
            done.wait()
            XCTAssertEqual(seen.threads, 0, "no policy on the other thread")
            ExecutionPolicy(threads: 4).run { XCTAssertEqual(ExecutionPolicy.current?.threads, 4) }
            XCTAssertEqual(ExecutionPolicy.current?.threads, 1, "the outer policy is restored")
        }
        XCTAssertNil(ExecutionPolicy.current)
    }

    /// Under one thread, limb loops run in order on the calling thread.
    func testSingleThreadRunsLimbsInOrderOnTheCaller() throws {
        var order: [Int] = []
        let caller = Thread.current
        ExecutionPolicy(threads: 1).run {
            RNSParallelism.forEachLimb(count: 8, degree: 1 << 14) { i in
                XCTAssertTrue(Thread.current == caller)
                order.append(i)
            }
        }
        XCTAssertEqual(order, Array(0..<8))
    }

    /// Items run one per thread in whole rounds; a last, partial round's items share the
    /// threads (a lone one under the caller's policy), results in order, errors by index.
    func testConcurrentMapSharesThePartialRoundsThreads() throws {
        func threadsSeen(_ count: Int, under threads: Int) throws -> [Int] {
            try ExecutionPolicy(threads: threads).run {
                try ExecutionPolicy.concurrentMap(count) { _ in ExecutionPolicy.current?.threads ?? 0 }
            }
        }
        XCTAssertEqual(try threadsSeen(4, under: 2), [1, 1, 1, 1])
        XCTAssertEqual(try threadsSeen(3, under: 2), [1, 1, 2], "the third item takes both threads")
        XCTAssertEqual(try threadsSeen(1, under: 2), [2])
        XCTAssertEqual(try threadsSeen(6, under: 4), [1, 1, 1, 1, 2, 2])
        XCTAssertEqual(try threadsSeen(5, under: 4), [1, 1, 1, 1, 4])
        XCTAssertEqual(try threadsSeen(3, under: 4), [1, 1, 1])
        XCTAssertEqual(try threadsSeen(5, under: 1), [1, 1, 1, 1, 1])
        let squares = try ExecutionPolicy(threads: 2).run { try ExecutionPolicy.concurrentMap(7) { $0 * $0 } }
        XCTAssertEqual(squares, (0..<7).map { $0 * $0 })
        struct Failure: Error, Equatable { let index: Int }
        XCTAssertThrowsError(try ExecutionPolicy(threads: 2).run {
            try ExecutionPolicy.concurrentMap(5) { i -> Int in if i == 2 || i == 4 { throw Failure(index: i) }; return i }
        }) { XCTAssertEqual($0 as? Failure, Failure(index: 2)) }
    }
}
