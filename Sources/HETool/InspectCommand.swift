import ArgumentParser
import Foundation
import Model

/// `he-tool inspect model.onnx`: what the engine makes of a model, or every node it refuses.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's layers, shapes, fused polynomials, parameter count and multiplicative depth, or why it is refused."
    )

    @Argument(help: "The ONNX model.")
    var model: String

    func run() throws {
        let url = URL(fileURLWithPath: model)
        do {
            let graph = try ONNXImporter.load(contentsOf: url)
            print(GraphDescription.text(graph, fileName: url.lastPathComponent))
        } catch let error as ModelError {
            print("\(url.lastPathComponent) cannot be imported: \(error)")
            // The import stops at the first problem; list every operator that would be refused.
            if let refusals = try? ONNXImporter.refusals(contentsOf: url),
               !refusals.isEmpty, refusals != [error] {
                print("refused operators in the file:")
                for r in refusals { print("  \(r)") }
            }
            throw ExitCode.failure
        }
    }
}
