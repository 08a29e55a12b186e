/// One node of the network IR: an operation, the layers it reads, and the shape of one sample
/// of its output (the batch axis is implicit and shared by the whole graph).
public struct Layer: Equatable, Sendable {
    /// ONNX node name(s) it came from, for messages and the inspect table.
    public var name: String
    /// What the layer computes.
    public var operation: LayerOperation
    /// Indices (into `Graph.layers`) of the layers it reads, in operand order; all earlier.
    public var inputs: [Int]
    /// Shape of one sample of the output, e.g. [8, 14, 14] for C×H×W or [10] for logits.
    public var shape: [Int]

    public init(name: String, operation: LayerOperation, inputs: [Int], shape: [Int]) {
        self.name = name
        self.operation = operation
        self.inputs = inputs
        self.shape = shape
    }
}

/// The operations of the IR: the linear layers, pooling, polynomial activations and the
/// shape-only layers that a CKKS network is made of.
public enum LayerOperation: Equatable, Sendable {
    /// The network input (layer 0).
    case input
    /// 2-D convolution (group 1, dilation 1) on C×H×W.
    case conv2d(Conv2d)
    /// Fully connected layer on a vector.
    case dense(Dense)
    /// y = scale[c]·x + shift[c] per channel (first axis); what BatchNorm and constant scalings
    /// become before they are folded into a neighbouring linear layer.
    case affine(ChannelAffine)
    /// Average pooling over H×W windows.
    case averagePool(Pool2d)
    /// Mean over H×W of each channel; output C×1×1.
    case globalAveragePool
    /// Elementwise polynomial (the activation).
    case polynomial(PolynomialActivation)
    /// Row-major flattening of a sample to a vector.
    case flatten
    /// Row-major reinterpretation of a sample as `Layer.shape`.
    case reshape
    /// Zero padding of H and W: (top, left, bottom, right).
    case zeroPad(Padding2d)
    /// Elementwise sum of two tensors of the same shape.
    case add
    /// Concatenation of two or more tensors along the channel axis (the first sample axis):
    /// [C_1, H, W], [C_2, H, W], … → [ΣC_i, H, W] (DenseNet and Inception joins).
    case concat

    /// Short name for tables and messages.
    public var kind: String {
        switch self {
        case .input: return "input"
        case .conv2d: return "conv2d"
        case .dense: return "dense"
        case .affine: return "affine"
        case .averagePool: return "averagePool"
        case .globalAveragePool: return "globalAveragePool"
        case .polynomial: return "polynomial"
        case .flatten: return "flatten"
        case .reshape: return "reshape"
        case .zeroPad: return "zeroPad"
        case .add: return "add"
        case .concat: return "concat"
        }
    }
}

/// Padding of the two spatial axes, in elements.
public struct Padding2d: Equatable, Sendable {
    public var top: Int, left: Int, bottom: Int, right: Int
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }
    /// No padding.
    public static let zero = Padding2d(top: 0, left: 0, bottom: 0, right: 0)
    /// True when all four sides are zero.
    public var isZero: Bool { self == .zero }
}

/// Convolution parameters: weights O×I×KH×KW, bias O, strides and zero padding.
public struct Conv2d: Equatable, Sendable {
    public var weights: Tensor
    public var bias: [Double]
    public var strideH: Int, strideW: Int
    public var padding: Padding2d

    public init(weights: Tensor, bias: [Double], strideH: Int, strideW: Int, padding: Padding2d) {
        self.weights = weights; self.bias = bias
        self.strideH = strideH; self.strideW = strideW; self.padding = padding
    }
    public var outChannels: Int { weights.shape[0] }
    public var inChannels: Int { weights.shape[1] }
    public var kernelH: Int { weights.shape[2] }
    public var kernelW: Int { weights.shape[3] }
}

/// Fully connected parameters: y = W·x + b with W of shape out×in.
public struct Dense: Equatable, Sendable {
    public var weights: Tensor
    public var bias: [Double]
    public init(weights: Tensor, bias: [Double]) { self.weights = weights; self.bias = bias }
    public var outFeatures: Int { weights.shape[0] }
    public var inFeatures: Int { weights.shape[1] }
}

/// Per-channel affine map; arrays hold one entry (shared) or one per channel.
public struct ChannelAffine: Equatable, Sendable {
    public var scale: [Double]
    public var shift: [Double]
    public init(scale: [Double], shift: [Double]) { self.scale = scale; self.shift = shift }
    @inlinable public func scale(_ c: Int) -> Double { scale.count == 1 ? scale[0] : scale[c] }
    @inlinable public func shift(_ c: Int) -> Double { shift.count == 1 ? shift[0] : shift[c] }
}

/// Average-pooling window, strides and padding. With `countIncludePad` the divisor is always
/// KH·KW; otherwise it is the number of window elements inside the image (ONNX's default).
public struct Pool2d: Equatable, Sendable {
    public var kernelH: Int, kernelW: Int
    public var strideH: Int, strideW: Int
    public var padding: Padding2d
    public var countIncludePad: Bool
    public init(kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padding: Padding2d, countIncludePad: Bool) {
        self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW
        self.padding = padding; self.countIncludePad = countIncludePad
    }
}
