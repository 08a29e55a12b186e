import CKKS
import Foundation
import TileTensors

/// The optimizer's report as text lines: per step the layout, operation counts, level and
/// estimated time; the totals (time, memory, ciphertext and key sizes, what crosses the wire);
/// and the best plans it rejected.
public enum CompilationReport {
    public static func lines(_ c: Compilation) -> [String] {
        let best = c.plans[0]
        let sim = best.simulation
        let p = c.model.parameters
        var out: [String] = []
        out.append("parameters: \(best.choice.preset.name): N = \(p.degree), \(p.ciphertextPrimes.count) ciphertext primes of bits \(best.choice.preset.primeBits.map(String.init).joined(separator: "/")) + special \(best.choice.preset.specialPrimeBits.map(String.init).joined(separator: "/")), log2 QP = \(String(format: "%.1f", p.log2QP)) (128-bit limit \(SecurityTable.maximumLog2QP(degree: p.degree, allowExtended: false).map(String.init) ?? "none")), scale 2^\(p.logScale), depth \(best.choice.depth)")
        out.append("key switching: \(p.keySwitchDigits) digit(s) of \(p.primesPerDigit) prime(s), \(p.specialPrimes.count) special prime(s) of bits \(best.choice.preset.specialPrimeBits.map(String.init).joined(separator: "/")); evaluation keys \(mb(best.evaluationKeyBytes))\(p.degree > 32768 ? "; the 128-bit limit for N = \(p.degree) is OpenFHE's extension of the HE Standard's table (the Standard stops at 32768)" : "")")
        if let cp = best.choice.privacy {
            let base = best.choice.preset.primeBits.prefix(p.ciphertextPrimes.count - best.choice.depth)
            out.append("output bound: \(c.outputBoundSource) → the output level keeps \(base.count) primes of bits \(base.map(String.init).joined(separator: "/")) (\(base.reduce(0, +)) bits) for circuit privacy")
            out.append("circuit privacy: results masked to the slots the client reads (mask at scale 2^\(cp.maskLogScale), no rescale), re-randomized with the client's public key, flooded uniformly on ±2^\(cp.floodBits): statistical distance ≤ 2^-\(cp.statisticalBits) for output slots below 2^\(cp.slotBits); flooding std in a logit ≤ 2^-\(cp.precisionBits)")
        } else {
            out.append("output bound: \(c.outputBoundSource) → q0 of \(best.choice.preset.primeBits[0]) bits")
        }
        if let e = c.precision {
            out.append(String(format: "precision: predicted logit error ≤ %.2g of the largest |logit| (%.2g of %.3g; target %.2g), from CKKS's errors at N = %d, scale 2^%d simulated through the plan; inputs: %@",
                              e.bound, e.bound * e.largestLogit, e.largestLogit, c.precisionTarget, p.degree, e.logScale, e.inputs as NSString))
        }
        out.append("tiling \(pathDescription(sim)) (t0×t1×tX×tY×tB), \(best.images) image(s) per evaluation\(sim.complexPacking ? " (two per slot: complex packing)" : ""), \(sim.rotationSteps.count) rotation steps")
        out.append("")
        // "reads": the steps whose outputs a step reads (in: the input), shown for a graph.
        let graph = !c.chain.isChain
        out.append(String(format: "%-3@ %-26@ %@%-34@ %5@ %7@ %7@ %6@ %6@ %5@ %11@ %8@", "#", "step", (graph ? "reads    " : "") as NSString, "input layout", "level", "mulPlain", "mulScal", "rot", "hoist", "mul", "est. ms", "peak MB"))
        for (i, step) in sim.steps.enumerated() {
            let counts = step.totalCounts
            let kind = (step.converted ? "→\(step.tiling) " : "") + c.model.steps[i].operation.kind
            let reads = graph ? String(format: "%-9@", step.inputs.map { $0 == 0 ? "in" : String($0 - 1) }.joined(separator: ",") as NSString) : ""
            // The step's most ciphertexts and plaintexts alive at once (simulated on the mock).
            out.append(String(format: "%-3d %-26@ %@%-34@ %5d %7d %7d %6d %6d %5d %11.1f %8.0f", i, kind as NSString, reads as NSString,
                              step.inputLayout.description as NSString, p.maxLevel - step.depthBefore, counts.plainMultiplications,
                              counts.scalarMultiplications,
                              counts.rotations, counts.hoistedRotations, counts.multiplications, best.stepMicroseconds[i] / 1000,
                              Double(c.model.plan.steps[i].estimatedPeakBytes) / 1e6))
        }
        if sim.chunks.contains(where: { $0 > 1 }) {
            out.append("chunks: \(Optimizer.chunkSummary(sim.chunks)), each through the steps after it into the next convolution (its output never whole; the estimate and peak of a segment are on its first step)")
        }
        let inputBytes = MemoryEstimate.seededInputBytes(ciphertexts: sim.inputLayout.tileCount, parameters: p)
        let outputBytes = sim.outputLayout.tileCount * 2 * p.degree * 8
        let keys = best.evaluationKeyBytes
        let peak = best.largestIntermediateBytes
        out.append("")
        out.append(String(format: "total: %.1f ms per evaluation, %.1f ms per image (%d image(s))", best.totalMicroseconds / 1000,
                          best.microsecondsPerImage / 1000, best.images))
        out.append("memory: most ciphertexts and plaintexts alive at once \(mb(peak)), input \(sim.inputLayout.tileCount) ciphertext(s), output \(sim.outputLayout.tileCount)")
        out.append("memory: the server's peak resident set, estimated with every key in memory: \(c.model.memoryEstimate().description)")
        let fresh = sim.firstTouchBytes(parameters: p).reduce(0, +)
        if fresh > 0 {
            out.append("memory: the steps touch \(mb(fresh)) beyond the input's read for the first time (a fresh process's page faults, priced in the steps' estimates at this machine's calibrated rate)")
        }
        if Optimizer.keysReadOnDemand(sim, parameters: p) {
            out.append("keys: the key file is larger than one he-tool file, so an evaluation reads each Galois key when a step first needs it (the steps' estimates price those reads at this machine's calibrated rate; keys read again after eviction under `--key-memory-mb` are not priced)")
        }
        out.append("upload: input \(mb(inputBytes)) (seeded), evaluation keys \(mb(keys)) (relinearization + \(sim.galoisKeyCount) Galois, once per client); download: \(mb(outputBytes))")
        if let saved = c.zeroBlockSavings {
            out.append("zero weight blocks: \(saved.plainProducts) plaintext products and \(saved.rotations) rotations not made in this plan"
                       + (saved.rotationSteps > 0 ? ", \(saved.rotationSteps) Galois key(s) fewer" : "") + " (against the same plan with those blocks nonzero)")
        }
        let objective = { (p: Optimizer.Candidate) in best.images > 1 ? p.microsecondsPerImage : p.totalMicroseconds }
        let other = c.chain.packing == nil ? "with" : "without"
        let rejected = (c.plans.dropFirst().map { ($0, $0.simulation.complexPacking == best.simulation.complexPacking ? ""
                                                        : $0.simulation.complexPacking ? " (two images per slot)" : " (one image per slot)") } + c.otherLoweringPlans.map { ($0, " (\(other) the space-to-depth packing)") })
            .sorted { objective($0.0) < objective($1.0) }.prefix(2)
        if !rejected.isEmpty {
            out.append("")
            out.append("best rejected plans:")
            for (r, note) in rejected {
                out.append(String(format: "  tiling %@%@, depth %d, %@: %.1f ms per evaluation, %.1f ms per image, %d rotation steps",
                                  pathDescription(r.simulation) as NSString, note as NSString, r.choice.depth, r.choice.preset.name as NSString,
                                  r.totalMicroseconds / 1000, r.microsecondsPerImage / 1000, r.simulation.rotationSteps.count))
            }
        }
        return out
    }

    /// One tiling, or the tilings in step order with the step where each starts.
    public static func pathDescription(_ sim: ChainSimulation) -> String {
        let changes = sim.steps.enumerated().filter { $0.offset == 0 || $0.element.converted }
        guard changes.count > 1 else { return sim.tiling.description }
        return changes.map { "\($0.element.tiling)@\($0.offset)" }.joined(separator: " → ")
    }

    static func mb(_ bytes: Int) -> String { String(format: "%.2f MB", Double(bytes) / 1_000_000) }
}
