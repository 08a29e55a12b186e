import CKKS
import Foundation
import TileTensors

/// The packing optimizer: for a lowered network it enumerates the tilings of the interleaved
/// layout (channel tiles t0, t1, image tiles t_X = t_Y, batch tile t_B; t_X = 1 is CryptoNets),
/// simulates the whole chain in each on the counting mock backend, prices every step's counts at
/// the level where they run with this machine's calibration, and ranks the plans by the
/// objective. It fixes the depth from the simulation, the parameters from the depth
/// (`ParameterSelection`), and the rotation steps from what the simulation rotated by.
public enum Optimizer {
    public enum Objective: String, Sendable, CaseIterable {
        /// Time of one evaluation of `batch` images (1 by default).
        case latency
        /// Time per image at the batch that fills the slots.
        case throughput
    }

    public struct Options: Sendable {
        public var objective: Objective = .latency
        /// Images per evaluation (latency); nil = 1. Throughput fills the slots instead.
        public var batch: Int?
        public var minimumScaleBits = 29
        public var maximumScaleBits = 40
        /// The compile raises the scale until the chosen plan's predicted logit error is at most
        /// this fraction of the largest logit (`PrecisionEstimate`).
        public var maximumRelativeLogitError = PrecisionEstimate.defaultTarget
        /// log2 of the largest output magnitude expected (bounds q_0).
        public var outputBits = 8
        /// Let steps run in different tilings, converting between them (the DP; slower to compile;
        /// latency plans only).
        public var searchConversions = true
        /// Lower a strided first convolution onto the client's space-to-depth packing of the
        /// input (`SpaceToDepth`); off, it runs strided on the image as it is.
        public var spaceToDepth = true
        /// Tilings whose partial cost (by the objective, priced at the lowest levels) exceeds
        /// this by 10% are abandoned from the start (a plan already known elsewhere); nil: none.
        public var knownBest: Double?
        /// Plans whose evaluation keys (uploaded once per client) exceed this are not taken
        /// while another plan stays within it at most 25% slower; with `keyLimitIsHard` (the user's --max-key-mb)
        /// a network none of whose plans fits is refused, naming the smallest key set.
        public var maximumKeyBytes = 2_000_000_000
        public var keyLimitIsHard = false
        /// Plans whose server needs more memory than this, its keys read on demand
        /// (`Candidate.leastMemoryBytes`), are not taken (a network none of whose plans fits is
        /// refused, naming the least it would need). Default 60% of this machine's memory: the estimate is the whole server with one
        /// Galois key cached, so the rest is for the key cache (`eval --key-memory-mb`) and the
        /// system (AlexNet's fastest plan needs 14.2 GB of a 24 GB machine so).
        public var maximumIntermediateBytes = Int(Double(ProcessInfo.processInfo.physicalMemory) * 0.6)
        /// Sanitize results (mask, re-randomize, flood): the parameters get the base primes it needs.
        public var circuitPrivacy: CircuitPrivacy.Request?
        /// Throughput plans are also priced with two images per slot (complex packing: the
        /// linear layers' work halves per image, each product of ciphertexts adds a conjugation
        /// per operand) and the cheaper per image is taken. Not with circuit privacy.
        public var complexPacking = true
        /// Simulations and conversion paths shared by the planning rounds of one compile
        /// (`PlanningMemo`); nil: every round simulates afresh.
        public var memo: PlanningMemo?
        public init() {}
    }

    /// One priced plan.
    public struct Candidate: Sendable {
        public var simulation: ChainSimulation
        public var choice: ParameterSelection.Choice
        /// Estimated microseconds per step, at the levels the steps run at.
        public var stepMicroseconds: [Double]
        /// The layouts' batch (images per slot set).
        public var batch: Int
        /// Images one evaluation carries: the batch, twice under complex packing.
        public var images: Int { simulation.complexPacking ? 2 * batch : batch }
        public var totalMicroseconds: Double { stepMicroseconds.reduce(0, +) }
        public var microsecondsPerImage: Double { totalMicroseconds / Double(images) }
        /// The most bytes of ciphertexts and plaintexts alive at once while a step runs (values
        /// waiting for a later step, hoisted rotations, plaintexts in flight, accumulators and
        /// outputs), at the plan's levels: the simulated part of the server's memory.
        public var largestIntermediateBytes: Int {
            simulation.steps.indices.map { simulation.peakBytes(step: $0, maxLevel: choice.parameters.maxLevel) }.max() ?? 0
        }
        /// The server's peak resident memory with its Galois keys read on demand (at least one
        /// cached, one in use, and the relinearization key): the least a server can run the plan in.
        public func leastMemoryBytes(weightCount: Int) -> Int {
            MemoryEstimate.server(parameters: choice.parameters, rotationKeys: simulation.galoisKeyCount,
                                  inputCiphertexts: simulation.inputLayout.tileCount, ciphertexts: largestIntermediateBytes,
                                  weightCount: weightCount, residentKeyBytes: 0).total
        }

        /// Bytes of the evaluation keys (`Optimizer.evaluationKeyBytes`).
        public var evaluationKeyBytes: Int { Optimizer.evaluationKeyBytes(simulation, parameters: choice.parameters) }
    }

    /// "A (steps 0–12) → B (13–17)": a tiling path by its runs.
    static func pathName(_ path: [InterleavedTiling]) -> String {
        var runs: [(InterleavedTiling, Int, Int)] = []
        for (i, t) in path.enumerated() {
            if let last = runs.last, last.0 == t { runs[runs.count - 1].2 = i } else { runs.append((t, i, i)) }
        }
        return runs.map { "\($0.0) (steps \($0.1)–\($0.2))" }.joined(separator: " → ")
    }

    /// Every feasible plan, best first by the objective.
    /// - Parameters:
    ///   - costModel: the calibrated costs of a parameter set (the caller calibrates on first use).
    ///   - progress: one line per phase, for the CLI.
    public static func plans(for chain: NetworkLowering.Result, options: Options,
                             costModel: (ParameterSelection.Choice) throws -> CostModel,
                             progress: (String) -> Void = { _ in }) throws -> [Candidate] {
        let levels = chain.steps.count * 4 + 2
        let weightCount = chain.steps.reduce(0) { $0 + $1.weightCount }
        let h = chain.inputShape[1]
        let maxChannels = chain.steps.map { max($0.inputShape[0], $0.outputShape[0]) }.max() ?? chain.inputShape[0]
        // The depth with one pixel per tile (no garbage to clear, pooling free) fixes the first
        // ring tried; a plan that needs more levels than that ring holds moves to the next.
        let minimalDepth = lowerBoundDepth(chain)
        var choices: [Int: ParameterSelection.Choice] = [:]
        func choice(_ depth: Int) -> ParameterSelection.Choice? {
            if choices[depth] == nil {
                choices[depth] = try? ParameterSelection.select(depth: depth, outputBits: options.outputBits,
                                                                minimumScaleBits: options.minimumScaleBits,
                                                                maximumScaleBits: options.maximumScaleBits,
                                                                privacy: options.circuitPrivacy)
            }
            return choices[depth]
        }
        guard let first = choice(minimalDepth) else {
            _ = try ParameterSelection.select(depth: minimalDepth, outputBits: options.outputBits,
                                              minimumScaleBits: options.minimumScaleBits, maximumScaleBits: options.maximumScaleBits,
                                              privacy: options.circuitPrivacy)
            throw CompilerError.infeasible("no parameter set holds depth \(minimalDepth)")
        }
        var models: [String: CostModel] = [:]
        func model(_ choice: ParameterSelection.Choice) throws -> CostModel {
            if let cached = models[choice.preset.name] { return cached }
            let m = try costModel(choice)
            models[choice.preset.name] = m
            return m
        }
        // Pruning: a layout whose partial cost, priced at the lowest levels any plan can run
        // at (those of the minimal depth; costs grow with the level), already exceeds the
        // third-best plan by 10% is abandoned: it can be neither chosen nor reported.
        let boundModel = try model(first)
        let boundTop = first.parameters.maxLevel
        func lowerBound(_ counts: [Int: OperationCounts]) -> Double {
            counts.sorted(by: { $0.key < $1.key }).reduce(0.0) { $0 + ((try? boundModel.microseconds($1.value, level: max(0, boundTop - $1.key))) ?? 0) }
        }
        // A whole simulation of `chain` in `tilings`: the memo's, when an earlier round made it.
        func simulated(_ tilings: [InterleavedTiling], batch: Int, complexPacking: Bool,
                       budget: (([Int: OperationCounts]) -> Bool)? = nil,
                       _ simulate: ((([Int: OperationCounts]) -> Bool)?) throws -> ChainSimulation) throws -> ChainSimulation {
            guard let memo = options.memo else { return try simulate(budget) }
            return try memo.simulation(chain, tilings: tilings, batch: batch, complexPacking: complexPacking,
                                       budget: budget, simulate: simulate)
        }
        var objectives: [Double] = []
        var pruned = 0
        var result: [Candidate] = []
        var ringTilings: [InterleavedTiling] = []
        var failures: [String] = []
        var smallestOverMemory: (bytes: Int, plan: String)?
        let batch = options.batch ?? 1
        // A ring where every tiling stopped early (dearer than a plan known from elsewhere) ends
        // the search: the next ring's operations cost more still.
        var prunedBefore = 0
        for logN in ParameterSelection.logDegrees where logN >= first.parameters.logDegree && result.isEmpty && (pruned == prunedBefore || logN == first.parameters.logDegree) {
            prunedBefore = pruned
            let slots = 1 << (logN - 1)
            let batchTile = options.objective == .throughput ? 1 : LayoutChoice.powerOfTwo(atLeast: batch)
            if batchTile > slots { continue }
            var tilings = InterleavedTiling.enumerate(slots: slots, maxChannelTile: LayoutChoice.powerOfTwo(atLeast: maxChannels),
                                                      maxImageTile: LayoutChoice.powerOfTwo(atLeast: h), minimumBatchTile: batchTile)
            var spare: [InterleavedTiling] = []
            if options.objective == .latency, let smallest = tilings.map(\.tB).min() {
                // Spare batch slots only when the channel and image tiles cannot fill the slots
                // (or when no such tiling runs the network: a concatenation needs channel tiles
                // its parts fill, say).
                spare = tilings.filter { $0.tB != smallest }
                tilings = tilings.filter { $0.tB == smallest }
            }
            var groups = [tilings]
            for tB in Set(spare.map(\.tB)).sorted() { groups.append(spare.filter { $0.tB == tB }) }
            ringTilings = []
            // Larger batch tiles are tried only when every tiling of the smaller ones failed for
            // its layout (a kernel that cannot run in it), not for depth, memory or cost.
            var layoutOnly = true
            for tilings in groups where result.isEmpty && layoutOnly {
                let why = ringTilings.isEmpty ? "" : failures.last.map { " (none with a smaller batch tile ran: \($0))" } ?? ""
                progress("optimizer: \(chain.steps.count) steps, depth ≥ \(minimalDepth), ring N = \(2 * slots): simulating \(tilings.count) tilings\(ringTilings.isEmpty ? "" : " with batch tile \(tilings[0].tB)")\(why)")
                // Likely winners first, so that the pruning bites early: large image tiles for
                // latency, large batch tiles for throughput.
                let ordered = tilings.sorted { a, b in
                    options.objective == .throughput ? (a.tB, a.tX) > (b.tB, b.tX) : (a.tX, -a.tB) > (b.tX, -b.tB)
                }
                ringTilings += tilings
                let packings = options.objective == .throughput && options.complexPacking && options.circuitPrivacy == nil ? [false, true] : [false]
                // A few tilings at once, one per core, with the budget of the batch's start (they
                // ran one at a time on one core: AlexNet's 59 took 90 s). The pruning spares
                // every plan within 10% of the third best, so the core count changes only which
                // dearer plans it stops, never the best three.
                let jobs = ordered.enumerated().flatMap { n, tiling in
                    packings.map { (n: n, tiling: tiling, complexPacking: $0,
                                    images: options.objective == .throughput ? tiling.tB : batch) }
                }
                let width = max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))
                for start in stride(from: 0, to: jobs.count, by: width) {
                    let batchJobs = Array(jobs[start..<min(start + width, jobs.count)])
                    let threshold = min(objectives.count >= 3 ? objectives[2] * 1.1 : Double.infinity, (options.knownBest ?? .infinity) * 1.1)
                    let outcomes = ConversionSearch.parallelMap(batchJobs.count) { k -> Result<ChainSimulation, Error> in
                        let (tiling, complexPacking, images) = (batchJobs[k].tiling, batchJobs[k].complexPacking, batchJobs[k].images)
                        let perImage = Double(complexPacking ? 2 * images : images)
                        let budget: (([Int: OperationCounts]) -> Bool)? = threshold.isFinite ? { counts in
                            let cost = lowerBound(counts)
                            return (options.objective == .throughput ? cost / perImage : cost) <= threshold
                        } : nil
                        return Result {
                            try simulated(Array(repeating: tiling, count: chain.steps.count), batch: images,
                                          complexPacking: complexPacking, budget: budget) { budget in
                                try ChainSimulation.run(chain, tiling: tiling, batch: images, logDegree: logN,
                                                        logScale: options.minimumScaleBits, levels: levels,
                                                        complexPacking: complexPacking, budget: budget)
                            }
                        }
                    }
                    for (job, outcome) in zip(batchJobs, outcomes) {
                        let (n, tiling, complexPacking, images) = job
                        if n > 0 && n % 20 == 0 && complexPacking == packings[0] {
                            progress("optimizer: \(n) of \(tilings.count) tilings simulated (\(pruned) stopped early)")
                        }
                        let simulation: ChainSimulation
                        switch outcome {
                        case .success(let made):
                            simulation = made
                        case .failure(TileTensorError.budgetExceeded):
                            pruned += 1
                            layoutOnly = false
                            continue
                        case .failure(let error):
                            failures.append("\(tiling): \(error)")
                            continue
                        }
                        guard let choice = choice(simulation.depth), choice.parameters.slotCount == slots else {
                            let why = choice(simulation.depth) == nil
                                ? "no parameter set holds depth \(simulation.depth) with \(options.outputBits)-bit outputs"
                                : "depth \(simulation.depth) needs a larger ring than N = \(2 * slots)"
                            failures.append("\(tiling): \(why)")
                            layoutOnly = false
                            continue
                        }
                        let priced = try model(choice)
                        func price(_ simulation: ChainSimulation) throws -> [Double] {
                            try stepMicroseconds(simulation, parameters: choice.parameters, model: priced)
                        }
                        var candidate = Candidate(simulation: simulation, choice: choice, stepMicroseconds: try price(simulation), batch: images)
                        var memory = candidate.leastMemoryBytes(weightCount: weightCount)
                        if memory > options.maximumIntermediateBytes,
                           let fitted = try chunkedToFit(candidate, chain: chain, limit: options.maximumIntermediateBytes,
                                                         weightCount: weightCount, price: price) {
                            candidate = fitted
                            let before = memory
                            memory = candidate.leastMemoryBytes(weightCount: weightCount)
                            progress("optimizer: \(tiling) needs \(before / 1_000_000) MB whole, \(memory / 1_000_000) MB with \(chunkSummary(candidate.simulation.chunks))")
                        }
                        guard memory <= options.maximumIntermediateBytes else {
                            layoutOnly = false
                            if smallestOverMemory == nil || memory < smallestOverMemory!.bytes {
                                smallestOverMemory = (memory, "\(tiling) at N = \(2 * slots)")
                            }
                            failures.append("\(tiling): \(memory / 1_000_000) MB at its peak, over the \(options.maximumIntermediateBytes / 1_000_000) MB allowed (--max-memory-mb)")
                            continue
                        }
                        result.append(candidate)
                        objectives.append(options.objective == .throughput ? candidate.microsecondsPerImage : candidate.totalMicroseconds)
                        objectives.sort()
                    }
                }
            }
        }
        if pruned > 0 { progress("optimizer: \(pruned) tilings stopped early (already dearer than the third-best plan)") }
        guard !result.isEmpty else {
            let examples = Array(Set([failures.first, failures.last].compactMap { $0 })).sorted()
            let memory = smallestOverMemory.map { "; within the memory limit alone, the plan needing the least memory needs \(($0.bytes + 999_999) / 1_000_000) MB (\($0.plan)): pass --max-memory-mb \(($0.bytes + 999_999) / 1_000_000) or more" } ?? ""
            throw CompilerError.infeasible("no tiling runs this network (\(maxChannels) channels, \(h)×\(h) images)\(examples.isEmpty ? "" : "; for instance " + examples.joined(separator: "; "))\(memory)")
        }
        func sort() {
            switch options.objective {
            case .latency: result.sort { $0.totalMicroseconds < $1.totalMicroseconds }
            case .throughput: result.sort { $0.microsecondsPerImage < $1.microsecondsPerImage }
            }
        }
        sort()
        // Per-step tilings with conversions (the DP), from the best single-tiling plan's forms.
        let reference = result[0]
        let slots = reference.simulation.tiling.slots
        // The DP offers every tiling of the reference plan's ring. Its simulations only count
        // (no slot values), so a block in a tiling costs milliseconds whatever its size: before
        // that, the bundled ResNet's block DP passed 9 minutes and 14 GB, and MNIST throughput
        // batches 24 GB.
        // Throughput plans keep one tiling: there a tile holds thousands of images and pricing a
        // conversion still walks every slot (the MNIST throughput DP passed 11 CPU-minutes).
        let dpTilings = ringTilings.filter { $0.slots == slots }
        var paths: [[InterleavedTiling]] = []
        if options.searchConversions && options.objective != .throughput {
            func search() -> [[InterleavedTiling]] {
                ConversionSearch.paths(chain, reference: reference.simulation, tilings: dpTilings,
                                       logScale: options.minimumScaleBits, levels: levels, price: lowerBound,
                                       memo: options.memo, progress: progress)
            }
            if let memo = options.memo {
                let found = memo.paths(chain, reference: reference.simulation.tiling, batch: reference.batch,
                                       prices: boundModel.costs.microseconds, search: search)
                if found.reused {
                    progress("optimizer: the conversion search's \(found.paths.count) paths from the previous planning round (the same reference tiling and prices; the operation counts do not depend on the scale)")
                }
                paths = found.paths
            } else {
                paths = search()
            }
        }
        // Each path also with its first tiling replaced by the reference's: the DP's block costs
        // are estimates, and a path that converts late (the dense layers of AlexNet) can win
        // from the exact one-tiling plan while the DP preferred to start elsewhere.
        var tried = paths
        for path in paths {
            let own = path.map { $0 == path[0] ? reference.simulation.tiling : $0 }
            if Set(own).count > 1, !tried.contains(own) { tried.append(own) }
        }
        for path in tried {
            let name = pathName(path)
            let simulation: ChainSimulation
            do {
                simulation = try simulated(path, batch: reference.batch, complexPacking: false) { _ in
                    try ChainSimulation.run(chain, tilings: path, batch: reference.batch, logScale: options.minimumScaleBits, levels: levels)
                }
            } catch {
                progress("optimizer: conversion path \(name) does not run: \(error)")
                continue
            }
            guard let choice = choice(simulation.depth), choice.parameters.slotCount == slots else {
                progress("optimizer: conversion path \(name) needs depth \(simulation.depth), which N = \(2 * slots) does not hold")
                continue
            }
            let micro = try stepMicroseconds(simulation, parameters: choice.parameters, model: model(choice))
            let candidate = Candidate(simulation: simulation, choice: choice, stepMicroseconds: micro, batch: reference.batch)
            progress(String(format: "optimizer: conversion path %@: %.1f s estimated (one tiling: %.1f s), depth %d, %d MB at its peak with keys on demand",
                            name, candidate.totalMicroseconds / 1e6, reference.totalMicroseconds / 1e6, simulation.depth,
                            candidate.leastMemoryBytes(weightCount: weightCount) / 1_000_000))
            result.append(candidate)
        }
        // The number of key-switching digits per plan: each plan re-priced with every other
        // count its ring allows (fewer digits: smaller keys and cheaper key switches, special
        // primes paid for with scale bits), keeping the fastest within the key budget.
        result = try result.map { try withBestDigits($0, options: options, model: model) }
        sort()
        result = result.filter { $0.leastMemoryBytes(weightCount: weightCount) <= options.maximumIntermediateBytes }
        let withinKeys = result.filter { $0.evaluationKeyBytes <= options.maximumKeyBytes }
        if withinKeys.isEmpty, options.keyLimitIsHard, let smallest = result.min(by: { $0.evaluationKeyBytes < $1.evaluationKeyBytes }) {
            let mb = (smallest.evaluationKeyBytes + 999_999) / 1_000_000
            throw CompilerError.infeasible("every plan needs more evaluation keys than the \(options.maximumKeyBytes / 1_000_000) MB of --max-key-mb: the smallest key set among the plans priced is \(mb) MB (\(smallest.simulation.rotationSteps.count) rotation keys at N = \(smallest.choice.parameters.degree), \(smallest.choice.parameters.keySwitchDigits) digit(s)); pass --max-key-mb \(mb) or more")
        }
        // Without --max-key-mb a preference, but never past 8× it while some plan stays there:
        // a conversion into one-pixel tiles of AlexNet's dense layers used 4,148 rotation steps
        // (170 GB of keys) to save a third of the time.
        if !options.keyLimitIsHard {
            let ceiling = 8 * options.maximumKeyBytes
            let bounded = result.filter { $0.evaluationKeyBytes <= ceiling }
            if !bounded.isEmpty && bounded.count < result.count {
                progress("optimizer: \(result.count - bounded.count) plans need more than \(ceiling / 1_000_000) MB of evaluation keys (8× the preferred \(options.maximumKeyBytes / 1_000_000) MB); not taken")
                result = bounded
            }
        }
        if !withinKeys.isEmpty && withinKeys.count < result.count {
            // Without the user's --max-key-mb the budget is a preference: it costs at most 25% of
            // the objective (AlexNet: keeping its keys under 2000 MB made the evaluation 2.7×
            // slower, 2,590 s instead of 967 s, for 1.3 GB instead of 3.9 GB of keys).
            let objective = { (c: Candidate) in options.objective == .throughput ? c.microsecondsPerImage : c.totalMicroseconds }
            if options.keyLimitIsHard || objective(withinKeys[0]) <= 1.25 * objective(result[0]) {
                // (withinKeys ⊆ result, both best first)
                progress("optimizer: \(result.count - withinKeys.count) plans need more than \(options.maximumKeyBytes / 1_000_000) MB of evaluation keys; not taken")
                result = withinKeys
            } else {
                progress(String(format: "optimizer: the fastest plan needs %d MB of evaluation keys, over the %d MB preferred; within it the best is %.1f× slower, so the keys' size gives way (--max-key-mb makes it a limit)",
                                result[0].evaluationKeyBytes / 1_000_000, options.maximumKeyBytes / 1_000_000, objective(withinKeys[0]) / objective(result[0])))
            }
        }
        // Estimates a few percent apart are within their error, while the evaluation keys are
        // uploaded by every client and held by the server: among the plans within 5% of the
        // best, the one with the smallest keys when they are at least 1.5× smaller. The pooled
        // CNN of Examples/README.md: a conversion path estimated 2% faster with 1,200 MB of keys
        // (108 rotation steps) measured 3.04 s, one tiling with 245 MB 2.95 s.
        if let best = result.first, !options.keyLimitIsHard || best.evaluationKeyBytes <= options.maximumKeyBytes {
            let objective = { (c: Candidate) in options.objective == .throughput ? c.microsecondsPerImage : c.totalMicroseconds }
            let lighter = result.indices.filter { i in
                objective(result[i]) <= 1.05 * objective(best) && 3 * result[i].evaluationKeyBytes <= 2 * best.evaluationKeyBytes
            }.min { result[$0].evaluationKeyBytes < result[$1].evaluationKeyBytes }
            if let i = lighter {
                let taken = result.remove(at: i)
                progress(String(format: "optimizer: a plan %.1f%% slower by the estimate with %d MB of evaluation keys instead of %d MB taken (within the estimate's error)",
                                100 * (objective(taken) / objective(best) - 1), taken.evaluationKeyBytes / 1_000_000, best.evaluationKeyBytes / 1_000_000))
                result.insert(taken, at: 0)
            }
        }
        return result
    }

    /// Each step's estimated microseconds: its counts at the levels they run at under
    /// `parameters`, priced by `model`, the memory it touches first
    /// (`ChainSimulation.firstTouchBytes`) at the model's first-touch rate, and when the plan's
    /// key file is read key by key (`keysReadOnDemand`) the keys it is the first to use
    /// (`ChainSimulation.keyBytes(step:parameters:)`) at the model's key-read rate.
    static func stepMicroseconds(_ simulation: ChainSimulation, parameters: CKKSParameters, model: CostModel,
                                 keyFileLimit: Int = CKKSFile.maximumFileSize) throws -> [Double] {
        let top = parameters.maxLevel
        let fresh = simulation.firstTouchBytes(parameters: parameters)
        let reads = keysReadOnDemand(simulation, parameters: parameters, keyFileLimit: keyFileLimit)
        return try simulation.steps.indices.map { i in
            try simulation.steps[i].countsByDepth.sorted(by: { $0.key < $1.key })
                .reduce(0.0) { $0 + (try model.microseconds($1.value, level: top - $1.key)) }
                + model.firstTouchMicroseconds(bytes: fresh[i])
                + (reads ? model.keyReadMicroseconds(bytes: simulation.keyBytes(step: i, parameters: parameters)) : 0)
        }
    }

    /// Whether an evaluation reads the plan's Galois keys from their file when steps first need
    /// them: always when the key file is larger than one he-tool file read whole
    /// (`EvaluationSession.open`); a smaller file is read whole before the first step (or key
    /// by key with `eval --key-memory-mb`, which these estimates do not assume).
    /// (`keyFileLimit`: that size, for tests.)
    static func keysReadOnDemand(_ simulation: ChainSimulation, parameters p: CKKSParameters,
                                 keyFileLimit: Int = CKKSFile.maximumFileSize) -> Bool {
        evaluationKeyBytes(simulation, parameters: p) > keyFileLimit
    }

    /// Bytes of a plan's evaluation keys: relinearization + one Galois key per rotation step,
    /// each with its digits over the key basis and a seeded uniform half (about the key file's size).
    static func evaluationKeyBytes(_ simulation: ChainSimulation, parameters p: CKKSParameters) -> Int {
        let limbs = p.ciphertextPrimes.count + p.specialPrimes.count
        return (simulation.galoisKeyCount + 1) * p.keySwitchDigits * limbs * p.degree * 8
    }

    /// `plan` priced with the calibration of its own parameters (measured now when this machine
    /// has none), where `withBestDigits` priced another digit count by scaling: the compile
    /// calibrates the plan it writes, not every variant it considered (AlexNet's cold compile
    /// calibrated five key-switching structures of N = 32768, 1,365 s of which 565 s warm).
    /// Unchanged when that calibration cannot be made.
    public static func pricedWithOwnCalibration(_ plan: Candidate,
                                                costModel: (ParameterSelection.Choice) throws -> CostModel,
                                                progress: (String) -> Void = { _ in }) -> Candidate {
        guard let calibrated = try? costModel(plan.choice),
              let micro = try? stepMicroseconds(plan.simulation, parameters: plan.choice.parameters, model: calibrated) else { return plan }
        var priced = plan
        priced.stepMicroseconds = micro
        if abs(priced.totalMicroseconds - plan.totalMicroseconds) > 1e-6 * plan.totalMicroseconds {
            progress(String(format: "optimizer: %@ priced with its own calibration: %.1f s (%.1f s scaled from another digit count's)",
                            plan.choice.preset.name, priced.totalMicroseconds / 1e6, plan.totalMicroseconds / 1e6))
        }
        return priced
    }

    /// `plan` with the number of key-switching digits that makes it fastest among those whose
    /// evaluation keys fit `maximumKeyBytes` (or the smallest keys when none fits). Variants
    /// are priced from the plan's calibrated costs with key switches scaled by their relative
    /// work (`ParameterSelection.keySwitchWork`), nothing calibrated for them: the compile
    /// prices the plan it takes with its own calibration (`pricedWithOwnCalibration`).
    static func withBestDigits(_ plan: Candidate, options: Options,
                               model: (ParameterSelection.Choice) throws -> CostModel) throws -> Candidate {
        let variants = ParameterSelection.digitVariants(of: plan.choice, outputBits: options.outputBits,
                                                        minimumScaleBits: options.minimumScaleBits, privacy: options.circuitPrivacy)
        guard !variants.isEmpty else { return plan }
        let base = try model(plan.choice)
        let work = ParameterSelection.keySwitchWork(plan.choice.parameters)
        var offers: [Candidate] = [plan]
        for v in variants where v.parameters.maxLevel == plan.choice.parameters.maxLevel {
            let priced = base.scalingKeySwitches(by: ParameterSelection.keySwitchWork(v.parameters) / work, name: v.preset.name)
            let micro = try stepMicroseconds(plan.simulation, parameters: v.parameters, model: priced)
            offers.append(Candidate(simulation: plan.simulation, choice: v, stepMicroseconds: micro, batch: plan.batch))
        }
        let within = offers.filter { $0.evaluationKeyBytes <= options.maximumKeyBytes }
        return within.isEmpty ? offers.min { $0.evaluationKeyBytes < $1.evaluationKeyBytes }!
                              : within.min { $0.totalMicroseconds < $1.totalMicroseconds }!
    }

    /// The depth of the network with one pixel per tile, where window sums cost no level: the
    /// longest path in levels (`LoweredOperation.minimumDepth`).
    static func lowerBoundDepth(_ chain: NetworkLowering.Result) -> Int {
        var depth = [Int](repeating: 0, count: chain.steps.count + 1)
        for (i, step) in chain.steps.enumerated() {
            depth[i + 1] = (step.inputs.map { depth[$0] }.max() ?? 0) + step.operation.minimumDepth
        }
        return depth.last ?? 0
    }
}
