import TileTensors

/// What a pruned network's all-zero weight blocks save in its plan: the plan simulated again in
/// its own tilings with every zero weight of its convolutions and dense layers made nonzero,
/// against the plan's own counts. The engine never encodes, multiplies or rotates for a block
/// whose weights are all zero (nor requests the Galois key only such blocks need); this is the
/// compile report's account of it.
public struct ZeroBlockSavings: Sendable, Equatable {
    /// Plaintext products not made.
    public var plainProducts: Int
    /// Key switches of rotations not made (single and hoisted).
    public var rotations: Int
    /// Rotation steps (Galois keys) the plan no longer needs.
    public var rotationSteps: Int

    /// The savings of `plan` on `chain` (steps as the plan runs them); nil when no weight of the
    /// chain is zero, or when nothing is saved.
    static func of(_ plan: Optimizer.Candidate, chain: NetworkLowering.Result, logScale: Int) -> ZeroBlockSavings? {
        var dense = chain
        var zeros = false
        for i in dense.steps.indices {
            guard case let .convolution(filters, shape, bias, stride, padding) = dense.steps[i].operation,
                  filters.contains(0) else { continue }
            zeros = true
            dense.steps[i].operation = .convolution(filters: filters.map { $0 == 0 ? 1 : $0 }, shape: shape, bias: bias,
                                                    stride: stride, padding: padding)
        }
        guard zeros, let unpruned = try? ChainSimulation.run(dense, tilings: plan.simulation.tilings, batch: plan.batch,
                                                             logScale: logScale, levels: chain.steps.count * 4 + 2,
                                                             complexPacking: plan.simulation.complexPacking) else { return nil }
        func total(_ s: ChainSimulation) -> OperationCounts {
            s.steps.reduce(OperationCounts()) { sum, step in step.countsByDepth.values.reduce(sum, +) }
        }
        let with = total(unpruned), without = total(plan.simulation)
        let savings = ZeroBlockSavings(plainProducts: with.plainMultiplications - without.plainMultiplications,
                                       rotations: with.rotations + with.hoistedRotations - without.rotations - without.hoistedRotations,
                                       rotationSteps: unpruned.rotationSteps.count - plan.simulation.rotationSteps.count)
        return savings.plainProducts > 0 || savings.rotations > 0 ? savings : nil
    }
}
