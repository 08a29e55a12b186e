import CKKS
import TileTensors

/// Prices operation counts with a calibration table: each operation at the level it runs at,
/// times the cost measured on this machine at that level. The optimizer compares plans with it,
/// and the estimate is printed beside measured times so that it can be checked.
///
/// The counters map to calibrated primitives as follows: additions → add (a plaintext's or a
/// constant's, `plainAdditions`, at half: one polynomial of two), plaintext and constant
/// products → multiply_plain, encodes → encode, rescales → rescale, single rotations → rotate,
/// a hoisted set of k steps → rotate + (k − 1) · hoisted_rotation. A relinearization is one key
/// switch, priced as a rotation (the same ModUp, key product and ModDown), and a ciphertext
/// product without it as multiply_relinearize − rotate (at least a tenth of multiply_relinearize);
/// a level drop (a copy of the limbs kept) as an add. Encodes and products made by product
/// workers (`OperationCounts.concurrentEncodes`, …) → concurrent_encode, concurrent_multiply_plain
/// (which includes their accumulation: their additions are not priced again); scalar products
/// (their accumulation included) → multiply_scalar, concurrent_multiply_scalar; the terms of
/// lazy sums (`lazyPlainProducts`, `lazyScalarProducts`) → lazy_multiply_plain, lazy_multiply_scalar,
/// and each scalar sum itself (`lazyScalarSums`) → lazy_scalar_sum;
/// elementwise products and rescales made tile by tile in workers → concurrent_multiply_relinearize
/// (the product with its relinearization), concurrent_rescale; rotations made in workers at the
/// rotation rates times concurrent_multiply_relinearize / multiply_relinearize. A
/// relinearization rescaled at once (`OperationCounts.fusedRescales`) is priced as the two
/// steps less their difference to multiply_relinearize_rescale (or its concurrent rate).
/// Encryptions happen on the client and are not priced.
public struct CostModel: Sendable {
    public let costs: CostTable.ParameterCosts
    /// Microseconds per megabyte of memory a step touches first (`FirstTouchCost`; 0: not
    /// priced). `Optimizer.stepMicroseconds` charges each step the bytes by which it raises the
    /// evaluation's resident memory (`ChainSimulation.firstTouchBytes`).
    public let firstTouchMicrosecondsPerMB: Double
    /// Microseconds per megabyte of Galois keys read from their file (`KeyReadCost`; 0: not
    /// priced). `Optimizer.stepMicroseconds` charges each step the keys it is the first to use
    /// when the plan's key file is read key by key (`Optimizer.keysReadOnDemand`).
    public let keyReadMicrosecondsPerMB: Double

    /// The model for `parameters`, or an error saying to run `he-tool calibrate`.
    public init(table: CostTable, parameters: CKKSParameters) throws {
        guard let costs = table.costs(fingerprint: parameters.fingerprintHex) else {
            throw CompilerError.notCalibrated("no calibration for these parameters on this machine; run `he-tool calibrate --params …` first")
        }
        self.costs = costs
        self.firstTouchMicrosecondsPerMB = table.firstTouchMicrosecondsPerMB ?? 0
        self.keyReadMicrosecondsPerMB = table.keyReadMicrosecondsPerMB ?? 0
    }

    init(costs: CostTable.ParameterCosts, firstTouchMicrosecondsPerMB: Double = 0, keyReadMicrosecondsPerMB: Double = 0) {
        self.costs = costs
        self.firstTouchMicrosecondsPerMB = firstTouchMicrosecondsPerMB
        self.keyReadMicrosecondsPerMB = keyReadMicrosecondsPerMB
    }

    /// Estimated microseconds of touching `bytes` of memory for the first time.
    public func firstTouchMicroseconds(bytes: Int) -> Double {
        Double(max(bytes, 0)) / 1e6 * firstTouchMicrosecondsPerMB
    }

    /// Estimated microseconds of reading `bytes` of Galois keys (as held in memory) from their file.
    public func keyReadMicroseconds(bytes: Int) -> Double {
        Double(max(bytes, 0)) / 1e6 * keyReadMicrosecondsPerMB
    }

    /// The same costs with each key switch `ratio` times as dear: the estimate for the same
    /// chain with another number of key-switching digits (`ParameterSelection.keySwitchWork`),
    /// before that set is calibrated. Rotations, hoisted rotations and the relinearization
    /// part of a product scale; additions, plaintext products, rescales and encodes do not.
    func scalingKeySwitches(by ratio: Double, name: String) -> CostModel {
        var c = costs
        c.name = name
        let rotate = costs.microseconds[Primitive.rotate.rawValue] ?? []
        for key in [Primitive.rotate, .hoistedRotation].map(\.rawValue) {
            c.microseconds[key] = costs.microseconds[key]?.map { $0 * ratio }
        }
        // A product's key switch scales, its tensor product (and rescale) does not. A workers'
        // product (elapsed time over T at once) holds its key switch at the share its rate has
        // of the single product's.
        let products: [(Primitive, single: Primitive?)] = [
            (.multiplyRelinearize, nil), (.multiplyRelinearizeRescale, nil),
            (.concurrentMultiplyRelinearize, .multiplyRelinearize),
            (.concurrentMultiplyRelinearizeRescale, .multiplyRelinearizeRescale)]
        for (primitive, singlePrimitive) in products {
            guard let product = costs.microseconds[primitive.rawValue] else { continue }
            let single = singlePrimitive.flatMap { costs.microseconds[$0.rawValue] }
            c.microseconds[primitive.rawValue] = product.indices.map { l in
                var share = 1.0
                if let single { share = l < single.count && single[l] > 0 ? product[l] / single[l] : 1 }
                let r = (l < rotate.count ? rotate[l] : 0) * share
                return max(product[l] - r, 0.1 * product[l]) + r * ratio
            }
        }
        return CostModel(costs: c, firstTouchMicrosecondsPerMB: firstTouchMicrosecondsPerMB, keyReadMicrosecondsPerMB: keyReadMicrosecondsPerMB)
    }

    private func cost(_ primitive: Primitive, _ level: Int) throws -> Double {
        guard let row = costs.microseconds[primitive.rawValue], row.indices.contains(level) else {
            throw CompilerError.notCalibrated("the calibration of \(costs.name) has no \(primitive.rawValue) at level \(level)")
        }
        return row[level]
    }

    /// Estimated microseconds of `counts` performed at `level`.
    public func microseconds(_ counts: OperationCounts, level: Int) throws -> Double {
        let rotate = try cost(.rotate, level)
        let product = try cost(.multiplyRelinearize, level)
        let tensor = max(product - rotate, 0.1 * product)
        let extraHoisted = max(counts.hoistedRotations - counts.hoistedRotationSets
                                   - (counts.concurrentHoistedRotations - counts.concurrentHoistedRotationSets), 0)
        let concurrentExtraHoisted = max(counts.concurrentHoistedRotations - counts.concurrentHoistedRotationSets, 0)
        // Key switches made T at a time, one thread each: a rotation's rate scaled as a product
        // with its relinearization scales from one at a time (all threads on its limbs) to T at
        // once (one thread each); no separate calibration, the key switch is most of that product.
        let concurrency = counts.concurrentRotations + counts.concurrentHoistedRotations > 0
            ? try min(max(cost(.concurrentMultiplyRelinearize, level) / product, 0.1), 1) : 1
        // Product workers' encodes and products at the concurrent rates; their additions are
        // the fused accumulation, inside concurrent_multiply_plain. (A rotate-and-add chain made
        // by a worker adds once per rotation, a few percent of it, and that goes unpriced.)
        return try (Double(counts.additions - counts.concurrentAdditions) - 0.5 * Double(counts.plainAdditions)) * cost(.add, level)
            + Double(counts.plainMultiplications - counts.concurrentPlainMultiplications - counts.lazyPlainProducts) * cost(.multiplyPlain, level)
            + Double(counts.lazyPlainProducts) * cost(.lazyMultiplyPlain, level)
            + Double(counts.lazyScalarProducts) * cost(.lazyMultiplyScalar, level)
            + Double(counts.lazyScalarSums) * cost(.lazyScalarSum, level)
            + Double(counts.encodes - counts.concurrentEncodes) * cost(.encode, level)
            + Double(counts.concurrentPlainMultiplications) * cost(.concurrentMultiplyPlain, level)
            + Double(counts.concurrentEncodes) * cost(.concurrentEncode, level)
            + Double(counts.scalarMultiplications - counts.concurrentScalarMultiplications - counts.lazyScalarProducts) * cost(.multiplyScalar, level)
            + Double(counts.concurrentScalarMultiplications) * cost(.concurrentMultiplyScalar, level)
            + Double(counts.rescales - counts.concurrentRescales) * cost(.rescale, level)
            + Double(counts.concurrentRescales) * cost(.concurrentRescale, level)
            + Double(counts.multiplications - counts.concurrentMultiplications) * tensor
            // An elementwise step's products in workers, each with its relinearization.
            + Double(counts.concurrentMultiplications) * cost(.concurrentMultiplyRelinearize, level)
            + Double(counts.relinearizations - counts.concurrentRelinearizations + counts.rotations + counts.hoistedRotationSets
                     - counts.concurrentRotations - counts.concurrentHoistedRotationSets) * rotate
            + Double(extraHoisted) * cost(.hoistedRotation, level)
            + Double(counts.concurrentRotations + counts.concurrentHoistedRotationSets) * rotate * concurrency
            + Double(concurrentExtraHoisted) * cost(.hoistedRotation, level) * concurrency
            // A drop copies the limbs it keeps: at most an addition's passes.
            + Double(counts.levelDrops) * cost(.add, level)
            + fusionSaving(counts, level: level, product: product)
    }

    /// What relinearizing and rescaling at once saves (a negative figure): each fused pair was
    /// priced above as a relinearization (in its product) and a rescale, and costs the measured
    /// difference to multiply_relinearize_rescale, at the workers' rates for those made in
    /// workers. Never more than half of the two steps and never a surcharge (the fused form does
    /// strictly less work; the bound keeps a noisy calibration from pricing it below that).
    private func fusionSaving(_ counts: OperationCounts, level: Int, product: Double) throws -> Double {
        guard counts.fusedRescales > 0 else { return 0 }
        func saving(fused: Primitive, product: Double, rescale: Primitive) throws -> Double {
            let twoSteps = try product + cost(rescale, level)
            return try min(max(cost(fused, level) - twoSteps, -0.5 * twoSteps), 0)
        }
        let single = try saving(fused: .multiplyRelinearizeRescale, product: product, rescale: .rescale)
        let concurrent = try saving(fused: .concurrentMultiplyRelinearizeRescale,
                                    product: cost(.concurrentMultiplyRelinearize, level), rescale: .concurrentRescale)
        return Double(counts.fusedRescales - counts.concurrentFusedRescales) * single
            + Double(counts.concurrentFusedRescales) * concurrent
    }

    /// Estimated microseconds of counts split by level (as `MockBackend.countsByLevel` records them).
    public func microseconds(byLevel counts: [Int: OperationCounts]) throws -> Double {
        try counts.reduce(0) { $0 + (try microseconds($1.value, level: $1.key)) }
    }
}
