import CKKS
import Dispatch
import Foundation
import HEMath
import TileTensors

/// Times every `Primitive` at every level of a parameter set on this machine, with the
/// evaluator's real code paths (value-returning forms, as the tile-tensor backend calls them).
///
/// Each figure is the median of at least `minimumReps` calls, more while a measurement stays
/// under `budgetSeconds` (up to `maximumReps`), after one warm-up call. Threading is the
/// calling thread's `ExecutionPolicy` (`CalibrationCache` runs it under its thread count, which
/// the table records).
public struct Calibrator {
    public var minimumReps = 5
    public var maximumReps = 25
    public var budgetSeconds = 0.2
    /// Measure a cost profile a second time when its first measurement disagreed with itself
    /// by more than `noiseTolerance` (the second replaces the first). Off for the compile's
    /// profiles (`CalibrationCache.model`): on this project's shared 2-core machine the second
    /// pass disagreed as much (36–69%) and doubled a cold AlexNet compile's 7 minutes of
    /// calibration; the profile is marked noisy either way and `calibrate --force` remakes it.
    public var remeasureNoisyProfiles = true
    /// How the first-touch cost of memory is measured (`FirstTouchCost`) when a table has none;
    /// nil: not measured (the cost model then prices no first touch).
    public var firstTouch: FirstTouchCost? = FirstTouchCost()
    /// How reading Galois keys from their file is measured (`KeyReadCost`) when a table has
    /// none; nil: not measured (the cost model then prices no key reads).
    public var keyRead: KeyReadCost? = KeyReadCost()

    public init(remeasureNoisyProfiles: Bool = true) {
        self.remeasureNoisyProfiles = remeasureNoisyProfiles
    }

    /// The costs of `parameters` (named `name` for display). `progress` receives one line per level.
    public func calibrate(name: String, parameters: CKKSParameters,
                          progress: (String) -> Void = { _ in }) throws -> CostTable.ParameterCosts {
        let levels = Array(0...max(parameters.maxLevel, 0))
        let (rows, _) = try measure(name: name, parameters: parameters, levels: levels, progress: progress)
        return CostTable.ParameterCosts(name: name, fingerprint: parameters.fingerprintHex,
                                        logDegree: parameters.logDegree, microseconds: rows)
    }

    /// Every primitive timed at `levels` of `parameters` (the top level first): per primitive one
    /// figure per requested level (rescale at level 0, where it cannot run, gets level 1's), and
    /// per level the largest spread (interquartile range over median) of its measurements.
    public func measure(name: String, parameters: CKKSParameters, levels: [Int],
                        progress: (String) -> Void = { _ in }) throws -> (rows: [String: [Double]], spread: [Double]) {
        guard parameters.maxLevel >= 1 else {
            throw CompilerError.notCalibrated("\(name) has a single ciphertext prime: nothing to rescale, nothing to calibrate a network with")
        }
        let context = try CKKSContext(parameters: parameters)
        let keygen = KeyGenerator(context: context)
        let secretKey = keygen.secretKey()
        // Hoisting is priced from a set of k steps; fewer at N ≥ 32768 where each key is ~200 MB.
        let hoisted = parameters.logDegree >= 15 ? 2 : 4
        let steps = Array(1...hoisted)
        let keys = try keygen.evaluationKeys(for: secretKey, rotations: steps)
        let encoder = Encoder(context: context)
        let encryptor = Encryptor(secretKey: secretKey)
        let evaluator = Evaluator(context: context, keys: keys)
        var rng = SystemRandomNumberGenerator()
        let values = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
        let top = try encryptor.encrypt(encoder.encode(values, scale: parameters.scale, level: context.maxLevel))

        var rows = Dictionary(uniqueKeysWithValues: Primitive.allCases.map { ($0, [Double](repeating: 0, count: levels.count)) })
        var spread = [Double](repeating: 0, count: levels.count)
        var failure: Error?
        for (i, level) in levels.enumerated().sorted(by: { $0.element > $1.element }) {
            var spreads: [(median: Double, spread: Double)] = []
            func time(_ body: () throws -> Void) -> Double {
                let m = measureWithSpread { do { try body() } catch { failure = failure ?? error } }
                spreads.append(m)
                return m.median
            }
            let a = try evaluator.droppingLevel(top, to: level)
            let plain = try encoder.encode(values, scale: parameters.scale, level: level)
            rows[.encode]![i] = time { _ = try encoder.encode(values, scale: parameters.scale, level: level) }
            // An addition is a pass over memory, and in a network its operands were made long
            // before (a residual branch, a tile summed into an accumulator): it is timed over
            // distinct ciphertexts that together exceed the last-level cache, in turn. On one
            // hot operand the bundled ResNet's additions were priced 45–80% low.
            let pool = try (0..<max(4, Self.coldBytes / (16 * context.degree * (level + 1)))).map { _ in try evaluator.add(a, a) }
            var next = 0
            rows[.add]![i] = time {
                _ = try evaluator.add(pool[next % pool.count], pool[(next + 1) % pool.count])
                next += 2
            }
            rows[.multiplyPlain]![i] = time { _ = try evaluator.multiply(a, plain) }
            // Product workers: T at once (T = the policy's threads), one thread each, every
            // worker on its own operands; the elapsed time over the T·k operations.
            let workers = ExecutionPolicy.current?.threads ?? ExecutionPolicy.allCores.threads
            let perWorker = 4
            rows[.concurrentEncode]![i] = time {
                try ProductWorkers.run(workers) { _ in
                    for _ in 0..<perWorker { _ = try encoder.encode(values, scale: parameters.scale, level: level) }
                }
            } / Double(workers * perWorker)
            // Each worker adds into accumulators that together exceed the last-level cache, in
            // turn, as a step's products go to many output sums: on one hot accumulator AlexNet's
            // first convolution (22 primes, 11.5 MB a ciphertext) was priced 19% low.
            let sumsPerWorker = max(2, Self.coldBytes / (workers * 16 * context.degree * (level + 1)))
            let sums = Locked<[[Ciphertext]?]>(try (0..<workers).map { _ in
                try (0..<sumsPerWorker).map { _ in try evaluator.multiply(a, plain) }
            })
            var turn = 0
            rows[.concurrentMultiplyPlain]![i] = time {
                try ProductWorkers.run(workers) { w in
                    // Taken out of the array, so that the accumulations own them (no copy on write).
                    var own = sums.withLock { s -> [Ciphertext] in defer { s[w] = nil }; return s[w]! }
                    for k in 0..<perWorker { try evaluator.addProductInPlace(&own[(turn + k) % own.count], a, plain) }
                    sums.withLock { $0[w] = own }
                }
                turn += perWorker
            } / Double(workers * perWorker)
            // Scalar products (a weight shared by every slot) into the same cold accumulators:
            // on the calling thread, one at a time, then by the workers at once.
            let weight = 0.3, weightScale = Double(parameters.ciphertextPrimes[level])
            let scalarSums = Locked<[[Ciphertext]?]>(try (0..<workers).map { _ in
                try (0..<sumsPerWorker).map { _ in try evaluator.multiply(a, constant: weight, constantScale: weightScale) }
            })
            rows[.multiplyScalar]![i] = time {
                var own = scalarSums.withLock { s -> [Ciphertext] in defer { s[0] = nil }; return s[0]! }
                for k in 0..<perWorker {
                    try evaluator.addConstantProductInPlace(&own[(turn + k) % own.count], a, constant: weight, constantScale: weightScale)
                }
                scalarSums.withLock { $0[0] = own }
                turn += perWorker
            } / Double(perWorker)
            rows[.concurrentMultiplyScalar]![i] = time {
                try ProductWorkers.run(workers) { w in
                    var own = scalarSums.withLock { s -> [Ciphertext] in defer { s[w] = nil }; return s[w]! }
                    for k in 0..<perWorker {
                        try evaluator.addConstantProductInPlace(&own[(turn + k) % own.count], a, constant: weight, constantScale: weightScale)
                    }
                    scalarSums.withLock { $0[w] = own }
                }
                turn += perWorker
            } / Double(workers * perWorker)
            // Lazy sums as the kernels make them: each worker a block of `lazySumBlock` sums of
            // `lazySumTerms` terms over the same ciphertexts, taken in turn from a pool larger
            // than the last-level cache, so cold (a layer's inputs were made long before); the
            // plaintext stays hot (re-used across outputs). The elapsed time over the terms.
            // Scalar weights in the larger blocks and runs the kernels take for them.
            // Twice the cold bytes of distinct ciphertexts, the terms reading them in turn (a
            // worker's terms repeat one only past the last-level cache): one per term was 256
            // ciphertexts, 3.2 GB at N = 32768 and 24 primes, most of a compile's peak.
            let inputs = try (0..<max(2 * workers, 2 * Self.coldBytes / (16 * context.degree * (level + 1)))).map { _ in
                try evaluator.add(a, a)
            }
            var drawn = 0
            func lazy(_ weight: ProductWeight, terms: Int? = nil) throws -> Double {
                let scalar: Bool
                if case .constant = weight { scalar = true } else { scalar = false }
                // Scalar sums are timed over a quarter of their 128 terms (at N = 32768 all 128
                // took 4,096 products a call and 29% of a cold AlexNet compile's CPU time, `perf
                // record`) and over 4, which separates a term's price from the sum's own.
                let perSum = terms ?? (scalar ? TileTensor<CKKSBackend>.scalarLazySumTerms / 4 : TileTensor<CKKSBackend>.lazySumTerms)
                let block = scalar ? TileTensor<CKKSBackend>.scalarLazySumBlock : TileTensor<CKKSBackend>.lazySumBlock
                return time {
                    try ProductWorkers.run(workers) { w in
                        let mine = (0..<perSum).map { inputs[(drawn + w * perSum + $0) % inputs.count] }
                        let sums = (0..<block).map { _ in (0..<perSum).map { (input: $0, weight: weight) } }
                        _ = try evaluator.sumsOfProducts(inputs: mine, sums: sums)
                    }
                    drawn += workers * perSum
                } / Double(workers * perSum * block)
            }
            rows[.lazyMultiplyPlain]![i] = try lazy(.plaintext(encoder.encode(values, scale: 2 * parameters.scale, level: level)))
            // A scalar sum clears, reduces (a 128-bit reduction per residue) and writes its
            // accumulators once: about 13 terms' work (`he-tool bench lazy`), so a term cost
            // 16–23% less in a dense layer's runs of 128 than in sums of 32, and 6–9% more in
            // CryptoNets' convolution (25 terms a sum). Per term r(T) = c + s/T from T = 32 and
            // T = 4: s = (r4 − r32)·32/7, c = r32 − s/32; clamped positive against timing noise.
            let constant = ProductWeight.constant(weight, scale: weightScale)
            let long = try lazy(constant), short = try lazy(constant, terms: 4)
            let perSum = max((short - long) * 32 / 7, 0.05 * long)
            rows[.lazyMultiplyScalar]![i] = max(long - perSum / 32, 0.05 * long)
            rows[.lazyScalarSum]![i] = perSum
            rows[.multiplyRelinearize]![i] = time { _ = try evaluator.multiply(a, a) }
            // Elementwise steps tile by tile: T workers, each its own products, one thread each.
            rows[.concurrentMultiplyRelinearize]![i] = time {
                try ProductWorkers.run(workers) { _ in for _ in 0..<2 { _ = try evaluator.multiply(a, a) } }
            } / Double(workers * 2)
            // Level 0 cannot be rescaled: its entry is the level-1 cost (an upper bound no plan uses).
            let r = max(level, 1)
            let product = try evaluator.multiply(evaluator.droppingLevel(top, to: r),
                                                 r == level ? plain : encoder.encode(values, scale: parameters.scale, level: r))
            rows[.rescale]![i] = time { _ = try evaluator.rescale(product) }
            rows[.concurrentRescale]![i] = time {
                try ProductWorkers.run(workers) { _ in for _ in 0..<2 { _ = try evaluator.rescale(product) } }
            } / Double(workers * 2)
            // The product relinearized and rescaled at once, as every square of a network is made
            // (the same tensor product as multiply_relinearize: the difference is the fusion's).
            let above = try evaluator.droppingLevel(top, to: r)
            rows[.multiplyRelinearizeRescale]![i] = time {
                _ = try evaluator.relinearizeAndRescale(evaluator.multiplyWithoutRelinearization(above, above))
            }
            rows[.concurrentMultiplyRelinearizeRescale]![i] = time {
                try ProductWorkers.run(workers) { _ in
                    for _ in 0..<2 { _ = try evaluator.relinearizeAndRescale(evaluator.multiplyWithoutRelinearization(above, above)) }
                }
            } / Double(workers * 2)
            let single = time { _ = try evaluator.rotate(a, by: 1) }
            let set = time { _ = try evaluator.rotations(of: a, by: steps) }
            rows[.rotate]![i] = single
            // A set of k steps costs rotate + (k − 1)·h; clamp to a small positive share of a
            // rotation where timing noise would make the difference vanish.
            rows[.hoistedRotation]![i] = max((set - single) / Double(hoisted - 1), 0.05 * single)
            // Disagreement in µs relative to at least a tenth of a rotation: a cheap addition's
            // jitter does not matter to a plan's estimate, a key switch's does.
            spread[i] = spreads.map { $0.spread * $0.median / max($0.median, 0.1 * single) }.max() ?? 0
            if let failure { throw failure }
            progress(String(format: "%@ level %d: rotate %.0f µs, multiply+relinearize %.0f µs",
                            name, level, single, rows[.multiplyRelinearize]![i]))
        }
        return (Dictionary(uniqueKeysWithValues: rows.map { ($0.key.rawValue, $0.value) }), spread)
    }

    /// Median microseconds of `body`.
    func measure(_ body: () -> Void) -> Double { measureWithSpread(body).median }

    /// Median microseconds of `body`, and the interquartile range relative to it (repetitions
    /// that disagree: a busy machine).
    func measureWithSpread(_ body: () -> Void) -> (median: Double, spread: Double) {
        body()
        var samples: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while samples.count < minimumReps
                || (samples.count < maximumReps && Double(DispatchTime.now().uptimeNanoseconds - start) < budgetSeconds * 1e9) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1_000)
        }
        samples.sort()
        let mid = samples.count / 2
        let median = samples.count % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2
        let q1 = samples[samples.count / 4], q3 = samples[(3 * samples.count) / 4]
        return (median, median > 0 ? (q3 - q1) / median : 0)
    }
}

extension Calibrator {
    /// Limbs a profile is measured up to at least, per log N: about the deepest chain of
    /// 29-bit primes the ring's 128-bit limit holds, so that one profile prices every plan the
    /// optimizer tries on that ring (a deeper one is measured when asked for).
    static let profileLimbs = [13: 7, 14: 13, 15: 24, 16: 44]

    /// Bytes of operands additions are timed over: four times a 32 MiB last-level cache.
    static let coldBytes = 128 << 20

    /// Relative disagreement above which measurements are repeated, then flagged.
    public static let noiseTolerance = 0.2

    /// The cost profile of `parameters`' family (ring, primes per digit, special primes),
    /// measured on a chain of the same structure (insecure-sized when deeper than the ring's
    /// limit: only the timing matters) at six levels from 0 to its top, fitted, and measured once
    /// more when a level's repetitions or the fit disagree by more than `noiseTolerance`; still
    /// disagreeing, the profile is kept but marked `noisy` (the caller says so).
    public func profile(for parameters: CKKSParameters, progress: (String) -> Void = { _ in }) throws -> CostProfile {
        let alpha = parameters.primesPerDigit
        let wanted = max(parameters.ciphertextPrimes.count, Self.profileLimbs[parameters.logDegree] ?? 0)
        let limbs = (wanted + alpha - 1) / alpha * alpha
        let bits = parameters.ciphertextPrimes.map { Int(Foundation.log2(Double($0)).rounded()) }
        let chain = bits + Array(repeating: parameters.logScale, count: limbs - bits.count)
        let special = parameters.specialPrimes.map { Int(Foundation.log2(Double($0)).rounded()) }
        let p = try CKKSParameters(logDegree: parameters.logDegree, primeBits: chain, specialPrimeBits: special,
                                   logScale: parameters.logScale, keySwitchDigits: limbs / alpha, security: .insecureTestingOnly)
        let top = p.maxLevel
        let levels = Array(Set((0...5).map { ($0 * top + 2) / 5 })).sorted()
        let name = "profile n\(1 << p.logDegree)-a\(alpha)-k\(special.count)"
        let before = MachineLoad.sample()
        var (rows, spread) = try measure(name: name, parameters: p, levels: levels, progress: progress)
        var fitted = CostProfile.fit(logDegree: p.logDegree, primesPerDigit: alpha, specialPrimes: special.count, levels: levels, measured: rows)
        var disagreement = max(fitted.worst, spread.max() ?? 0)
        if disagreement > Self.noiseTolerance && remeasureNoisyProfiles {
            progress(String(format: "%@: measurements disagree by %.0f%% (a busy machine?); measuring again", name, 100 * disagreement))
            (rows, spread) = try measure(name: name, parameters: p, levels: levels, progress: progress)
            fitted = CostProfile.fit(logDegree: p.logDegree, primesPerDigit: alpha, specialPrimes: special.count, levels: levels, measured: rows)
            disagreement = max(fitted.worst, spread.max() ?? 0)
        }
        var profile = fitted.0
        if disagreement > Self.noiseTolerance { profile.noisy = disagreement }
        profile.busy = MachineLoad.busy(from: before, to: MachineLoad.sample())
        return profile
    }
}
