/// Which ONNX operators the importer reads, and the advice for those it refuses.
enum ONNXOperatorSupport {
    /// Operators that are not polynomials or not linear: they cannot run under CKKS.
    static let nonPolynomial: Set<String> = [
        "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "HardSigmoid",
        "HardSwish", "Tanh", "Softplus", "Softsign", "Mish", "Swish", "Clip", "ThresholdedRelu",
        "Softmax", "LogSoftmax", "Hardmax", "MaxPool", "GlobalMaxPool", "LpPool", "GlobalLpPool",
        "MaxRoiPool", "MaxUnpool", "ReduceMax", "ReduceMin", "ArgMax", "ArgMin", "Max", "Min",
        "Abs", "Sign", "Exp", "Log", "Sqrt", "Reciprocal", "Erf", "Sin", "Cos", "Round", "Floor",
        "Ceil", "Where", "Greater", "Less", "Equal", "LRN", "InstanceNormalization",
        "LayerNormalization", "GroupNormalization",
    ]

    /// Operators that become layers or fold away.
    static let supported: Set<String> = [
        "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Neg", "AveragePool",
        "GlobalAveragePool", "ReduceMean", "BatchNormalization", "Flatten", "Reshape", "Constant",
        "Identity", "Dropout", "Cast", "Pad", "Squeeze", "Unsqueeze", "Shape", "Gather", "Concat",
        "Slice", "Transpose", "ConstantOfShape",
    ]

    /// Softmax-like operators that may end a network: dropped, since argmax does not change.
    static let droppableAtEnd: Set<String> = ["Softmax", "LogSoftmax"]

    /// What to tell the user about an operator he-tool refuses.
    static func advice(for opType: String) -> String {
        if nonPolynomial.contains(opType) {
            let pooling = opType.contains("Pool") ? " Use average pooling instead of max pooling." : ""
            return "\(opType) is not a polynomial, so it cannot be evaluated on encrypted data.\(pooling) Retrain the network with polynomial activations (x² or a·x² + b·x + c) and average pooling, e.g. with the training toolkit in Examples/training, and export it again"
        }
        return "\(opType) is not among the operators he-tool imports (Conv, Gemm, MatMul, Add, Sub, Mul, Div, Pow, AveragePool, GlobalAveragePool, ReduceMean, BatchNormalization, Flatten, Reshape, Pad, Constant, Identity, Dropout, Squeeze/Unsqueeze of constants); rewrite that part of the model with these"
    }
}
