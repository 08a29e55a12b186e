import Foundation

/// The budgets table `he-tool inspect` prints for a file with `he_tool.budgets`: per budget its
/// ratio, zeroed blocks, kept activations, the engine's depth of its sub-network beside the
/// toolkit's, and the onnxruntime accuracy the toolkit measured.
public enum BudgetsDescription {
    /// One budget and what the engine makes of its sub-network.
    public struct Row: Equatable, Sendable {
        public var budget: ModelBudgets.Budget
        public var isDefault: Bool
        /// The sub-network's `Graph.multiplicativeDepth` (a quadratic as 2 levels; comparable
        /// with the toolkit's `depth_without_folding`).
        public var depth: Int
        /// Its `Graph.foldedMultiplicativeDepth` (comparable with the toolkit's `depth`).
        public var foldedDepth: Int
    }

    /// `rows(data:fileName:options:)` of the file at `url` (read as `ONNXImporter.load(contentsOf:)` reads it).
    public static func rows(contentsOf url: URL, options: ImportOptions = ImportOptions()) throws -> (ModelBudgets, [Row])? {
        try rows(data: try FileReading.read(url, limit: ONNXImporter.maximumFileSize), fileName: url.lastPathComponent, options: options)
    }

    /// One row per budget of the model `data`, each budget's sub-network imported as
    /// `ONNXImporter` imports it with `ImportOptions.budget`; nil when the file has no budgets.
    public static func rows(data: Data, fileName: String, options: ImportOptions = ImportOptions()) throws -> (ModelBudgets, [Row])? {
        let model = try ONNXImporter.parse(data, fileName: fileName)
        var metadata: [String: String] = [:]
        for entry in model.metadataProps { metadata[entry.key] = entry.value }
        guard let budgets = try ModelBudgets.fromMetadata(metadata) else { return nil }
        let rows = try budgets.budgets.map { b -> Row in
            var o = options
            o.budget = b.name
            let g = try ONNXImporter.load(data: data, options: o, fileName: fileName)
            return Row(budget: b, isDefault: b.name == budgets.defaultBudget, depth: g.multiplicativeDepth, foldedDepth: g.foldedMultiplicativeDepth)
        }
        return (budgets, rows)
    }

    /// The table as text lines.
    public static func lines(_ budgets: ModelBudgets, rows: [Row]) -> [String] {
        var table: [[String]] = [["budget", "ratio", "zeroed blocks", "kept activations", "depth (folded)", "toolkit depth (folded)", "accuracy (onnxruntime)"]]
        for r in rows {
            let b = r.budget
            let kept = b.keptActivations.map { budgets.activations[$0] }
            let toolkit = (b.depthWithoutFolding.map(String.init) ?? "?") + " (" + (b.depth.map(String.init) ?? "?") + ")"
            let accuracy = b.accuracy.map { String(format: "%.2f%%", 100 * $0) + (b.testImages.map { " of \($0) test images" } ?? "") } ?? "-"
            table.append([b.name + (r.isDefault ? " *" : ""), b.ratio.map(formatNumber) ?? "-",
                          "\(b.zeroedBlocks) / \(budgets.prunedLayerBlocks)", kept.isEmpty ? "none" : kept.joined(separator: ", "),
                          "\(r.depth) (\(r.foldedDepth))", toolkit, accuracy])
        }
        var out = ["budgets (\(ModelBudgets.metadataKey)\(budgets.source.map { "; blocks of \($0)" } ?? "")), * = the default, compiled without --budget:"]
        out += GraphDescription.table(table).map { "  " + $0 }
        out.append("  pruned layers: " + budgets.layers.map { "\($0.module) (\($0.initializer), \($0.geometry.blockCount) blocks)" }.joined(separator: ", ")
                   + "; activations: " + budgets.activations.joined(separator: ", "))
        return out
    }
}
