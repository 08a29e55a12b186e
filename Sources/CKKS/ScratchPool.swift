import Foundation

/// Reusable word buffers for the transient data of key switching (decompositions, accumulators,
/// ModDown temporaries), so that the hot path does not allocate: fresh 100 KB–1 MB buffers per
/// call cost page faults and zeroing that showed up as ~30 % of a rotation at N = 8192.
///
/// `take` hands out a buffer of at least `count` words (contents undefined), `give` returns it.
/// Thread-safe; keeps at most `limit` idle buffers.
final class ScratchPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [[UInt64]] = []
    private let limit = 64

    func take(_ count: Int) -> [UInt64] {
        lock.lock()
        if let i = idle.firstIndex(where: { $0.count >= count }) {
            let buffer = idle.remove(at: i)
            lock.unlock()
            return buffer
        }
        lock.unlock()
        return [UInt64](unsafeUninitializedCapacity: count) { $1 = count }
    }

    func give(_ buffer: [UInt64]) {
        lock.lock()
        defer { lock.unlock() }
        if idle.count < limit { idle.append(buffer) }
    }

    /// Runs `body` with a pooled buffer of at least `count` words, returning it afterwards.
    func with<R>(_ count: Int, _ body: (UnsafeMutablePointer<UInt64>) throws -> R) rethrows -> R {
        var buffer = take(count)
        defer { give(buffer) }
        return try buffer.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }
}
