import Foundation

/// The sizes of the errors CKKS operations add, for one parameter set: standard deviations of
/// the error polynomial's coefficients (integers, before the division by the scale), and the
/// error they put in a slot. The compiler injects them into its mock run of a plan to predict
/// the error of the decrypted logits (`MockBackend.noise`), so each is the model of one kernel
/// of this library, checked against measurements in `NoiseModelTests`.
///
/// A coefficient error polynomial e with independent coefficients of deviation σ puts
/// e(ζ^(5^j)) = Σ_k e_k·ζ^(5^j·k) in slot j, whose real part (what `decode` returns) has
/// deviation σ·√(N/2); the message there is divided by the scale Δ, so the slot error is
/// σ·√(N/2)/Δ. The secret s is uniform ternary, so a coefficient of r·s (r independent of s)
/// has variance (2N/3)·Var(r).
public struct NoiseModel: Sendable, Equatable {
    /// The ring degree N.
    public let degree: Int
    /// A fresh symmetric encryption (the client's: b = −a·s + e + m): e's deviation σ.
    public let freshEncryption: Double
    /// Encoding a plaintext rounds each coefficient to an integer: uniform on ±1/2, √(1/12).
    public let encodingRounding: Double
    /// Rescaling by q divides (c_0, c_1) by q with rounding: r_0 + r_1·s with r uniform on ±1/2,
    /// √((1 + 2N/3)/12). ModDown's division by P rounds the same way.
    public let rounding: Double
    /// Key switching (rotation, relinearization) per level: ModDown's rounding, plus the gadget
    /// term Σ_d c̃_d·e_d / P of the digits (centred, uniform on ±∏D_d/2) times the keys'
    /// errors: Σ_d N·(∏D_d)²/12·σ²/P².
    public let keySwitching: [Double]

    public init(parameters p: CKKSParameters) {
        let n = Double(p.degree)
        degree = p.degree
        let sigma = p.errorStandardDeviation
        freshEncryption = sigma
        encodingRounding = (1.0 / 12).squareRoot()
        let roundingVariance = (1 + 2 * n / 3) / 12
        rounding = roundingVariance.squareRoot()
        let log2P = p.specialPrimes.reduce(0.0) { $0 + Foundation.log2(Double($1)) }
        let alpha = p.primesPerDigit
        keySwitching = (0...p.maxLevel).map { level in
            var gadget = 0.0
            for start in stride(from: 0, through: level, by: alpha) {
                let bits = p.ciphertextPrimes[start...min(start + alpha - 1, level)].reduce(0.0) { $0 + Foundation.log2(Double($1)) }
                gadget += n / 12 * sigma * sigma * Foundation.pow(2, 2 * (bits - log2P))
            }
            return (roundingVariance + gadget).squareRoot()
        }
    }

    /// The deviation of the real part of a slot of an error polynomial whose coefficients have
    /// deviation `coefficientDeviation`, in message units at `scale`.
    public func slotDeviation(_ coefficientDeviation: Double, scale: Double) -> Double {
        coefficientDeviation * (Double(degree) / 2).squareRoot() / scale
    }
}
