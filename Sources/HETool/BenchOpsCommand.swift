import ArgumentParser
import Foundation
import CKKS
import HEMath

/// `he-tool bench ops`: every CKKS primitive timed at the top level of a preset, keys as in
/// shared/bench so that the JSON diffs against seal_ops.py's key by key.
struct BenchOpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Time CKKS primitives (keygen, encode, encrypt, decrypt, decode, add, products, rescale, rotations).",
        discussion: """
        Ciphertext operations act on fresh ciphertexts at the top level with all slots filled with
        values in [−1, 1], as in shared/bench/seal_ops.py. --threads 1 runs every kernel on one
        thread; more lets limbs run concurrently on the machine's cores. Pin with taskset to compare.
        """
    )

    @Option(help: "Parameter preset name (n8192-l2, n16384-l6, n32768-l18) or a preset JSON file.")
    var params: String = "n8192-l2"

    @Option(help: "1: single-threaded kernels; 2 or more: limbs in parallel.")
    var threads: Int = 1

    @Option(help: "Timed repetitions per operation (default 200 / 100 / 30 for N = 8192 / 16384 / 32768).")
    var reps: Int?

    @Option(help: "Comma-separated keys to time (e.g. rotate,relin); default: all.")
    var only: String?

    @Flag(help: "Print one JSON object in the schema of shared/bench instead of a table.")
    var json = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let reps, reps < 1 { throw ValidationError("--reps must be at least 1") }
    }

    func run() throws {
        let preset = try ParameterPreset.named(params)
        let parameters = try preset.parameters()
        let reps = self.reps ?? [13: 200, 14: 100].first { $0.key == parameters.logDegree }?.value ?? 30
        var report = BenchReport(
            title: "CKKS benchmark: \(preset.name), N = \(parameters.degree), \(parameters.maxLevel + 1) + \(parameters.specialPrimes.count) primes, \(threads) thread(s), \(reps) reps",
            params: [("log_n", "\(parameters.logDegree)"),
                     ("primes_bits", "\(preset.primeBits + preset.specialPrimeBits)"),
                     ("special_primes", "\(parameters.specialPrimes.count)"),
                     ("scale_bits", "\(parameters.logScale)"),
                     ("preset", "\"\(preset.name)\"")],
            threads: threads, reps: reps)
        let selected = only.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        if let selected {
            let unknown = selected.subtracting(OpsBenchmarks.keys)
            guard unknown.isEmpty else {
                throw ValidationError("--only: unknown key(s) \(unknown.sorted().joined(separator: ", ")); known: \(OpsBenchmarks.keys.sorted().joined(separator: ", "))")
            }
        }
        try ExecutionPolicy(threads: threads).run { try OpsBenchmarks.run(parameters: parameters, reps: reps, only: selected, into: &report) }
        print(json ? report.json() : report.table())
    }
}
