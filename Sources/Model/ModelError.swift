/// Errors of the Model layer. Each message says what is wrong and what to do about it; none of
/// them is a crash: every file and every user-supplied value is checked and throws one of these.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file that is not what it claims to be (truncated, corrupted, wrong magic); the message
    /// names the file and the field.
    case invalidFile(String)
    /// An ONNX operator the engine cannot run. `node` and `position` (index in the graph's node
    /// list) locate it; `advice` says what to do (e.g. retrain with polynomial activations).
    case unsupportedOperator(opType: String, node: String, position: Int, advice: String)
    /// A node or attribute that is valid ONNX but outside what the importer supports (grouped
    /// convolutions, dilation, a reshape that mixes the batch axis, …).
    case unsupportedFeature(node: String, position: Int, what: String)
    /// A model whose default-domain opset is outside the range the importer reads (11…21).
    case unsupportedOpset(Int)
    /// A tensor the graph refers to but nobody produces (no initializer, no node output).
    case missingTensor(name: String, node: String)
    /// Shapes that do not fit together; the message names the tensor and both shapes.
    case shapeMismatch(String)
    /// An input (image, tensor file) that does not fit the model: wrong size or channel count.
    case inputMismatch(String)
    /// A file that cannot be read or written; the message names the path.
    case fileSystem(String)
    /// A value out of range for an option or metadata entry (negative std, bad JSON, …).
    case invalidArgument(String)
    /// A computation whose result is NaN or infinite (weights or inputs far out of range); the
    /// message names the input and the first layer where it happened.
    case nonFiniteResult(String)

    public var description: String {
        switch self {
        case let .invalidFile(why): return "invalid file: \(why)"
        case let .unsupportedOperator(op, node, position, advice):
            return "unsupported operator \(op) at node \(position) ('\(node)'): \(advice)"
        case let .unsupportedFeature(node, position, what):
            return "unsupported at node \(position) ('\(node)'): \(what)"
        case let .unsupportedOpset(v):
            return "the model uses ONNX opset \(v); he-tool imports opsets 11…21. Re-export it with torch.onnx.export(..., opset_version=17)"
        case let .missingTensor(name, node):
            return "tensor '\(name)' used by node '\(node)' is neither an initializer, a graph input nor the output of an earlier node; the file is incomplete (re-export it with torch.onnx.export)"
        case let .shapeMismatch(why): return "shape mismatch: \(why)"
        case let .inputMismatch(why): return "input does not fit the model: \(why)"
        case let .fileSystem(why): return "file error: \(why)"
        case let .invalidArgument(why): return "invalid argument: \(why)"
        case let .nonFiniteResult(why): return why
        }
    }
}
