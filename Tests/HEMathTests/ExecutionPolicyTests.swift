import Foundation
import HEMath
import XCTest

/// An execution policy is in force inside `run`, on the calling thread only, and nests.
final class ExecutionPolicyTests: XCTestCase {
    func testPolicyIsScopedToTheThreadAndTheCall() throws {
        XCTAssertNil(ExecutionPolicy.current)
        ExecutionPolicy(threads: 1).run {
            XCTAssertEqual(ExecutionPolicy.current?.threads, 1)
            // Another thread meanwhile runs under its own (none).
            var seen: Int? = -1
            let done = DispatchSemaphore(value: 0)
            Thread {
                seen = ExecutionPolicy.current?.threads
                done.signal()
            }.start()
            done.wait()
            XCTAssertNil(seen)
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
