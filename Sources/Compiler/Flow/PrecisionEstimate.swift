import CKKS
import Foundation
import Model
import TileTensors

/// The error a plan's decrypted logits are predicted to have, and where the prediction came
/// from. The plan runs on the mock backend in its own tilings, levels and primes with every
/// CKKS operation's error injected at the size `NoiseModel` gives (fresh encryption, encoding,
/// each rescale and key switch), and its logits are compared with the lowered network's exact
/// ones on the same inputs: the errors each step adds are amplified by the weights and the
/// activations exactly as on the server, so no per-layer norm bound is needed.
///
/// Each run is one draw of random errors, so the prediction is statistical: `draws` runs per
/// input give the errors' RMS σ (relative to each sample's largest |logit|), and the bound is
/// the 95% quantile of the largest of the M logit errors of the simulated samples if each is
/// Gaussian with that deviation, σ·√(2·ln(2M/0.05)). Measured on a network at a 20-bit scale:
/// predicted 5.3e-3, measured 4.5e-3; the per-operation deviations agree with measurements
/// within 2% (`NoiseModelTests`).
public struct PrecisionEstimate: Sendable, Equatable {
    /// The RMS logit error over the simulated samples and draws, each divided by the largest
    /// |logit| of its sample, and the number of logits it covers per draw (M).
    public var relativeDeviation: Double
    public var logits: Int
    /// The largest |logit error| seen, and the largest |logit|.
    public var absoluteError: Double
    public var largestLogit: Double
    /// The inputs simulated, in words (calibration inputs, or the range assumed without them).
    public var inputs: String
    /// The scale the plan ran at (log2).
    public var logScale: Int

    /// The prediction: the 95% quantile of the largest relative logit error (see the type).
    public var bound: Double { relativeDeviation * (2 * Foundation.log(2 * Double(max(logits, 1)) / 0.05)).squareRoot() }
    /// Logits within this fraction of the largest |logit| unless the user asks otherwise.
    public static let defaultTarget = 1e-3
    /// Samples simulated at most, and runs (error draws) per sample.
    public static let maximumSamples = 2
    public static let draws = 2
    /// Logits smaller than this are compared as if they were this large (all-zero outputs).
    static let smallestLogit = 1e-6

    /// Simulates `plan` on up to `maximumSamples` of `samples` (whole batches of the plan).
    static func estimate(_ plan: Optimizer.Candidate, chain: NetworkLowering.Result, samples: [[Double]],
                         inputs: String) throws -> PrecisionEstimate {
        let parameters = plan.choice.parameters
        let model = NoiseModel(parameters: parameters)
        let used = Array(samples.prefix(max(Self.maximumSamples, 1)))
        let channel = InterleavedTiling.channelDimension(of: plan.simulation.outputLayout)
        let per = chain.outputShape[1] * chain.outputShape[2]
        var estimate = PrecisionEstimate(relativeDeviation: 0, logits: 0, absoluteError: 0, largestLogit: 0, inputs: inputs,
                                         logScale: parameters.logScale)
        var sumOfSquares = 0.0, count = 0
        let batches = stride(from: 0, to: used.count, by: plan.images).map { Array(used[$0..<min(used.count, $0 + plan.images)]) }
        // The draws are independent runs (each its own mock and seeded generator): made on every
        // core at once, then read in order, so the estimate is the same as made one by one.
        // AlexNet's two draws took 64 s of a 10-minute compile one after the other.
        let runs = batches.indices.flatMap { b in (0..<Self.draws).map { (b, $0) } }
        let outputs = Locked([Result<[[Double]], Error>?](repeating: nil, count: runs.count))
        DispatchQueue.concurrentPerform(iterations: runs.count) { r in
            let (b, draw) = runs[r]
            let result = Result { () throws -> [[Double]] in
                let noise = MockBackend.NoiseInjection(model: model, seed: 0x5EED_0000 &+ UInt64(b * Self.draws + draw))
                let y = try Compilation.runOnMock(plan, chain: chain, samples: batches[b], noise: noise)
                return try ChainExecution.outputSamples(y, complexPacking: plan.simulation.complexPacking, images: batches[b].count) {
                    Array(ChainExecution.outputSamples($0, channelDimension: channel).prefix($1))
                }
            }
            outputs.withLock { $0[r] = result }
        }
        let noisyRuns = try outputs.withLock { $0 }.map { try $0!.get() }
        for (b, batch) in batches.enumerated() {
            let exact = batch.map { chain.run(chain.packed($0)) }
            for draw in 0..<Self.draws {
                let noisy = noisyRuns[b * Self.draws + draw]
                for (i, want) in exact.enumerated() {
                    var largest = 0.0
                    for j in want.indices { largest = max(largest, abs(chain.outputScale[j / per] * want[j] + chain.outputShift[j / per])) }
                    for j in want.indices {
                        let error = abs(chain.outputScale[j / per] * (noisy[i][j] - want[j]))
                        guard error.isFinite else {
                            throw CompilerError.infeasible("the precision simulation of this plan overflowed (an error grew without bound through the network); retrain with smaller activations or pass a larger --min-scale-bits")
                        }
                        estimate.absoluteError = max(estimate.absoluteError, error)
                        let relative = error / max(largest, Self.smallestLogit)
                        sumOfSquares += relative * relative
                        count += 1
                    }
                    estimate.largestLogit = max(estimate.largestLogit, largest)
                }
            }
        }
        estimate.relativeDeviation = (sumOfSquares / Double(max(count, 1))).squareRoot()
        estimate.logits = count / Self.draws
        return estimate
    }

    /// Inputs for the simulation when the user gave none: `count` samples of the model's input
    /// shape with every value uniform in [0, 1] (an image's pixels), then normalized by the
    /// model's preprocessing metadata if it has some. Seeded: the same model compiles the same.
    static func assumedInputs(_ graph: Graph, count: Int) throws -> (samples: [[Double]], description: String) {
        let preprocessing = try Preprocessing.fromMetadata(of: graph)
        let shape = graph.inputShape
        let total = shape.reduce(1, *)
        let channels = shape.count == 3 ? shape[0] : 1
        let per = total / max(channels, 1)
        var rng = SplitMix(seed: 0x1A9E7)
        let samples = (0..<count).map { _ in
            (0..<total).map { i -> Double in
                let c = min(i / max(per, 1), channels - 1)
                let mean = preprocessing.mean.count == channels ? preprocessing.mean[c] : preprocessing.mean[0]
                let std = preprocessing.std.count == channels ? preprocessing.std[c] : preprocessing.std[0]
                return ((rng.nextUnit() + 1) / 2 - mean) / std
            }
        }
        let normalized = preprocessing == .unitRange ? "" : " normalized by the model's preprocessing"
        return (samples, "no calibration inputs given, so \(count) random ones with every pixel uniform in [0, 1]\(normalized) (an assumed range; pass --calibration with real images for theirs)")
    }
}
