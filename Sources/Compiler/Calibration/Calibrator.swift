import CKKS
import Dispatch
import Foundation

/// Times every `Primitive` at every level of a parameter set on this machine, with the
/// evaluator's real code paths (value-returning forms, as the tile-tensor backend calls them).
///
/// Each figure is the median of at least `minimumReps` calls, more while a measurement stays
/// under `budgetSeconds` (up to `maximumReps`), after one warm-up call. Threading is whatever
/// `RNSParallelism.isEnabled` says when it runs; the table records the thread count it was
/// told.
public struct Calibrator {
    public var minimumReps = 5
    public var maximumReps = 25
    public var budgetSeconds = 0.2

    public init() {}

    /// The costs of `parameters` (named `name` for display). `progress` receives one line per level.
    public func calibrate(name: String, parameters: CKKSParameters,
                          progress: (String) -> Void = { _ in }) throws -> CostTable.ParameterCosts {
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

        var rows = Dictionary(uniqueKeysWithValues: Primitive.allCases.map { ($0, [Double](repeating: 0, count: context.maxLevel + 1)) })
        var failure: Error?
        func time(_ body: () throws -> Void) -> Double {
            measure { do { try body() } catch { failure = failure ?? error } }
        }
        for level in stride(from: context.maxLevel, through: 0, by: -1) {
            let a = try evaluator.droppingLevel(top, to: level)
            let plain = try encoder.encode(values, scale: parameters.scale, level: level)
            rows[.encode]![level] = time { _ = try encoder.encode(values, scale: parameters.scale, level: level) }
            rows[.add]![level] = time { _ = try evaluator.add(a, a) }
            rows[.multiplyPlain]![level] = time { _ = try evaluator.multiply(a, plain) }
            rows[.multiplyRelinearize]![level] = time { _ = try evaluator.multiply(a, a) }
            if level > 0 {
                let product = try evaluator.multiply(a, plain)
                rows[.rescale]![level] = time { _ = try evaluator.rescale(product) }
            }
            let single = time { _ = try evaluator.rotate(a, by: 1) }
            let set = time { _ = try evaluator.rotations(of: a, by: steps) }
            rows[.rotate]![level] = single
            // A set of k steps costs rotate + (k − 1)·h; clamp to a small positive share of a
            // rotation where timing noise would make the difference vanish.
            rows[.hoistedRotation]![level] = max((set - single) / Double(hoisted - 1), 0.05 * single)
            if let failure { throw failure }
            progress(String(format: "%@ level %d: rotate %.0f µs, multiply+relinearize %.0f µs",
                            name, level, single, rows[.multiplyRelinearize]![level]))
        }
        // Level 0 cannot be rescaled; its entry is the level-1 cost, an upper bound that no
        // plan uses.
        rows[.rescale]![0] = rows[.rescale]![1]
        return CostTable.ParameterCosts(name: name, fingerprint: parameters.fingerprintHex,
                                        logDegree: parameters.logDegree,
                                        microseconds: Dictionary(uniqueKeysWithValues: rows.map { ($0.key.rawValue, $0.value) }))
    }

    /// Median microseconds of `body`.
    func measure(_ body: () -> Void) -> Double {
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
        return samples.count % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2
    }
}
