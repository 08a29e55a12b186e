/// A plain logical tensor: row-major `Double` values and their shape. The reference every tile
/// tensor is packed from and unpacked to.
public struct Tensor: Equatable, Sendable {
    /// Sizes, outermost first.
    public let shape: [Int]
    /// Row-major values (the last dimension is contiguous).
    public var values: [Double]

    /// A tensor; throws when `values.count` is not the product of `shape`.
    public init(shape: [Int], values: [Double]) throws {
        guard shape.allSatisfy({ $0 >= 1 }) else { throw TileTensorError.invalidArgument("tensor sizes must be positive, got \(shape)") }
        let count = shape.reduce(1, *)
        guard values.count == count else { throw TileTensorError.sizeMismatch(expected: count, actual: values.count) }
        self.shape = shape
        self.values = values
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) throws {
        try self.init(shape: shape, values: [Double](repeating: 0, count: shape.reduce(1, *)))
    }

    /// Row-major strides.
    public var strides: [Int] { TileShape.strides(shape) }

    /// The flat offset of a multi-index (a programmer error when out of range).
    public func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count)
        var o = 0, s = 1
        for d in shape.indices.reversed() {
            precondition((0..<shape[d]).contains(index[d]), "index \(index) outside \(shape)")
            o += index[d] * s
            s *= shape[d]
        }
        return o
    }

    /// The value at a multi-index.
    public subscript(_ index: [Int]) -> Double {
        get { values[offset(index)] }
        set { values[offset(index)] = newValue }
    }

    /// The multi-index of a flat offset.
    public func index(ofOffset offset: Int) -> [Int] {
        var rest = offset
        var index = [Int](repeating: 0, count: shape.count)
        for d in shape.indices.reversed() {
            index[d] = rest % shape[d]
            rest /= shape[d]
        }
        return index
    }
}
