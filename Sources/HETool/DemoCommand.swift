import ArgumentParser
import CKKS
import Compiler
import Foundation
import HEMath
import Model

/// `he-tool demo`: the whole encrypted flow on a bundled model and its bundled test images, with
/// the time of each step, the bytes that cross the wire, and the encrypted prediction beside
/// the plaintext one. The files are written to a directory as the real commands write them.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run compile → keygen → encrypt → eval → decrypt on a bundled model and its test images, with timings and sizes."
    )

    @Option(help: "The bundled model's folder (model.onnx and test-*.png).")
    var example: String = "Examples/mnist"

    @Option(help: "How many of its test images to run (one evaluation each).")
    var images: Int = 3

    @Option(help: "Threads of the evaluation (the server side).")
    var threads: Int = 2

    @Option(help: "Where the files go and stay (default: a temporary directory, removed at the end).")
    var workDir: String?

    @Flag(name: .customLong("no-conversions"), help: "One tiling for the whole network (no per-block tilings; compiles faster).")
    var noConversions = false

    @Flag(name: .customLong("no-circuit-privacy"), help: "Compile without circuit privacy (results then carry more than the logits).")
    var noCircuitPrivacy = false

    @Option(help: "For a model with budgets (he_tool.budgets): the budget whose sub-network to run (default: the file's default; `he-tool inspect` lists them).")
    var budget: String?

    @Option(help: "Also write the decrypted results there, as `decrypt --json` prints them (one report for every image).")
    var json: String?

    func validate() throws {
        guard images >= 1, threads >= 1 else { throw ValidationError("--images and --threads must be at least 1") }
        if let budget, budget.isEmpty { throw ValidationError("--budget needs a budget name (`he-tool inspect MODEL` lists them)") }
    }

    func run() throws {
        let folder = URL(fileURLWithPath: example)
        let onnx = folder.appendingPathComponent("model.onnx")
        guard FileManager.default.fileExists(atPath: onnx.path) else {
            throw ValidationError("\(onnx.path) not found: run the demo from the repository's root or pass --example")
        }
        let dir = URL(fileURLWithPath: workDir ?? NSTemporaryDirectory()).appendingPathComponent(workDir == nil ? "he-tool-demo-\(getpid())" : "")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // A temporary directory (the keys alone are hundreds of MB) goes when the demo ends.
        defer { if workDir == nil { try? FileManager.default.removeItem(at: dir) } }
        func path(_ name: String) -> URL { dir.appendingPathComponent(name) }
        func seconds(_ start: Date) -> String { String(format: "%.2f s", Date().timeIntervalSince(start)) }

        let graph = try ONNXImporter.load(contentsOf: onnx, options: ImportOptions(budget: budget))
        let preprocessing = try Preprocessing.fromMetadata(of: graph)
        let pngs = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("test-") && $0.hasSuffix(".png") }.sorted()
        guard !pngs.isEmpty else { throw ValidationError("\(folder.path) has no test-*.png images") }
        let samples = try pngs.prefix(images).flatMap {
            try InputLoader.load(folder.appendingPathComponent($0), sampleShape: graph.inputShape, preprocessing: preprocessing)
        }
        print("he-tool demo: \(onnx.path), \(samples.count) image(s), evaluation on \(threads) thread(s); files in \(dir.path)\n")

        // 1. Model owner: compile (calibrates this machine on first use).
        var start = Date()
        let cache = CalibrationCache(threads: threads)
        var options = Optimizer.Options()
        if !noCircuitPrivacy { options.circuitPrivacy = CircuitPrivacy.Request(slotBits: 0) }   // sized by the compiler
        options.searchConversions = !noConversions
        let compilation = try Compilation.compile(graph, name: folder.lastPathComponent, options: options,
                                                  calibrationInputs: samples.map { $0.tensor.values }, costModel: { choice in
            try cache.model(for: choice.parameters, name: choice.preset.name, progress: FlowFiles.log)
        }, progress: FlowFiles.log)
        let modelBytes = try compilation.model.serialized(), profileBytes = try compilation.profile.serialized()
        try FlowFile.write(modelBytes, path("model.hemodel").path)
        try FlowFile.write(profileBytes, path("client.heprofile").path)
        let plan = compilation.plans[0]
        print("compile   \(seconds(start))  \(plan.choice.preset.name), tiling \(CompilationReport.pathDescription(plan.simulation)), \(compilation.model.steps.count) steps, estimate \(String(format: "%.2f s", plan.totalMicroseconds / 1e6)); model.hemodel \(FlowFiles.megabytes(modelBytes.count)) (server), client.heprofile \(FlowFiles.megabytes(profileBytes.count)) (client)")

        // 2. Client: keys.
        start = Date()
        let client = try ClientSession.withNewKey(profile: try FlowFile.profile(path("client.heprofile").path))
        let profile = client.profile
        let keySize = try client.writeKeys(secretKey: path("me.hesk").path, evaluationKeys: path("me.heevk").path)
        print("keygen    \(seconds(start))  me.hesk stays on the client; me.heevk \(FlowFiles.megabytes(keySize)) → server (once): relinearization + \(profile.galoisKeyCount) Galois keys")

        // 3. Server: load the model and the client's keys.
        let server = try EvaluationSession.open(model: path("model.hemodel").path, evaluationKeys: path("me.heevk").path,
                                                policy: ExecutionPolicy(threads: threads))
        let model = server.model
        var agree = 0
        var decrypted: [[Double]] = []
        for (i, sample) in samples.enumerated() {
            print("\n\(sample.name)")
            start = Date()
            let inputBytes = try client.encrypt([sample.tensor.values]).serialized()
            try FlowFile.write(inputBytes, path("x\(i).hect").path)
            print("  encrypt \(seconds(start))  x\(i).hect \(FlowFiles.megabytes(inputBytes.count)) → server")
            start = Date()
            let outputSize = try server.evaluate(inputPath: path("x\(i).hect").path, outputPath: path("y\(i).hect").path)
            print("  eval    \(seconds(start))  (server, evaluation keys only\(model.circuitPrivacy == nil ? "" : "; result sanitized: logits only")) y\(i).hect \(FlowFiles.megabytes(outputSize)) → client")
            start = Date()
            let scores = try client.decrypt(path: path("y\(i).hect").path)[0]
            let plain = try PlainExecutor.run(graph, input: Model.Tensor(shape: [1] + graph.inputShape, values: sample.tensor.values)).values
            decrypted.append(scores)
            let names = profile.classNames.isEmpty ? nil : profile.classNames
            let both = ClassificationReport(inputs: ["encrypted", "plaintext"], scores: [scores, plain], classNames: names, k: 1,
                                            decimals: profile.outputDecimals)
            let (encryptedTop, plainTop) = (both.outputs[0].top[0], both.outputs[1].top[0])
            let error = zip(scores, plain).map { abs($0 - $1) }.max() ?? 0
            if encryptedTop.class == plainTop.class { agree += 1 }
            func shown(_ r: ClassificationReport.Ranked, _ row: [Double]) -> String {
                "\(r.name ?? String(r.class)) (\(String(format: "%.3f", row[r.class])))"
            }
            print("  decrypt \(seconds(start))  encrypted: \(shown(encryptedTop, scores))   plaintext: \(shown(plainTop, plain))   max |Δlogit| \(String(format: "%.1e", error))")
        }
        if let json {
            let report = ClassificationReport(inputs: samples.map(\.name), scores: decrypted,
                                              classNames: profile.classNames.isEmpty ? nil : profile.classNames, k: 3,
                                              decimals: profile.outputDecimals)
            try FlowFile.write(Array(try report.json().utf8), json)
        }
        print("\nencrypted and plaintext predictions agree on \(agree) of \(samples.count) image(s)")
        if agree != samples.count { throw ExitCode(1) }
    }
}
