import Crypto
import Foundation
import HEMath

/// A CKKS parameter set: ring degree, prime chain, special primes, scale, key-switching digits,
/// error and secret distributions, and the security mode. Validated on creation; named by a
/// stable fingerprint (SHA-256 of its canonical encoding) that every file made with it carries.
public struct CKKSParameters: Sendable, Hashable {
    /// How the set is checked against the security table.
    public enum Security: String, Sendable, Hashable, Codable {
        /// 128-bit security by the Homomorphic Encryption Standard (the default).
        case standard128
        /// 128-bit with OpenFHE's extension to N = 131072.
        case extended128
        /// No security check: for tests with tiny rings only. Says so wherever it is printed.
        case insecureTestingOnly
    }

    /// log2 of the ring degree N.
    public let logDegree: Int
    /// The ciphertext primes q_0 … q_L (q_0 first, the scale primes after it).
    public let ciphertextPrimes: [UInt64]
    /// The special primes p_0 … p_(k−1) of hybrid key switching.
    public let specialPrimes: [UInt64]
    /// log2 of the default scale Δ.
    public let logScale: Int
    /// Number of digits the ciphertext primes are split into for key switching (dnum).
    public let keySwitchDigits: Int
    /// Standard deviation of the discrete Gaussian error.
    public let errorStandardDeviation: Double
    /// The security mode this set was validated in.
    public let security: Security

    /// The ring degree N.
    public var degree: Int { 1 << logDegree }
    /// N/2 complex slots.
    public var slotCount: Int { degree / 2 }
    /// The top level L (a fresh ciphertext has L + 1 primes).
    public var maxLevel: Int { ciphertextPrimes.count - 1 }
    /// The default scale Δ = 2^logScale.
    public var scale: Double { Double(sign: .plus, exponent: logScale, significand: 1) }
    /// log2(QP), summed over every prime including the special ones.
    public var log2QP: Double { (ciphertextPrimes + specialPrimes).reduce(0) { $0 + Foundation.log2(Double($1)) } }
    /// Ciphertext primes per key-switching digit (α = ⌈(L+1)/dnum⌉).
    public var primesPerDigit: Int { (ciphertextPrimes.count + keySwitchDigits - 1) / keySwitchDigits }

    /// Makes a set from bit sizes: the primes are generated deterministically (nearest 2^bits,
    /// distinct), the first of `primeBits` is q_0 and the rest are the scale primes.
    /// - Parameters:
    ///   - keySwitchDigits: dnum; by default one digit per ciphertext prime (as SEAL does).
    /// - Throws: `invalidParameters` for a malformed set, `insecureParameters` when log2(QP)
    ///   exceeds the 128-bit table (unless `security` is `.insecureTestingOnly`).
    public init(logDegree: Int, primeBits: [Int], specialPrimeBits: [Int], logScale: Int,
                keySwitchDigits: Int? = nil, security: Security = .standard128) throws {
        guard (1...17).contains(logDegree) else {
            throw CKKSError.invalidParameters("log N must be in 1…17, got \(logDegree)")
        }
        let primes: [UInt64]
        do {
            primes = try PrimeSearch.nttPrimes(bitSizes: primeBits + specialPrimeBits, degree: 1 << logDegree,
                                               strategy: .nearest)
        } catch let error as HEMathError {
            throw CKKSError.invalidParameters(error.description)
        }
        try self.init(logDegree: logDegree,
                      ciphertextPrimes: Array(primes.prefix(primeBits.count)),
                      specialPrimes: Array(primes.suffix(specialPrimeBits.count)),
                      logScale: logScale, keySwitchDigits: keySwitchDigits ?? primeBits.count,
                      security: security)
    }

    /// Makes a set from explicit primes (as read from a file), validating every field.
    public init(logDegree: Int, ciphertextPrimes: [UInt64], specialPrimes: [UInt64], logScale: Int,
                keySwitchDigits: Int, errorStandardDeviation: Double = 3.2,
                security: Security = .standard128) throws {
        self.logDegree = logDegree
        self.ciphertextPrimes = ciphertextPrimes
        self.specialPrimes = specialPrimes
        self.logScale = logScale
        self.keySwitchDigits = keySwitchDigits
        self.errorStandardDeviation = errorStandardDeviation
        self.security = security
        try validate()
    }

    /// Checks shape, primes, digits, scale and security; the single validation used by every
    /// constructor and reader.
    public func validate() throws {
        let n = degree
        guard (1...17).contains(logDegree) else { throw CKKSError.invalidParameters("log N must be in 1…17, got \(logDegree)") }
        if security != .insecureTestingOnly && logDegree < 10 {
            throw CKKSError.invalidParameters("log N = \(logDegree) is below 10; such rings are for tests only (security: insecureTestingOnly)")
        }
        guard !ciphertextPrimes.isEmpty else { throw CKKSError.invalidParameters("the chain needs at least one ciphertext prime") }
        guard !specialPrimes.isEmpty else { throw CKKSError.invalidParameters("hybrid key switching needs at least one special prime") }
        let all = ciphertextPrimes + specialPrimes
        guard Set(all).count == all.count else { throw CKKSError.invalidParameters("the primes of the chain must be distinct") }
        for q in all {
            guard q < Modulus.upperBound, q % UInt64(2 * n) == 1, PrimeSearch.isProvenPrime(q) else {
                throw CKKSError.invalidParameters("\(q) is not a prime below 2^62 that is 1 mod 2N = \(2 * n)")
            }
        }
        guard (1...ciphertextPrimes.count).contains(keySwitchDigits) else {
            throw CKKSError.invalidParameters("key-switching digits must be in 1…\(ciphertextPrimes.count), got \(keySwitchDigits)")
        }
        // Key-switching noise grows with (largest digit product) / P: require P to cover a digit.
        let digitBits = stride(from: 0, to: ciphertextPrimes.count, by: primesPerDigit).map { start in
            ciphertextPrimes[start..<min(start + primesPerDigit, ciphertextPrimes.count)]
                .reduce(0.0) { $0 + Foundation.log2(Double($1)) }
        }.max()!
        let specialBits = specialPrimes.reduce(0.0) { $0 + Foundation.log2(Double($1)) }
        guard specialBits + 1 >= digitBits else {
            throw CKKSError.invalidParameters(String(format: "the special primes (%.1f bits) must cover a key-switching digit (%.1f bits): add special primes or digits", specialBits, digitBits))
        }
        guard (1...60).contains(logScale), Double(logScale) < Foundation.log2(Double(ciphertextPrimes[0])) else {
            throw CKKSError.invalidParameters("log2 scale must be in 1…60 and below the first prime's size, got \(logScale)")
        }
        guard errorStandardDeviation > 0, errorStandardDeviation <= 32, errorStandardDeviation.isFinite else {
            throw CKKSError.invalidParameters("error standard deviation must be in (0, 32], got \(errorStandardDeviation)")
        }
        if security != .insecureTestingOnly {
            guard let limit = SecurityTable.maximumLog2QP(degree: n, allowExtended: security == .extended128) else {
                throw CKKSError.invalidParameters("no 128-bit row for N = \(n) in the \(security == .extended128 ? "extended" : "standard") table")
            }
            guard log2QP <= Double(limit) else {
                throw CKKSError.insecureParameters(log2QP: log2QP, limit: limit, degree: n)
            }
        }
    }

    /// The canonical encoding: a fixed byte layout of every field, little-endian.
    public var canonicalEncoding: [UInt8] {
        var bytes = Array("he-tool/ckks-parameters/v1".utf8)
        func append(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        append(UInt64(logDegree))
        append(UInt64(ciphertextPrimes.count))
        ciphertextPrimes.forEach(append)
        append(UInt64(specialPrimes.count))
        specialPrimes.forEach(append)
        append(UInt64(logScale))
        append(UInt64(keySwitchDigits))
        append(errorStandardDeviation.bitPattern)
        bytes.append(contentsOf: Array(security.rawValue.utf8))
        return bytes
    }

    /// SHA-256 of the canonical encoding: the name every file made with this set carries.
    public var fingerprint: [UInt8] { Array(SHA256.hash(data: canonicalEncoding)) }

    /// The fingerprint in hex.
    public var fingerprintHex: String { fingerprint.map { String(format: "%02x", $0) }.joined() }
}
