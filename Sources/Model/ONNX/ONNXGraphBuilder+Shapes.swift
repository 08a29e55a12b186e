/// Pooling and the shape-only nodes: AveragePool, GlobalAveragePool, ReduceMean, Flatten,
/// Reshape, Pad, and Squeeze/Unsqueeze (of constants).
extension ONNXGraphBuilder {
    func averagePool(_ ctx: ONNXNodeContext) throws {
        let x = try layerInput(ctx, 0)
        let inShape = layers[x].shape
        guard inShape.count == 3 else { throw ctx.unsupported("AveragePool on N×\(formatShape(inShape)); 2-D pooling on N×C×H×W only") }
        guard let kernel = try ctx.ints("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
            throw ctx.invalid("kernel_shape is missing or not two positive integers")
        }
        if let d = try ctx.ints("dilations"), d.contains(where: { $0 != 1 }) { throw ctx.unsupported("dilated pooling (dilations \(d))") }
        let strides = try ctx.ints("strides") ?? [1, 1]
        guard strides.count == 2, strides.allSatisfy({ $0 >= 1 }) else { throw ctx.invalid("strides \(strides) are not two positive integers") }
        let padding = try spatialPadding(ctx, inShape: inShape, kernel: (kernel[0], kernel[1]), strides: strides)
        // ONNX requires pads smaller than the window; larger ones only average padding.
        guard max(padding.top, padding.bottom) < kernel[0], max(padding.left, padding.right) < kernel[1] else {
            throw ctx.invalid("pads \([padding.top, padding.left, padding.bottom, padding.right]) are not smaller than the window \(kernel[0])×\(kernel[1])")
        }
        let spanH = inShape[1] + padding.top + padding.bottom - kernel[0]
        let spanW = inShape[2] + padding.left + padding.right - kernel[1]
        guard spanH >= 0, spanW >= 0 else {
            throw ModelError.shapeMismatch("AveragePool '\(ctx.name)': window \(kernel[0])×\(kernel[1]) is larger than '\(ctx.node.input[0])' (N×\(formatShape(inShape)))")
        }
        if try ctx.int("ceil_mode", default: 0) != 0, spanH % strides[0] != 0 || spanW % strides[1] != 0 {
            throw ctx.unsupported("AveragePool with ceil_mode = 1 where it adds a partial window; use a size the stride divides or ceil_mode = 0")
        }
        let pool = Pool2d(kernelH: kernel[0], kernelW: kernel[1], strideH: strides[0], strideW: strides[1], padding: padding,
                          countIncludePad: try ctx.int("count_include_pad", default: 0) != 0)
        let shape = [inShape[0], spanH / strides[0] + 1, spanW / strides[1] + 1]
        output(ctx, layer: try append(Layer(name: ctx.name, operation: .averagePool(pool), inputs: [x], shape: shape)))
    }

    func globalAveragePool(_ ctx: ONNXNodeContext, keepDims: Bool = true) throws {
        let x = try layerInput(ctx, 0)
        let inShape = layers[x].shape
        guard inShape.count == 3 else { throw ctx.unsupported("\(ctx.node.opType) on N×\(formatShape(inShape)); he-tool averages the H×W of N×C×H×W") }
        var index = try append(Layer(name: ctx.name, operation: .globalAveragePool, inputs: [x], shape: [inShape[0], 1, 1]))
        if !keepDims { index = try append(Layer(name: ctx.name, operation: .flatten, inputs: [index], shape: [inShape[0]])) }
        output(ctx, layer: index)
    }

    /// ReduceMean over the two spatial axes of N×C×H×W is a global average pool.
    func reduceMean(_ ctx: ONNXNodeContext) throws {
        let axes: [Int]?
        if ctx.opset >= 18 {
            axes = hasInput(ctx, 1) ? try integers(ctx, 1, role: "axes") : nil
        } else {
            axes = try ctx.ints("axes")
        }
        guard case let .symbolic(p) = try value(ctx, 0) else { throw ctx.unsupported("ReduceMean of a constant") }
        let rank = layers[p.source].shape.count + 1
        let normalized = Set(try (axes ?? []).map { try ConstantFolding.normalizedAxis($0, rank: rank, ctx: ctx) })
        guard rank == 4, normalized == [2, 3] else {
            throw ctx.unsupported("ReduceMean over axes \(axes.map { "\($0)" } ?? "all") of a rank-\(rank) tensor; he-tool supports the mean over the spatial axes (2, 3) of N×C×H×W")
        }
        try globalAveragePool(ctx, keepDims: try ctx.int("keepdims", default: 1) != 0)
    }

    func flatten(_ ctx: ONNXNodeContext) throws {
        let x = try layerInput(ctx, 0)
        let shape = layers[x].shape
        let axis = try ConstantFolding.normalizedAxis(try ctx.int("axis", default: 1), rank: shape.count + 1, ctx: ctx)
        guard axis == 1 else { throw ctx.unsupported("Flatten with axis \(axis); he-tool keeps the batch axis and flattens the rest (axis 1)") }
        if shape.count == 1 { output(ctx, layer: x); return }
        output(ctx, layer: try append(Layer(name: ctx.name, operation: .flatten, inputs: [x], shape: [shape.reduce(1, *)])))
    }

    func reshape(_ ctx: ONNXNodeContext) throws {
        let target = try integers(ctx, 1, role: "shape")
        if case let .constant(t) = try value(ctx, 0) {
            output(ctx, .constant(Tensor(shape: try resolve(target, from: t.shape, ctx: ctx), values: t.values)))
            return
        }
        let x = try layerInput(ctx, 0)
        let sample = layers[x].shape
        // The batch axis comes on top of a sample's elements (a fixed batch of 64 images is fine).
        let full = try resolve(target, from: [importBatch] + sample, ctx: ctx, limit: importBatch * ONNXImporter.maximumSampleElements)
        guard full.first == importBatch, ONNXLimits.product(full.dropFirst()) == ONNXLimits.product(sample) else {
            throw ctx.unsupported("Reshape of '\(ctx.node.input[0])' (N×\(formatShape(sample))) to \(ONNXLimits.describe(target)) mixes the batch axis with the others; keep the batch first, e.g. x.view(x.size(0), -1)")
        }
        let shape = Array(full.dropFirst())
        if shape == sample { output(ctx, layer: x); return }
        let operation: LayerOperation = shape.count == 1 ? .flatten : .reshape
        output(ctx, layer: try append(Layer(name: ctx.name, operation: operation, inputs: [x], shape: shape)))
    }

    /// ONNX Reshape's target: 0 copies the input's extent (unless allowzero), -1 is inferred.
    /// The result is checked against `ONNXLimits` (a target such as 2^31 × 2^31 × 2^31 with an
    /// empty input is refused, not multiplied out).
    private func resolve(_ target: [Int], from input: [Int], ctx: ONNXNodeContext, limit: Int = ONNXLimits.maximumElements) throws -> [Int] {
        let allowZero = try ctx.int("allowzero", default: 0) != 0
        guard target.count <= ONNXLimits.maximumRank else {
            throw ctx.invalid("Reshape target of rank \(target.count); he-tool reads tensors of rank at most \(ONNXLimits.maximumRank)")
        }
        var shape = target
        for (i, v) in target.enumerated() where v == 0 && !allowZero {
            guard i < input.count else { throw ctx.invalid("Reshape target \(target) copies axis \(i) of a rank-\(input.count) tensor") }
            shape[i] = input[i]
        }
        let total = try ONNXLimits.checkedCount(input, "the input '\(ctx.node.input[0])' of node \(ctx.position) ('\(ctx.name)', Reshape)", limit: limit)
        let inferred = shape.indices.filter { shape[$0] == -1 }
        guard inferred.count <= 1, shape.allSatisfy({ $0 >= -1 }) else { throw ctx.invalid("Reshape target \(ONNXLimits.describe(target)) is invalid") }
        if let i = inferred.first {
            var probe = shape
            probe[i] = 1
            let known = try ONNXLimits.checkedCount(probe, "the Reshape target of node \(ctx.position) ('\(ctx.name)')", limit: limit)
            guard known > 0, total % known == 0 else {
                throw ModelError.shapeMismatch("Reshape '\(ctx.name)': \(total) elements of '\(ctx.node.input[0])' (\(ONNXLimits.describe(input))) do not fit \(ONNXLimits.describe(target))")
            }
            shape[i] = total / known
        }
        let count = try ONNXLimits.checkedCount(shape, "the Reshape target of node \(ctx.position) ('\(ctx.name)')", limit: limit)
        guard count == total else {
            throw ModelError.shapeMismatch("Reshape '\(ctx.name)': '\(ctx.node.input[0])' has \(total) elements (\(ONNXLimits.describe(input))) but the target \(ONNXLimits.describe(target)) holds \(count)")
        }
        return shape
    }

    /// Pad with zeros (mode constant, value 0) on the spatial axes of N×C×H×W.
    func pad(_ ctx: ONNXNodeContext) throws {
        let mode = ctx.string("mode", default: "constant")
        guard mode == "constant" else { throw ctx.unsupported("Pad in mode '\(mode)'; he-tool pads with zeros only") }
        if hasInput(ctx, 2) {
            let value = try constant(ctx, 2, role: "constant_value")
            guard value.values.allSatisfy({ $0 == 0 }) else { throw ctx.unsupported("Pad with value \(value.values.first ?? 0); he-tool pads with zeros only") }
        }
        let x = try layerInput(ctx, 0)
        let shape = layers[x].shape
        let rank = shape.count + 1
        var pads = ctx.opset >= 11 ? try integers(ctx, 1, role: "pads") : (try ctx.ints("pads") ?? [])
        if hasInput(ctx, 3) {
            let axes = try integers(ctx, 3, role: "axes").map { try ConstantFolding.normalizedAxis($0, rank: rank, ctx: ctx) }
            guard pads.count == 2 * axes.count else { throw ctx.invalid("Pad has \(pads.count) pads for \(axes.count) axes") }
            var full = [Int](repeating: 0, count: 2 * rank)
            for (j, a) in axes.enumerated() { full[a] = pads[j]; full[rank + a] = pads[axes.count + j] }
            pads = full
        }
        guard pads.count == 2 * rank else { throw ctx.invalid("Pad has \(pads.count) pads for a rank-\(rank) tensor") }
        guard pads.allSatisfy({ $0 >= 0 }) else { throw ctx.unsupported("Pad with negative pads (cropping)") }
        if pads.allSatisfy({ $0 == 0 }) { output(ctx, layer: x); return }
        guard rank == 4, pads[0] == 0, pads[1] == 0, pads[4] == 0, pads[5] == 0 else {
            throw ctx.unsupported("Pad of axes other than H and W of N×C×H×W (pads \(pads))")
        }
        let padding = Padding2d(top: pads[2], left: pads[3], bottom: pads[6], right: pads[7])
        let outShape = [shape[0], shape[1] + pads[2] + pads[6], shape[2] + pads[3] + pads[7]]
        output(ctx, layer: try append(Layer(name: ctx.name, operation: .zeroPad(padding), inputs: [x], shape: outShape)))
    }

    func squeezeOrUnsqueeze(_ ctx: ONNXNodeContext) throws {
        guard case let .constant(t) = try value(ctx, 0) else {
            throw ctx.unsupported("\(ctx.node.opType) of a tensor computed from the input; he-tool supports it on constants only (use Flatten or Reshape)")
        }
        let axes: [Int]? = ctx.opset >= 13 ? (hasInput(ctx, 1) ? try integers(ctx, 1, role: "axes") : nil) : try ctx.ints("axes")
        if ctx.node.opType == "Unsqueeze" {
            guard let axes else { throw ctx.invalid("Unsqueeze without axes") }
            output(ctx, .constant(try ConstantFolding.unsqueeze(t, axes: axes, ctx: ctx)))
        } else {
            output(ctx, .constant(try ConstantFolding.squeeze(t, axes: axes, ctx: ctx)))
        }
    }
}
