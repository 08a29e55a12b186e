import ArgumentParser
import CKKS
import Compiler
import Foundation
import HEMath
import TileTensors
import Serve

/// `he-tool eval`: the server side. Runs a compiled model on an encrypted input with the
/// client's evaluation keys; it never sees a secret key. With `--remote URL` the evaluation
/// runs on a `he-tool serve` server instead, and `--model` names a model served there.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a compiled model on an encrypted input (server side: evaluation keys only), here or on a server (--remote).",
        discussion: """
        Without --remote, --model is the path of a compiled model (model.hemodel). With --remote URL, --model is         the name of a model served there (GET /v1/models): the server's profile is checked against the ciphertext,         the keys are uploaded only when the server lacks them, and the result is written atomically.
        """
    )

    @Option(help: "The compiled model (model.hemodel); with --remote, the name of a served model.")
    var model: String

    @Option(help: "Evaluate on this `he-tool serve` server (http://host:port or https://…).")
    var remote: String?

    @Option(name: .customLong("token-file"), help: "With --remote: file whose first line is the server's bearer token.")
    var tokenFile: String?

    @Option(name: .customLong("ca-cert"), help: "PEM certificate(s) to trust for an https server (a self-signed one) instead of the system's.")
    var caCert: String?

    @Option(name: .customLong("eval-keys"), help: "The client's evaluation keys (.heevk).")
    var evalKeys: String

    @Argument(help: "The encrypted input (.hect from `he-tool encrypt`).")
    var input: String

    @Option(help: "Where to write the encrypted result (.hect).")
    var out: String

    @Option(help: "Threads (1: single-threaded kernels; 2 or more: RNS limbs in parallel).")
    var threads: Int = 2

    @Option(name: .customLong("key-memory-mb"), help: "Keep the Galois keys in their file and at most this many MB of them in memory (read when a step needs them): for key sets larger than the memory. A key file over 2 GiB is always read so, by default with a quarter of the memory.")
    var keyMemoryMB: Int?

    @Option(name: .customLong("plaintext-cache-mb"), help: "The most MB of encoded weight plaintexts a step keeps for re-use (default 1024; 0: encode at every use). Less memory, more encodes; the same result.")
    var plaintextCacheMB: Int?

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        // Bounded before the shift to bytes and the memory estimate's sums, which could overflow.
        if let keyMemoryMB, !(1...CompileCommand.largestMB).contains(keyMemoryMB) {
            throw ValidationError("--key-memory-mb must be in 1 … \(CompileCommand.largestMB)")
        }
        if let plaintextCacheMB, !(0...CompileCommand.largestMB).contains(plaintextCacheMB) {
            throw ValidationError("--plaintext-cache-mb must be in 0 … \(CompileCommand.largestMB)")
        }
        guard plaintextCacheMB == nil || remote == nil else { throw ValidationError("--plaintext-cache-mb is for a local evaluation; a server sets its own") }
        guard (tokenFile == nil && caCert == nil) || remote != nil else { throw ValidationError("--token-file and --ca-cert go with --remote") }
    }

    func run() async throws {
        var inputs = [("--eval-keys", evalKeys), ("input", input)]
        if remote == nil { inputs.append(("--model", model)) }
        if let tokenFile { inputs.append(("--token-file", tokenFile)) }
        if let caCert { inputs.append(("--ca-cert", caCert)) }
        try OutputGuard.check(outputs: [("--out", out)], inputs: inputs)
        if let remote { return try await runRemote(remote) }
        try runLocal()
    }

    /// `eval --remote`: the checks and the exchange are `RemoteEvaluation.run`'s.
    func runRemote(_ remote: String) async throws {
        let client = try RemoteClient(baseURL: remote, token: try tokenFile.map { try BearerToken.readFile(path: $0) }, caCertificatePath: caCert)
        let start = Date()
        do {
            let outcome = try await RemoteEvaluation.run(client: client, model: model, input: try FlowFile.bytes(input), inputSource: input,
                                                         keys: try FlowFile.bytes(evalKeys), keysSource: evalKeys,
                                                         progress: TerminalProgress(quiet: quiet).handler)
            try FlowFile.write(outcome.result, out)
            try await client.shutdown()
            if !quiet {
                print(String(format: "eval: %@ → %@ on %@ model %@ (%@)%@ in %.2f s", input, out, remote, model,
                             FlowFiles.megabytes(outcome.result.count), outcome.uploadedKeys ? ", keys uploaded" : "",
                             Date().timeIntervalSince(start)))
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func runLocal() throws {
        var session = try EvaluationSession.open(model: self.model, evaluationKeys: evalKeys, policy: ExecutionPolicy(threads: threads),
                                                keyMemoryBytes: keyMemoryMB.map { $0 << 20 })
        if let plaintextCacheMB { session.plaintextCacheBytes = plaintextCacheMB << 20 }
        let model = session.model
        let progress = EvalProgress(model: model, quiet: quiet, keys: session.keys.store)
        let size = try session.evaluate(inputPath: input, outputPath: out, group: progress.startGroup, progress: progress.report)
        progress.finish()
        if !quiet {
            let estimate = model.memoryEstimate(residentKeyBytes: session.keys.store?.residentBytes)
            let groups = progress.groups > 1 ? String(format: " for %d groups", progress.groups) : ""
            print(String(format: "eval: %@ → %@ (%@) in %.2f s (estimate %.2f s%@, %d thread(s)), %@", input, out,
                         FlowFiles.megabytes(size), progress.elapsed,
                         Double(progress.groups) * model.estimatedMicroseconds.reduce(0, +) / 1e6, groups as NSString, threads,
                         PeakMemory.beside(estimate)))
            print("eval: memory estimate by part: \(estimate.description)")
            if let store = session.keys.store {
                let s = store.statistics
                print(String(format: "eval: Galois keys read from %@ when needed: %d reads of %d keys (%.0f MB, %.1f s of reading), at most %d MB of them in memory",
                             evalKeys, s.reads, store.elements.count, Double(s.readBytes) / 1e6, s.readSeconds, store.residentBytes >> 20))
            }
        }
    }
}

/// Progress of an evaluation: a bar redrawn in place on a terminal, one line per step otherwise;
/// the remaining time scales the optimizer's estimates by how the finished steps compared.
final class EvalProgress {
    let model: CompiledModel
    let quiet: Bool
    let terminal = isatty(STDERR_FILENO) != 0
    let start = Date()
    var stepStart = Date()
    var elapsed: Double { Date().timeIntervalSince(start) }

    /// Keys read on demand: each step's line says what it read.
    let keys: GaloisKeyStore?
    var keysBefore = GaloisKeyStore.Statistics()

    init(model: CompiledModel, quiet: Bool, keys: GaloisKeyStore? = nil) {
        self.model = model
        self.quiet = quiet
        self.keys = keys
    }

    /// The group being evaluated (0-based) and the file's group count: the bar and the time
    /// left cover every group.
    var group = 0, groups = 1
    /// When the current group started.
    var groupStart = Date()

    func startGroup(_ g: Int, _ count: Int) {
        group = g
        groups = count
        groupStart = Date()
        if count > 1 && !quiet && !terminal { FlowFiles.log("eval: group \(g + 1) of \(count)") }
    }

    func report(_ step: Int, _ finished: Bool) {
        guard !quiet else { return }
        let estimates = model.estimatedMicroseconds
        let perGroup = estimates.reduce(0, +)
        let done = Double(group) * perGroup + estimates[..<(finished ? step + 1 : step)].reduce(0, +)
        let ratio = done > 0 ? elapsed * 1e6 / done : 1
        let remaining = (Double(groups) * perGroup - done) * ratio / 1e6
        let kind = model.steps[step].operation.kind
        if terminal {
            let n = model.steps.count, filled = (group * n + (finished ? step + 1 : step)) * 24 / (n * groups)
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 24 - filled)
            let where_ = groups > 1 ? String(format: "group %d/%d step %d/%d", group + 1, groups, step + 1, n) : String(format: "step %d/%d", step + 1, n)
            let line = String(format: "\r[%@] %@ %@  elapsed %.1f s, ~%.1f s left", bar, where_, kind, elapsed, remaining)
            FileHandle.standardError.write(Data((line.padding(toLength: 100, withPad: " ", startingAt: 0)).utf8))
        } else if finished {
            var read = ""
            if let now = keys?.statistics, now.reads > keysBefore.reads {
                read = String(format: "; %d keys read (%.0f MB, %.1f s)", now.reads - keysBefore.reads,
                              Double(now.readBytes - keysBefore.readBytes) / 1e6, now.readSeconds - keysBefore.readSeconds)
            }
            FlowFiles.log(String(format: "eval: step %d/%d %@ done in %.1f ms (estimate %.1f ms), elapsed %.2f s, ~%.1f s left; resident %.0f MB, peak %.0f MB (the step's ciphertexts %.0f MB estimated)%@", step + 1,
                                 model.steps.count, kind, Date().timeIntervalSince(stepStart) * 1000, estimates[step] / 1000, elapsed, remaining,
                                 Double(PeakMemory.currentBytes) / 1e6, PeakMemory.megabytes, Double(model.plan.steps[step].estimatedPeakBytes) / 1e6, read as NSString))
        }
        if !finished {
            stepStart = Date()
            if let now = keys?.statistics { keysBefore = now }
        }
    }

    func finish() {
        if terminal && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
