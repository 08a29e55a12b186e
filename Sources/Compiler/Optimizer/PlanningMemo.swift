import CKKS
import TileTensors

/// What one compile's planning rounds share: the chains' whole simulations, the conversion
/// search's block simulations and its paths. A compile plans again when the precision estimate asks for a larger scale
/// (AlexNet: 2^30, then 2^31), and the simulations only count operations, which a chain without
/// joins makes the same at any scale (the mock's scale decides nothing but a join's level
/// drop), so the second round re-prices instead of simulating again: AlexNet's conversion
/// search took 215 s of each round.
///
/// Only chains without joins are kept (`ChainSimulation` of a join depends on the operands'
/// scales). A simulation is kept when it ran to its end; one stopped by its budget keeps the
/// counts it had reached, a lower bound of its whole counts (they only grow as a run goes on):
/// a later round whose budget already refuses them stops it without simulating (AlexNet's
/// second round at 2^31 simulated 37 stopped tilings again, 118 of a 973 s compile).
public final class PlanningMemo: Sendable {
    /// A chain by what tells this compile's lowerings apart: the input's packing and shape.
    struct ChainKey: Hashable {
        var packed: Bool
        var inputShape: [Int]
        var steps: Int
    }

    struct SimulationKey: Hashable {
        var chain: ChainKey
        var tilings: [InterleavedTiling]
        var batch: Int
        var complexPacking: Bool
    }

    /// The search's inputs besides the chain: its reference tiling and batch (its blocks' input
    /// forms), and the prices of its bound model.
    struct SearchKey: Hashable {
        var chain: ChainKey
        var reference: InterleavedTiling
        var batch: Int
        var prices: [String: [Double]]
    }

    /// A block of the conversion search in one tiling from one input form. The two lowerings
    /// of a compile (with and without the input's packing) differ only in the steps that read
    /// the input, so the other blocks are shared between them.
    struct BlockKey: Hashable {
        var steps: Range<Int>
        var chainSteps: Int
        /// Whether the input is packed, for a block that reads the input (false otherwise).
        var packedInput: Bool
        var tiling: InterleavedTiling
        var input: TileShape
        var depth: Int
        var levels: Int
    }

    private let simulations = Locked<[SimulationKey: ChainSimulation]>([:])
    private let stopped = Locked<[SimulationKey: [Int: OperationCounts]]>([:])
    private let blocks = Locked<[BlockKey: [[Int: OperationCounts]]]>([:])
    private let searches = Locked<[SearchKey: [[InterleavedTiling]]]>([:])

    public init() {}

    /// The key of `chain`, nil when its simulations may depend on the scale (it has a join).
    static func chainKey(_ chain: NetworkLowering.Result) -> ChainKey? {
        guard chain.steps.allSatisfy({ $0.inputs.count <= 1 }) else { return nil }
        return ChainKey(packed: chain.packing != nil, inputShape: chain.inputShape, steps: chain.steps.count)
    }

    /// `chain` in `tilings` on `batch` images under `budget` (a monotone test of the counts so
    /// far by depth, as `ChainSimulation.run` takes it): a kept simulation; `budgetExceeded` at
    /// once when an earlier run stopped at counts this budget refuses; or `simulate(budget)`,
    /// kept when it completes and the chain has no join, its counts kept when the budget stops it.
    func simulation(_ chain: NetworkLowering.Result, tilings: [InterleavedTiling], batch: Int, complexPacking: Bool,
                    budget: (([Int: OperationCounts]) -> Bool)? = nil,
                    simulate: ((([Int: OperationCounts]) -> Bool)?) throws -> ChainSimulation) throws -> ChainSimulation {
        guard let c = Self.chainKey(chain) else { return try simulate(budget) }
        let key = SimulationKey(chain: c, tilings: tilings, batch: batch, complexPacking: complexPacking)
        if let kept = simulations.withLock({ $0[key] }) { return kept }
        if let budget, let reached = stopped.withLock({ $0[key] }), !budget(reached) { throw TileTensorError.budgetExceeded }
        let last = Locked<[Int: OperationCounts]>([:])
        let watched = budget.map { within in
            { (counts: [Int: OperationCounts]) -> Bool in
                last.withLock { $0 = counts }
                return within(counts)
            }
        }
        do {
            let made = try simulate(watched)
            simulations.withLock { $0[key] = made }
            return made
        } catch TileTensorError.budgetExceeded {
            let reached = last.withLock { $0 }
            stopped.withLock { $0[key] = reached }
            throw TileTensorError.budgetExceeded
        }
    }

    /// Each step's counts by depth of `chain`'s steps `range` in `tiling` from `input` at
    /// `depth`: kept ones, or `simulate()`'s (kept unless nil: stopped by its budget).
    func blockCounts(_ chain: NetworkLowering.Result, steps range: Range<Int>, tiling: InterleavedTiling, input: TileShape,
                     depth: Int, levels: Int, simulate: () -> [[Int: OperationCounts]]?) -> [[Int: OperationCounts]]? {
        guard let c = Self.chainKey(chain) else { return simulate() }
        let readsInput = chain.steps[range].contains { $0.inputs.contains(0) }
        let key = BlockKey(steps: range, chainSteps: c.steps, packedInput: readsInput && c.packed, tiling: tiling,
                           input: input, depth: depth, levels: levels)
        if let kept = blocks.withLock({ $0[key] }) { return kept }
        guard let made = simulate() else { return nil }
        blocks.withLock { $0[key] = made }
        return made
    }

    /// The conversion search's paths for `chain` from `reference`, priced with `prices`: kept
    /// ones (`reused` true), or `search()`'s (kept when the chain has no join).
    func paths(_ chain: NetworkLowering.Result, reference: InterleavedTiling, batch: Int, prices: [String: [Double]],
               search: () -> [[InterleavedTiling]]) -> (paths: [[InterleavedTiling]], reused: Bool) {
        guard let c = Self.chainKey(chain) else { return (search(), false) }
        let key = SearchKey(chain: c, reference: reference, batch: batch, prices: prices)
        if let kept = searches.withLock({ $0[key] }) { return (kept, true) }
        let found = search()
        searches.withLock { $0[key] = found }
        return (found, false)
    }
}
