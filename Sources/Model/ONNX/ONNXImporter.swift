import Foundation
import SwiftProtobuf

/// Options of an import.
public struct ImportOptions: Sendable {
    /// Fold BatchNorm and constant scalings into the neighbouring convolution or dense layer, and
    /// zero padding into the next convolution. Off only to check that folding changes nothing.
    public var foldLinearLayers: Bool
    /// For a file with `he_tool.budgets` (`ModelBudgets`): the budget whose sub-network to import
    /// (its blocks zeroed, its dropped activations the identity); nil imports the file's default
    /// budget. A name given for a file without budgets is an error.
    public var budget: String?
    public init(foldLinearLayers: Bool = true, budget: String? = nil) {
        self.foldLinearLayers = foldLinearLayers
        self.budget = budget
    }
}

/// Reads an ONNX file exported by `torch.onnx.export` (opsets 11…21) into a `Graph`: every
/// supported node becomes a layer or folds into one, every other node is refused with its op
/// type, name and position.
public enum ONNXImporter {
    /// Largest file read (the engine's models are small; this stops a wrong path from eating memory).
    public static let maximumFileSize = 1 << 30

    /// Imports the model at `url`.
    public static func load(contentsOf url: URL, options: ImportOptions = ImportOptions()) throws -> Graph {
        try load(data: try FileReading.read(url, limit: maximumFileSize), options: options, fileName: url.lastPathComponent)
    }

    /// Imports a model from its serialized bytes.
    public static func load(data: Data, options: ImportOptions = ImportOptions(), fileName: String = "model") throws -> Graph {
        let model = try parse(data, fileName: fileName)
        let opset = try defaultOpset(model)
        let graph = model.graph
        let initializerNames = Set(graph.initializer.map(\.name))
        let inputs = graph.input.filter { !initializerNames.contains($0.name) }
        guard inputs.count == 1 else {
            throw ModelError.invalidFile("\(fileName) has \(inputs.count) graph inputs (\(inputs.map(\.name))); he-tool reads models with exactly one input")
        }
        guard graph.output.count == 1 else {
            throw ModelError.invalidFile("\(fileName) has \(graph.output.count) graph outputs; he-tool reads models with exactly one output")
        }
        let (batch, sampleShape) = try inputShape(inputs[0])
        let builder = ONNXGraphBuilder(inputName: inputs[0].name, inputShape: sampleShape, importBatch: batch ?? 1, opset: opset)
        var metadata: [String: String] = [:]
        for entry in model.metadataProps { metadata[entry.key] = entry.value }
        // A budgeted file: the budget's blocks are zeroed in the initializers, before anything folds into them.
        let budgets = try ModelBudgets.fromMetadata(metadata)
        var budget: ModelBudgets.Budget?
        if let budgets {
            budget = try budgets.budget(named: options.budget)
            try budgets.checkWeights(in: graph)
        } else if let name = options.budget {
            throw ModelError.invalidArgument("budget '\(name)' was asked for, but \(fileName) has no budgets (no \(ModelBudgets.metadataKey) metadata); budgeted models are written by the training toolkit's hetrain.budgets")
        }
        for t in graph.initializer {
            var tensor = try ONNXTensorDecoder.decode(t, context: "initializer")
            if let budgets, let budget, let layer = budgets.layer(initializer: t.name) {
                tensor = try budgets.zeroing(budget, layer: layer, weight: tensor)
            }
            builder.setConstant(t.name, tensor)
        }
        let outputName = graph.output[0].name
        var finalName = outputName
        for (position, node) in graph.node.enumerated() {
            let ctx = ONNXNodeContext(node: node, position: position, opset: opset)
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw ModelError.unsupportedOperator(opType: "\(node.domain).\(node.opType)", node: ctx.name, position: position,
                                                     advice: "operators of custom domains cannot be imported; export with the standard ONNX operators")
            }
            if ONNXOperatorSupport.droppableAtEnd.contains(node.opType), node.output.first == outputName, !node.input.isEmpty {
                finalName = node.input[0]
                builder.notes.append("the final \(node.opType) ('\(ctx.name)') was dropped: the outputs are logits, and the top class is the same")
                continue
            }
            try dispatch(ctx, builder)
        }
        guard let outputValue = builder.outputValue(named: finalName) else {
            throw ModelError.missingTensor(name: finalName, node: "graph output")
        }
        guard case let .symbolic(p) = outputValue else {
            throw ModelError.invalidFile("the output '\(outputName)' of \(fileName) does not depend on the input")
        }
        let output = builder.materialize(p)
        var result = Graph(layers: builder.layers, output: output, batchSize: batch, inputName: inputs[0].name,
                           outputName: outputName, notes: builder.notes, metadata: metadata)
        var dropsActivations = false
        if let budgets, let budget {
            // Before folding: a dropped c·x² must not have lent its factor to the next layer.
            result = try budgets.bypassingDroppedActivations(budget, in: GraphOptimizer.pruned(result))
            result.budget = budget.name
            result.notes.append("budget '\(budget.name)'\(options.budget == nil ? " (the file's default)" : "") of \(budgets.names.joined(separator: ", ")): \(budgets.summary(of: budget))")
            dropsActivations = budget.keptActivations.count < budgets.activations.count
        }
        try checkSizes(result)
        if options.foldLinearLayers {
            result = GraphOptimizer.foldLinearLayers(result)
            // Two dense layers around a dropped activation are one linear map: one product, one level.
            if dropsActivations { result = GraphOptimizer.mergingDenseRuns(result) }
        }
        result = GraphOptimizer.pruned(result)
        try result.validate()
        try result.checkFiniteParameters()
        return result
    }

    /// Largest number of elements in one sample of any layer's output (a corrupted shape must
    /// be an error here, not an allocation failure in the executor).
    public static let maximumSampleElements = 1 << 26

    private static func checkSizes(_ graph: Graph) throws {
        for layer in graph.layers {
            var count = 1
            for d in layer.shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard d > 0, !overflow, p <= maximumSampleElements else {
                    throw ModelError.shapeMismatch("the output of '\(layer.name)' would have shape N×\(layer.shape.map(String.init).joined(separator: "×")), empty or more than \(maximumSampleElements) elements per sample; the file is corrupted or the model is far larger than he-tool runs")
                }
                count = p
            }
        }
    }

    static func parse(_ data: Data, fileName: String) throws -> Onnx_ModelProto {
        guard !data.isEmpty else { throw ModelError.invalidFile("\(fileName) is empty") }
        let model: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            model = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw ModelError.invalidFile("\(fileName) is not a readable ONNX model (protobuf decoding failed: \(error)); the file is truncated or corrupted, or not an .onnx file")
        }
        guard model.hasGraph, !model.graph.node.isEmpty || !model.graph.output.isEmpty else {
            throw ModelError.invalidFile("\(fileName) holds no ONNX graph; it is truncated, corrupted or not an .onnx file")
        }
        return model
    }

    static func defaultOpset(_ model: Onnx_ModelProto) throws -> Int {
        guard let entry = model.opsetImport.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) else {
            throw ModelError.invalidFile("the model declares no ONNX opset (opset_import); it is corrupted")
        }
        guard (11...21).contains(entry.version) else { throw ModelError.unsupportedOpset(Int(clamping: entry.version)) }
        return Int(entry.version)
    }

    /// Batch (nil when dynamic) and sample shape of the graph input.
    static func inputShape(_ input: Onnx_ValueInfoProto) throws -> (Int?, [Int]) {
        let t = input.type.tensorType
        guard case .tensorType? = input.type.value, t.hasShape, (2...ONNXLimits.maximumRank + 1).contains(t.shape.dim.count) else {
            throw ModelError.invalidFile("input '\(input.name)' has no static shape (rank 2…\(ONNXLimits.maximumRank + 1) with the batch first); export with a sample input of the real size")
        }
        guard [1, 10, 11].contains(t.elemType) else {
            throw ModelError.invalidFile("input '\(input.name)' has element type \(t.elemType); he-tool runs float models")
        }
        var dims: [Int?] = t.shape.dim.map { d in
            if case let .dimValue(v)? = d.value, v > 0, v <= Int64(Int32.max) { return Int(v) }
            return nil
        }
        let batch = dims.removeFirst()
        var sample: [Int] = []
        for (axis, d) in dims.enumerated() {
            guard let d else {
                throw ModelError.invalidFile("input '\(input.name)' has a dynamic extent on axis \(axis + 1); he-tool needs a fixed sample shape (only the batch axis may be dynamic)")
            }
            sample.append(d)
        }
        try ONNXGraphBuilder.checkSampleShape(sample, of: "input '\(input.name)'")
        return (batch, sample)
    }

    private static func dispatch(_ ctx: ONNXNodeContext, _ b: ONNXGraphBuilder) throws {
        switch ctx.node.opType {
        case "Constant": try b.constantNode(ctx)
        case "Identity", "Dropout", "Cast": try b.passThrough(ctx)
        case "Shape": try b.shapeNode(ctx)
        case "Gather": try b.gatherNode(ctx)
        case "Concat": try b.concatNode(ctx)
        case "Slice": try b.sliceNode(ctx)
        case "Transpose": try b.transposeNode(ctx)
        case "ConstantOfShape": try b.constantOfShapeNode(ctx)
        case "Squeeze", "Unsqueeze": try b.squeezeOrUnsqueeze(ctx)
        case "Add", "Sub", "Mul", "Div", "Pow", "Neg": try b.elementwise(ctx)
        case "Conv": try b.conv(ctx)
        case "Gemm": try b.gemm(ctx)
        case "MatMul": try b.matMul(ctx)
        case "BatchNormalization": try b.batchNorm(ctx)
        case "AveragePool": try b.averagePool(ctx)
        case "GlobalAveragePool": try b.globalAveragePool(ctx)
        case "ReduceMean": try b.reduceMean(ctx)
        case "Flatten": try b.flatten(ctx)
        case "Reshape": try b.reshape(ctx)
        case "Pad": try b.pad(ctx)
        default:
            throw ModelError.unsupportedOperator(opType: ctx.node.opType, node: ctx.name, position: ctx.position,
                                                 advice: ONNXOperatorSupport.advice(for: ctx.node.opType))
        }
    }

    /// `refusals(data:fileName:)` of the file at `url` (read as `load(contentsOf:)` reads it:
    /// special files refused before opening, size limited).
    public static func refusals(contentsOf url: URL) throws -> [ModelError] {
        try refusals(data: try FileReading.read(url, limit: maximumFileSize), fileName: url.lastPathComponent)
    }

    /// Every node of the file whose operator he-tool does not import, each as the error an
    /// import would give (the import itself stops at the first). For `he-tool inspect`.
    public static func refusals(data: Data, fileName: String = "model") throws -> [ModelError] {
        let model = try parse(data, fileName: fileName)
        let outputName = model.graph.output.first?.name
        return model.graph.node.enumerated().compactMap { position, node in
            let ctx = ONNXNodeContext(node: node, position: position, opset: 0)
            if ONNXOperatorSupport.supported.contains(node.opType) && (node.domain.isEmpty || node.domain == "ai.onnx") { return nil }
            if ONNXOperatorSupport.droppableAtEnd.contains(node.opType), node.output.first == outputName { return nil }
            return .unsupportedOperator(opType: node.opType, node: ctx.name, position: position,
                                        advice: ONNXOperatorSupport.advice(for: node.opType))
        }
    }
}
