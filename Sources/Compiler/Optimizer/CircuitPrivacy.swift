import Foundation

/// How a plan sanitizes its results (`compile --circuit-privacy`, see `ResultSanitizer`): the
/// mask's scale, the flooding's width, and what they were sized for. All in bits.
///
/// Sizing, for a ring of degree N, a chain scale Δ ≤ 2^(s+1) (and ≥ 2^(s−1) at the output),
/// output slots (logits and garbage alike) below 2^g in magnitude and read slots below 2^o:
/// - After the mask the slots the client does not read hold Δ_tot·v_j·ε_j with |v_j| < 2^g and
///   Δ_m·‖ε‖₂ ≤ N/√2 (the mask's coefficients are within 1 of Δ_m·p_k: rounding, and the
///   double-double sums of `Encoder.encodeMaskPrecisely`; through Parseval); their part d of the
///   decrypted polynomial has ‖d‖₁ ≤ √N·‖d‖₂ ≤ Δ·2^g·N, plus N/2 for rounding the simulated
///   polynomial: ‖d‖₁ < 2^(s+g+log N+2). (A mask encoded in doubles is good to 2^−52 only:
///   Δ_m·‖ε‖₂ would be about 2^(m−45), and no flooding could hide v·ε without drowning the logits.)
/// - Uniform flooding on [−2^b, 2^b) moves by at most ‖d‖₁/2^(b+1) in statistical distance, so
///   b = s + g + log N + λ + 1 gives 2^−λ.
/// - In a read slot the flooding has standard deviation 2^b·√(N/6)/Δ_tot (each coefficient has
///   variance 2^(2b)/3, and Σ_k cos² = N/2); Δ_m = 2^m with m = b + ⌈log2 √(N/6)⌉ + p − (s − 1)
///   makes it at most 2^−p.
/// - The result's coefficients stay below Δ_tot·2^o + 2^b + (fresh noise), so the modulus left at
///   the output needs s + 1 + m + o + 2 bits (sign and a margin).
public struct CircuitPrivacy: Equatable, Sendable {
    /// The mask is encoded at scale 2^maskLogScale.
    public var maskLogScale: Int
    /// Flooding uniform on [−2^floodBits, 2^floodBits).
    public var floodBits: Int
    /// The output slots' magnitude bound it was sized for (2^slotBits).
    public var slotBits: Int
    /// Statistical distance ≤ 2^−statisticalBits.
    public var statisticalBits: Int
    /// The flooding's standard deviation in a logit is at most 2^−precisionBits.
    public var precisionBits: Int

    /// What the compiler is asked for; the ring and the scale fix the rest.
    public struct Request: Equatable, Sendable {
        public var slotBits: Int
        public var statisticalBits = 40
        public var precisionBits = 14
        public init(slotBits: Int, statisticalBits: Int = 40, precisionBits: Int = 14) {
            self.slotBits = slotBits
            self.statisticalBits = statisticalBits
            self.precisionBits = precisionBits
        }
    }

    public init(maskLogScale: Int, floodBits: Int, slotBits: Int, statisticalBits: Int, precisionBits: Int) {
        self.maskLogScale = maskLogScale
        self.floodBits = floodBits
        self.slotBits = slotBits
        self.statisticalBits = statisticalBits
        self.precisionBits = precisionBits
    }

    /// The sizes for a ring of 2^logDegree and a chain scale of 2^logScale.
    public static func sized(_ request: Request, logDegree: Int, logScale: Int) -> CircuitPrivacy {
        let b = logScale + request.slotBits + logDegree + request.statisticalBits + 1
        let spread = Int((0.5 * log2(Double(1 << logDegree) / 6)).rounded(.up))
        let m = b + spread + request.precisionBits - (logScale - 1)
        return CircuitPrivacy(maskLogScale: m, floodBits: b, slotBits: request.slotBits,
                              statisticalBits: request.statisticalBits, precisionBits: request.precisionBits)
    }

    /// Bits of modulus the output level needs (q_0 … q_out) for outputs below 2^outputBits.
    public func outputModulusBits(logScale: Int, outputBits: Int) -> Int {
        max(logScale + 1 + maskLogScale + outputBits + 2, floodBits + 2)
    }

    /// Splits `bits` into the fewest primes of at most 60 bits, as even as possible.
    public static func basePrimeBits(_ bits: Int) -> [Int] {
        let count = max(1, (bits + 59) / 60)
        let size = (bits + count - 1) / count
        return Array(repeating: size, count: count)
    }
}
