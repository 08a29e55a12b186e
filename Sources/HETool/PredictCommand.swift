import ArgumentParser
import Foundation
import Model

/// `he-tool predict model.onnx INPUT…`: the plaintext reference answer for images or tensors.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a model in plaintext (Double) on PNG images, IDX image files or .npy tensors.",
        discussion: """
        Images are scaled to [0, 1] and normalized with the model's he_tool.preprocessing metadata \
        (or --mean/--std); .npy arrays (N×C×H×W or C×H×W) are used as they are, one output per row.
        """
    )

    @OptionGroup var options: ModelInputOptions

    @Argument(help: "Input files: .png, IDX (.gz or not), .npy.")
    var inputs: [String]

    @Option(help: "Number of top classes to show.")
    var top: Int = 3

    @Flag(help: "Print {\"outputs\": [{\"input\", \"logits\", \"top\"}, …]} instead of text.")
    var json = false

    @Option(help: "An IDX labels file (idx1) for the inputs, in order: prints the accuracy after the table.")
    var labels: String?

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        guard !inputs.isEmpty else { throw ValidationError("give at least one input file") }
    }

    func run() throws {
        let graph = try options.loadGraph()
        let samples = try options.samples(inputs, graph: graph)
        // Samples are independent, so a model exported with a fixed batch runs any number of them here.
        var g = graph
        g.batchSize = nil
        let batch = InputLoader.batch(samples)
        let logits = try PlainExecutor.run(g, input: batch)
        try PlainExecutor.requireFiniteOutputs(g, input: batch, output: logits, names: samples.map(\.name))
        let width = samples.isEmpty ? 0 : logits.count / samples.count
        let rows = samples.indices.map { Array(logits.values[($0 * width)..<(($0 + 1) * width)]) }
        let names = json ? graph.classNames(count: width) : nil
        let report = ClassificationReport(inputs: samples.map(\.name), scores: rows, classNames: names, k: top)
        print(json ? try report.json() : report.text())
        if let labels, !json {
            let file = try IDXFile(contentsOf: URL(fileURLWithPath: labels))
            guard file.dimensions.count == 1, file.count >= samples.count else {
                throw ModelError.inputMismatch("\(labels) holds \(file.count) labels of rank \(file.dimensions.count); need an idx1 file with at least \(samples.count)")
            }
            let accuracy = Classification.accuracy(logits, labels: file.labels)
            print(String(format: "accuracy: %.2f%% on %d inputs", 100 * accuracy, samples.count))
        }
    }
}
