import CKKS
import Crypto
import Foundation
import Model
import TileTensors

/// Compiling a network: lowering, the optimizer's choice of tiling and parameters, and the two
/// files (the server's compiled model, the client's profile) that share one plan fingerprint.
public struct Compilation: Sendable {
    public var model: CompiledModel
    public var profile: ClientProfile
    /// The lowered network the plans run.
    public var chain: NetworkLowering.Result
    /// Every plan the optimizer priced, best first (the chosen one is `plans[0]`).
    public var plans: [Optimizer.Candidate]
    /// The plans of the other lowering of a strided first convolution (with or without the
    /// space-to-depth packing), which lost; they run `chain`'s other form, not `chain`.
    public var otherLoweringPlans: [Optimizer.Candidate] = []
    /// log2 bound of the outputs that sized q_0, and where it came from.
    public var outputBits: Int
    public var outputBoundSource: String
    /// What the network's all-zero weight blocks (a pruned model's) save in the chosen plan;
    /// nil when it has none.
    public var zeroBlockSavings: ZeroBlockSavings?
    /// The chosen plan's predicted logit error (nil only for files made without compiling),
    /// and the fraction of the largest logit it had to stay within.
    public var precision: PrecisionEstimate?
    public var precisionTarget = PrecisionEstimate.defaultTarget

    /// Compiles `graph`.
    /// - Parameters:
    ///   - calibrationInputs: preprocessed samples ([C·H·W] each); their largest output bounds
    ///     q_0 and they check the lowering against the plaintext executor. Without them the
    ///     bound is 2^10.
    ///   - costModel: the calibrated costs of a parameter set (calibrates on first use).
    public static func compile(_ graph: Graph, name: String, options: Optimizer.Options, calibrationInputs: [[Double]],
                               costModel: (ParameterSelection.Choice) throws -> CostModel,
                               progress: (String) -> Void = { _ in }) throws -> Compilation {
        let packed = try NetworkLowering.lower(graph, packStridedInput: options.spaceToDepth)
        let unpacked = packed.packing == nil ? nil : try NetworkLowering.lower(graph, packStridedInput: false)
        var options = options
        var outputBits = 10, source = "no calibration inputs: assumed |output| < 2^10"
        if !calibrationInputs.isEmpty {
            var largest = 0.0
            let chains = [packed] + (unpacked.map { [$0] } ?? [])  // both are checked: either may be chosen
            for (i, sample) in calibrationInputs.enumerated() {
                for chain in chains {
                    let x = chain.run(chain.packed(sample))
                    let input = Model.Tensor(shape: [1] + graph.inputShape, values: sample)
                    let output = try PlainExecutor.run(graph, input: input)
                    do {
                        try PlainExecutor.requireFiniteOutputs(graph, input: input, output: output, names: ["calibration input \(i)"])
                    } catch let ModelError.nonFiniteResult(why) {
                        throw CompilerError.infeasible("\(why); q_0 is sized from the calibration outputs, which must be finite")
                    }
                    let want = output.values
                    let got = x.indices.map { j in
                        let c = j / max(1, chain.outputShape[1] * chain.outputShape[2])
                        return chain.outputScale[c] * x[j] + chain.outputShift[c]
                    }
                    if let bad = got.firstIndex(where: { !$0.isFinite }) {
                        throw CompilerError.infeasible("calibration input \(i): the lowered network's output \(bad) is \(got[bad]) although the plaintext executor's is finite: the folded weights overflow Double arithmetic; scale the model's weights down")
                    }
                    let scale = max(1, want.map(abs).max() ?? 1)
                    guard got.count == want.count, zip(got, want).allSatisfy({ abs($0 - $1) <= 1e-9 * scale }) else {
                        throw CompilerError.infeasible("the lowered network disagrees with the plaintext executor on calibration input \(i) (an internal error; please report it with the model)")
                    }
                    largest = max(largest, x.map(abs).max() ?? 0)
                }
            }
            outputBits = max(1, Int(log2(max(largest, 1)).rounded(.up)))
            source = "largest |output| \(String(format: "%.3g", largest)) over \(calibrationInputs.count) calibration inputs"
        }
        options.outputBits = outputBits
        if options.circuitPrivacy != nil {
            // Garbage slots hold partial sums of the last layer: assume them 2^4 larger than the
            // outputs, then check that on the calibration inputs once the plan is known.
            options.circuitPrivacy!.slotBits = outputBits + Self.garbageMarginBits
        }
        // The planning rounds (with and without the input's packing, again at a larger scale
        // or for circuit privacy) share their simulations and conversion paths.
        if options.memo == nil { options.memo = PlanningMemo() }
        var chain = packed
        var plans = try Optimizer.plans(for: chain, options: options, costModel: costModel, progress: progress)
        var losers: [Optimizer.Candidate] = []
        if let plain = unpacked {
            // The strided convolution on the image as it is may still win (a packed image that
            // no longer fits a power-of-two tile, say): priced too, pruned against the packed best.
            var other = options
            other.knownBest = objective(plans[0], options.objective)
            progress("optimizer: the strided first convolution without the space-to-depth packing")
            if let alternative = try? Optimizer.plans(for: plain, options: other, costModel: costModel, progress: progress) {
                if objective(alternative[0], options.objective) < objective(plans[0], options.objective) {
                    (chain, plans, losers) = (plain, alternative, plans)
                } else {
                    losers = alternative
                }
            }
            progress("optimizer: \(chain.packing == nil ? "without" : "with") the space-to-depth packing of the input")
        }
        // Precision is planned: the chosen plan's logits error is simulated, and while it
        // exceeds the target the scale floor is raised by the bits missing (the ring may grow).
        let (precisionSamples, precisionInputs): ([[Double]], String) = calibrationInputs.isEmpty
            ? try PrecisionEstimate.assumedInputs(graph, count: PrecisionEstimate.maximumSamples)
            : (calibrationInputs, "\(min(calibrationInputs.count, PrecisionEstimate.maximumSamples)) of the calibration inputs")
        let target = options.maximumRelativeLogitError
        let simulationStart = Date()
        var precision = try PrecisionEstimate.estimate(plans[0], chain: chain, samples: precisionSamples, inputs: precisionInputs)
        progress(String(format: "precision: CKKS's errors simulated through the plan in %.1f s: predicted logit error ≤ %.2g of the largest logit",
                        Date().timeIntervalSince(simulationStart), precision.bound))
        for _ in 0..<3 where precision.bound > target {
            let logScale = plans[0].choice.parameters.logScale
            let missing = max(1, Int(log2(precision.bound / target).rounded(.up)))
            progress(String(format: "precision: predicted logit error %.2g of the largest logit at scale 2^%d exceeds %.2g; planning again with a scale of at least 2^%d",
                            precision.bound, logScale, target, logScale + missing))
            options.minimumScaleBits = logScale + missing
            options.maximumScaleBits = max(options.maximumScaleBits, options.minimumScaleBits)
            options.knownBest = nil
            do {
                plans = try Optimizer.plans(for: chain, options: options, costModel: costModel, progress: progress)
            } catch let CompilerError.infeasible(why) {
                throw CompilerError.infeasible(String(format: "the plan at scale 2^%d predicts a logit error of %.2g of the largest logit, over the %.2g asked for, and no parameters with a %d-bit scale hold it (%@); pass a larger --max-logit-error, or retrain with fewer levels or smaller activations",
                                                      logScale, precision.bound, target, logScale + missing, why))
            }
            losers = []
            precision = try PrecisionEstimate.estimate(plans[0], chain: chain, samples: precisionSamples, inputs: precisionInputs)
        }
        guard precision.bound <= target else {
            throw CompilerError.infeasible(String(format: "the best plan predicts a logit error of %.2g of the largest logit (scale 2^%d), over the %.2g asked for; pass a larger --max-logit-error or --min-scale-bits, or retrain with smaller activations",
                                                  precision.bound, precision.logScale, target))
        }
        if let request = options.circuitPrivacy, !calibrationInputs.isEmpty {
            let largest = try largestOutputSlot(plans[0], chain: chain, samples: calibrationInputs)
            let needed = Int(log2(max(largest, 1)).rounded(.up)) + 1
            if needed > request.slotBits {
                progress("circuit privacy: output slots reach \(String(format: "%.3g", largest)) on the calibration inputs; sizing the flooding for 2^\(needed)")
                options.circuitPrivacy!.slotBits = needed
                options.knownBest = nil
                plans = try Optimizer.plans(for: chain, options: options, costModel: costModel, progress: progress)
                losers = []
            }
        }
        if options.circuitPrivacy != nil {
            // The flooding is sized for a result at the chain's scale (within a factor 2). Each
            // ciphertext square doubles how far the scale has drifted from 2^s (Δ²/q with q ≠ Δ),
            // so a deep plan can end outside that: found here, on the mock with the real primes,
            // rather than by the server at evaluation.
            let p = plans[0].choice.parameters
            let drift = log2(try outputScale(plans[0], chain: chain)) - Double(p.logScale)
            guard abs(drift) <= 1 else {
                throw CompilerError.infeasible(String(format: "circuit privacy: this plan's result ends at scale 2^%.2f, %.2f bits from the 2^%d its flooding is sized for (each ciphertext square doubles the scale's drift; this network has many on one path); compile it without --circuit-privacy (the server then needs --no-circuit-privacy) until the sizing follows the drift", Double(p.logScale) + drift, drift, p.logScale))
            }
        }
        if plans[0].choice.parameters.logScale != precision.logScale {
            // The circuit-privacy sizing planned again: simulate the plan it chose.
            precision = try PrecisionEstimate.estimate(plans[0], chain: chain, samples: precisionSamples, inputs: precisionInputs)
        }
        // The client shows as many decimals as the predicted precision supports (the rounding
        // takes at most a quarter of the error target): at least 3, more for small logits.
        let decimals = min(12, max(3, Int((-log10(0.5 * target * max(precision.largestLogit, 1e-12))).rounded(.up))))
        // The plan taken, priced with its own parameters' calibration (other digit counts were
        // priced by scaling: only this one is measured when the machine has none).
        plans[0] = Optimizer.pricedWithOwnCalibration(plans[0], costModel: costModel, progress: progress)
        let (model, profile) = try files(for: plans[0], chain: chain, graph: graph, name: name, outputDecimals: decimals)
        return Compilation(model: model, profile: profile, chain: chain, plans: plans, otherLoweringPlans: losers,
                           outputBits: outputBits, outputBoundSource: source,
                           zeroBlockSavings: ZeroBlockSavings.of(plans[0], chain: chain, logScale: options.minimumScaleBits),
                           precision: precision, precisionTarget: target)
    }

    /// Bits by which circuit privacy assumes garbage slots exceed the outputs before checking.
    static let garbageMarginBits = 4

    /// The largest magnitude in any slot of the plan's output tiles (logits, replicas and
    /// garbage) over `samples`, computed exactly on the mock backend in the plan's tilings.
    static func largestOutputSlot(_ plan: Optimizer.Candidate, chain: NetworkLowering.Result, samples: [[Double]]) throws -> Double {
        var largest = 0.0
        let size = plan.images
        for batch in stride(from: 0, to: samples.count, by: size).map({ Array(samples[$0..<min(samples.count, $0 + size)]) }) {
            let x = try runOnMock(plan, chain: chain, samples: batch)
            for tile in x.tiles {
                let parts = try x.backend.decryptAndDecodeParts(tile)
                largest = max(largest, (parts.real + parts.imaginary).map(abs).max() ?? 0)
            }
        }
        return largest
    }

    /// The scale the plan's result has, tracked on the mock with the plan's real primes.
    static func outputScale(_ plan: Optimizer.Candidate, chain: NetworkLowering.Result) throws -> Double {
        try runOnMock(plan, chain: chain, samples: []).scale
    }

    /// The plan run exactly on the mock backend with the plan's own primes (levels and scales as
    /// the server's run), on up to `plan.images` samples, padded with zero images.
    /// With `noise`, the mock injects CKKS's errors (`PrecisionEstimate`).
    static func runOnMock(_ plan: Optimizer.Candidate, chain: NetworkLowering.Result, samples: [[Double]],
                          noise: MockBackend.NoiseInjection? = nil) throws -> TileTensor<MockBackend> {
        let sim = plan.simulation
        let mock = MockBackend(slotCount: sim.inputLayout.slotsPerTile, parameters: plan.choice.parameters,
                               complexPacking: sim.complexPacking)
        mock.noise = noise
        var padded = samples.map { chain.packed($0) }
        while padded.count < plan.images { padded.append([Double](repeating: 0, count: chain.inputShape.reduce(1, *))) }
        let input = try ChainExecution.inputTiles(padded, shape: chain.inputShape, layout: sim.inputLayout,
                                                  complexPacking: sim.complexPacking, backend: mock)
        return try ChainExecution.run(chain.steps, input: input, tilings: sim.tilings)
    }

    static func objective(_ plan: Optimizer.Candidate, _ objective: Optimizer.Objective) -> Double {
        objective == .throughput ? plan.microsecondsPerImage : plan.totalMicroseconds
    }

    /// The compiled model and client profile of one priced plan of `chain` (the optimizer's
    /// choice is `plans[0]`; any other can be written the same way).
    public static func files(for plan: Optimizer.Candidate, chain: NetworkLowering.Result, graph: Graph,
                             name: String, outputDecimals: Int = 3) throws -> (CompiledModel, ClientProfile) {
        let sim = plan.simulation
        let top = plan.choice.parameters.maxLevel
        let header = PlanHeader(
            parameters: plan.choice.parameters, modelName: name, engineVersion: EngineVersion.string, inputShape: chain.sampleShape,
            inputPacking: chain.packing, batch: plan.batch, inputLayout: sim.inputLayout, outputLayout: sim.outputLayout,
            rotationSteps: sim.rotationSteps.filter { $0 != 0 }, circuitPrivacy: plan.choice.privacy,
            complexPacking: sim.complexPacking)
        let planned = chain.steps.indices.map { i in
            let step = chain.steps[i], simulated = sim.steps[i]
            return PlannedStep(structure: step.operation.structure, inputShape: step.inputShape, outputShape: step.outputShape,
                               sources: step.sources, inputs: step.inputs, tiling: simulated.tiling, inputLevel: top - simulated.depthBefore,
                               outputLayout: simulated.outputLayout, estimatedMicroseconds: plan.stepMicroseconds[i],
                               estimatedPeakBytes: sim.peakBytes(step: i, maxLevel: top),
                               chunks: sim.chunks.isEmpty ? 1 : sim.chunks[i],
                               estimatedKeyBytes: sim.keyBytes(step: i, parameters: plan.choice.parameters))
        }
        var value = Plan(header: header, steps: planned, fingerprint: [])
        value.fingerprint = try CompiledModel.fingerprint(plan: value, steps: chain.steps)
        let model = CompiledModel(plan: value, steps: chain.steps)
        let preprocessing = try Preprocessing.fromMetadata(of: graph)
        let profile = ClientProfile(
            plan: value, outputScale: chain.outputScale.allSatisfy({ $0 == 1 }) ? [] : chain.outputScale,
            outputShift: chain.outputShift.allSatisfy({ $0 == 0 }) ? [] : chain.outputShift,
            classNames: graph.classNames(count: chain.outputShape.reduce(1, *)), preprocessingMean: preprocessing.mean,
            preprocessingStd: preprocessing.std, outputDecimals: outputDecimals)
        return (model, profile)
    }
}
