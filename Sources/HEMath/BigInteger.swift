import CGMP

/// Owns exactly one GMP integer (`mpz_t`) at a stable heap address, so that GMP may keep
/// pointers into it for the length of a call and several operands may alias one another.
///
/// `@unchecked Sendable` is sound because `BigInteger` only ever writes to a storage object it
/// holds the sole reference to (copy-on-write through `isKnownUniquelyReferenced`): a storage
/// reachable from two values, and therefore possibly from two threads, is never mutated again,
/// and GMP's read-only functions do not write to their source operands.
final class BigIntegerStorage: @unchecked Sendable {
    /// The GMP integer; initialised in `init`, cleared and freed in `deinit`.
    let pointer: UnsafeMutablePointer<__mpz_struct>

    /// A new storage holding zero.
    init() {
        pointer = .allocate(capacity: 1)
        __gmpz_init(pointer)
    }

    /// A new storage holding a copy of `other`'s value (used to un-share before a mutation).
    init(copying other: BigIntegerStorage) {
        pointer = .allocate(capacity: 1)
        __gmpz_init_set(pointer, other.pointer)
    }

    deinit {
        __gmpz_clear(pointer)
        pointer.deallocate()
    }
}

/// An arbitrary-precision signed integer backed by GMP, with value semantics.
///
/// Copies are cheap (they share storage); a mutation first copies the storage if it is
/// shared. Different values may be used from different threads at the same time.
public struct BigInteger {
    /// The GMP integer this value reads from; shared between copies until one of them mutates.
    var storage: BigIntegerStorage

    /// Zero. Internal: the public way to get zero is `BigInteger(0)` or the literal `0`.
    init() {
        storage = BigIntegerStorage()
    }

    /// Makes `storage` uniquely owned so it may be written to in place.
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = BigIntegerStorage(copying: storage)
        }
    }

    /// Builds a new value by letting `body` write into a fresh, unshared GMP integer that
    /// starts at zero. Every arithmetic operation that returns a new value goes through here.
    static func make(
        _ body: (UnsafeMutablePointer<__mpz_struct>) throws -> Void
    ) rethrows -> BigInteger {
        let result = BigInteger()
        try withExtendedLifetime(result.storage) { try body(result.storage.pointer) }
        return result
    }

    /// Calls `body` with a read-only pointer to this value's GMP integer, without copying, so
    /// other HEMath code can call GMP directly. The pointer is valid only inside `body`.
    func withMPZ<R>(_ body: (UnsafePointer<__mpz_struct>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafePointer(storage.pointer)) }
    }

    /// Calls `body` with a writable pointer to this value's GMP integer, after making the
    /// storage unique so no copy sees the change. The pointer is valid only inside `body`.
    mutating func withMutableMPZ<R>(
        _ body: (UnsafeMutablePointer<__mpz_struct>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try withExtendedLifetime(storage) { try body(storage.pointer) }
    }

    /// GMP's signed limb count: its sign is the sign of the value, its magnitude the number
    /// of 64-bit limbs in use (0 for zero). This is what the `mpz_sgn` macro reads.
    var signedLimbCount: Int32 {
        storage.pointer.pointee._mp_size
    }

    /// The largest bit width GMP can represent on this platform (`INT_MAX` limbs); GMP aborts
    /// the process beyond it, so operations whose result would be wider are refused first.
    static let maximumBitWidth = Int(Int32.max) * 64
}

// MARK: - Basic initialisers and properties

extension BigInteger: ExpressibleByIntegerLiteral {
    /// The value of a machine integer.
    public init(_ value: Int) {
        self.init()
        __gmpz_set_si(storage.pointer, value)
    }

    /// The value of an unsigned 64-bit integer, including those above `Int.max`.
    public init(_ value: UInt64) {
        self.init()
        __gmpz_set_ui(storage.pointer, UInt(value))
    }

    /// Lets integer literals (within `Int`'s range) stand for `BigInteger` values.
    public init(integerLiteral value: Int) {
        self.init(value)
    }

    /// True for zero.
    public var isZero: Bool { signedLimbCount == 0 }

    /// True for values below zero.
    public var isNegative: Bool { signedLimbCount < 0 }

    /// -1, 0 or 1 according to the sign of the value.
    public var signum: Int { Int(signedLimbCount.signum()) }

    /// The number of bits of the absolute value (position of the highest set bit plus one);
    /// 0 for zero. For example 255 and -255 both have bit width 8.
    public var bitWidth: Int {
        isZero ? 0 : withMPZ { Int(__gmpz_sizeinbase($0, 2)) }
    }

    /// The absolute value.
    public var magnitude: BigInteger {
        isNegative ? BigInteger.make { __gmpz_abs($0, storage.pointer) } : self
    }
}

// MARK: - Equality, hashing, ordering

extension BigInteger: Hashable, Comparable {
    /// Values are equal when GMP compares them equal.
    public static func == (lhs: BigInteger, rhs: BigInteger) -> Bool {
        __gmpz_cmp(lhs.storage.pointer, rhs.storage.pointer) == 0
    }

    /// Numeric order, by GMP's comparison.
    public static func < (lhs: BigInteger, rhs: BigInteger) -> Bool {
        __gmpz_cmp(lhs.storage.pointer, rhs.storage.pointer) < 0
    }

    /// Hashes the sign-and-length word and the limbs, which GMP keeps normalised (no high
    /// zero limbs), so equal values hash equally without exporting a copy.
    public func hash(into hasher: inout Hasher) {
        withMPZ { mpz in
            let size = mpz.pointee._mp_size
            hasher.combine(size)
            let limbCount = Int(size.magnitude)
            if limbCount > 0 {
                hasher.combine(bytes: UnsafeRawBufferPointer(
                    start: mpz.pointee._mp_d, count: limbCount * MemoryLayout<mp_limb_t>.stride))
            }
        }
    }
}

extension BigInteger: Sendable {}
