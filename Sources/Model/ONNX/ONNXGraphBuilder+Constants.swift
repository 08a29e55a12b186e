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
        let parts = try ctx.node.input.indices.map { try constant(ctx, $0, role: "input \($0)") }
        output(ctx, .constant(try ConstantFolding.concat(parts, axis: try ctx.int("axis", default: 0), ctx: ctx)))
    }
}
