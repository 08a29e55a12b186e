/// Operations on constants, evaluated at import time: numpy-style broadcasting for arithmetic,
/// and the shape plumbing torch emits around Reshape (Shape, Gather, Concat, Unsqueeze, …).
/// Every result's shape goes through `ONNXLimits` before its values are allocated.
enum ConstantFolding {
    /// The element count of a folded result of node `ctx`, checked against `ONNXLimits`.
    @discardableResult
    static func resultCount(_ shape: [Int], _ ctx: ONNXNodeContext) throws -> Int {
        try ONNXLimits.checkedCount(shape, "the output of node \(ctx.position) ('\(ctx.name)', \(ctx.node.opType))")
    }

    /// Elementwise `op` of two constants with numpy broadcasting.
    static func broadcast(_ a: Tensor, _ b: Tensor, ctx: ONNXNodeContext, op: (Double, Double) -> Double) throws -> Tensor {
        let rank = max(a.shape.count, b.shape.count)
        let sa = [Int](repeating: 1, count: rank - a.shape.count) + a.shape
        let sb = [Int](repeating: 1, count: rank - b.shape.count) + b.shape
        var shape: [Int] = []
        for (x, y) in zip(sa, sb) {
            guard x == y || x == 1 || y == 1 else {
                throw ModelError.shapeMismatch("node '\(ctx.name)' combines constants '\(ctx.node.input[0])' (\(formatShape(a.shape))) and '\(ctx.node.input[1])' (\(formatShape(b.shape))) that do not broadcast")
            }
            shape.append(max(x, y))
        }
        let count = try resultCount(shape, ctx)
        let (stA, stB, st) = (Tensor.strides(of: sa), Tensor.strides(of: sb), Tensor.strides(of: shape))
        var values = [Double](repeating: 0, count: count)
        for j in 0..<count {
            var (ia, ib, rest) = (0, 0, j)
            for axis in 0..<rank {
                let coordinate = rest / st[axis]
                rest %= st[axis]
                if sa[axis] != 1 { ia += coordinate * stA[axis] }
                if sb[axis] != 1 { ib += coordinate * stB[axis] }
            }
            values[j] = op(a.values[ia], b.values[ib])
        }
        return Tensor(shape: shape, values: values)
    }

    /// ONNX Gather along `axis` with constant indices (negative indices count from the end).
    static func gather(_ data: Tensor, _ indices: Tensor, axis rawAxis: Int, ctx: ONNXNodeContext) throws -> Tensor {
        let axis = try normalizedAxis(rawAxis, rank: data.shape.count, ctx: ctx)
        let extent = data.shape[axis]
        let shape = Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...])
        try resultCount(shape, ctx)
        let outer = data.shape[..<axis].reduce(1, *)
        let inner = data.shape[(axis + 1)...].reduce(1, *)
        var values: [Double] = []
        for o in 0..<outer {
            for raw in indices.values {
                guard raw.isFinite, abs(raw) <= Double(Int32.max) else { throw ctx.invalid("Gather index \(raw) is not an index") }
                var i = Int(raw)
                if i < 0 { i += extent }
                guard i >= 0, i < extent else { throw ctx.invalid("Gather index \(Int(raw)) is out of range for an axis of \(extent)") }
                values += data.values[((o * extent + i) * inner)..<((o * extent + i + 1) * inner)]
            }
        }
        return Tensor(shape: shape, values: values)
    }

    /// ONNX Concat of constants along `axis`.
    static func concat(_ parts: [Tensor], axis rawAxis: Int, ctx: ONNXNodeContext) throws -> Tensor {
        guard let first = parts.first else { throw ctx.invalid("Concat has no inputs") }
        let axis = try normalizedAxis(rawAxis, rank: first.shape.count, ctx: ctx)
        for p in parts where p.shape.count != first.shape.count
            || (0..<first.shape.count).contains(where: { $0 != axis && p.shape[$0] != first.shape[$0] }) {
            throw ModelError.shapeMismatch("Concat '\(ctx.name)' joins constants of shapes \(parts.map { formatShape($0.shape) }) that differ off axis \(axis)")
        }
        var shape = first.shape
        var joined = 0
        for p in parts {
            let (sum, overflow) = joined.addingReportingOverflow(p.shape[axis])
            guard !overflow else { throw ctx.invalid("Concat of \(parts.count) constants is too large") }
            joined = sum
        }
        shape[axis] = joined
        try resultCount(shape, ctx)
        let outer = first.shape[..<axis].reduce(1, *)
        var values: [Double] = []
        for o in 0..<outer {
            for p in parts {
                let block = p.shape[axis...].reduce(1, *)
                values += p.values[(o * block)..<((o + 1) * block)]
            }
        }
        return Tensor(shape: shape, values: values)
    }

    /// Unsqueeze: inserts axes of extent 1 at `axes` (of the output rank).
    static func unsqueeze(_ t: Tensor, axes: [Int], ctx: ONNXNodeContext) throws -> Tensor {
        let rank = t.shape.count + axes.count
        guard rank <= ONNXLimits.maximumRank else { throw ctx.invalid("Unsqueeze to rank \(rank); he-tool reads tensors of rank at most \(ONNXLimits.maximumRank)") }
        let normalized = try Set(axes.map { try normalizedAxis($0, rank: rank, ctx: ctx) })
        guard normalized.count == axes.count else { throw ctx.invalid("Unsqueeze repeats an axis in \(axes)") }
        var shape: [Int] = []
        var source = t.shape.makeIterator()
        for axis in 0..<rank { shape.append(normalized.contains(axis) ? 1 : source.next()!) }
        return Tensor(shape: shape, values: t.values)
    }

    /// Squeeze: removes the given axes of extent 1 (all of them when `axes` is nil).
    static func squeeze(_ t: Tensor, axes: [Int]?, ctx: ONNXNodeContext) throws -> Tensor {
        let rank = t.shape.count
        let remove: Set<Int>
        if let axes {
            remove = try Set(axes.map { try normalizedAxis($0, rank: rank, ctx: ctx) })
            for a in remove where t.shape[a] != 1 { throw ctx.invalid("Squeeze of axis \(a) whose extent is \(t.shape[a]), not 1") }
        } else {
            remove = Set(t.shape.indices.filter { t.shape[$0] == 1 })
        }
        return Tensor(shape: t.shape.indices.filter { !remove.contains($0) }.map { t.shape[$0] }, values: t.values)
    }

    static func normalizedAxis(_ axis: Int, rank: Int, ctx: ONNXNodeContext) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else { throw ctx.invalid("axis \(axis) is out of range for rank \(rank)") }
        return a
    }
}
