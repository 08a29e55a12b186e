import CKKS
import Foundation

/// Picks the smallest 128-bit-secure CKKS parameter set for a plan: `depth` rescaling primes of
/// the scale's size above a base prime q_0 that holds the output, and one special prime.
///
/// The scale Δ sets the precision: every rescale adds an error of a few units over Δ, which the
/// layers after it amplify, so Δ has a floor (`minimumScaleBits`, 29 bits by default). Measured
/// on the TenSEAL tutorial network (5 bundled images, depth 5, N = 8192): 25 bits gave logits
/// off by 1.7e-3 relative to the largest, 29 bits 1.7e-4, inside the 1e-3 the end-to-end tests
/// hold every bundled model to; at 30 bits that network would need N = 16384 (log2 QP 224 > 218)
/// and run 2–3× slower. TenSEAL's tutorial itself runs at 26. Within the smallest ring N whose
/// HE-Standard limit on log2(QP) holds the chain at that
/// floor, Δ is raised as far as the limit allows (at most `maximumScaleBits`), because extra
/// bits are free there. q_0 holds Δ·|output| with `outputBits` for the largest output magnitude
/// (from the range audit or the calibration inputs) plus a safety margin; the special prime is
/// at least as large as every other prime, as the key-switching noise bound wants.
public enum ParameterSelection {
    /// The ring degrees tried, smallest first.
    public static let logDegrees = [13, 14, 15]
    /// Bits added to the output magnitude in q_0 (inputs larger than the calibration's).
    public static let outputMarginBits = 2

    public struct Choice: Equatable, Sendable {
        public var preset: ParameterPreset
        public var parameters: CKKSParameters
        public var depth: Int
        /// The result sanitization the base primes were sized for (compile --circuit-privacy).
        public var privacy: CircuitPrivacy? = nil
    }

    /// The choice for `depth` levels and outputs up to 2^outputBits in magnitude.
    /// - Throws: `CompilerError.infeasible` when even the largest ring cannot hold the chain.
    ///
    /// With `privacy`, the base under the chain is not one prime q_0 but the primes the result
    /// sanitization needs (`CircuitPrivacy`): the plan's output sits at level (their count − 1),
    /// where the mask product (no rescale) and the flooding must fit.
    public static func select(depth: Int, outputBits: Int, minimumScaleBits: Int = 29, maximumScaleBits: Int = 40,
                              privacy: CircuitPrivacy.Request? = nil) throws -> Choice {
        for logN in logDegrees {
            guard let limit = SecurityTable.maximumLog2QP(degree: 1 << logN, allowExtended: false) else { continue }
            for scale in stride(from: maximumScaleBits, through: minimumScaleBits, by: -1) {
                var base = [scale + outputBits + outputMarginBits]
                var sized: CircuitPrivacy? = nil
                if let privacy {
                    let plan = CircuitPrivacy.sized(privacy, logDegree: logN, logScale: scale)
                    base = CircuitPrivacy.basePrimeBits(plan.outputModulusBits(logScale: scale, outputBits: outputBits + outputMarginBits))
                    sized = plan
                }
                guard base.allSatisfy({ $0 <= 60 }) else { continue }
                let special = max(base.max()!, scale)
                guard base.reduce(0, +) + depth * scale + special <= limit else { continue }
                let preset = ParameterPreset(
                    name: "n\(1 << logN)-d\(depth)-s\(scale)\(sized == nil ? "" : "-cp\(base.count)x\(base[0])")",
                    comment: "chosen by the compiler for a depth-\(depth) plan\(sized == nil ? "" : " with circuit privacy")",
                    logDegree: logN, primeBits: base + Array(repeating: scale, count: depth), specialPrimeBits: [special],
                    logScale: scale, keySwitchDigits: nil)
                // The primes nearest 2^bits may lie just above it: a chain whose bit sizes meet
                // the limit exactly can exceed it, and then the next scale down is taken.
                guard let parameters = try? preset.parameters() else { continue }
                return Choice(preset: preset, parameters: parameters, depth: depth, privacy: sized)
            }
        }
        let what = privacy == nil ? "" : " and circuit privacy (flooding to 2^-\(privacy!.statisticalBits))"
        throw CompilerError.infeasible("depth \(depth) with a \(minimumScaleBits)-bit scale and \(outputBits)-bit outputs\(what) exceeds every 128-bit-secure ring up to N = \(1 << logDegrees.last!); retrain with fewer or lower-degree activations")
    }
}
