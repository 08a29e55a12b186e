import Foundation
import HEMath

/// Decryption results that may leave the secret key's owner.
///
/// A CKKS decryption m + e reveals the error e, and from it (and the ciphertext) the secret key:
/// Li and Micciancio's IND-CPA-D attack (eprint 2020/1533). Two defences, for two situations:
/// - **Public decoding** (`Encoder.decodePublic`) — when results are released as numbers of a
///   stated precision: every slot gets independent Gaussian noise of standard deviation 2^−p and
///   is then rounded to a multiple of 2^−p, so the released bits below 2^−p carry nothing
///   key-dependent. Cheap; use it whenever a decoded vector goes to another party and p bits
///   suffice (a classifier's scores, say). It is Lattigo's `DecodePublic` approach.
/// - **Noise flooding** (`NoiseFlooding`) — when many decryptions of related ciphertexts are
///   released and a statistical guarantee is needed: Gaussian noise of standard deviation
///   σ = √(12τ)·2^(s/2)·t is added to the decrypted polynomial before decoding (OpenFHE's
///   formula; τ the number of decryptions an adversary sees, s the statistical security bits,
///   t the ciphertext's error bound in coefficient units). It costs about log2(σ) bits of
///   precision; the scale must leave room for it.
/// A decryption that stays with the key owner needs neither.
extension Encoder {
    /// Decodes for release with `precisionBits` bits after the binary point (see `SafeDecryption`).
    public func decodePublic(_ plaintext: Plaintext, precisionBits p: Int) throws -> [Double] {
        guard (1...52).contains(p) else { throw CKKSError.outOfRange("public decoding precision must be 1…52 bits, got \(p)") }
        let values = try decode(plaintext)
        let step = Double(sign: .plus, exponent: -p, significand: 1)
        var stream = Sampler.freshStream()
        return values.map { v in
            // Box–Muller: one standard normal per value from the CSPRNG-seeded stream.
            let u1 = 1 - stream.nextDouble(), u2 = stream.nextDouble()
            let noise = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2) * step
            return ((v + noise) / step).rounded() * step
        }
    }
}

/// Noise flooding of decrypted plaintexts (see `Encoder.decodePublic` for when to use which).
public struct NoiseFlooding: Sendable {
    /// τ: how many decryptions the adversary may see.
    public let queries: Int
    /// s: statistical security parameter in bits.
    public let statisticalBits: Int
    /// t: bound on the ciphertext's error, in coefficient units (log2 given).
    public let log2ErrorBound: Double

    public init(queries: Int, statisticalBits: Int = 30, log2ErrorBound: Double) throws {
        guard queries >= 1, (1...128).contains(statisticalBits), log2ErrorBound.isFinite, log2ErrorBound >= 0 else {
            throw CKKSError.outOfRange("noise flooding needs queries ≥ 1, 1 ≤ s ≤ 128 and a finite t ≥ 1")
        }
        self.queries = queries
        self.statisticalBits = statisticalBits
        self.log2ErrorBound = log2ErrorBound
    }

    /// σ = √(12τ)·2^(s/2)·t.
    public var standardDeviation: Double {
        (12 * Double(queries)).squareRoot() * Foundation.pow(2, Double(statisticalBits) / 2 + log2ErrorBound)
    }

    /// The plaintext with Gaussian noise of standard deviation σ added to every coefficient.
    /// - Throws: `outOfRange` when σ would swamp the message (σ ≥ scale / 2) or exceed 2^56.
    public func flood(_ plaintext: Plaintext) throws -> Plaintext {
        let sigma = standardDeviation
        guard sigma < 0x1p56, sigma < plaintext.scale / 2 else {
            throw CKKSError.outOfRange(String(format: "flooding noise σ = 2^%.1f leaves no precision at scale 2^%.1f; use a larger scale or fewer queries", log2(sigma), log2(plaintext.scale)))
        }
        var stream = Sampler.freshStream()
        let noise = Sampler.gaussian(basis: plaintext.polynomial.basis, standardDeviation: sigma, using: &stream)
        var result = plaintext
        try result.polynomial.add(noise.forwardNTT())
        return result
    }
}
