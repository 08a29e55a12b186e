import ArgumentParser
import Foundation
import Model

/// Options shared by the commands that read a model and images: the model file and the
/// preprocessing flags that override the model's metadata.
struct ModelInputOptions: ParsableArguments {
    @Argument(help: "The ONNX model (exported with torch.onnx.export, opset 11…21).")
    var model: String

    @Option(help: "Per-channel means subtracted after scaling images to [0, 1], comma-separated (overrides the model's he_tool.preprocessing).")
    var mean: String?

    @Option(help: "Per-channel standard deviations, comma-separated (overrides the model's he_tool.preprocessing).")
    var std: String?

    @Option(help: "Read at most this many images from each IDX file or rows from each .npy file.")
    var limit: Int?

    @Option(help: "For a model with budgets (he_tool.budgets, written by the training toolkit's hetrain.budgets): the budget whose sub-network to use (default: the file's default budget; `he-tool inspect` lists them).")
    var budget: String?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if (mean == nil) != (std == nil) { throw ValidationError("give --mean and --std together") }
        if let budget, budget.isEmpty { throw ValidationError("--budget needs a budget name (`he-tool inspect MODEL` lists them)") }
    }

    func loadGraph() throws -> Graph {
        try ONNXImporter.load(contentsOf: URL(fileURLWithPath: model), options: ImportOptions(budget: budget))
    }

    func preprocessing(for graph: Graph) throws -> Preprocessing {
        guard let mean, let std else { return try Preprocessing.fromMetadata(of: graph) }
        return try Preprocessing(mean: try numbers(mean, "--mean"), std: try numbers(std, "--std")).validated()
    }

    func samples(_ paths: [String], graph: Graph) throws -> [NamedSample] {
        let p = try preprocessing(for: graph)
        return try paths.flatMap { try InputLoader.load(URL(fileURLWithPath: $0), sampleShape: graph.inputShape, preprocessing: p, limit: limit) }
    }
}

/// Comma-separated numbers of an option.
func numbers(_ text: String, _ option: String) throws -> [Double] {
    try text.split(separator: ",").map {
        guard let v = Double($0.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("\(option): '\($0)' is not a number") }
        return v
    }
}
