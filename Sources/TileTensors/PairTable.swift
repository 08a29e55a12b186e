/// A hash table from pairs of integers to integers: open addressing with linear probing and a
/// multiplicative hash of the pair, no per-key allocation. A remap's slot grouping looks a key
/// up per slot and its splits one per group, hundreds of thousands per conversion; with Swift's
/// seeded SipHash (`Hashable` keys in `Dictionary` and `Set`) hashing was 60% of AlexNet's
/// conversion search. Deterministic: nothing iterates the table.
struct PairTable {
    private var first: [Int]
    private var second: [Int]
    private var values: [Int]
    private var shift: Int
    /// Keys stored.
    private(set) var count = 0
    /// Marks an empty bucket; no caller's first key is this negative.
    private static let empty = Int.min

    /// A table sized for about `capacity` keys before it grows.
    init(capacity: Int = 8) {
        var logSize = 3
        while (1 << logSize) < 2 * max(capacity, 1) { logSize += 1 }
        first = [Int](repeating: Self.empty, count: 1 << logSize)
        second = [Int](repeating: 0, count: 1 << logSize)
        values = [Int](repeating: 0, count: 1 << logSize)
        shift = 64 - logSize
    }

    /// The bucket for (a, b): the high bits of a multiplicative hash (Fibonacci hashing of a
    /// mix of both), so keys differing in low bits only (neighbouring slots, steps) spread.
    @inline(__always)
    private func home(_ a: Int, _ b: Int) -> Int {
        let h = (UInt64(bitPattern: Int64(a)) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: Int64(b))) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h >> UInt64(shift))
    }

    /// The value stored for (a, b), or `value` stored for it now: (the stored value, whether it
    /// was inserted now).
    @discardableResult
    mutating func value(_ a: Int, _ b: Int, orInsert value: Int) -> (value: Int, inserted: Bool) {
        precondition(a != Self.empty, "PairTable: the first key \(a) marks empty buckets")
        let mask = first.count - 1
        var i = home(a, b)
        while first[i] != Self.empty {
            if first[i] == a && second[i] == b { return (values[i], false) }
            i = (i + 1) & mask
        }
        first[i] = a
        second[i] = b
        values[i] = value
        count += 1
        if 2 * count > first.count { grow() }
        return (value, true)
    }

    /// Inserts (a, b) as a set member: true when it was not there.
    @discardableResult
    mutating func insert(_ a: Int, _ b: Int) -> Bool {
        value(a, b, orInsert: 0).inserted
    }

    /// The value stored for (a, b), if any.
    func value(_ a: Int, _ b: Int) -> Int? {
        let mask = first.count - 1
        var i = home(a, b)
        while first[i] != Self.empty {
            if first[i] == a && second[i] == b { return values[i] }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Twice the buckets, every key placed again.
    private mutating func grow() {
        let (oldFirst, oldSecond, oldValues) = (first, second, values)
        let size = 2 * oldFirst.count
        first = [Int](repeating: Self.empty, count: size)
        second = [Int](repeating: 0, count: size)
        values = [Int](repeating: 0, count: size)
        shift -= 1
        let mask = size - 1
        for j in oldFirst.indices where oldFirst[j] != Self.empty {
            var i = home(oldFirst[j], oldSecond[j])
            while first[i] != Self.empty { i = (i + 1) & mask }
            first[i] = oldFirst[j]
            second[i] = oldSecond[j]
            values[i] = oldValues[j]
        }
    }
}
