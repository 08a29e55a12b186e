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
    /// The ring degrees tried, smallest first. N = 65536 holds the ~40 levels of a ResNet-20
    /// with x² activations; its 128-bit limit (1747 bits) is not in the HE Standard's table
    /// but OpenFHE's extension of it (`SecurityTable`), which the report states.
    public static let logDegrees = [13, 14, 15, 16]
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
            for scale in stride(from: maximumScaleBits, through: minimumScaleBits, by: -1) {
                // One prime per digit: the fewest special bits, so the largest scale.
                if let choice = make(logDegree: logN, scale: scale, depth: depth, outputBits: outputBits, privacy: privacy, digits: nil) {
                    return choice
                }
            }
        }
        let what = privacy == nil ? "" : " and circuit privacy (flooding to 2^-\(privacy!.statisticalBits))"
        throw CompilerError.infeasible("depth \(depth) with a \(minimumScaleBits)-bit scale and \(outputBits)-bit outputs\(what) exceeds every 128-bit-secure ring up to N = \(1 << logDegrees.last!); retrain with fewer or lower-degree activations")
    }

    /// The chain for one ring, scale and number of key-switching digits (nil: one prime per
    /// digit and one special prime), or nil when it exceeds the ring's 128-bit limit. With d
    /// digits of ⌈(L+1)/d⌉ primes the special primes must cover the largest digit product
    /// (the key-switching noise bound), each at least as large as every ciphertext prime.
    static func make(logDegree logN: Int, scale: Int, depth: Int, outputBits: Int, privacy: CircuitPrivacy.Request?,
                     digits: Int?) -> Choice? {
        guard let limit = SecurityTable.maximumLog2QP(degree: 1 << logN, allowExtended: false) else { return nil }
        var base = [scale + outputBits + outputMarginBits]
        var sized: CircuitPrivacy? = nil
        if let privacy {
            let plan = CircuitPrivacy.sized(privacy, logDegree: logN, logScale: scale)
            base = CircuitPrivacy.basePrimeBits(plan.outputModulusBits(logScale: scale, outputBits: outputBits + outputMarginBits))
            sized = plan
        }
        guard base.allSatisfy({ $0 <= 60 }) else { return nil }
        let chain = base + Array(repeating: scale, count: depth)
        let largest = chain.max()!
        var special = [largest]
        if let d = digits, d < chain.count {
            let perDigit = (chain.count + d - 1) / d
            let digitBits = stride(from: 0, to: chain.count, by: perDigit).map { chain[$0..<min($0 + perDigit, chain.count)].reduce(0, +) }.max()!
            let k = (digitBits + 1 + 59) / 60
            special = Array(repeating: max(largest, (digitBits + 1 + k - 1) / k), count: k)
        }
        guard chain.reduce(0, +) + special.reduce(0, +) <= limit else { return nil }
        let d = digits.map { min($0, chain.count) }
        let preset = ParameterPreset(
            name: "n\(1 << logN)-d\(depth)-s\(scale)\(sized == nil ? "" : "-cp\(base.count)x\(base[0])")\(d == nil || d == chain.count ? "" : "-k\(d!)")",
            comment: "chosen by the compiler for a depth-\(depth) plan\(sized == nil ? "" : " with circuit privacy")\(d == nil ? "" : ", \(d!) key-switching digit(s)")",
            logDegree: logN, primeBits: chain, specialPrimeBits: special, logScale: scale, keySwitchDigits: d)
        // The primes nearest 2^bits may lie just above it: a chain whose bit sizes meet the
        // limit exactly can exceed it (the caller then tries the next scale down).
        guard let parameters = try? preset.parameters() else { return nil }
        return Choice(preset: preset, parameters: parameters, depth: depth, privacy: sized)
    }

    /// The same ring and depth with each other number of key-switching digits, each at the
    /// largest scale (≥ `minimumScaleBits`, at most `digitScaleMarginBits` below the choice's)
    /// whose special primes still fit the 128-bit limit.
    /// Fewer digits make keys smaller and key switches cheaper, at the price of special primes
    /// that the scale pays for.
    public static func digitVariants(of choice: Choice, outputBits: Int, minimumScaleBits: Int,
                                     privacy: CircuitPrivacy.Request?) -> [Choice] {
        let count = choice.parameters.ciphertextPrimes.count
        var seen = Set<Int>()
        var result: [Choice] = []
        for d in 1..<count {
            let perDigit = (count + d - 1) / d
            guard seen.insert(perDigit).inserted, perDigit > 1 else { continue }
            // At most `digitScaleMarginBits` below the one-prime-per-digit choice: the floor alone
            // let the TenSEAL tutorial's circuit-private plan fall from 40 to ~30 bits and its
            // logits to 3e-3 relative error.
            for scale in stride(from: choice.parameters.logScale, through: max(minimumScaleBits, choice.parameters.logScale - digitScaleMarginBits), by: -1) {
                if let v = make(logDegree: choice.parameters.logDegree, scale: scale, depth: choice.depth, outputBits: outputBits,
                                privacy: privacy, digits: (count + perDigit - 1) / perDigit) {
                    result.append(v)
                    break
                }
            }
        }
        return result
    }

    /// Scale bits a fewer-digit variant may give up for its special primes.
    public static let digitScaleMarginBits = 4

    /// Relative work of one key switch (ModUp of each digit to the extended basis, the key
    /// products, ModDown): about (digits + 2) · (ciphertext + special primes) NTT-sized passes.
    public static func keySwitchWork(_ p: CKKSParameters) -> Double {
        Double(p.keySwitchDigits + 2) * Double(p.ciphertextPrimes.count + p.specialPrimes.count)
    }
}
