import ArgumentParser
import Foundation
import CKKS
import HEMath

/// `he-tool bench lazy`: scalar-weight lazy sums (`Evaluator.sumsOfProducts` with constant
/// weights: the kernel of one-image-per-slot convolutions and dense layers) timed per call for
/// several term counts per sum, and the per-term and per-sum costs fitted to them: a sum's
/// fixed work (its accumulators cleared, reduced and written) is shared by fewer products in a
/// small convolution's sums (CryptoNets: 25 terms) than in a dense layer's (845).
struct BenchLazyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lazy",
        abstract: "Time scalar-weight lazy sums of products for several term counts per sum.",
        discussion: """
        Each call makes --sums sums of T terms over distinct fresh ciphertexts drawn in turn from
        a pool larger than the last-level cache (a layer's inputs were made long before); runs of
        --group consecutive sums read the same inputs (a convolution's filters at one pixel, a
        dense layer's outputs). Prints the time per call and per term for each T, and the least-
        squares fit time = terms · (per term) + sums · (per sum).
        """
    )

    @Option(help: "Parameter preset name (n8192-l2, n16384-l6, n32768-l18) or a preset JSON file.")
    var params: String = "n16384-l6"

    @Option(help: "Level of the ciphertexts (default: the top).")
    var level: Int?

    @Option(help: "Comma-separated term counts per sum.")
    var terms: String = "4,8,16,25,32,64,128"

    @Option(help: "Sums per call.")
    var sums: Int = 16

    @Option(help: "Consecutive sums that read the same inputs.")
    var group: Int = 16

    @Option(help: "1: single-threaded kernels; 2 or more: limbs in parallel.")
    var threads: Int = 1

    @Option(help: "Timed repetitions per term count.")
    var reps: Int = 20

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1") }
        guard (1...256).contains(sums), (1...256).contains(group) else {
            throw ValidationError("--sums and --group must be from 1 to 256")
        }
        let entries = terms.split(separator: ",", omittingEmptySubsequences: false)
        guard !entries.isEmpty, entries.allSatisfy({ Int($0.trimmingCharacters(in: .whitespaces)).map { (1...1024).contains($0) } ?? false }) else {
            throw ValidationError("--terms: comma-separated counts from 1 to 1024 (got '\(terms)')")
        }
    }

    /// The term counts of `--terms` (every entry checked by `validate`).
    var termCounts: [Int] { terms.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        let parameters = try ParameterPreset.named(params).parameters()
        let context = try CKKSContext(parameters: parameters)
        let level = self.level ?? context.maxLevel
        guard (0...context.maxLevel).contains(level) else {
            throw ValidationError("--level must be from 0 to \(context.maxLevel) for \(params)")
        }
        let keygen = KeyGenerator(context: context)
        let encryptor = Encryptor(secretKey: keygen.secretKey())
        let evaluator = Evaluator(context: context, keys: EvaluationKeys(context: context, relinearization: nil, galois: [:]))
        var rng = SystemRandomNumberGenerator()
        let values = (0..<context.slotCount).map { _ in Double.random(in: -1...1, using: &rng) }
        let a = try encryptor.encrypt(Encoder(context: context).encode(values, scale: parameters.scale, level: level))
        let bytes = 16 * context.degree * (level + 1)
        let pool = try (0..<max(2 * (termCounts.max() ?? 1), (256 << 20) / bytes)).map { _ in try evaluator.add(a, a) }
        let weight = ProductWeight.constant(0.3, scale: Double(parameters.ciphertextPrimes[level]))
        print("scalar lazy sums: N = \(context.degree), level \(level) (\(level + 1) primes), \(sums) sums per call in groups of \(group) over the same inputs, \(threads) thread(s), \(reps) reps, a pool of \(pool.count) ciphertexts")
        var next = 0
        var points: [(terms: Double, sums: Double, micros: Double)] = []
        try ExecutionPolicy(threads: threads).run {
            for t in termCounts {
                var failure: Error?
                let summary = Stopwatch.measure(reps: reps) {
                    let groups = (sums + group - 1) / group
                    var inputs: [Ciphertext] = []
                    var lists: [[(input: Int, weight: ProductWeight)]] = []
                    for g in 0..<groups {
                        let base = inputs.count
                        for k in 0..<t { inputs.append(pool[(next + k) % pool.count]) }
                        next += t
                        for _ in 0..<min(group, sums - g * group) { lists.append((0..<t).map { (input: base + $0, weight: weight) }) }
                    }
                    do { _ = try evaluator.sumsOfProducts(inputs: inputs, sums: lists) } catch { failure = failure ?? error }
                }
                if let failure { throw failure }
                let products = Double(sums * t)
                points.append((products, Double(sums), summary.median))
                print(String(format: "T = %4d: %10.1f µs per call (min %10.1f), %7.2f µs per term, %8.1f µs per sum",
                             t, summary.median, summary.minimum, summary.median / products, summary.median / Double(sums)))
            }
        }
        // Least squares for micros = terms · x + sums · y.
        let stt = points.reduce(0) { $0 + $1.terms * $1.terms }, sts = points.reduce(0) { $0 + $1.terms * $1.sums }
        let sss = points.reduce(0) { $0 + $1.sums * $1.sums }
        let stm = points.reduce(0) { $0 + $1.terms * $1.micros }, ssm = points.reduce(0) { $0 + $1.sums * $1.micros }
        let det = stt * sss - sts * sts
        if points.count >= 2, det > 0 {
            let x = (stm * sss - ssm * sts) / det, y = (stt * ssm - sts * stm) / det
            print(String(format: "fit: %.2f µs per term + %.1f µs per sum (a sum's fixed work = %.1f terms)", x, y, y / x))
        }
    }
}
