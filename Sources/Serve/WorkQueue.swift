import Dispatch
import Foundation

/// Runs CPU-bound work (parsing keys, evaluations) on a dedicated dispatch queue, off the NIO
/// event loops and off Swift's cooperative thread pool, which both stay free to move bytes
/// and answer health checks while evaluations run.
public enum WorkQueue {
    static let queue = DispatchQueue(label: "he-tool.serve.work", qos: .userInitiated, attributes: .concurrent)

    /// The result of `body`, run on the work queue.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
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
            queue.async {
                let result = Result { try body() }
                finished()
                once.resume(with: result)
            }
            queue.asyncAfter(deadline: .now() + seconds) { once.resume(with: .failure(timeoutError)) }
        }
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
