/// The largest shapes the ONNX importer accepts, and the checks every shape read from a file or
/// computed by shape inference goes through before any arithmetic or allocation uses it.
///
/// An ONNX file is an attacker's numbers: a dimension may be 2^31 − 1, a rank 10,000, and a
/// zero-size tensor `[0, 2^31−1, 2^31−1, 2^31−1]` has zero elements while its strides overflow.
/// So element counts are products over *all* axes with a zero-size axis counted as 1, computed
/// with overflow reporting; a shape passes only when that product is within the limit.
public enum ONNXLimits {
    /// Largest rank of any tensor (torch exports rank ≤ 6).
    public static let maximumRank = 16
    /// Largest extent of one axis.
    public static let maximumDimension = Int(Int32.max)
    /// Largest number of elements of one tensor (constant, weight or computed), counting every
    /// zero-size axis as 1: 2^26 values (512 MiB as `Double`), far above any model he-tool runs.
    public static let maximumElements = 1 << 26

    /// The element count of `shape` (0 when an axis is empty), after checking rank, every
    /// extent, and the product of the extents with empty axes counted as 1.
    /// - Parameter what: names the tensor in the error, e.g. "tensor 'w'" or "the output of node 3 ('Reshape_3')".
    /// - Throws: `ModelError.invalidFile` naming `what`, the shape and the limit it exceeds.
    /// - Parameter limit: the largest product allowed (`maximumElements` unless the tensor
    ///   carries the batch axis, see the Reshape of a computed tensor).
    @discardableResult
    public static func checkedCount(_ shape: [Int], _ what: @autoclosure () -> String, limit: Int = maximumElements) throws -> Int {
        guard shape.count <= maximumRank else {
            throw ModelError.invalidFile("\(what()) has rank \(shape.count); he-tool reads tensors of rank at most \(maximumRank)")
        }
        var bound = 1, hasZero = false
        for d in shape {
            guard d >= 0, d <= maximumDimension else {
                throw ModelError.invalidFile("\(what()) has an axis of extent \(d); extents must be 0…\(maximumDimension)")
            }
            if d == 0 { hasZero = true }
            let (p, overflow) = bound.multipliedReportingOverflow(by: max(d, 1))
            guard !overflow, p <= limit else {
                throw ModelError.invalidFile("\(what()) of shape \(describe(shape)) exceeds he-tool's limit of \(limit) elements per tensor (empty axes counted as 1); the file is corrupted or the model is far larger than he-tool runs")
            }
            bound = p
        }
        return hasZero ? 0 : bound
    }

    /// `checkedCount` for a shape whose extents come as `Int64` (dims of a `TensorProto`).
    static func checkedShape(_ dims: [Int64], _ what: @autoclosure () -> String) throws -> [Int] {
        guard dims.count <= maximumRank else {
            throw ModelError.invalidFile("\(what()) has rank \(dims.count); he-tool reads tensors of rank at most \(maximumRank)")
        }
        let shape = try dims.map { d -> Int in
            guard d >= 0, d <= Int64(maximumDimension) else {
                throw ModelError.invalidFile("\(what()) has an axis of extent \(d); extents must be 0…\(maximumDimension)")
            }
            return Int(d)
        }
        try checkedCount(shape, what())
        return shape
    }

    /// The product of `values` or nil when it overflows (for comparisons of element counts).
    static func product<S: Sequence>(_ values: S) -> Int? where S.Element == Int {
        var p = 1
        for v in values {
            let (r, overflow) = p.multipliedReportingOverflow(by: v)
            if overflow { return nil }
            p = r
        }
        return p
    }

    /// A shape for messages, long ones cut (a hostile rank must not make a megabyte message).
    static func describe(_ shape: [Int]) -> String {
        shape.count <= 8 ? formatShape(shape) : formatShape(Array(shape.prefix(8))) + "×… (rank \(shape.count))"
    }
}
