/// The state of one import: the layers built so far and what each ONNX tensor name holds.
/// Node handlers (`ONNXGraphBuilder+*.swift`) read operands through it and add layers to it.
final class ONNXGraphBuilder {
    private(set) var layers: [Layer] = []
    private var values: [String: ImportValue] = [:]
    /// Batch used to evaluate `Shape` nodes (the fixed batch, or 1 when dynamic); a Reshape
    /// target whose first entry equals it keeps the batch axis.
    let importBatch: Int
    let opset: Int
    var notes: [String] = []

    init(inputName: String, inputShape: [Int], importBatch: Int, opset: Int) {
        self.importBatch = importBatch
        self.opset = opset
        layers.append(Layer(name: inputName, operation: .input, inputs: [], shape: inputShape))
        values[inputName] = .symbolic(.identity(0))
    }

    func setConstant(_ name: String, _ tensor: Tensor) { values[name] = .constant(tensor) }

    /// The value of input `i` of the node; throws when it is missing.
    func value(_ ctx: ONNXNodeContext, _ i: Int) throws -> ImportValue {
        guard i < ctx.node.input.count, !ctx.node.input[i].isEmpty else {
            throw ctx.invalid("input \(i) is missing (\(ctx.node.opType) needs it)")
        }
        let name = ctx.node.input[i]
        guard let v = values[name] else { throw ModelError.missingTensor(name: name, node: ctx.name) }
        return v
    }

    /// True when the node has a non-empty input `i` (ONNX marks an absent optional input by "").
    func hasInput(_ ctx: ONNXNodeContext, _ i: Int) -> Bool {
        i < ctx.node.input.count && !ctx.node.input[i].isEmpty
    }

    /// Input `i` as a constant; a computed tensor there is refused (weights must be constants).
    func constant(_ ctx: ONNXNodeContext, _ i: Int, role: String) throws -> Tensor {
        switch try value(ctx, i) {
        case let .constant(t): return t
        case .symbolic:
            throw ctx.unsupported("\(role) '\(ctx.node.input[i])' is computed from the network input; he-tool needs it to be a constant (an initializer or Constant node)")
        }
    }

    /// Input `i` as a constant list of integers (shapes, axes, pads).
    /// With `clamping`, huge values (Slice's INT64_MAX meaning "to the end") become ±2^31.
    func integers(_ ctx: ONNXNodeContext, _ i: Int, role: String, clamping: Bool = false) throws -> [Int] {
        let t = try constant(ctx, i, role: role)
        return try t.values.map { v in
            guard v == v.rounded() else { throw ctx.invalid("\(role) holds \(v), not an integer") }
            let bound = Double(Int32.max)
            if clamping { return Int(min(max(v, -bound), bound)) }
            guard abs(v) <= bound else { throw ctx.invalid("\(role) holds \(v), out of range") }
            return Int(v)
        }
    }

    /// Input `i` as a layer index: a computed tensor, materialized (a pending polynomial becomes
    /// an affine or polynomial layer). Constants are refused.
    func layerInput(_ ctx: ONNXNodeContext, _ i: Int) throws -> Int {
        switch try value(ctx, i) {
        case .constant:
            throw ctx.unsupported("input '\(ctx.node.input[i])' is a constant where he-tool expects a tensor computed from the network input")
        case let .symbolic(p):
            let index = materialize(p)
            values[ctx.node.input[i]] = .symbolic(.identity(index))
            return index
        }
    }

    /// The layer a polynomial becomes: nothing new for p(x) = x, an affine layer for degree ≤ 1,
    /// a polynomial activation otherwise.
    /// The new layer has its source's shape, checked when the source was added.
    func materialize(_ p: SymbolicPolynomial) -> Int {
        if p.isIdentity { return p.source }
        let shape = layers[p.source].shape
        if p.degree <= 1 {
            let scale = p.coefficients.count > 1 ? p.coefficients[1] : [0]
            return push(Layer(name: p.layerName, operation: .affine(ChannelAffine(scale: scale, shift: p.coefficients[0])),
                                inputs: [p.source], shape: shape))
        }
        let poly = PolynomialActivation(coefficients: Array(p.coefficients[0...p.degree]))
        return push(Layer(name: p.layerName, operation: .polynomial(poly), inputs: [p.source], shape: shape))
    }

    /// Adds a layer after checking its output shape: every axis 1…`ONNXLimits.maximumDimension`,
    /// rank at most `ONNXLimits.maximumRank`, at most `ONNXImporter.maximumSampleElements` per
    /// sample. Shapes inferred from hostile attributes (huge pads, empty kernels) stop here,
    /// before any later product of extents could overflow.
    @discardableResult
    func append(_ layer: Layer) throws -> Int {
        try Self.checkSampleShape(layer.shape, of: "the output of '\(layer.name)' (\(layer.operation.kind))")
        return push(layer)
    }

    /// Appends without a check: for layers whose shape is one already checked.
    private func push(_ layer: Layer) -> Int {
        layers.append(layer)
        return layers.count - 1
    }

    /// Throws unless `shape` is a valid sample shape (see `append`); `what` names the tensor.
    static func checkSampleShape(_ shape: [Int], of what: @autoclosure () -> String) throws {
        let limit = ONNXImporter.maximumSampleElements
        guard shape.count <= ONNXLimits.maximumRank, shape.allSatisfy({ $0 > 0 && $0 <= ONNXLimits.maximumDimension }),
              let count = ONNXLimits.product(shape), count <= limit else {
            throw ModelError.shapeMismatch("\(what()) would have shape N×\(ONNXLimits.describe(shape)): an empty axis, rank above \(ONNXLimits.maximumRank) or more than he-tool's limit of \(limit) elements per sample; the file is corrupted or the model is far larger than he-tool runs")
        }
    }

    /// Records the node's first output as the output of layer `index`.
    func output(_ ctx: ONNXNodeContext, layer index: Int) {
        if let name = ctx.node.output.first { values[name] = .symbolic(.identity(index)) }
    }

    func output(_ ctx: ONNXNodeContext, _ value: ImportValue) {
        if let name = ctx.node.output.first { values[name] = value }
    }

    func outputValue(named name: String) -> ImportValue? { values[name] }

    /// A constant broadcast against one sample of `shape` (batch first in the constant, numpy
    /// rules) reduced to one value per channel (first sample axis), or one shared value. A constant
    /// that varies along another axis, or that would enlarge the tensor, is refused.
    func perChannel(_ c: Tensor, sampleShape shape: [Int], ctx: ONNXNodeContext, tensorName: String) throws -> [Double] {
        let full = [importBatch] + shape
        guard c.shape.count <= full.count else {
            throw ModelError.shapeMismatch("constant '\(tensorName)' of shape \(formatShape(c.shape)) at node '\(ctx.name)' has more axes than the tensor it is applied to (N×\(formatShape(shape)))")
        }
        let aligned = [Int](repeating: 1, count: full.count - c.shape.count) + c.shape
        for (axis, extent) in aligned.enumerated() where extent != 1 && extent != full[axis] || axis == 0 && extent != 1 {
            throw ModelError.shapeMismatch("constant '\(tensorName)' of shape \(formatShape(c.shape)) at node '\(ctx.name)' does not broadcast over a tensor of shape N×\(formatShape(shape))")
        }
        if c.values.allSatisfy({ $0 == c.values[0] }) { return [c.values.isEmpty ? 0 : c.values[0]] }
        guard shape.count >= 1 else { return [c.values[0]] }
        // Per channel: every entry of the constant must equal the one at its channel index.
        let strides = Tensor.strides(of: aligned)
        let channels = shape[0]
        var perChannel = [Double](repeating: 0, count: channels)
        for ch in 0..<channels { perChannel[ch] = aligned[1] == 1 ? c.values[0] : c.values[ch * strides[1]] }
        for (j, v) in c.values.enumerated() {
            let ch = aligned[1] == 1 ? 0 : (j / strides[1]) % aligned[1]
            if v != perChannel[ch] {
                throw ctx.unsupported("constant '\(tensorName)' of shape \(formatShape(c.shape)) varies along an axis other than the channel axis; he-tool supports constants shared by all elements or one per channel")
            }
        }
        return perChannel
    }
}
