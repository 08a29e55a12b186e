import CKKS
import TileTensors

/// A lowered chain run on the counting mock backend in one tiling: per step the operation
/// counts at each level (relative to the top), the layouts, the tiles and the levels — what the
/// optimizer prices and what the plan records. The mock tracks level and scale exactly as CKKS
/// does, so the levels and the rotation steps are those the encrypted run will use.
public struct ChainSimulation: Sendable {
    public struct Step: Sendable {
        /// Counts by how many levels below the top the operation ran (the conversion into
        /// this step's tiling, when there is one, included).
        public var countsByDepth: [Int: OperationCounts]
        /// The tiling the step runs in, and whether the tensor was converted into it first.
        public var tiling: InterleavedTiling
        public var converted: Bool
        public var inputLayout: TileShape
        public var outputLayout: TileShape
        /// Levels consumed before and after the step (0 = fresh).
        public var depthBefore: Int
        public var depthAfter: Int
        /// Bytes of the step's output (the mock's ring is 2 × its slots, the real N).
        public var outputBytes: Int
        /// Bytes of every value alive once the step has run (branches waiting for a join included).
        public var liveBytes: Int
        /// The most bytes of ciphertexts and plaintexts alive at once while the step ran (the
        /// values alive before it, its hoisted rotations, plaintexts in flight, accumulators and
        /// output): the mock's `MemoryTracker`. Key-switching scratch is not in it (it depends
        /// on the digits, chosen with the parameters after the simulation).
        public var peakBytes: Int
        /// The ring polynomials alive at that peak (to convert `peakBytes` to fewer levels).
        public var peakPolynomials: Int
        /// The values the step reads (0 the input, k + 1 step k's output).
        public var inputs: [Int]
        /// The Galois keys the step is the first to use, each with the depth its key switch ran
        /// at: what a server reading keys on demand loads during the step (`keyBytes(step:parameters:)`).
        public var firstKeyCuts: [KeyCut] = []
        public var totalCounts: OperationCounts { countsByDepth.values.reduce(OperationCounts(), +) }
    }

    /// The tiling of the input (the first step's).
    public var tiling: InterleavedTiling { steps.first?.tiling ?? inputTiling }
    var inputTiling: InterleavedTiling
    public var steps: [Step]
    /// A rotation step and how many levels below the top its key switch ran.
    public struct KeyCut: Hashable, Sendable {
        public let step: Int
        public let depth: Int
    }
    public var inputLayout: TileShape
    public var outputLayout: TileShape
    public var rotationSteps: [Int]
    /// The level of a fresh ciphertext in the simulation (it runs with more levels than a plan
    /// keeps; `peakBytes(step:maxLevel:)` converts).
    public var simulatedMaxLevel: Int
    /// Levels the chain consumes.
    public var depth: Int { steps.last?.depthAfter ?? 0 }
    /// The tiling of every step.
    public var tilings: [InterleavedTiling] { steps.map(\.tiling) }
    /// Each step's chunks (`ChunkedSegment`; 1 whole): set by `chunked(_:steps:)`, whose counts
    /// and peaks are those of the chunked run.
    public var chunks: [Int] = []
    /// The planning mock's scale and levels (`chunked` runs the chain again on them).
    var planningScaleBits = 0
    var planningLevels = 0
    /// Simulated with two images per slot (`TensorBackend.complexPacking`): the products of
    /// ciphertexts counted with their conjugations.
    public var complexPacking = false
    /// The Galois keys the plan needs: one per nonzero rotation step, and the conjugation under
    /// complex packing (what `keygen` makes and the key-size and memory estimates count).
    public var galoisKeyCount: Int { rotationSteps.filter { $0 != 0 }.count + (complexPacking ? 1 : 0) }

    /// Simulates `chain` on `batch` samples (random values: the counts do not depend on them)
    /// in one tiling throughout.
    public static func run(_ chain: NetworkLowering.Result, tiling: InterleavedTiling, batch: Int,
                           logDegree: Int, logScale: Int, levels: Int, complexPacking: Bool = false,
                           budget: (([Int: OperationCounts]) -> Bool)? = nil) throws -> ChainSimulation {
        try run(chain, tilings: Array(repeating: tiling, count: chain.steps.count), batch: batch, logScale: logScale,
                levels: levels, complexPacking: complexPacking, budget: budget)
    }

    /// Simulates `chain` with step i in `tilings[i]`, converting between tilings where they differ.
    public static func run(_ chain: NetworkLowering.Result, tilings: [InterleavedTiling], batch: Int,
                           logScale: Int, levels: Int, complexPacking: Bool = false,
                           budget: (([Int: OperationCounts]) -> Bool)? = nil,
                           values: Bool = false) throws -> ChainSimulation {
        let c = chain.inputShape[0], h = chain.inputShape[1], w = chain.inputShape[2]
        let layout = try tilings[0].inputShape(channels: c, height: h, width: w, batch: batch)
        return try segment(chain.steps, tilings: tilings, input: layout, depth: 0, logScale: logScale, levels: levels,
                           complexPacking: complexPacking, budget: budget, values: values)
    }

    /// Simulates `steps` (the network's steps `first` …, reading value `first` and what they
    /// compute) from a tensor of random values in `input`, `depth` levels below the top (a whole
    /// network from the client's layout, or one block as the optimizer's DP prices it).
    /// - Parameter budget: asked now and then with the counts so far by depth below the top
    ///   (finished steps and the running one); false stops the run with `budgetExceeded`.
    ///   - values: compute slot values too (a test's oracle: the counts must not depend on it);
    ///     the optimizer's runs only count, at a cost independent of the slot count.
    /// - Throws: a tile-tensor error when a kernel cannot run in a tiling.
    public static func segment(_ steps: [LoweredStep], first: Int = 0, tilings: [InterleavedTiling], input: TileShape, depth: Int,
                               logScale: Int, levels: Int, complexPacking: Bool = false,
                               budget: (([Int: OperationCounts]) -> Bool)? = nil, values: Bool = false) throws -> ChainSimulation {
        precondition(tilings.count == steps.count && !steps.isEmpty, "one tiling per step")
        let mock = try planningBackend(slotCount: input.slotsPerTile, logScale: logScale, levels: levels, values: values,
                                       complexPacking: complexPacking)
        let memory = MemoryTracker()
        mock.memoryTracker = memory
        var rng = SplitMix(seed: 0x5EED)
        let count = input.logicalShape.reduce(1, *)
        let values = try TileTensors.Tensor(shape: input.logicalShape, values: (0..<count).map { _ in rng.nextUnit() })
        let top = mock.maxLevel
        let x = try TileTensor(encrypting: values, shape: input, backend: mock, level: top - depth)
        mock.resetCounts()
        var result: [Step] = []
        var spent: [Int: OperationCounts] = [:]
        var cutsTaken = 0
        if let budget {
            mock.budget = { counts in
                var total = spent
                for (level, c) in counts { total[top - level, default: OperationCounts()] = total[top - level, default: OperationCounts()] + c }
                return budget(total)
            }
        }
        let y = try ChainExecution.run(steps, first: first, input: consume x, tilings: tilings, willRun: { _ in
            mock.resetCounts()
            memory.resetPeak()
        }) { trace in
            var byDepth: [Int: OperationCounts] = [:]
            for (level, counts) in mock.countsByLevel {
                byDepth[top - level] = counts
                spent[top - level, default: OperationCounts()] = spent[top - level, default: OperationCounts()] + counts
            }
            let k = trace.index - first
            result.append(Step(countsByDepth: byDepth, tiling: tilings[k], converted: trace.converted, inputLayout: trace.operandShapes[0],
                               outputLayout: trace.output.shape, depthBefore: top - trace.operandLevels.min()!,
                               depthAfter: top - trace.output.level, outputBytes: trace.output.memory, liveBytes: trace.liveBytes,
                               peakBytes: memory.peak, peakPolynomials: memory.peakPolynomials, inputs: steps[k].inputs,
                               firstKeyCuts: mock.rotationCuts[cutsTaken...].map { KeyCut(step: $0.step, depth: top - $0.level) }))
            cutsTaken = mock.rotationCuts.count
        }
        return ChainSimulation(inputTiling: tilings[0], steps: result, inputLayout: input, outputLayout: y.shape,
                               rotationSteps: mock.rotationSteps.sorted(), simulatedMaxLevel: top,
                               planningScaleBits: logScale, planningLevels: levels, complexPacking: complexPacking)
    }

    /// This whole-network simulation with steps run in `chunks` (`ChainExecution.run`'s): the
    /// layouts and levels stay (a chunked segment writes what the whole one does), the counts
    /// and peaks are the chunked run's. A segment's counts and peak go to its first step (its
    /// work is interleaved), its other steps count nothing and peak at what is alive after it.
    /// - Throws: when `chunks` does not fit the chain (`ChunkedSegment`).
    public func chunked(_ chunks: [Int], steps chainSteps: [LoweredStep]) throws -> ChainSimulation {
        let mock = try Self.planningBackend(slotCount: inputLayout.slotsPerTile, logScale: planningScaleBits, levels: planningLevels,
                                            complexPacking: complexPacking)
        let memory = MemoryTracker()
        mock.memoryTracker = memory
        let x = try TileTensor(encrypting: TileTensors.Tensor(zeros: inputLayout.logicalShape), shape: inputLayout, backend: mock)
        var result = self
        result.chunks = chunks
        var cutsTaken = 0
        _ = try ChainExecution.run(chainSteps, input: consume x, tilings: tilings, chunks: chunks, willRun: { _ in
            mock.resetCounts()
            memory.resetPeak()
        }) { trace in
            var byDepth: [Int: OperationCounts] = [:]
            for (level, counts) in mock.countsByLevel { byDepth[simulatedMaxLevel - level] = counts }
            result.steps[trace.index].countsByDepth = byDepth
            // A segment's keys are read while its first step runs, as its counts are.
            result.steps[trace.index].firstKeyCuts = mock.rotationCuts[cutsTaken...].map {
                KeyCut(step: $0.step, depth: simulatedMaxLevel - $0.level)
            }
            cutsTaken = mock.rotationCuts.count
            result.steps[trace.index].peakBytes = memory.peak
            result.steps[trace.index].peakPolynomials = memory.peakPolynomials
        }
        return result
    }
}

extension ChainSimulation {
    /// Step `i`'s peak of ciphertexts and plaintexts alive (`Step.peakBytes`) under parameters
    /// whose fresh level is `maxLevel`: every object is the same number of levels below the top,
    /// so each of its polynomials has `simulatedMaxLevel − maxLevel` primes fewer.
    public func peakBytes(step i: Int, maxLevel: Int) -> Int {
        let step = steps[i]
        return max(0, step.peakBytes - (simulatedMaxLevel - maxLevel) * step.peakPolynomials * 2 * inputLayout.slotsPerTile * 8)
    }

    /// Per step, the bytes by which it raises an evaluation's resident memory above every
    /// earlier moment: the input's read (its frame and decoded message, twice the seeded
    /// input's bytes, as `MemoryEstimate` counts it; freed, its pages serve the first step)
    /// and the earlier steps' peaks. A fresh process touches those pages for the first time
    /// during that step (`CostModel.firstTouchMicroseconds`). Their sum is the peak's excess
    /// over the input's read.
    public func firstTouchBytes(parameters p: CKKSParameters) -> [Int] {
        var highest = 2 * MemoryEstimate.seededInputBytes(ciphertexts: inputLayout.tileCount, parameters: p)
        return steps.indices.map { i in
            let peak = peakBytes(step: i, maxLevel: p.maxLevel)
            defer { highest = max(highest, peak) }
            return max(0, peak - highest)
        }
    }

    /// Bytes of the Galois keys step `i` is the first to use, each cut for key switching at its
    /// level under `parameters` (`GaloisKeyStore.keyBytes(_:level:)`: b and a of the digits
    /// that level has, over its primes and the special ones).
    public func keyBytes(step i: Int, parameters p: CKKSParameters) -> Int {
        steps[i].firstKeyCuts.reduce(0) { $0 + Self.keyBytes(level: max(0, p.maxLevel - $1.depth), parameters: p) }
    }

    /// Bytes of a Galois key cut for key switching at `level`.
    static func keyBytes(level: Int, parameters p: CKKSParameters) -> Int {
        let digits = (level + p.primesPerDigit) / p.primesPerDigit
        return 2 * digits * (level + 1 + p.specialPrimes.count) * p.degree * 8
    }

    /// The counting mock (counting only unless `values`) with `levels` rescaling primes of 2^logScale above a 60-bit base: it
    /// tracks levels and scales as the real chain does (its own ring is only for the arithmetic).
    static func planningBackend(slotCount: Int, logScale: Int, levels: Int, values: Bool = false,
                                complexPacking: Bool = false) throws -> MockBackend {
        let planning = try CKKSParameters(logDegree: 12, primeBits: [60] + Array(repeating: logScale, count: levels),
                                          specialPrimeBits: [60], logScale: logScale, security: .insecureTestingOnly)
        return MockBackend(slotCount: slotCount, parameters: planning, tracksValues: values, complexPacking: complexPacking)
    }
}
