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
}
