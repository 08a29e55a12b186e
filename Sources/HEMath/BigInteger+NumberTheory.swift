import CGMP

// Powers, modular inverses, gcd and primality: what modulus selection and CRT need.

/// The verdict of a primality test, as GMP's `mpz_probab_prime_p` gives it.
public enum Primality: Sendable {
    /// Certainly not prime (this includes 0, 1 and all negative values).
    case composite
    /// Passed the probabilistic tests; composites pass with negligible probability.
    case probablyPrime
    /// Certainly prime (GMP only proves this for small values, below about 2^50).
    case provenPrime
}

extension BigInteger {
    /// `self` raised to a non-negative power. Throws `.invalidExponent` for a negative
    /// exponent, or when the result would exceed GMP's size limit (GMP would abort).
    public func pow(_ exponent: Int) throws -> BigInteger {
        guard exponent >= 0 else {
            throw HEMathError.invalidExponent("negative exponent \(exponent) has no integer power")
        }
        // For |self| ≥ 2 the result has more than (bitWidth - 1) * exponent bits;
        // 0, 1 and -1 stay small for every exponent.
        let width = bitWidth
        if width >= 2 {
            let (lowerBound, overflow) = (width - 1).multipliedReportingOverflow(by: exponent)
            if overflow || lowerBound >= BigInteger.maximumBitWidth {
                throw HEMathError.invalidExponent(
                    "a \(width)-bit integer to the power \(exponent) exceeds GMP's size limit")
            }
        }
        return BigInteger.make { __gmpz_pow_ui($0, storage.pointer, UInt(exponent)) }
    }

    /// `self^exponent mod |modulus|`, in [0, |modulus|). A negative exponent means a power of
    /// the inverse, so it throws `.notInvertible` when `self` has none; a zero modulus throws
    /// `.divisionByZero`.
    public func pow(_ exponent: BigInteger, modulus: BigInteger) throws -> BigInteger {
        try BigInteger.checkNonzero(modulus)
        // GMP would divide by zero (crash) for a negative exponent without inverse; check first.
        let base = exponent.isNegative ? try inverse(modulo: modulus) : self
        let positiveExponent = exponent.magnitude
        return BigInteger.make {
            __gmpz_powm($0, base.storage.pointer, positiveExponent.storage.pointer,
                        modulus.storage.pointer)
        }
    }

    /// The x in [0, |m|) with `self * x ≡ 1 (mod m)`. Throws `.divisionByZero` for m = 0 and
    /// `.notInvertible` when gcd(self, m) ≠ 1. Modulo ±1 every value is invertible and the
    /// inverse is 0; answered here because older GMP releases (5.x) report "no inverse" there.
    public func inverse(modulo m: BigInteger) throws -> BigInteger {
        try BigInteger.checkNonzero(m)
        if m.bitWidth == 1 { return BigInteger() }
        var found: Int32 = 0
        let result = BigInteger.make {
            found = __gmpz_invert($0, storage.pointer, m.storage.pointer)
        }
        guard found != 0 else {
            throw HEMathError.notInvertible(value: description, modulus: m.description)
        }
        return result
    }

    /// The greatest common divisor, never negative; gcd(0, 0) is 0.
    public static func gcd(_ a: BigInteger, _ b: BigInteger) -> BigInteger {
        make { __gmpz_gcd($0, a.storage.pointer, b.storage.pointer) }
    }

    /// Tests primality with GMP's `mpz_probab_prime_p`: trial division, then Baillie-PSW
    /// (which GMP treats as a proof below about 2^50), then `rounds` minus 24 Miller-Rabin
    /// rounds if that is positive. Values below 2 are `.composite`, although GMP itself
    /// would judge a negative value by its absolute value.
    public func isProbablePrime(rounds: Int = 30) -> Primality {
        guard !isNegative, bitWidth >= 2 else { return .composite }
        let reps = Int32(clamping: max(rounds, 1))
        switch withMPZ({ __gmpz_probab_prime_p($0, reps) }) {
        case 2: return .provenPrime
        case 1: return .probablyPrime
        default: return .composite
        }
    }
}
