import Foundation
import HEMath

/// Errors of the CKKS layer. Each names what was wrong and, where it helps, what to do.
public enum CKKSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A parameter set that fails validation (shape, sizes, digits).
    case invalidParameters(String)
    /// A chain too large for 128-bit security at this ring degree.
    case insecureParameters(log2QP: Double, limit: Int, degree: Int)
    /// Operands at different levels where one level is required, or a level out of range.
    case levelMismatch(String)
    /// Operands whose scales differ beyond tolerance.
    case scaleMismatch(Double, Double)
    /// Objects made for different parameter sets (their fingerprints differ).
    case parameterMismatch(String)
    /// A rotation or conjugation whose Galois key was not generated.
    case missingGaloisKey(step: String)
    /// No relinearization key was given.
    case missingRelinearizationKey
    /// A ciphertext with the wrong number of components for the operation.
    case componentCount(expected: Int, actual: Int)
    /// Input values that cannot be encoded (too many, not finite, too large for the scale).
    case encoding(String)
    /// A value out of range for the operation (a level with no prime left, an empty input, …).
    case outOfRange(String)
    /// A file or buffer that is malformed; the message says which field.
    case invalidFormat(String)
    /// A file that cannot be read or written (missing, too large, no permission, disk full);
    /// the message names the path.
    case fileSystem(String)
    /// An error of the arithmetic layer below.
    case math(HEMathError)

    public var description: String {
        switch self {
        case let .invalidParameters(why): return "invalid CKKS parameters: \(why)"
        case let .insecureParameters(bits, limit, n):
            return String(format: "insecure parameters: log2(QP) = %.1f exceeds %d, the 128-bit limit of the Homomorphic Encryption Standard for N = %d; use fewer or smaller primes or a larger N", bits, limit, n)
        case let .levelMismatch(why): return "level mismatch: \(why)"
        case let .scaleMismatch(a, b): return "scale mismatch: 2^\(log2(a)) vs 2^\(log2(b)); rescale one operand first"
        case let .parameterMismatch(why): return "parameter mismatch: \(why)"
        case let .missingGaloisKey(step): return "no Galois key for \(step); generate the evaluation keys with that rotation"
        case .missingRelinearizationKey: return "no relinearization key; generate the evaluation keys with relinearization"
        case let .componentCount(expected, actual): return "expected a ciphertext of \(expected) components, got \(actual)"
        case let .encoding(why): return "cannot encode: \(why)"
        case let .outOfRange(why): return "out of range: \(why)"
        case let .invalidFormat(why): return "invalid file: \(why)"
        case let .fileSystem(why): return "file error: \(why)"
        case let .math(e): return e.description
        }
    }
}
