import ArgumentParser
import CKKS
import Compiler
import Foundation
import HEMath
import TileTensors

/// `he-tool bench eval`: the server's evaluation of a compiled model on an encrypted input,
/// repeated — the median per evaluation and per image, and each step's median beside the
/// optimizer's estimate (the check that the cost model prices this machine right).
struct BenchEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Time the encrypted evaluation of a compiled model (median per evaluation, per image and per step, beside the estimates).",
        discussion: "Files as for `he-tool eval`. Example: he-tool bench eval --model mnist/model.hemodel --eval-keys me.heevk x.hect --threads 2")

    @Option(help: "The compiled model (model.hemodel).") var model: String
    @Option(name: .customLong("eval-keys"), help: "The client's evaluation keys (.heevk).") var evalKeys: String
    @Argument(help: "The encrypted input (.hect from `he-tool encrypt`).") var input: String
    @Option(help: "Threads (1: single-threaded kernels; 2 or more: RNS limbs in parallel).") var threads: Int = 2
    @Option(help: "Timed repetitions (after one untimed).") var reps: Int = 5
    @Flag(help: "Print JSON in the schema of shared/bench.") var json = false
    @Option(name: .customLong("key-memory-mb"), help: "Keep the Galois keys in their file, at most this many MB of them in memory.") var keyMemoryMB: Int?
    @Option(name: .customLong("plaintext-cache-mb"), help: "The most MB of encoded weight plaintexts a step keeps for re-use (default 1024; 0: encode at every use).") var plaintextCacheMB: Int?

    func validate() throws {
        guard threads >= 1, reps >= 1 else { throw ValidationError("--threads and --reps must be at least 1") }
        // Bounded before the shift to bytes and the memory estimate's sums, which could overflow.
        if let keyMemoryMB, !(1...CompileCommand.largestMB).contains(keyMemoryMB) {
            throw ValidationError("--key-memory-mb must be in 1 … \(CompileCommand.largestMB)")
        }
        if let plaintextCacheMB, !(0...CompileCommand.largestMB).contains(plaintextCacheMB) {
            throw ValidationError("--plaintext-cache-mb must be in 0 … \(CompileCommand.largestMB)")
        }
    }

    func run() throws {
        var session = try EvaluationSession.open(model: model, evaluationKeys: evalKeys, policy: ExecutionPolicy(threads: threads),
                                                keyMemoryBytes: keyMemoryMB.map { $0 << 20 })
        if let plaintextCacheMB { session.plaintextCacheBytes = plaintextCacheMB << 20 }
        let compiled = session.model
        // Sizes from the file system: reading a 17 GB key file again only to count it would
        // also be the peak resident set this command reports.
        let keyBytes = (try? FileManager.default.attributesOfItem(atPath: evalKeys)[.size] as? Int) ?? 0
        let inputBytes = (try? FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? 0
        // One evaluation's worth: the file's first group (of a file of several, the first is timed).
        let encrypted = try EncryptedTensorGroups.first(path: input)
        let n = compiled.steps.count
        var stepSamples = [[Double]](repeating: [], count: n)
        var failure: Error?
        var outputBytes = 0
        var timed = false
        let summary = Stopwatch.measure(reps: reps, warmup: 1) {
            var started = DispatchTime.now().uptimeNanoseconds
            do {
                let result = try session.evaluate(encrypted, source: input) { step, finished in
                    let now = DispatchTime.now().uptimeNanoseconds
                    if finished, timed { stepSamples[step].append(Double(now - started) / 1_000) }
                    started = now
                }
                outputBytes = try result.serialized().count
            } catch { failure = failure ?? error }
            timed = true
        }
        if let failure { throw failure }
        func median(_ v: [Double]) -> Double {
            let s = v.sorted(), m = s.count / 2
            return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
        }
        let images = encrypted.images
        let path = compiled.stepTilings.enumerated().filter { $0.offset == 0 || compiled.stepTilings[$0.offset - 1] != $0.element }
            .map { $0.offset == 0 ? $0.element.description : "\($0.element)@\($0.offset)" }.joined(separator: " → ")
        var report = BenchReport(
            title: "eval \(compiled.modelName): \(n) steps, tiling \(path), N = \(compiled.parameters.degree), \(images) image(s), \(threads) thread(s), \(reps) reps",
            params: [("model", "\"\(compiled.modelName)\""), ("log_n", "\(compiled.parameters.logDegree)"),
                     ("depth", "\(compiled.parameters.maxLevel)"), ("tiling", "\"\(path)\""), ("images", "\(images)"),
                     ("batch", "\(compiled.imagesPerEvaluation)"), ("rotation_keys", "\(compiled.rotationSteps.count)")],
            threads: threads, reps: reps)
        report.rows.append(("evaluate", summary))
        if let store = session.keys.store {
            let s = store.statistics
            report.notes.append(String(format: "Galois keys on demand: %d reads from the file over %d evaluations (%.0f MB, %.1f s of reading), %d MB of keys in memory at the end (limit %d MB)",
                                      s.reads, reps + 1, Double(s.readBytes) / 1e6, s.readSeconds, s.residentBytes >> 20, store.residentBytes >> 20))
        }
        report.rows.append(("evaluate_per_image", Stopwatch.Summary(median: summary.median / Double(images), minimum: summary.minimum / Double(images))))
        report.notes.append("per step: median measured vs the optimizer's estimate")
        for i in 0..<n {
            let m = median(stepSamples[i]), e = compiled.estimatedMicroseconds[i]
            report.rows.append(("step_\(i)", Stopwatch.Summary(median: m, minimum: stepSamples[i].min() ?? m)))
            report.notes.append(String(format: "  step %d %@: %.1f ms measured, %.1f ms estimated (%+.0f%%)", i, compiled.steps[i].operation.kind, m / 1000, e / 1000, (m / e - 1) * 100))
        }
        // Per layer of the network: the steps a layer was lowered to (an activation a·x² + b·x + c
        // before a padded convolution is x⊙(x + β) and +γ), measured and estimated together.
        var layers: [(name: String, measured: Double, estimated: Double)] = []
        for i in 0..<n {
            let name = compiled.steps[i].sources.joined(separator: "+")
            let m = median(stepSamples[i]), e = compiled.estimatedMicroseconds[i]
            if let last = layers.last, last.name == name {
                layers[layers.count - 1] = (name, last.measured + m, last.estimated + e)
            } else {
                layers.append((name, m, e))
            }
        }
        report.notes.append("per layer of the network (its steps together):")
        for layer in layers {
            report.notes.append(String(format: "  %@: %.1f ms measured, %.1f ms estimated (%+.0f%%)", layer.name, layer.measured / 1000,
                                       layer.estimated / 1000, (layer.measured / layer.estimated - 1) * 100))
        }
        let estimate = compiled.estimatedMicroseconds.reduce(0, +)
        report.notes.append(String(format: "  total: %.1f ms measured (median), %.1f ms estimated (%+.0f%%)", summary.median / 1000, estimate / 1000, (summary.median / estimate - 1) * 100))
        let memory = compiled.memoryEstimate(residentKeyBytes: session.keys.store?.residentBytes)
        report.notes.append("\(PeakMemory.beside(memory)) (VmHWM over the \(reps + 1) evaluations, keys and model loaded); estimate by part: \(memory.description)")
        report.sizes = [("input", inputBytes), ("output", outputBytes), ("evaluation_keys", keyBytes)]
        print(json ? report.json() : report.table())
    }
}
