/// Layout operations on constants that torch's exporter emits while computing Pad's pads:
/// Slice (any steps, negative included), Transpose and ConstantOfShape.
extension ConstantFolding {
    /// ONNX Slice of a constant (clamping as the operator specification says).
    static func slice(_ t: Tensor, starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?, ctx: ONNXNodeContext) throws -> Tensor {
        let rank = t.shape.count
        let axes = try (axes ?? Array(0..<starts.count)).map { try normalizedAxis($0, rank: rank, ctx: ctx) }
        let steps = steps ?? [Int](repeating: 1, count: starts.count)
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
            throw ctx.invalid("Slice has \(starts.count) starts, \(ends.count) ends, \(axes.count) axes and \(steps.count) steps")
        }
        try resultCount(t.shape, ctx)
        var ranges = t.shape.map { Array(0..<$0) }
        for (j, axis) in axes.enumerated() {
            let n = t.shape[axis], step = steps[j]
            guard step != 0 else { throw ctx.invalid("Slice step 0") }
            var start = starts[j] < 0 ? starts[j] + n : starts[j]
            var end = ends[j] < 0 ? ends[j] + n : ends[j]
            if step > 0 {
                start = min(max(start, 0), n); end = min(max(end, 0), n)
                ranges[axis] = Array(stride(from: start, to: end, by: step))
            } else {
                start = min(max(start, -1), n - 1); end = min(max(end, -1), n - 1)
                ranges[axis] = Array(stride(from: start, to: end, by: step))
            }
        }
        let strides = Tensor.strides(of: t.shape)
        var values: [Double] = []
        if ranges.contains(where: \.isEmpty) { return Tensor(shape: ranges.map(\.count), values: []) }
        func walk(_ axis: Int, _ offset: Int) {
            if axis == rank { values.append(t.values[offset]); return }
            for i in ranges[axis] { walk(axis + 1, offset + i * strides[axis]) }
        }
        if rank == 0 { values = t.values } else { walk(0, 0) }
        return Tensor(shape: ranges.map(\.count), values: values)
    }

    /// ONNX Transpose of a constant (reversed axes when `perm` is nil).
    static func transpose(_ t: Tensor, perm: [Int]?, ctx: ONNXNodeContext) throws -> Tensor {
        let rank = t.shape.count
        let perm = perm ?? Array((0..<rank).reversed())
        guard perm.sorted() == Array(0..<rank) else { throw ctx.invalid("Transpose perm \(perm) is not a permutation of 0..<\(rank)") }
        let shape = perm.map { t.shape[$0] }
        try resultCount(shape, ctx)
        let inStrides = Tensor.strides(of: t.shape)
        let outStrides = Tensor.strides(of: shape)
        var values = [Double](repeating: 0, count: t.count)
        for j in 0..<t.count {
            var rest = j, source = 0
            for axis in 0..<rank {
                let c = rest / outStrides[axis]
                rest %= outStrides[axis]
                source += c * inStrides[perm[axis]]
            }
            values[j] = t.values[source]
        }
        return Tensor(shape: shape, values: values)
    }
}

extension ONNXGraphBuilder {
    func sliceNode(_ ctx: ONNXNodeContext) throws {
        let data = try constant(ctx, 0, role: "data")
        let starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
        if ctx.opset >= 10 {
            starts = try integers(ctx, 1, role: "starts", clamping: true)
            ends = try integers(ctx, 2, role: "ends", clamping: true)
            axes = hasInput(ctx, 3) ? try integers(ctx, 3, role: "axes") : nil
            steps = hasInput(ctx, 4) ? try integers(ctx, 4, role: "steps") : nil
        } else {
            starts = try ctx.ints("starts") ?? []; ends = try ctx.ints("ends") ?? []
            axes = try ctx.ints("axes"); steps = nil
        }
        output(ctx, .constant(try ConstantFolding.slice(data, starts: starts, ends: ends, axes: axes, steps: steps, ctx: ctx)))
    }

    func transposeNode(_ ctx: ONNXNodeContext) throws {
        guard case let .constant(t) = try value(ctx, 0) else {
            throw ctx.unsupported("Transpose of a tensor computed from the input; he-tool keeps the N×C×H×W layout")
        }
        output(ctx, .constant(try ConstantFolding.transpose(t, perm: try ctx.ints("perm"), ctx: ctx)))
    }

    func constantOfShapeNode(_ ctx: ONNXNodeContext) throws {
        let shape = try integers(ctx, 0, role: "shape")
        try ConstantFolding.resultCount(shape, ctx)
        var fill = 0.0
        if let a = ctx.attribute("value") {
            let t = try ONNXTensorDecoder.decode(a.t, context: "the value of ConstantOfShape '\(ctx.name)'")
            guard t.count == 1 else { throw ctx.invalid("ConstantOfShape value must hold one element") }
            fill = t.values[0]
        }
        output(ctx, .constant(Tensor(shape: shape, values: [Double](repeating: fill, count: Tensor.count(of: shape)))))
    }
}
