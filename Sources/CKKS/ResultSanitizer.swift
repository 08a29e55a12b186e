import HEMath

/// Circuit privacy for evaluation results: what a client decrypts from a sanitized result
/// depends on the slots it reads and on fresh randomness, not on the computation that made it.
///
/// `sanitize` does three things to a (relinearized) result ciphertext at its level:
/// 1. **Mask.** Multiplies by a 0/1 plaintext that keeps the slots the client reads (no
///    rescale, so no rounding error is added; the scale becomes Δ·Δ_m). The other slots hold
///    partial sums of the last layer and the noise of the whole circuit; after the product they
///    hold v_j·ε_j, where ε_j is the mask's encoding error, so their part of the decrypted
///    polynomial has ℓ1 norm ≤ Δ·max|v|·N when the mask's coefficients are within 1 of exact
///    (Parseval; `Encoder.encodeMaskPrecisely` makes such masks, `Compiler.CircuitPrivacy` sizes).
/// 2. **Re-randomize.** Adds an encryption of zero under the client's public key,
///    (b·u + e_0, a·u + e_1): c_1 becomes a fresh RLWE sample (pseudorandom under RLWE with the
///    fresh secret u, which the client does not know), so it no longer carries the circuit.
/// 3. **Flood.** Adds to c_0 a polynomial whose coefficients are independent and uniform on
///    [−2^b, 2^b). A shift by d changes a uniform distribution on an interval of width 2^(b+1)
///    by |d|/2^(b+1) in statistical distance, so over all coefficients the decryption is within
///    ‖d‖₁/2^(b+1) of the same uniform noise around the polynomial of the read slots alone.
///    The compiler sizes b so that this is at most 2^−40 and the modulus so that it fits.
///
/// The flooding is sampled exactly (uniform words from a fresh ChaCha20 stream, no floating
/// point), which a rounded wide Gaussian in doubles would not be.
public struct ResultSanitizer {
    public let context: CKKSContext
    let publicKey: PublicKey
    let evaluator: Evaluator

    public init(publicKey: PublicKey) {
        context = publicKey.context
        self.publicKey = publicKey
        evaluator = Evaluator(context: publicKey.context)
    }

    /// The sanitized result: `ct`·`mask` (when a mask is given) + Enc_pk(0) + flooding on
    /// [−2^floodBits, 2^floodBits). The mask must be a plaintext at `ct`'s level or above.
    /// - Throws: `componentCount` for an unrelinearized ciphertext; `outOfRange` when the
    ///   flooding (or the masked message) would not fit Q_level with room to spare.
    public func sanitize(_ ct: Ciphertext, mask: Plaintext?, floodBits: Int) throws -> Ciphertext {
        guard ct.context.isCompatible(with: context) else {
            throw CKKSError.parameterMismatch("the result and the public key belong to different parameter sets")
        }
        guard ct.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: ct.componentCount) }
        let basis = try context.basis(atLevel: ct.level)
        guard floodBits >= 1, Double(floodBits) + 2 <= basis.log2Product else {
            throw CKKSError.outOfRange("flooding of 2^\(floodBits) does not fit the \(Int(basis.log2Product))-bit modulus at level \(ct.level)")
        }
        var result = try mask.map { try evaluator.multiply(ct, $0) } ?? ct
        var stream = Sampler.freshStream()
        let sigma = context.parameters.errorStandardDeviation
        let u = Sampler.ternary(basis: basis, using: &stream).forwardNTT()
        var zero0 = Sampler.gaussian(basis: basis, standardDeviation: sigma, using: &stream)
        try zero0.add(Sampler.flooding(basis: basis, bits: floodBits, using: &stream))
        var c0 = zero0.forwardNTT()
        var c1 = Sampler.gaussian(basis: basis, standardDeviation: sigma, using: &stream).forwardNTT()
        try c0.addProduct(publicKey.b.restricted(to: basis), u)
        try c1.addProduct(publicKey.a.restricted(to: basis), u)
        try result.components[0].add(c0)
        try result.components[1].add(c1)
        result.seed = nil
        return result
    }
}

extension Sampler {
    /// A polynomial with independent coefficients uniform on [−2^bits, 2^bits), over `basis`:
    /// X − 2^bits for X uniform on [0, 2^(bits+1)), made of ⌈(bits+1)/64⌉ stream words (the top
    /// one masked) and reduced limb by limb as Σ w_i·(2^(64i) mod q) − (2^bits mod q). Exact:
    /// every value of the interval has probability 2^−(bits+1).
    public static func flooding(basis: RNSBasis, bits: Int, using stream: inout SeededStream) -> RNSPolynomial<Coefficient> {
        precondition(bits >= 1 && bits < 4096, "flooding width out of range")
        let words = (bits + 1 + 63) / 64
        let topBits = (bits + 1) - 64 * (words - 1)
        let topMask: UInt64 = topBits == 64 ? ~0 : (1 << UInt64(topBits)) - 1
        let n = basis.degree
        var draws = [UInt64](repeating: 0, count: n * words)
        for j in 0..<n {
            for w in 0..<words {
                let x = stream.next()
                draws[j * words + w] = w == words - 1 ? x & topMask : x
            }
        }
        return RNSPolynomial<Coefficient>(basis: basis) { out in
            for (i, m) in basis.moduli.enumerated() {
                // 2^(64w) mod q and 2^bits mod q.
                let two64 = m.multiply(1 << 63, 2)
                var powers = [UInt64](repeating: 1, count: words)
                for w in 1..<max(1, words) { powers[w] = m.multiplyReduced(powers[w - 1], two64) }
                let offset = m.power(2, UInt64(bits))
                for j in 0..<n {
                    var acc: UInt64 = 0
                    for w in 0..<words {
                        acc = m.add(acc, m.multiplyReduced(m.reduce(draws[j * words + w]), powers[w]))
                    }
                    out[i * n + j] = m.subtract(acc, offset)
                }
            }
        }
    }
}
