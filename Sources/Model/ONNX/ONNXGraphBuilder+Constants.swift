/// Constant and pass-through nodes: Constant, Identity, Dropout, Cast, and the shape plumbing
/// (Shape, Gather, Concat) torch writes before a Reshape; all evaluated at import time.
extension ONNXGraphBuilder {
    func constantNode(_ ctx: ONNXNodeContext) throws {
        if let a = ctx.attribute("value") {
            output(ctx, .constant(try ONNXTensorDecoder.decode(a.t, context: "the value of Constant '\(ctx.name)'")))
        } else if let a = ctx.attribute("value_float") {
            output(ctx, .constant(Tensor(scalar: Double(a.f))))
        } else if let a = ctx.attribute("value_floats") {
            output(ctx, .constant(Tensor(shape: [a.floats.count], values: a.floats.map(Double.init))))
        } else if let a = ctx.attribute("value_int") {
            output(ctx, .constant(Tensor(scalar: Double(a.i))))
        } else if let a = ctx.attribute("value_ints") {
            output(ctx, .constant(Tensor(shape: [a.ints.count], values: a.ints.map(Double.init))))
        } else {
            throw ctx.unsupported("Constant without a numeric value (sparse or string constants are not supported)")
        }
    }

    /// Identity and Dropout (inference: the identity); Cast to a float type of a computed tensor.
    func passThrough(_ ctx: ONNXNodeContext) throws {
        let v = try value(ctx, 0)
        if ctx.node.opType == "Cast" {
            let to = try ctx.int("to", default: 1)
            let isFloat = [1, 10, 11, 16].contains(to)
            switch v {
            case let .constant(t):
                output(ctx, .constant(isFloat ? t : Tensor(shape: t.shape, values: t.values.map { $0.rounded(.towardZero) })))
            case .symbolic:
                guard isFloat else { throw ctx.unsupported("Cast of a computed tensor to a non-float type (\(to))") }
                output(ctx, v)
            }
            return
        }
        output(ctx, v)
    }

    func shapeNode(_ ctx: ONNXNodeContext) throws {
        let shape: [Int]
        switch try value(ctx, 0) {
        case let .constant(t): shape = t.shape
        case let .symbolic(p): shape = [importBatch] + layers[p.source].shape
        }
        let rank = shape.count
        var start = try ctx.int("start", default: 0), end = try ctx.int("end", default: rank)
        if start < 0 { start += rank }
        if end < 0 { end += rank }
        start = min(max(start, 0), rank)
        end = min(max(end, start), rank)
        let part = shape[start..<end].map(Double.init)
        output(ctx, .constant(Tensor(shape: [part.count], values: part)))
    }

    func gatherNode(_ ctx: ONNXNodeContext) throws {
        let data = try constant(ctx, 0, role: "data")
        let indices = try constant(ctx, 1, role: "indices")
        output(ctx, .constant(try ConstantFolding.gather(data, indices, axis: try ctx.int("axis", default: 0), ctx: ctx)))
    }

    func concatNode(_ ctx: ONNXNodeContext) throws {
        let computed = try ctx.node.input.indices.filter { if case .symbolic = try value(ctx, $0) { return true } else { return false } }
        if !computed.isEmpty { try concatTensors(ctx); return }
        let parts = try ctx.node.input.indices.map { try constant(ctx, $0, role: "input \($0)") }
        output(ctx, .constant(try ConstantFolding.concat(parts, axis: try ctx.int("axis", default: 0), ctx: ctx)))
    }

    /// Concat of tensors computed from the input: along the channel axis only (axis 1 of
    /// N×C×H×W or N×F), every operand computed, the other axes equal.
    private func concatTensors(_ ctx: ONNXNodeContext) throws {
        let inputs = try ctx.node.input.indices.map { i -> Int in
            guard case .symbolic = try value(ctx, i) else {
                throw ctx.unsupported("Concat of a constant '\(ctx.node.input[i])' with tensors computed from the input; he-tool joins computed tensors only")
            }
            return try layerInput(ctx, i)
        }
        let shapes = inputs.map { layers[$0].shape }
        let rank = shapes[0].count + 1
        var axis = try ctx.int("axis", default: 1)
        if axis < 0 { axis += rank }
        guard axis == 1 else {
            throw ctx.unsupported("Concat along axis \(axis) of N×\(formatShape(shapes[0])); he-tool concatenates along the channel axis (axis 1) only")
        }
        guard shapes.allSatisfy({ $0.count == shapes[0].count && $0.dropFirst() == shapes[0].dropFirst() }) else {
            throw ModelError.shapeMismatch("Concat '\(ctx.name)' joins tensors of shapes \(shapes.map { "N×" + formatShape($0) }) that differ off the channel axis")
        }
        var shape = shapes[0]
        shape[0] = shapes.reduce(0) { $0 + $1[0] }
        output(ctx, layer: try append(Layer(name: ctx.name, operation: .concat, inputs: inputs, shape: shape)))
    }
}
