import CKKS
import TileTensors

/// A lowered chain run on the counting mock backend in one tiling: per step the operation
/// counts at each level (relative to the top), the layouts, the tiles and the levels — what the
/// optimizer prices and what the plan records. The mock tracks level and scale exactly as CKKS
/// does, so the levels and the rotation steps are those the encrypted run will use.
public struct ChainSimulation: Sendable {
    public struct Step: Sendable {
        /// Counts by how many levels below the top the operation ran.
        public var countsByDepth: [Int: OperationCounts]
        public var inputLayout: TileShape
        public var outputLayout: TileShape
        /// Levels consumed before and after the step (0 = fresh).
        public var depthBefore: Int
        public var depthAfter: Int
        /// Bytes of the step's output (the mock's ring is 2 × its slots, the real N).
        public var outputBytes: Int
        public var totalCounts: OperationCounts { countsByDepth.values.reduce(OperationCounts(), +) }
    }

    public var tiling: InterleavedTiling
    public var steps: [Step]
    public var inputLayout: TileShape
    public var outputLayout: TileShape
    public var rotationSteps: [Int]
    /// Levels the chain consumes.
    public var depth: Int { steps.last?.depthAfter ?? 0 }

    /// Simulates `chain` on `batch` samples (random values: the counts do not depend on them)
    /// with the prime sizes of `parameters` and `spareLevels` more than any chain needs.
    /// - Throws: a tile-tensor error when a kernel cannot run in this tiling.
    /// - Parameter budget: asked now and then with the counts so far by depth below the top
    ///   (finished steps and the running one); false stops the run with `budgetExceeded`.
    public static func run(_ chain: NetworkLowering.Result, tiling: InterleavedTiling, batch: Int,
                           logDegree: Int, logScale: Int, levels: Int,
                           budget: (([Int: OperationCounts]) -> Bool)? = nil) throws -> ChainSimulation {
        let planning = try CKKSParameters(logDegree: min(logDegree, 12), primeBits: [60] + Array(repeating: logScale, count: levels),
                                          specialPrimeBits: [60], logScale: logScale, security: .insecureTestingOnly)
        let mock = MockBackend(slotCount: tiling.slots, parameters: planning)
        var rng = SplitMix(seed: 0x5EED)
        let c = chain.inputShape[0], h = chain.inputShape[1], w = chain.inputShape[2]
        let samples = (0..<batch).map { _ in (0..<(c * h * w)).map { _ in rng.nextUnit() } }
        let layout = try tiling.inputShape(channels: c, height: h, width: w, batch: batch)
        var x = try TileTensor(encrypting: ChainExecution.inputTensor(samples, shape: chain.inputShape), shape: layout, backend: mock)
        let top = mock.maxLevel
        var steps: [Step] = []
        var spent: [Int: OperationCounts] = [:]
        if let budget {
            mock.budget = { counts in
                var total = spent
                for (level, c) in counts { total[top - level, default: OperationCounts()] = total[top - level, default: OperationCounts()] + c }
                return budget(total)
            }
        }
        for step in chain.steps {
            mock.resetCounts()
            let before = top - x.level
            let input = x.shape
            x = try ChainExecution.apply(step, to: x)
            var byDepth: [Int: OperationCounts] = [:]
            for (level, counts) in mock.countsByLevel {
                byDepth[top - level] = counts
                spent[top - level, default: OperationCounts()] = spent[top - level, default: OperationCounts()] + counts
            }
            steps.append(Step(countsByDepth: byDepth, inputLayout: input, outputLayout: x.shape, depthBefore: before,
                              depthAfter: top - x.level, outputBytes: x.memory))
        }
        return ChainSimulation(tiling: tiling, steps: steps, inputLayout: layout, outputLayout: x.shape,
                               rotationSteps: mock.rotationSteps.sorted())
    }
}

/// A small deterministic generator for simulation inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) * 2 - 1 }
}
