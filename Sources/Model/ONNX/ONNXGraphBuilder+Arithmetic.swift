/// Elementwise nodes: Add, Sub, Mul, Div, Pow, Neg. With constants they fold; on computed
/// tensors they extend the pending polynomial (activation fusion); the sum of two different
/// tensors becomes an `add` layer.
extension ONNXGraphBuilder {
    func elementwise(_ ctx: ONNXNodeContext) throws {
        let op = ctx.node.opType
        if op == "Neg" {
            switch try value(ctx, 0) {
            case let .constant(t): output(ctx, .constant(Tensor(shape: t.shape, values: t.values.map { -$0 })))
            case let .symbolic(p): output(ctx, .symbolic(p.scaled(by: [-1], node: ctx.name)))
            }
            return
        }
        let a = try value(ctx, 0), b = try value(ctx, 1)
        switch (a, b) {
        case let (.constant(x), .constant(y)):
            let folded = try ConstantFolding.broadcast(x, y, ctx: ctx, op: Self.scalarOp(op))
            if let i = folded.values.firstIndex(where: { !$0.isFinite }) {
                throw ctx.invalid("\(op) of the constants '\(ctx.node.input[0])' and '\(ctx.node.input[1])' gives \(folded.values[i]) at element \(i) (a division by zero or an overflow); he-tool needs finite constants")
            }
            output(ctx, .constant(folded))
        case let (.symbolic(p), .constant(c)):
            let k = try perChannel(c, sampleShape: layers[p.source].shape, ctx: ctx, tensorName: ctx.node.input[1])
            output(ctx, .symbolic(try withConstant(p, k, constantOnLeft: false, ctx: ctx)))
        case let (.constant(c), .symbolic(p)):
            let k = try perChannel(c, sampleShape: layers[p.source].shape, ctx: ctx, tensorName: ctx.node.input[0])
            output(ctx, .symbolic(try withConstant(p, k, constantOnLeft: true, ctx: ctx)))
        case let (.symbolic(p), .symbolic(q)):
            try twoTensors(p, q, ctx: ctx)
        }
    }

    private static func scalarOp(_ op: String) -> (Double, Double) -> Double {
        switch op {
        case "Add": return (+)
        case "Sub": return (-)
        case "Mul": return (*)
        case "Div": return (/)
        default: return { x, y in Foundation.pow(x, y) }
        }
    }

    private func withConstant(_ p: SymbolicPolynomial, _ k: [Double], constantOnLeft: Bool, ctx: ONNXNodeContext) throws -> SymbolicPolynomial {
        switch ctx.node.opType {
        case "Add": return p.adding(k, node: ctx.name)
        case "Sub":
            return constantOnLeft ? p.scaled(by: [-1], node: ctx.name).adding(k, node: ctx.name)
                                  : p.adding(k.map { -$0 }, node: ctx.name)
        case "Mul": return p.scaled(by: k, node: ctx.name)
        case "Div":
            guard !constantOnLeft else {
                throw ctx.unsupported("division by a tensor computed from the input is not a polynomial; only division by a constant is supported")
            }
            guard k.allSatisfy({ $0 != 0 && $0.isFinite }) else {
                throw ctx.unsupported("division by zero: constant '\(ctx.node.input[1])' holds 0")
            }
            return p.scaled(by: k.map { 1 / $0 }, node: ctx.name)
        default: // Pow
            guard !constantOnLeft else {
                throw ctx.unsupported("a constant raised to a tensor's power is not a polynomial; only x^k with a small integer k is supported")
            }
            guard k.count == 1, let e = Int(exactly: k[0]), (1...8).contains(e) else {
                throw ctx.unsupported("exponent \(k.count == 1 ? formatNumber(k[0]) : "per-channel") of Pow is not supported; he-tool evaluates x^k for integer k in 1…8 (use x*x or Pow(x, 2) for a square activation)")
            }
            var result = p
            for _ in 1..<e { result = result.multiplied(by: p, node: ctx.name) }
            if e == 1 { result.nodes.append(ctx.name) }
            return try checkedDegree(result, ctx: ctx)
        }
    }

    private func checkedDegree(_ p: SymbolicPolynomial, ctx: ONNXNodeContext) throws -> SymbolicPolynomial {
        guard p.degree <= 16 else {
            throw ctx.unsupported("the fused activation reaches degree \(p.degree); he-tool evaluates polynomials up to degree 16")
        }
        return p
    }

    private func twoTensors(_ p: SymbolicPolynomial, _ q: SymbolicPolynomial, ctx: ONNXNodeContext) throws {
        let op = ctx.node.opType
        if p.source == q.source {
            switch op {
            case "Add": output(ctx, .symbolic(p.adding(q, node: ctx.name))); return
            case "Sub": output(ctx, .symbolic(p.adding(q.scaled(by: [-1], node: ctx.name), node: ctx.name))); return
            case "Mul": output(ctx, .symbolic(try checkedDegree(p.multiplied(by: q, node: ctx.name), ctx: ctx))); return
            default: break
            }
        }
        switch op {
        case "Add", "Sub":
            let left = try layerInput(ctx, 0)
            var right = try layerInput(ctx, 1)
            guard layers[left].shape == layers[right].shape else {
                throw ModelError.shapeMismatch("\(op) '\(ctx.name)' adds '\(ctx.node.input[0])' of shape N×\(formatShape(layers[left].shape)) and '\(ctx.node.input[1])' of shape N×\(formatShape(layers[right].shape)); he-tool adds tensors of the same shape only")
            }
            if op == "Sub" {
                right = try append(Layer(name: ctx.name, operation: .affine(ChannelAffine(scale: [-1], shift: [0])),
                                     inputs: [right], shape: layers[right].shape))
            }
            output(ctx, layer: try append(Layer(name: ctx.name, operation: .add, inputs: [left, right], shape: layers[left].shape)))
        case "Mul":
            throw ctx.unsupported("product of two different tensors ('\(ctx.node.input[0])' and '\(ctx.node.input[1])'); he-tool multiplies a tensor by itself (x*x, a polynomial activation) or by constants")
        default:
            throw ctx.unsupported("\(op) of two tensors computed from the input is not a polynomial")
        }
    }
}

import Foundation
