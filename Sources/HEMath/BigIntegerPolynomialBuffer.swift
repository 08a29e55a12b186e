import CGMP

/// A fixed number of GMP integers (`mpz_t`) in one contiguous allocation: the working storage
/// of the big-integer NTT and of the big-integer reference ring.
///
/// Why not `[BigInteger]`: each `BigInteger` is a separate heap object reached through a
/// reference count and copy-on-write checks, so a butterfly on it would allocate. Here the
/// kernels call GMP on raw pointers into one array of `__mpz_struct`, reuse each integer's limb
/// storage across operations, and never allocate a Swift object per butterfly.
///
/// Every integer is initialised in `init` and cleared in `deinit`. The buffer is a reference
/// type with mutable contents and is not `Sendable`: one thread at a time may use it.
public final class BigIntegerPolynomialBuffer {
    /// The number of integers held.
    public let count: Int
    /// `count` initialised GMP integers; the address is stable for the buffer's lifetime.
    let coefficients: UnsafeMutablePointer<__mpz_struct>

    /// `count` zeros. `bitCapacity`, when positive, preallocates limbs for integers of that
    /// many bits (GMP grows them on demand anyway; preallocation only saves reallocations).
    public init(count: Int, bitCapacity: Int = 0) {
        precondition(count >= 0, "a buffer cannot hold a negative number of integers")
        self.count = count
        coefficients = .allocate(capacity: max(count, 1))
        for i in 0..<count {
            if bitCapacity > 0 {
                __gmpz_init2(coefficients + i, UInt(bitCapacity))
            } else {
                __gmpz_init(coefficients + i)
            }
        }
    }

    /// A buffer holding copies of `values`, in order, unreduced.
    public convenience init(_ values: [BigInteger]) {
        self.init(count: values.count)
        for (i, value) in values.enumerated() {
            value.withMPZ { __gmpz_set(coefficients + i, $0) }
        }
    }

    deinit {
        for i in 0..<count {
            __gmpz_clear(coefficients + i)
        }
        coefficients.deallocate()
    }

    /// The GMP integer at index i, for kernels in this module. Valid while the buffer lives.
    @inline(__always)
    func pointer(_ i: Int) -> UnsafeMutablePointer<__mpz_struct> {
        coefficients + i
    }

    /// The integer at index i (0 ≤ i < count), copied in or out.
    public subscript(i: Int) -> BigInteger {
        get {
            precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
            return BigInteger.make { __gmpz_set($0, coefficients + i) }
        }
        set {
            precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
            newValue.withMPZ { __gmpz_set(coefficients + i, $0) }
        }
    }

    /// All integers, in order, as values (copies: later changes to the buffer do not show).
    public var values: [BigInteger] {
        (0..<count).map { i in BigInteger.make { __gmpz_set($0, coefficients + i) } }
    }

    /// An independent buffer with the same integers, each with as much limb storage as the
    /// largest here, so a kernel run on the copy (a benchmark's fresh input) does not reallocate.
    public func copy() -> BigIntegerPolynomialBuffer {
        let limbs = (0..<count).reduce(0) { max($0, Int(coefficients[$1]._mp_alloc)) }
        let result = BigIntegerPolynomialBuffer(count: count, bitCapacity: limbs * 64)
        for i in 0..<count {
            __gmpz_set(result.coefficients + i, coefficients + i)
        }
        return result
    }
}
