import CKKS
import Foundation

/// The measured cost of every primitive on one ring and key-switching structure, as a function
/// of the number of limbs: what a whole family of parameter sets shares.
///
/// Costs depend on the ring degree N, the limbs m = level + 1, the primes per key-switching digit
/// α and the special primes k, not on the primes' bit sizes (every residue is one 64-bit word).
/// So one profile, measured at a few levels of one chain, prices every depth and scale of that
/// (N, α, k): a compile no longer calibrates each candidate parameter set (at N = 32768 that was
/// a minute each). Forms, fitted by least squares on the measured levels:
/// - add, plaintext product, rescale, encode: c₀ + c₁·m (one pass per limb; encode adds an FFT);
/// - rotation, hoisted rotation, product with relinearization (one key switch each):
///   c₀ + c₁·m + c₂·D(m)·(m + k), with D(m) = ⌈m/α⌉ digits raised to m + k limbs and multiplied
///   by the key (ModUp and the key product), and ModDown's per-limb passes in c₁.
public struct CostProfile: Codable, Sendable, Equatable {
    public var logDegree: Int
    public var primesPerDigit: Int
    public var specialPrimes: Int
    /// The largest level measured: the profile prices chains up to this level.
    public var maxLevel: Int
    /// Levels measured, and per primitive the measured microseconds at those levels (rescales:
    /// nothing at level 0, recorded as level 1's and left out of their fit).
    public var levels: [Int]
    public var measured: [String: [Double]]
    /// Per primitive the fitted coefficients (2 for the per-limb forms, 3 for key switches).
    public var coefficients: [String: [Double]]
    /// Set when the measurements stayed inconsistent after a repetition (a busy machine): the
    /// largest relative disagreement, so the compile can say its estimates may be off.
    public var noisy: Double?
    /// Set when the machine was busy while measuring (`MachineLoad`): every figure may be high
    /// although the repetitions agreed. Says why.
    public var busy: String? = nil

    enum CodingKeys: String, CodingKey {
        case logDegree = "log_degree", primesPerDigit = "primes_per_digit", specialPrimes = "special_primes"
        case maxLevel = "max_level", levels, measured, coefficients, noisy, busy
    }

    /// The family a parameter set belongs to.
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var logDegree: Int, primesPerDigit: Int, specialPrimes: Int
        public init(logDegree: Int, primesPerDigit: Int, specialPrimes: Int) {
            self.logDegree = logDegree
            self.primesPerDigit = primesPerDigit
            self.specialPrimes = specialPrimes
        }
        public init(_ p: CKKSParameters) {
            self.init(logDegree: p.logDegree, primesPerDigit: p.primesPerDigit, specialPrimes: p.specialPrimes.count)
        }
        public var description: String { "N = \(1 << logDegree), \(primesPerDigit) prime(s) per digit, \(specialPrimes) special" }
    }

    public var key: Key { Key(logDegree: logDegree, primesPerDigit: primesPerDigit, specialPrimes: specialPrimes) }

    /// Whether the profile prices chains up to `level`: up to a quarter beyond the deepest level
    /// measured, where the fitted forms (linear and D·(m + k) in the limbs) extrapolate; deeper
    /// ones are measured. Without that slack the ResNet-20 shape's compile measured N = 65536
    /// with one-prime digits three times (44, 50, 52 limbs; 10.6 GB for 2.8 GB keys).
    public func covers(level: Int) -> Bool { level <= maxLevel + maxLevel / 4 }

    static func isKeySwitch(_ p: Primitive) -> Bool {
        [.rotate, .hoistedRotation, .multiplyRelinearize, .concurrentMultiplyRelinearize,
         .multiplyRelinearizeRescale, .concurrentMultiplyRelinearizeRescale].contains(p)
    }

    /// Primitives that divide by the last prime: level 0 has none, and its entry is level 1's
    /// (`Calibrator.measure`), left out of the fit.
    static func rescales(_ p: Primitive) -> Bool {
        [.rescale, .concurrentRescale, .multiplyRelinearizeRescale, .concurrentMultiplyRelinearizeRescale].contains(p)
    }

    /// The features of level `level` for `primitive`.
    static func features(_ p: Primitive, level: Int, primesPerDigit: Int, specialPrimes: Int) -> [Double] {
        let m = Double(level + 1)
        guard isKeySwitch(p) else { return [1, m] }
        let digits = Double((level + primesPerDigit) / primesPerDigit)
        return [1, m, digits * (m + Double(specialPrimes))]
    }

    /// The cost of `primitive` at `level`: between two measured levels the measurements linearly
    /// interpolated, beyond them the fitted form times its residual's ratio at the nearest
    /// measured level (so the two meet there). Never below a twentieth of the cheapest measured.
    ///
    /// The fitted form alone (three coefficients over levels 0–14) bent between the lowest
    /// measured levels: at N = 16384 with 3 primes per digit it priced the fused
    /// multiply-relinearize-rescale at 1,537 µs at level 2 against 1,765 and 2,979 µs measured at
    /// levels 0 and 3: CryptoNets' last squares (level 2) ran 31–44% over their estimate, the
    /// MNIST model's +γ step (additions at level 5) 58% over. With the measurements
    /// interpolated: +8–19% and +9–12%.
    public func microseconds(_ p: Primitive, level: Int) -> Double {
        let value = interpolated(p, level: level) ?? fitted(p, level: level) * residualRatio(p, level: level)
        let floor = (measured[p.rawValue] ?? []).filter { $0 > 0 }.min() ?? 1
        return max(value, 0.05 * floor)
    }

    /// The measured values linearly interpolated at `level` when it lies between two measured
    /// levels (nil outside them).
    func interpolated(_ p: Primitive, level: Int) -> Double? {
        let points = Self.fitPoints(p, levels: levels, row: measured[p.rawValue] ?? []).sorted { $0.level < $1.level }
        guard let first = points.first, let last = points.last, (first.level...last.level).contains(level) else { return nil }
        let k = points.firstIndex { $0.level >= level }!
        if points[k].level == level { return points[k].value }
        let (a, b) = (points[k - 1], points[k])
        return a.value + (b.value - a.value) * Double(level - a.level) / Double(b.level - a.level)
    }

    /// The measurements of `p` the fit uses: positive ones, not a rescale's level 0 (which
    /// records level 1's). Interpolation and the form's scaling read the same points.
    static func fitPoints(_ p: Primitive, levels: [Int], row: [Double]) -> [(level: Int, value: Double)] {
        zip(levels, row).filter { $0.1 > 0 && !(rescales(p) && $0.0 == 0) }.map { (level: $0.0, value: $0.1) }
    }

    /// The fitted form of `primitive` at `level`.
    func fitted(_ p: Primitive, level: Int) -> Double {
        let c = coefficients[p.rawValue] ?? []
        let x = Self.features(p, level: level, primesPerDigit: primesPerDigit, specialPrimes: specialPrimes)
        return zip(c, x).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// measured / fitted at the measured level nearest `level` among those the fit used
    /// (positive, not a rescale's level 0): what scales the form beyond the measured levels so
    /// that it meets the last measurement; 1 where none is usable (a fit not positive there).
    func residualRatio(_ p: Primitive, level: Int) -> Double {
        let points = Self.fitPoints(p, levels: levels, row: measured[p.rawValue] ?? []).compactMap { point -> (level: Int, ratio: Double)? in
            let f = fitted(p, level: point.level)
            return f > 0 ? (point.level, point.value / f) : nil
        }
        return points.min { abs($0.level - level) < abs($1.level - level) }?.ratio ?? 1
    }

    /// Fits the forms to measurements; returns the profile and the largest relative residual.
    public static func fit(logDegree: Int, primesPerDigit: Int, specialPrimes: Int, levels: [Int],
                           measured: [String: [Double]]) -> (CostProfile, worst: Double) {
        var coefficients: [String: [Double]] = [:]
        var worst = 0.0
        for p in Primitive.allCases {
            let points = fitPoints(p, levels: levels, row: measured[p.rawValue] ?? [])
            let xs = points.map { features(p, level: $0.level, primesPerDigit: primesPerDigit, specialPrimes: specialPrimes) }
            // Relative least squares (each point weighted by 1/y): every level counts alike.
            let c = leastSquares(xs, points.map(\.value), weights: points.map { 1 / $0.value })
            coefficients[p.rawValue] = c
            for ((level, y), x) in zip(points, xs) {
                // Relative to at least a tenth of a rotation at that level (see `Calibrator.measure`).
                let rotation = levels.firstIndex(of: level).flatMap { measured[Primitive.rotate.rawValue]?[$0] } ?? y
                let r = abs(zip(c, x).reduce(0) { $0 + $1.0 * $1.1 } - y) / max(y, 0.1 * rotation)
                worst = max(worst, r)
            }
        }
        let profile = CostProfile(logDegree: logDegree, primesPerDigit: primesPerDigit, specialPrimes: specialPrimes,
                                  maxLevel: levels.max() ?? 0, levels: levels, measured: measured, coefficients: coefficients, noisy: nil)
        return (profile, worst)
    }

    /// Weighted least squares by the normal equations (at most 3 unknowns); with fewer points
    /// than unknowns the extra coefficients are 0.
    static func leastSquares(_ xs: [[Double]], _ ys: [Double], weights: [Double]) -> [Double] {
        guard let n0 = xs.first?.count else { return [] }
        let n = min(n0, xs.count)
        var a = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
        for (x, (y, w)) in zip(xs, zip(ys, weights)) {
            let w2 = w * w
            for i in 0..<n {
                for j in 0..<n { a[i][j] += w2 * x[i] * x[j] }
                a[i][n] += w2 * x[i] * y
            }
        }
        // Gauss-Jordan with partial pivoting.
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0][col]) < abs(a[$1][col]) }!
            a.swapAt(col, pivot)
            guard abs(a[col][col]) > 1e-300 else { continue }
            for r in 0..<n where r != col {
                let f = a[r][col] / a[col][col]
                for k in col...n { a[r][k] -= f * a[col][k] }
            }
        }
        var c = (0..<n).map { abs(a[$0][$0]) > 1e-300 ? a[$0][n] / a[$0][$0] : 0 }
        c += [Double](repeating: 0, count: n0 - n)
        return c
    }

    /// The per-level table of a parameter set of this family (levels 0 … its top), in the form
    /// the cost model reads.
    /// - Throws: `notCalibrated` when the set is of another family or deeper than measured.
    public func costs(for parameters: CKKSParameters, name: String) throws -> CostTable.ParameterCosts {
        guard Key(parameters) == key else {
            throw CompilerError.notCalibrated("the cost profile of \(key) does not price \(name) (\(Key(parameters)))")
        }
        guard covers(level: parameters.maxLevel) else {
            throw CompilerError.notCalibrated("the cost profile of \(key) reaches level \(maxLevel), \(name) needs \(parameters.maxLevel)")
        }
        let rows = Primitive.allCases.map { p in (p.rawValue, (0...parameters.maxLevel).map { microseconds(p, level: $0) }) }
        return CostTable.ParameterCosts(name: name, fingerprint: parameters.fingerprintHex, logDegree: parameters.logDegree,
                                        microseconds: Dictionary(uniqueKeysWithValues: rows))
    }

    /// Checks a profile read from disk.
    func validate() throws {
        // Bounded before any arithmetic on them (a hostile file must not overflow `covers` or
        // `features`): no chain has a thousand primes.
        guard (1...17).contains(logDegree), (1...1024).contains(primesPerDigit), (1...1024).contains(specialPrimes),
              (1...1024).contains(maxLevel),
              !levels.isEmpty, levels.allSatisfy({ (0...maxLevel).contains($0) }) else {
            throw CompilerError.invalidCalibration("cost profile with a bad ring, digit structure or levels")
        }
        for p in Primitive.allCases {
            guard let row = measured[p.rawValue], row.count == levels.count, row.allSatisfy({ $0.isFinite && $0 >= 0 }),
                  let c = coefficients[p.rawValue], c.count == (Self.isKeySwitch(p) ? 3 : 2), c.allSatisfy(\.isFinite) else {
                throw CompilerError.invalidCalibration("cost profile of N = 2^\(logDegree): \(p.rawValue) missing or not finite")
            }
        }
    }
}
