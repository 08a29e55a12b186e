import CKKS
import Dispatch
import Foundation

/// Runs CPU-bound work (parsing keys, evaluations) on a thread of its own, off the NIO event
/// loops and off Swift's cooperative thread pool, which both stay free to move bytes and
/// answer health checks while evaluations run. A thread per job, not a dispatch queue: a
/// custom concurrent queue on Linux runs at most one block per core at once, so evaluations
/// admitted by `EvaluationLimiter` would wait in it unseen, and a timer on it would fire late.
/// How many jobs run is bounded by the caller (the limiter for evaluations).
public enum WorkQueue {
    /// Timeouts fire on a serial queue of their own (serial queues get a thread even when
    /// every core is busy).
    static let timers = DispatchQueue(label: "he-tool.serve.timers")

    /// The result of `body`, run on a new thread.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            start { continuation.resume(with: Result { try body() }) }
        }
    }

    /// The result of `body`, or `timeoutError` when it takes longer than `seconds`; `body` then
    /// still runs to its end (an evaluation cannot be stopped half-way) and `finished` is
    /// called when it does, whichever came first.
    public static func run<T: Sendable>(timeout seconds: Double, timeoutError: any Error,
                                        finished: @escaping @Sendable () -> Void = {},
                                        _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let once = ResumeOnce(continuation)
            start {
                let result = Result { try body() }
                finished()
                once.resume(with: result)
            }
            timers.asyncAfter(deadline: .now() + seconds) { once.resume(with: .failure(timeoutError)) }
        }
    }

    private static func start(_ job: @escaping @Sendable () -> Void) {
        // Each job's buffers are freed when it ends; give their pages back (see MemoryTuning).
        let thread = Thread {
            job()
            MemoryTuning.releaseFreeMemory()
        }
        thread.name = "he-tool.serve.work"
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// A continuation resumed by the first of several racers.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?

    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = continuation }

    func resume(with result: Result<T, any Error>) {
        let c = lock.withLock { () -> CheckedContinuation<T, any Error>? in
            defer { continuation = nil }
            return continuation
        }
        c?.resume(with: result)
    }
}
