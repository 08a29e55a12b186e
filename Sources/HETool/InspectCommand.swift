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

    @Option(help: "For a model with budgets (he_tool.budgets): the budget whose sub-network to show (default: the file's default budget). The budgets are listed either way.")
    var budget: String?

    func run() throws {
        let url = URL(fileURLWithPath: model)
        do {
            let graph = try ONNXImporter.load(contentsOf: url, options: ImportOptions(budget: budget))
            print(GraphDescription.text(graph, fileName: url.lastPathComponent))
            if let (budgets, rows) = try BudgetsDescription.rows(contentsOf: url) {
                print("")
                for line in BudgetsDescription.lines(budgets, rows: rows) { print(line) }
                print("shown above: budget '\(graph.budget ?? budgets.defaultBudget)'\(budget == nil ? " (the default; another with --budget NAME)" : "")")
            }
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
