import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a piece of work may use the machine: the number of threads its kernels may run on.
///
/// A policy is in force only inside `run`, on the calling thread: two evaluations on two threads
/// of one process may run under different policies (the server's jobs, a test beside a
/// benchmark). Outside any `run` the kernels use every core (`RNSParallelism`).
public struct ExecutionPolicy: Equatable, Sendable {
    /// Threads the kernels may use: 1 runs every limb loop on the calling thread; 2 or more lets
    /// a large polynomial's limbs run concurrently.
    public let threads: Int

    /// A policy of `threads` (at least 1).
    public init(threads: Int) {
        precondition(threads >= 1, "an execution policy has at least one thread")
        self.threads = threads
    }

    /// Every online core of the machine.
    public static var allCores: ExecutionPolicy { ExecutionPolicy(threads: max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))) }

    /// Runs `body` on this thread with this policy in force (the previous one restored after).
    public func run<R>(_ body: () throws -> R) rethrows -> R {
        let previous = pthread_getspecific(Self.key)
        pthread_setspecific(Self.key, UnsafeRawPointer(bitPattern: threads))
        defer { pthread_setspecific(Self.key, previous) }
        return try body()
    }

    /// The policy in force on this thread, nil outside any `run`.
    public static var current: ExecutionPolicy? {
        guard let p = pthread_getspecific(key) else { return nil }
        return ExecutionPolicy(threads: Int(bitPattern: p))
    }

    /// Whether the calling thread's kernels may run limbs concurrently.
    @usableFromInline
    static var allowsConcurrentLimbs: Bool {
        guard let p = pthread_getspecific(key) else { return true }
        return Int(bitPattern: p) > 1
    }

    /// The thread-specific slot holding the thread count in force (no destructor: it holds an
    /// integer, not memory).
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed (\(status))")
        return key
    }()
}

extension ExecutionPolicy {
    /// body(i) for i in 0 ..< count, results in order, on the threads in force (the calling
    /// thread's policy; every core outside any): in rounds of one item per thread, each thread
    /// taking items i ≡ w (mod threads) under a one-thread policy, so a body's own kernels do not
    /// split further; the items of a last, partial round share every thread (a lone one on the
    /// calling thread under its policy, split by limbs), where they had left threads idle: with
    /// two threads, the third key switch of a hoisted set ran on one thread while the other
    /// waited. AlexNet's pools, whose rounds are mostly of one to three key switches, ran 35–46%
    /// over estimates that take every key switch as made two at a time; the first ran 11.3 s
    /// before this and 10.0 s after on the same plan (one run each). With one thread or one
    /// item, on the calling thread under its policy. The first error by index is rethrown once
    /// every item has run. For independent pieces of one operation (the steps of a hoisted
    /// rotation set, the tiles of an encrypted input).
    public static func concurrentMap<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
        let threads = current?.threads ?? allCores.threads
        guard min(threads, count) > 1 else { return try (0..<count).map(body) }
        let lock = NSLock()
        var results = [Result<T, Error>?](repeating: nil, count: count)
        func run(_ items: Range<Int>, workers: Int, threadsEach: Int) {
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                ExecutionPolicy(threads: threadsEach).run {
                    for i in stride(from: items.lowerBound + w, to: items.upperBound, by: workers) {
                        let made = Result { try body(i) }
                        lock.lock()
                        results[i] = made
                        lock.unlock()
                    }
                }
            }
        }
        let whole = count / threads * threads
        if whole > 0 { run(0..<whole, workers: threads, threadsEach: 1) }
        let tail = count - whole
        if tail == 1 {
            results[whole] = Result { try body(whole) }
        } else if tail > 1 {
            run(whole..<count, workers: tail, threadsEach: max(1, threads / tail))
        }
        return try results.map { try $0!.get() }
    }
}
