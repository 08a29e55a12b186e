extension PlainExecutor {
    /// Throws unless every value of `output` (the result of `run(graph, input:)`) is finite,
    /// naming the sample (`names[i]` for row i), the first non-finite logit and the first layer
    /// whose output is not finite on that sample (rerun alone).
    /// - Throws: `ModelError.nonFiniteResult` — the model is valid, but its arithmetic overflows
    ///   (or makes NaN) on this input: the weights or the input are far out of range.
    public static func requireFiniteOutputs(_ graph: Graph, input: Tensor, output: Tensor, names: [String]) throws {
        guard let bad = output.values.firstIndex(where: { !$0.isFinite }) else { return }
        let width = max(1, output.values.count / max(1, input.shape.first ?? 1))
        let row = bad / width
        let name = row < names.count ? names[row] : "sample \(row)"
        var culprit = ""
        let sampleCount = input.values.count / max(1, input.shape.first ?? 1)
        if input.shape.count >= 1, (row + 1) * sampleCount <= input.values.count {
            let one = Tensor(shape: [1] + input.shape.dropFirst(), values: Array(input.values[(row * sampleCount)..<((row + 1) * sampleCount)]))
            var g = graph
            g.batchSize = nil
            if let all = try? runRecordingAll(g, input: one),
               let first = graph.layers.indices.first(where: { all[$0]?.values.contains(where: { !$0.isFinite }) ?? false }) {
                let layer = graph.layers[first]
                culprit = first == 0 ? "; the input itself holds non-finite values"
                    : "; the first layer whose output is not finite is layer \(first) ('\(layer.name)', \(layer.operation.kind))"
            }
        }
        throw ModelError.nonFiniteResult("the model's output for \(name) is not a finite number (output \(bad % width) is \(output.values[bad]))\(culprit): the weights or the input are far outside the range Double arithmetic holds; check the model and the preprocessing")
    }
}
