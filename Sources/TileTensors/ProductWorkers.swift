import Dispatch
import Foundation
import CKKS
import HEMath

/// Running a step's independent plaintext products on several threads: each worker owns a
/// disjoint set of output accumulators and encodes its own plaintexts, one thread each.
///
/// Why: limb-level parallelism leaves a core idle in the dense tail of a large network. Its
/// products are at a low level (AlexNet's 4096 → 4096 layer: 5 primes, split 3/2 over two
/// threads) and most of their time is encoding, whose special FFT runs on one thread. Workers
/// over disjoint outputs use every core for the whole product (measured in the closing note of
/// this change; the counting mock always runs one worker, so the counts are unchanged).
public enum ProductWorkers {
    /// Runs `body(w)` for w in 0 ..< count concurrently, each on one thread (limbs not split
    /// further: `ExecutionPolicy(threads: 1)`), and rethrows the first error any worker threw.
    /// `body` must touch only worker w's own state, or state it locks.
    public static func run(_ count: Int, _ body: (Int) throws -> Void) throws {
        guard count > 1 else { return try body(0) }
        let errors = Locked<Error?>(nil)
        DispatchQueue.concurrentPerform(iterations: count) { w in
            do {
                try ExecutionPolicy(threads: 1).run { try body(w) }
            } catch {
                errors.withLock { if $0 == nil { $0 = error } }
            }
        }
        if let error = errors.withLock({ $0 }) { throw error }
    }
}

/// One worker's accumulators (a box, so that workers mutate disjoint objects, never one array).
final class WorkerAccumulators<Ciphertext> {
    var sums: [Int: Ciphertext] = [:]
}

extension TensorBackend {
    /// body(t) for t in 0 ..< count, independent tile operations (a square and its rescale,
    /// a product of two tiles), on the product workers (worker w takes t ≡ w mod W), results
    /// in order. Limb parallelism alone gave an elementwise step 1.24× from a second thread
    /// (845 squares of CryptoNets at N = 16384); whole tiles per thread use both cores.
    func mapTiles(_ count: Int, _ body: (Int) throws -> Ciphertext) throws -> [Ciphertext] {
        try mapConcurrently(count, body)
    }

    /// `mapTiles` for any result: body(t) for t in 0 ..< count on the product workers (worker w
    /// takes t ≡ w mod W), results in order. Rotate-and-sum chains of independent tiles and the
    /// hoisted rotation sets of several sources: a key switch split by limbs gained 1.0–1.4×
    /// from a second thread on the bundled MNIST model's latency plan, whole ones per thread 2×.
    func mapConcurrently<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
        let workers = max(1, min(productWorkerCount, count))
        let results = Locked([T?](repeating: nil, count: count))
        try runProductWorkers(workers, outputs: count) { w in
            for t in stride(from: w, to: count, by: workers) {
                let made = try body(t)
                results.withLock { $0[t] = made }
            }
        }
        return results.withLock { $0 }.map { $0! }
    }

    /// body(t, items[t]) for every t, `concurrentPieces` items at a time on the product workers,
    /// each item taken out of `items` (released) as its round starts; results in order. A step's
    /// sums finished by their rotate-and-sum chains: no more than that many sums beside the
    /// results, as when they were finished one by one.
    func mapInRounds<T, R>(_ items: inout [T?], _ body: (Int, T?) throws -> R) throws -> [R] {
        var results: [R] = []
        results.reserveCapacity(items.count)
        let together = concurrentPieces
        for first in stride(from: 0, to: items.count, by: together) {
            let round = first..<min(first + together, items.count)
            let taken = round.map { t -> T? in defer { items[t] = nil }; return items[t] }
            results += try mapConcurrently(round.count) { try body(first + $0, taken[$0]) }
        }
        return results
    }

    /// How many independent pieces of work (a step's sources, its sums' rotate-and-add chains)
    /// a step starts at once: the threads in force, at least 2, for the counting mock as well
    /// (it counts what a server of this machine's cores runs, and its memory tracker sees as
    /// many pieces alive). One thread takes its round's pieces one after the other.
    var concurrentPieces: Int {
        max(2, ExecutionPolicy.current?.threads ?? ExecutionPolicy.allCores.threads)
    }

    /// How many product workers a step may run: the thread count in force on the calling
    /// thread for a backend that computes (the CKKS backend), 1 for the counting mock.
    var productWorkerCount: Int {
        guard runsConcurrentProducts else { return 1 }
        return max(1, ExecutionPolicy.current?.threads ?? ExecutionPolicy.allCores.threads)
    }
}
