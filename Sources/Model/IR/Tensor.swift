/// A dense tensor of `Double` in row-major (C) order. The Model layer's one numeric container:
/// weights, constants, images and activations (batch first, NCHW) are all `Tensor`s.
public struct Tensor: Equatable, Sendable {
    /// Extent of each axis; the empty shape is a scalar.
    public var shape: [Int]
    /// The elements, `shape.reduce(1, *)` of them, last axis fastest.
    public var values: [Double]

    /// A tensor of the given shape and values. The count must match the shape (a programmer
    /// error otherwise: every reader checks user data before building a tensor).
    public init(shape: [Int], values: [Double]) {
        assert(shape.allSatisfy { $0 >= 0 } && Tensor.count(of: shape) == values.count,
               "tensor shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, values: [Double](repeating: 0, count: Tensor.count(of: shape)))
    }

    /// A scalar.
    public init(scalar: Double) { self.init(shape: [], values: [scalar]) }

    /// Number of elements of a shape (1 for a scalar).
    public static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Number of elements.
    public var count: Int { values.count }

    /// Row-major strides of `shape`.
    public static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = step
            step *= shape[axis]
        }
        return strides
    }
}

/// Shapes printed the way the CLI shows them: `1×28×28`, `scalar` for rank 0.
public func formatShape(_ shape: [Int]) -> String {
    shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "×")
}
