import Foundation

/// Admission of evaluations: at most `capacity` run at once; beyond that a request is refused
/// at once (503 with `Retry-After`) instead of queueing behind minutes of work.
public final class EvaluationLimiter: @unchecked Sendable {
    public let capacity: Int
    private let lock = NSLock()
    private var running = 0
    private let onChange: @Sendable (Int) -> Void

    public init(capacity: Int, onChange: @escaping @Sendable (Int) -> Void = { _ in }) {
        precondition(capacity >= 1, "at least one evaluation runs")
        self.capacity = capacity
        self.onChange = onChange
    }

    /// Evaluations running now.
    public var inFlight: Int { lock.withLock { running } }

    /// Takes a slot, or returns false when all are taken.
    public func tryAcquire() -> Bool {
        let n = lock.withLock { () -> Int? in
            guard running < capacity else { return nil }
            running += 1
            return running
        }
        if let n { onChange(n) }
        return n != nil
    }

    /// Gives a slot back (when the evaluation has really finished, even after its request
    /// timed out).
    public func release() {
        let n = lock.withLock { () -> Int in
            precondition(running > 0, "release without acquire")
            running -= 1
            return running
        }
        onChange(n)
    }
}
