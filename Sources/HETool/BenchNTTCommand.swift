import ArgumentParser
import HEMath

/// `he-tool bench ntt`: forward and inverse NTT and the pointwise product, on the word-size RNS
/// kernel or on the GMP big-integer kernel (the reference ring's NTT modulo one large prime).
struct BenchNTTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ntt",
        abstract: "Time forward/inverse NTT and pointwise multiplication of one polynomial.",
        discussion: """
        The rns kernel works on `--limbs` word primes (the first 60 bits, the others 40 bits, as in
        the CKKS chains), one limb after another on one thread. The bigint kernel works on GMP
        integers modulo one NTT-friendly prime P > 2·N·Q², where Q is the product of the same chain.
        Keys match shared/bench: ntt_forward is SEAL's and OpenFHE's one-prime forward NTT.
        """
    )

    enum Kernel: String, ExpressibleByArgument, CaseIterable {
        case rns, bigint
    }

    @Option(name: .customLong("log-n"), help: "log2 of the ring degree N (10…17).")
    var logN: Int = 13

    @Option(help: "Number of RNS primes (limbs), 1…64.")
    var limbs: Int = 1

    @Option(help: "Kernel: rns (64-bit words) or bigint (GMP).")
    var kernel: Kernel = .rns

    @Option(help: "Timed repetitions per operation (after 3 warm-up calls).")
    var reps: Int?

    @Flag(help: "Print one JSON object in the schema of shared/bench instead of a table.")
    var json = false

    func validate() throws {
        guard (10...17).contains(logN) else { throw ValidationError("--log-n must be in 10…17, got \(logN)") }
        guard (1...64).contains(limbs) else { throw ValidationError("--limbs must be in 1…64, got \(limbs)") }
        if let reps, reps < 1 { throw ValidationError("--reps must be at least 1, got \(reps)") }
    }

    func run() throws {
        let n = 1 << logN
        let bits = [60] + Array(repeating: 40, count: limbs - 1)
        let primes = try PrimeSearch.nttPrimes(bitSizes: bits, degree: n)
        let reps = self.reps ?? (kernel == .rns ? 200 : 10)
        var report = BenchReport(
            title: "NTT benchmark: N = \(n) (log N = \(logN)), \(limbs) limb(s), kernel \(kernel.rawValue), \(reps) reps",
            params: [("log_n", "\(logN)"), ("primes_bits", "\(bits)"), ("limbs", "\(limbs)"),
                     ("kernel", "\"\(kernel.rawValue)\"")],
            threads: 1, reps: reps)
        switch kernel {
        case .rns: try NTTBenchmarks.rns(degree: n, primes: primes, reps: reps, into: &report)
        case .bigint: try NTTBenchmarks.bigint(degree: n, primes: primes, reps: reps, into: &report)
        }
        print(json ? report.json() : report.table())
    }
}
