import CGMP

// Conversions between BigInteger and limb arrays, Double, and fixed-width integers.

extension BigInteger {
    /// The integer whose absolute value has the little-endian 64-bit `limbs` (limbs[0] is
    /// least significant; high zero limbs are allowed), negated when `isNegative` and nonzero.
    public init(magnitude limbs: [UInt64], isNegative: Bool = false) {
        self.init()
        guard !limbs.isEmpty else { return }
        limbs.withUnsafeBufferPointer { buffer in
            // order -1: least significant word first; endian 0: native byte order; no nails.
            __gmpz_import(storage.pointer, buffer.count, -1,
                          MemoryLayout<UInt64>.stride, 0, 0, buffer.baseAddress)
        }
        if isNegative { __gmpz_neg(storage.pointer, storage.pointer) }
    }

    /// The little-endian 64-bit limbs of the absolute value, without high zero limbs (so
    /// empty for zero). Together with `isNegative` this round-trips through `init(magnitude:)`.
    public var magnitudeLimbs: [UInt64] {
        let count = (bitWidth + 63) / 64
        guard count > 0 else { return [] }
        return withMPZ { mpz in
            [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
                var written = 0
                __gmpz_export(buffer.baseAddress, &written, -1,
                              MemoryLayout<UInt64>.stride, 0, 0, mpz)
                initialized = written
            }
        }
    }

    /// The integer nearest to `value`, halfway cases rounded away from zero (as `round`
    /// does). Exact for every finite double; throws `.outOfRange` for NaN and infinities.
    public init(roundingToNearest value: Double) throws {
        try self.init(truncating: value.rounded(.toNearestOrAwayFromZero))
    }

    /// The integer part of `value`, rounded toward zero. Exact for every finite double;
    /// throws `.outOfRange` for NaN and infinities, which have no integer value.
    public init(truncating value: Double) throws {
        guard value.isFinite else {
            throw HEMathError.outOfRange("\(value) has no integer value")
        }
        self.init()
        __gmpz_set_d(storage.pointer, value)  // truncates, exactly
    }

    /// The nearest `Double`, ties to even (IEEE round-to-nearest), and ±infinity when the
    /// magnitude is at least 2^1024 minus half an ulp. Unlike GMP's `mpz_get_d`, which
    /// truncates, this is the correctly rounded conversion.
    public var doubleValue: Double {
        let width = bitWidth
        guard width > 0 else { return 0 }
        let sign: FloatingPointSign = isNegative ? .minus : .plus
        // The top 64 bits of |x| and the bits below them: `top` holds the 53 bits a double
        // keeps plus the rounding bit and more; below the top 64 only "any bit set" matters.
        let shift = max(width - 64, 0)
        var top = withMPZ { mpz -> UInt64 in
            let limb = shift / 64, offset = shift % 64
            let low = UInt64(__gmpz_getlimbn(mpz, limb)) >> offset
            let high = offset == 0 ? 0 : UInt64(__gmpz_getlimbn(mpz, limb + 1)) << (64 - offset)
            return low | high
        }
        // scan1 finds the lowest set bit; it is the same for x and -x (two's complement).
        let sticky = shift > 0 && withMPZ { Int(__gmpz_scan1($0, 0)) } < shift
        if sticky { top |= 1 }  // below the rounding bit, so it only breaks ties correctly
        // Double(UInt64) rounds to nearest even; scaling by 2^shift is exact or overflows to
        // infinity, as the significand is at least 2^63 and subnormals cannot occur.
        return Double(sign: sign, exponent: shift, significand: Double(top))
    }

    /// The value as an `Int64`, or nil when it is outside Int64's range.
    public var int64Value: Int64? {
        withMPZ { __gmpz_fits_slong_p($0) != 0 ? Int64(__gmpz_get_si($0)) : nil }
    }

    /// The value as a `UInt64`, or nil when it is negative or at least 2^64.
    public var uint64Value: UInt64? {
        withMPZ { __gmpz_fits_ulong_p($0) != 0 ? UInt64(__gmpz_get_ui($0)) : nil }
    }
}
