import ArgumentParser
import CKKS
import Compiler
import Foundation
import HEMath
import Model

/// `he-tool compile`: the optimizer picks parameters and packing and writes the server's
/// compiled model and the client's profile.
struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile an ONNX model: pick parameters and packing; write DIR/model.hemodel (server) and DIR/client.heprofile (client).",
        discussion: "The first compile of a parameter set on this machine calibrates it (a few seconds; cached, see `he-tool calibrate`)."
    )

    @OptionGroup var input: ModelInputOptions

    @Option(help: "Output directory.")
    var out: String

    @Option(help: "Images per evaluation (latency objective).")
    var batch: Int?

    @Option(help: "latency (one evaluation of --batch images) or throughput (per image, at the batch that fills the slots).")
    var objective: String = "latency"

    @Option(parsing: .upToNextOption, help: "Calibration inputs (PNG, IDX, .npy): bound the output magnitude and check the lowering.")
    var calibration: [String] = []

    @Option(help: "Threads the server will evaluate with (the calibration is per thread count).")
    var threads: Int = 2

    @Option(name: .customLong("min-scale-bits"), help: "Smallest CKKS scale, in bits, the parameters may use (precision; default 29).")
    var minScaleBits: Int = 29

    @Option(name: .customLong("max-logit-error"), help: "Largest predicted logit error, as a fraction of the largest logit, the plan may have; the scale is raised until the simulated error is within it (default 1e-3).")
    var maxLogitError: Double = PrecisionEstimate.defaultTarget

    @Option(name: .customLong("max-key-mb"), help: "Largest evaluation-key upload, in MB, a plan may need: a network no plan of which fits is refused (without it: plans within 2000 MB are preferred).")
    var maxKeyMB: Int?

    @Option(name: .customLong("max-memory-mb"), help: "The most memory the server may need to evaluate the plan, in MB, its evaluation keys read from their file on demand (eval --key-memory-mb); default: 60% of this machine's memory.")
    var maxMemoryMB: Int?

    @Flag(name: .customLong("no-conversions"), help: "One tiling for the whole network (no per-layer tilings; compiles faster).")
    var noConversions = false

    @Flag(name: .customLong("no-space-to-depth"), help: "Run a strided first convolution on the image as it is, not on the client's space-to-depth packing of it.")
    var noSpaceToDepth = false

    @Flag(name: .customLong("no-complex-packing"), help: "Throughput plans carry one image per slot (by default two, in the real and imaginary parts, are priced too and taken when cheaper per image).")
    var noComplexPacking = false

    @Flag(name: .customLong("circuit-privacy"), help: "Sanitize every result before it leaves the server (mask the slots the client does not read, re-randomize, flood the noise to statistical distance 2^-40), so that it reveals the logits and not the weights. Costs a larger modulus (often the next ring); `he-tool serve` asks for it.")
    var circuitPrivacy = false

    @Option(help: "The model's name in the files (default: the ONNX file's directory name).")
    var name: String?

    /// The largest --max-key-mb / --max-memory-mb (a petabyte): far beyond any machine, far below Int.max / 10^6.
    static let largestMB = 1_000_000_000

    func validate() throws {
        guard Optimizer.Objective(rawValue: objective) != nil else { throw ValidationError("--objective is latency or throughput") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if batch != nil && objective == "throughput" { throw ValidationError("--batch goes with --objective latency; throughput fills the slots") }
        // Both become bytes (× 10^6): bounded so that the product cannot overflow.
        if let maxKeyMB, !(1...Self.largestMB).contains(maxKeyMB) { throw ValidationError("--max-key-mb must be in 1 … \(Self.largestMB)") }
        if let maxMemoryMB, !(1...Self.largestMB).contains(maxMemoryMB) { throw ValidationError("--max-memory-mb must be in 1 … \(Self.largestMB)") }
        guard (20...50).contains(minScaleBits) else { throw ValidationError("--min-scale-bits must be in 20 … 50") }
        guard maxLogitError.isFinite, maxLogitError > 0, maxLogitError < 1 else { throw ValidationError("--max-logit-error must be a fraction in (0, 1), such as 1e-3") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let start = Date()
        let dir = URL(fileURLWithPath: out)
        let outputs = [("--out", dir.appendingPathComponent("model.hemodel").path), ("--out", dir.appendingPathComponent("client.heprofile").path)]
        try OutputGuard.check(outputs: outputs, inputs: [("model", input.model)] + calibration.map { ("--calibration", $0) })
        let graph = try input.loadGraph()
        let samples = try input.samples(calibration, graph: graph).prefix(input.limit ?? 200).map { $0.tensor.values }
        var options = Optimizer.Options()
        options.objective = Optimizer.Objective(rawValue: objective)!
        options.batch = batch
        options.minimumScaleBits = minScaleBits
        options.maximumRelativeLogitError = maxLogitError
        if let maxKeyMB {
            options.maximumKeyBytes = maxKeyMB * 1_000_000
            options.keyLimitIsHard = true
        }
        if let maxMemoryMB { options.maximumIntermediateBytes = maxMemoryMB * 1_000_000 }
        options.searchConversions = !noConversions
        options.spaceToDepth = !noSpaceToDepth
        options.complexPacking = !noComplexPacking
        if circuitPrivacy { options.circuitPrivacy = CircuitPrivacy.Request(slotBits: 0) }   // sized by the compiler
        let cache = CalibrationCache(threads: threads)
        // A budgeted file: say which budget this is (the default one when --budget is not given).
        var budgetLine: String?
        if let applied = graph.budget, let budgets = try ModelBudgets.fromMetadata(graph.metadata) {
            budgetLine = "budget: '\(applied)'\(input.budget == nil ? " (the file's default; others: --budget \(budgets.names.filter { $0 != applied }.joined(separator: "|")))" : "") of he_tool.budgets: \(budgets.summary(of: try budgets.budget(named: applied)))"
            FileHandle.standardError.write(Data((budgetLine! + "\n").utf8))
        }
        let directoryName = URL(fileURLWithPath: input.model).deletingLastPathComponent().lastPathComponent
        let modelName = name ?? (graph.budget.map { "\(directoryName)-\($0)" } ?? directoryName)
        let compilation = try Compilation.compile(graph, name: modelName, options: options, calibrationInputs: Array(samples),
                                                  costModel: { choice in
            try cache.model(for: choice.parameters, name: choice.preset.name, progress: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        }, progress: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Both files or neither: a model beside the profile of another plan is refused later anyway.
        try StagedFile.commitAll([
            try compilation.model.stage(to: dir.appendingPathComponent("model.hemodel")),   // written step by step
            StagedFile(try compilation.profile.serialized(), to: dir.appendingPathComponent("client.heprofile"), ownerOnly: false),
        ])
        if let budgetLine { print(budgetLine) }
        for line in CompilationReport.lines(compilation) { print(line) }
        print("\nwrote \(dir.appendingPathComponent("model.hemodel").path) (server) and \(dir.appendingPathComponent("client.heprofile").path) (client)")
        // The compile's own cost: a new user's first question about a large model.
        print(String(format: "compiled in %.1f s, peak resident memory %.0f MB", Date().timeIntervalSince(start), PeakMemory.megabytes))
    }
}
