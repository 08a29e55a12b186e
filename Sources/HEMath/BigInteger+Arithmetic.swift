import CGMP

// Ring operations, division with its three rounding conventions, and shifts.

extension BigInteger {
    /// The sum.
    public static func + (lhs: BigInteger, rhs: BigInteger) -> BigInteger {
        make { __gmpz_add($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    /// The difference.
    public static func - (lhs: BigInteger, rhs: BigInteger) -> BigInteger {
        make { __gmpz_sub($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    /// The product.
    public static func * (lhs: BigInteger, rhs: BigInteger) -> BigInteger {
        make { __gmpz_mul($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    /// The negation.
    public static prefix func - (operand: BigInteger) -> BigInteger {
        make { __gmpz_neg($0, operand.storage.pointer) }
    }

    /// Adds in place, reusing `lhs`'s storage when it is not shared.
    public static func += (lhs: inout BigInteger, rhs: BigInteger) {
        lhs.makeUnique()
        __gmpz_add(lhs.storage.pointer, lhs.storage.pointer, rhs.storage.pointer)
    }

    /// Subtracts in place, reusing `lhs`'s storage when it is not shared.
    public static func -= (lhs: inout BigInteger, rhs: BigInteger) {
        lhs.makeUnique()
        __gmpz_sub(lhs.storage.pointer, lhs.storage.pointer, rhs.storage.pointer)
    }

    /// Multiplies in place, reusing `lhs`'s storage when it is not shared.
    public static func *= (lhs: inout BigInteger, rhs: BigInteger) {
        lhs.makeUnique()
        __gmpz_mul(lhs.storage.pointer, lhs.storage.pointer, rhs.storage.pointer)
    }
}

// MARK: - Division

extension BigInteger {
    /// Throws `.divisionByZero` when `divisor` is zero; every division checks this first,
    /// because GMP deliberately divides by zero (crashing the process) instead.
    static func checkNonzero(_ divisor: BigInteger) throws {
        if divisor.isZero { throw HEMathError.divisionByZero }
    }

    /// The quotient rounded toward zero, as Swift's `Int` division does.
    /// Throws `.divisionByZero` for a zero divisor.
    public static func / (lhs: BigInteger, rhs: BigInteger) throws -> BigInteger {
        try checkNonzero(rhs)
        return make { __gmpz_tdiv_q($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    /// The remainder of truncating division: it has the sign of `lhs`, as with `Int`'s `%`.
    /// Throws `.divisionByZero` for a zero divisor.
    public static func % (lhs: BigInteger, rhs: BigInteger) throws -> BigInteger {
        try checkNonzero(rhs)
        return make { __gmpz_tdiv_r($0, lhs.storage.pointer, rhs.storage.pointer) }
    }

    /// Truncating division (quotient toward zero, remainder with the sign of `self`), so
    /// that `self == quotient * divisor + remainder` and `|remainder| < |divisor|`.
    public func quotientAndRemainder(
        dividingBy divisor: BigInteger
    ) throws -> (quotient: BigInteger, remainder: BigInteger) {
        try BigInteger.checkNonzero(divisor)
        let remainder = BigInteger()
        let quotient = BigInteger.make {
            __gmpz_tdiv_qr($0, remainder.storage.pointer, storage.pointer, divisor.storage.pointer)
        }
        return (quotient, remainder)
    }

    /// Floored division (quotient toward minus infinity, remainder zero or with the sign of
    /// `divisor`), so that `self == quotient * divisor + remainder` and `|remainder| < |divisor|`.
    public func flooredQuotientAndRemainder(
        dividingBy divisor: BigInteger
    ) throws -> (quotient: BigInteger, remainder: BigInteger) {
        try BigInteger.checkNonzero(divisor)
        let remainder = BigInteger()
        let quotient = BigInteger.make {
            __gmpz_fdiv_qr($0, remainder.storage.pointer, storage.pointer, divisor.storage.pointer)
        }
        return (quotient, remainder)
    }

    /// The residue of `self` modulo `m` in [0, |m|), whatever the signs: the canonical
    /// representative used for modular arithmetic. Throws `.divisionByZero` for m = 0.
    public func modulo(_ m: BigInteger) throws -> BigInteger {
        try BigInteger.checkNonzero(m)
        return BigInteger.make { __gmpz_mod($0, storage.pointer, m.storage.pointer) }
    }

    /// The residue of `self` modulo a machine word, in [0, m), also for negative `self`;
    /// the fast path for reducing into an RNS limb. `m` must be positive: callers pass
    /// moduli they have already validated, so m = 0 is a programming error and traps.
    public func remainder(modulo m: UInt64) -> UInt64 {
        precondition(m > 0, "remainder(modulo:) needs a positive modulus")
        // Floored division by a positive divisor leaves a remainder in [0, m); fdiv_ui
        // returns its absolute value, which is therefore the remainder itself.
        return withMPZ { UInt64(__gmpz_fdiv_ui($0, UInt(m))) }
    }
}

// MARK: - Shifts

extension BigInteger {
    /// `value` multiplied by 2^amount (`amount` ≥ 0), refusing results GMP cannot represent:
    /// GMP would abort the process on them, so this stops with a readable message instead.
    static func shiftedLeft(_ value: BigInteger, by amount: UInt) -> BigInteger {
        if value.isZero { return value }
        precondition(amount <= UInt(maximumBitWidth - value.bitWidth),
                     "shifting a \(value.bitWidth)-bit integer left by \(amount) bits exceeds GMP's size limit")
        return make { __gmpz_mul_2exp($0, value.storage.pointer, amount) }
    }

    /// `value` divided by 2^amount rounded toward minus infinity, like `Int`'s `>>`
    /// (so -1 >> k is -1 for every k).
    static func shiftedRight(_ value: BigInteger, by amount: UInt) -> BigInteger {
        make { __gmpz_fdiv_q_2exp($0, value.storage.pointer, amount) }
    }

    /// Multiplies by 2^amount; a negative amount shifts right instead (floor, as `>>`).
    public static func << (lhs: BigInteger, rhs: Int) -> BigInteger {
        rhs >= 0 ? shiftedLeft(lhs, by: rhs.magnitude) : shiftedRight(lhs, by: rhs.magnitude)
    }

    /// Divides by 2^amount rounding toward minus infinity (an arithmetic shift, like `Int`'s
    /// `>>`, also for negative values); a negative amount shifts left instead.
    public static func >> (lhs: BigInteger, rhs: Int) -> BigInteger {
        rhs >= 0 ? shiftedRight(lhs, by: rhs.magnitude) : shiftedLeft(lhs, by: rhs.magnitude)
    }

    /// Shifts left in place (see `<<`).
    public static func <<= (lhs: inout BigInteger, rhs: Int) {
        lhs = lhs << rhs
    }

    /// Shifts right in place (see `>>`).
    public static func >>= (lhs: inout BigInteger, rhs: Int) {
        lhs = lhs >> rhs
    }
}
