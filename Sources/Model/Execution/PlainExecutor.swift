/// The plaintext reference: runs a `Graph` in `Double` on a batch (N×sample shape). Every
/// encrypted result is compared against it, and the range audit reads its activations.
public enum PlainExecutor {
    /// Runs the graph on `input` (shape [N] + graph.inputShape) and returns the output
    /// (shape [N] + graph.outputShape).
    /// - Throws: `ModelError.inputMismatch` when the input's shape or batch does not fit.
    public static func run(_ graph: Graph, input: Tensor) throws -> Tensor {
        try runRecordingAll(graph, input: input, keep: [graph.output])[graph.output]!
    }

    /// Runs the graph and returns the outputs of the layers in `keep` (all layers when nil),
    /// each of shape [N] + that layer's shape. Intermediate outputs not kept are freed as soon
    /// as their last reader has run.
    public static func runRecordingAll(_ graph: Graph, input: Tensor, keep: Set<Int>? = nil) throws -> [Int: Tensor] {
        try graph.validate()
        guard input.shape.count == graph.inputShape.count + 1,
              Array(input.shape.dropFirst()) == graph.inputShape else {
            throw ModelError.inputMismatch("the model expects samples of shape \(formatShape(graph.inputShape)) (batch first: N×\(formatShape(graph.inputShape))), got a tensor of shape \(formatShape(input.shape))")
        }
        guard input.values.count == Tensor.count(of: input.shape) else {
            throw ModelError.inputMismatch("the input tensor of shape \(formatShape(input.shape)) holds \(input.values.count) values instead of \(Tensor.count(of: input.shape))")
        }
        let batch = input.shape[0]
        if let fixed = graph.batchSize, fixed != batch {
            throw ModelError.inputMismatch("the model was exported with a fixed batch of \(fixed), got \(batch) samples; re-export with a dynamic batch axis or pass \(fixed) samples")
        }
        var remaining = graph.consumerCounts
        var outputs = [Tensor?](repeating: nil, count: graph.layers.count)
        var kept: [Int: Tensor] = [:]
        for (index, layer) in graph.layers.enumerated() {
            let operands = layer.inputs.map { outputs[$0]! }
            let values: [Double]
            switch layer.operation {
            case .input: values = input.values
            case let .conv2d(c): values = LayerKernels.conv2d(c, operands[0], batch: batch, outShape: layer.shape)
            case let .dense(d): values = LayerKernels.dense(d, operands[0], batch: batch)
            case let .affine(a): values = LayerKernels.affine(a, operands[0])
            case let .averagePool(p): values = LayerKernels.averagePool(p, operands[0], batch: batch, outShape: layer.shape)
            case .globalAveragePool: values = LayerKernels.globalAveragePool(operands[0], batch: batch)
            case let .polynomial(p): values = LayerKernels.polynomial(p, operands[0])
            case .flatten, .reshape: values = operands[0].values
            case let .zeroPad(p): values = LayerKernels.zeroPad(p, operands[0], batch: batch, outShape: layer.shape)
            case .add: values = zip(operands[0].values, operands[1].values).map { $0 + $1 }
            case .concat: values = LayerKernels.concatChannels(operands, batch: batch)
            }
            let result = Tensor(shape: [batch] + layer.shape, values: values)
            outputs[index] = result
            if keep == nil || keep!.contains(index) { kept[index] = result }
            for i in layer.inputs {
                remaining[i] -= 1
                if remaining[i] == 0 { outputs[i] = nil }
            }
        }
        return kept
    }
}
