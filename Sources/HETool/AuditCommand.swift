import ArgumentParser
import Foundation
import Model

/// `he-tool audit model.onnx --calibration INPUT…`: do the activations stay in their trained range?
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Largest |x| reaching each polynomial activation on calibration inputs, against the trained range.",
        discussion: """
        The trained range comes from the model's he_tool.activation_ranges metadata (a number B for \
        [−B, B] on every polynomial layer, or a list with one per layer) or from --range. Exits with \
        status 2 when an activation escapes its range.
        """
    )

    @OptionGroup var options: ModelInputOptions

    @Option(parsing: .upToNextOption, help: "Calibration inputs: .png, IDX (.gz or not), .npy.")
    var calibration: [String] = []

    @Option(help: "Trained range B (one for all layers, or comma-separated per polynomial layer); overrides the metadata.")
    var range: String?

    func validate() throws {
        guard !calibration.isEmpty else { throw ValidationError("give calibration inputs with --calibration") }
    }

    func run() throws {
        let graph = try options.loadGraph()
        let samples = try options.samples(calibration, graph: graph)
        let bounds = try range.map { try numbers($0, "--range") }
        let rows = try RangeAudit.run(graph, calibration: InputLoader.batch(samples), bounds: bounds)
        print(AuditReport.text(rows, inputNames: samples.map(\.name)))
        if rows.contains(where: \.escapes) { throw ExitCode(2) }
    }
}
