/// Merging a dense layer into the dense layer that reads it: what a budget that drops the
/// activation between two dense layers allows (the training toolkit keeps them two layers,
/// since they share weights with the other budgets; under CKKS one product saves a level).
extension GraphOptimizer {
    /// The graph with every dense layer that is read only by a dense layer merged into it:
    /// W = W₂·W₁ (n×k), b = W₂·b₁ + b₂. Exact up to rounding; each merge saves one level.
    public static func mergingDenseRuns(_ graph: Graph) -> Graph {
        var g = graph
        let counts = g.consumerCounts
        var merged = false
        // Lowest index first: in a run d1 → d2 → d3, d2 absorbs d1, then d3 absorbs the result.
        for k in g.layers.indices {
            guard case let .dense(second) = g.layers[k].operation, let j = g.layers[k].inputs.first,
                  j != g.output, counts[j] == 1, case let .dense(first) = g.layers[j].operation else { continue }
            let (n, m, inputs) = (second.outFeatures, second.inFeatures, first.inFeatures)
            var weights = [Double](repeating: 0, count: n * inputs)
            var bias = second.bias
            for o in 0..<n {
                for h in 0..<m {
                    let w2 = second.weights.values[o * m + h]
                    if w2 == 0 { continue }
                    bias[o] += w2 * first.bias[h]
                    for i in 0..<inputs { weights[o * inputs + i] += w2 * first.weights.values[h * inputs + i] }
                }
            }
            g.layers[k].operation = .dense(Dense(weights: Tensor(shape: [n, inputs], values: weights), bias: bias))
            g.layers[k].inputs = g.layers[j].inputs
            g.layers[k].name = g.layers[j].name + " + " + g.layers[k].name
            merged = true
        }
        return merged ? pruned(g) : g
    }
}
