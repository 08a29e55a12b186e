/// Errors of the arithmetic layer. Each case names the value that was wrong, so that the
/// message can say what to change; user input never traps, it throws one of these.
public enum HEMathError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A modulus outside the supported range (2 ≤ q < 2^62), or not prime where a prime is needed.
    case invalidModulus(modulus: UInt64, reason: String)
    /// A multi-word modulus (in decimal) that is unusable, e.g. a big NTT prime P that is not
    /// prime or not ≡ 1 (mod 2N), or a ring modulus Q below 2.
    case invalidBigModulus(modulus: String, reason: String)
    /// A ring degree that is not a power of two in the supported range.
    case invalidDegree(degree: Int, reason: String)
    /// Division or reduction by zero.
    case divisionByZero
    /// The value has no inverse modulo the modulus (they share a factor).
    case notInvertible(value: String, modulus: String)
    /// A string that is not an integer in the requested radix.
    case invalidIntegerString(text: String, radix: Int)
    /// A negative exponent, or one out of range, for a power.
    case invalidExponent(String)
    /// Not enough NTT-friendly primes of the requested size exist for this ring degree.
    case primesExhausted(bits: Int, degree: Int, found: Int, requested: Int)
    /// Two operands that must share a basis, degree or shape do not.
    case mismatch(String)
    /// A value outside the range an operation accepts.
    case outOfRange(String)

    public var description: String {
        switch self {
        case let .invalidModulus(q, reason): return "invalid modulus \(q): \(reason)"
        case let .invalidBigModulus(m, reason):
            let shown = m.count <= 48 ? m : "\(m.prefix(20))…\(m.suffix(20)) (\(m.count) digits)"
            return "invalid modulus \(shown): \(reason)"
        case let .invalidDegree(n, reason): return "invalid ring degree \(n): \(reason)"
        case .divisionByZero: return "division by zero"
        case let .notInvertible(v, m): return "\(v) has no inverse modulo \(m) (they share a factor)"
        case let .invalidIntegerString(t, r): return "'\(t.prefix(64))' is not an integer in radix \(r)"
        case let .invalidExponent(why): return "invalid exponent: \(why)"
        case let .primesExhausted(bits, n, found, requested):
            return "only \(found) of \(requested) primes of \(bits) bits that are 1 mod \(2 * n) exist in range; use fewer primes of this size or another bit size"
        case let .mismatch(what): return "mismatch: \(what)"
        case let .outOfRange(what): return "out of range: \(what)"
        }
    }
}
