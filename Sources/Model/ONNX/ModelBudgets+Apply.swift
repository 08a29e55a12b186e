import Foundation

/// Applying a budget: its blocks zeroed in the weights at the ONNX level (before the importer
/// folds anything into them, so the zeros are exact), its dropped activations bypassed in the
/// imported graph before folding (a dropped c·x² must not lend its factor to the next layer).
extension ModelBudgets {
    /// Checks every pruned layer against the file: its initializer exists, its shape is the
    /// geometry's (a Conv weight [F, C, KH, KW], a Gemm weight [F, C·KH·KW]), and it is read
    /// only as the weight (input 1) of Conv nodes or of Gemm nodes with transB = 1 (the
    /// orientation the format defines), among them the node the metadata names.
    /// - Throws: `ModelError.invalidArgument` naming the layer and what does not fit.
    func checkWeights(in graph: Onnx_GraphProto) throws {
        var dims: [String: [Int64]] = [:]
        for t in graph.initializer { dims[t.name] = t.dims }
        for layer in layers {
            let what = "metadata \(Self.metadataKey): layer '\(layer.module)'"
            guard let d = dims[layer.initializer] else {
                throw ModelError.invalidArgument("\(what) names initializer '\(layer.initializer)', which is not in the file; the metadata belongs to another export of the model: export it again with the training toolkit")
            }
            try Self.checkShape(d.map { Int(clamping: $0) }, of: layer)
            var readers: [String] = []
            for (position, node) in graph.node.enumerated() {
                for (slot, input) in node.input.enumerated() where input == layer.initializer {
                    let name = node.name.isEmpty ? "node \(position)" : "'\(node.name)'"
                    let transB = node.attribute.first { $0.name == "transB" }?.i ?? 0
                    guard slot == 1, node.opType == "Conv" || node.opType == "Gemm" && transB == 1 else {
                        throw ModelError.invalidArgument("\(what): initializer '\(layer.initializer)' is input \(slot) of \(node.opType) \(name); the block masks apply to the weight (input 1) of a Conv or of a Gemm with transB = 1 only")
                    }
                    readers.append(node.name)
                }
            }
            guard !readers.isEmpty else {
                throw ModelError.invalidArgument("\(what): no node reads initializer '\(layer.initializer)'; the metadata belongs to another export of the model")
            }
            if let node = layer.node, !readers.contains(node) {
                throw ModelError.invalidArgument("\(what) names node '\(node)', but initializer '\(layer.initializer)' is read by \(readers.map { "'\($0)'" }.joined(separator: ", ")); the metadata belongs to another export of the model")
            }
        }
    }

    /// Checks that a weight of shape `shape` is the layer's geometry viewed as the format says.
    static func checkShape(_ shape: [Int], of layer: PrunedLayer) throws {
        let g = layer.geometry.shape
        let fits = shape == g || shape.count == 2 && shape[0] == g[0] && ONNXLimits.product(g.dropFirst()) == shape[1]
        guard fits else {
            throw ModelError.invalidArgument("metadata \(Self.metadataKey): layer '\(layer.module)' has block geometry of shape \(formatShape(g)), but its initializer '\(layer.initializer)' has shape \(formatShape(shape)) (a Conv weight must be \(formatShape(g)), a Gemm weight \(g[0])×\(ONNXLimits.product(g.dropFirst()).map(String.init) ?? "?")); the metadata belongs to another model: export it again with the training toolkit")
        }
    }

    /// `weight` (the initializer of `layer`) with the blocks `budget` lists for that layer set to 0.
    /// - Throws: `ModelError.invalidArgument` when the weight's shape does not fit the geometry.
    public func zeroing(_ budget: Budget, layer: PrunedLayer, weight: Tensor) throws -> Tensor {
        try Self.checkShape(weight.shape, of: layer)
        let listed = budget.zeroed[layer.module] ?? []
        guard !listed.isEmpty else { return weight }
        var isZeroed = [Bool](repeating: false, count: layer.geometry.blockCount)
        for b in listed { isZeroed[b] = true }
        // Row-major [F, C, KH, KW] (a Gemm weight [m, C·H·W] has the same order), without an index array.
        let g = layer.geometry
        let (f, c, kh, kw) = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
        var w = weight
        w.values.withUnsafeMutableBufferPointer { values in
            var i = 0
            for fi in 0..<f {
                for ci in 0..<c {
                    for y in 0..<kh {
                        for x in 0..<kw {
                            if isZeroed[g.block(f: fi, c: ci, y: y, x: x)] { values[i] = 0 }
                            i += 1
                        }
                    }
                }
            }
        }
        return w
    }

    /// The imported graph, before folding, with every activation `budget` does not keep
    /// replaced by the identity: its readers read its input. Activation i of `activations` is
    /// the i-th polynomial layer in evaluation order (what `he-tool inspect` lists).
    /// - Throws: `ModelError.invalidArgument` when the graph's polynomial layers are not as many
    ///   as the metadata's activations.
    public func bypassingDroppedActivations(_ budget: Budget, in graph: Graph) throws -> Graph {
        let polynomials = graph.polynomialLayers
        guard polynomials.count == activations.count else {
            throw ModelError.invalidArgument("metadata \(Self.metadataKey) lists \(activations.count) activations (\(activations.joined(separator: ", "))) but the network has \(polynomials.count) polynomial activation(s); the metadata belongs to another model: export it again with the training toolkit")
        }
        let kept = Set(budget.keptActivations)
        let dropped = Set(activations.indices.filter { !kept.contains($0) }.map { polynomials[$0] })
        guard !dropped.isEmpty else { return graph }
        var g = graph
        func source(_ i: Int) -> Int {
            var j = i
            while dropped.contains(j) { j = graph.layers[j].inputs[0] }
            return j
        }
        for k in g.layers.indices { g.layers[k].inputs = g.layers[k].inputs.map(source) }
        g.output = source(g.output)
        return GraphOptimizer.pruned(g)
    }

    /// A one-line summary of `budget` for reports: ratio, zeroed blocks, kept activations.
    public func summary(of budget: Budget) -> String {
        let kept = budget.keptActivations.map { activations[$0] }
        let ratio = budget.ratio.map { "ratio \(formatNumber($0)), " } ?? ""
        return "\(ratio)\(budget.zeroedBlocks) of \(prunedLayerBlocks) blocks of the pruned layers zeroed, activations kept: \(kept.isEmpty ? "none" : kept.joined(separator: ", "))\(kept.count < activations.count ? " (the others are the identity)" : "")"
    }
}
