import Foundation

/// Conv, Gemm, MatMul and BatchNormalization: the nodes that become conv2d, dense and affine
/// layers, with their weights checked against the incoming shape.
extension ONNXGraphBuilder {
    func conv(_ ctx: ONNXNodeContext) throws {
        let x = try layerInput(ctx, 0)
        let inShape = layers[x].shape
        guard inShape.count == 3 else {
            throw ctx.unsupported("Conv on a tensor of shape N×\(formatShape(inShape)); he-tool supports 2-D convolutions on N×C×H×W")
        }
        let w = try constant(ctx, 1, role: "weight")
        let wName = ctx.node.input[1]
        guard w.shape.count == 4 else { throw ctx.unsupported("Conv weight '\(wName)' of shape \(formatShape(w.shape)); only 2-D convolutions (O×I×KH×KW) are supported") }
        guard w.count > 0 else { throw ctx.invalid("Conv weight '\(wName)' of shape \(formatShape(w.shape)) is empty") }
        guard try ctx.int("group", default: 1) == 1 else {
            throw ctx.unsupported("grouped or depthwise convolution (group = \(try ctx.int("group", default: 1))); he-tool supports group = 1")
        }
        if let d = try ctx.ints("dilations"), d.contains(where: { $0 != 1 }) {
            throw ctx.unsupported("dilated convolution (dilations \(d)); he-tool supports dilation 1")
        }
        guard w.shape[1] == inShape[0] else {
            throw ModelError.shapeMismatch("Conv '\(ctx.name)': weight '\(wName)' of shape \(formatShape(w.shape)) expects \(w.shape[1]) input channels but '\(ctx.node.input[0])' has \(inShape[0]) (shape N×\(formatShape(inShape)))")
        }
        let (kh, kw) = (w.shape[2], w.shape[3])
        if let ks = try ctx.ints("kernel_shape"), ks != [kh, kw] {
            throw ModelError.shapeMismatch("Conv '\(ctx.name)': kernel_shape \(ks) differs from the weight '\(wName)' (\(kh)×\(kw))")
        }
        let strides = try ctx.ints("strides") ?? [1, 1]
        guard strides.count == 2, strides.allSatisfy({ $0 >= 1 }) else { throw ctx.invalid("strides \(strides) are not two positive integers") }
        let padding = try spatialPadding(ctx, inShape: inShape, kernel: (kh, kw), strides: strides)
        var bias = [Double](repeating: 0, count: w.shape[0])
        if hasInput(ctx, 2) {
            let b = try constant(ctx, 2, role: "bias")
            guard b.count == w.shape[0] else {
                throw ModelError.shapeMismatch("Conv '\(ctx.name)': bias '\(ctx.node.input[2])' has \(b.count) entries for \(w.shape[0]) output channels")
            }
            bias = b.values
        }
        let oh = (inShape[1] + padding.top + padding.bottom - kh) / strides[0] + 1
        let ow = (inShape[2] + padding.left + padding.right - kw) / strides[1] + 1
        guard inShape[1] + padding.top + padding.bottom >= kh, inShape[2] + padding.left + padding.right >= kw else {
            throw ModelError.shapeMismatch("Conv '\(ctx.name)': kernel \(kh)×\(kw) is larger than the padded input '\(ctx.node.input[0])' (N×\(formatShape(inShape)))")
        }
        let conv = Conv2d(weights: w, bias: bias, strideH: strides[0], strideW: strides[1], padding: padding)
        output(ctx, layer: try append(Layer(name: ctx.name, operation: .conv2d(conv), inputs: [x], shape: [w.shape[0], oh, ow])))
    }

    /// Padding from `pads` or `auto_pad` (NOTSET, VALID, SAME_UPPER, SAME_LOWER).
    func spatialPadding(_ ctx: ONNXNodeContext, inShape: [Int], kernel: (Int, Int), strides: [Int]) throws -> Padding2d {
        let autoPad = ctx.string("auto_pad", default: "NOTSET")
        switch autoPad {
        case "NOTSET", "":
            let pads = try ctx.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw ctx.invalid("pads \(pads) are not four non-negative integers") }
            return Padding2d(top: pads[0], left: pads[1], bottom: pads[2], right: pads[3])
        case "VALID": return .zero
        case "SAME_UPPER", "SAME_LOWER":
            func split(_ size: Int, _ k: Int, _ s: Int) -> (Int, Int) {
                let total = max(((size + s - 1) / s - 1) * s + k - size, 0)
                return autoPad == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2)
            }
            let (t, b) = split(inShape[1], kernel.0, strides[0])
            let (l, r) = split(inShape[2], kernel.1, strides[1])
            return Padding2d(top: t, left: l, bottom: b, right: r)
        default: throw ctx.invalid("unknown auto_pad '\(autoPad)'")
        }
    }

    func gemm(_ ctx: ONNXNodeContext) throws {
        let x = try layerInput(ctx, 0)
        let inShape = layers[x].shape
        guard inShape.count == 1 else {
            throw ctx.unsupported("Gemm on '\(ctx.node.input[0])' of shape N×\(formatShape(inShape)); flatten it to N×features first")
        }
        guard try ctx.int("transA", default: 0) == 0 else { throw ctx.unsupported("Gemm with transA = 1 (the batch would be transposed)") }
        let b = try constant(ctx, 1, role: "weight")
        let bName = ctx.node.input[1]
        guard b.shape.count == 2 else { throw ModelError.shapeMismatch("Gemm '\(ctx.name)': weight '\(bName)' has shape \(formatShape(b.shape)), not a matrix") }
        let transB = try ctx.int("transB", default: 0) != 0
        let (k, m) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == inShape[0] else {
            throw ModelError.shapeMismatch("Gemm '\(ctx.name)': weight '\(bName)' of shape \(formatShape(b.shape))\(transB ? " (transposed)" : "") expects \(k) input features but '\(ctx.node.input[0])' has \(inShape[0])")
        }
        let alpha = ctx.float("alpha", default: 1), beta = ctx.float("beta", default: 1)
        var weights = [Double](repeating: 0, count: m * k)
        for o in 0..<m {
            for i in 0..<k { weights[o * k + i] = alpha * (transB ? b.values[o * k + i] : b.values[i * m + o]) }
        }
        var bias = [Double](repeating: 0, count: m)
        if hasInput(ctx, 2) {
            let c = try constant(ctx, 2, role: "bias")
            if c.count == 1 {
                bias = [Double](repeating: beta * c.values[0], count: m)
            } else if c.count == m, c.shape.last == m {
                bias = c.values.map { beta * $0 }
            } else {
                throw ModelError.shapeMismatch("Gemm '\(ctx.name)': bias '\(ctx.node.input[2])' of shape \(formatShape(c.shape)) does not fit \(m) outputs")
            }
        }
        let dense = Dense(weights: Tensor(shape: [m, k], values: weights), bias: bias)
        output(ctx, layer: try append(Layer(name: ctx.name, operation: .dense(dense), inputs: [x], shape: [m])))
    }

    /// MatMul of a computed N×K tensor by a constant K×M matrix: a dense layer without bias (a
    /// following Add of a constant folds into its bias).
    func matMul(_ ctx: ONNXNodeContext) throws {
        if case .constant = try value(ctx, 0) {
            throw ctx.unsupported("MatMul with the computed tensor on the right; he-tool supports x·W with a constant W")
        }
        let x = try layerInput(ctx, 0)
        let inShape = layers[x].shape
        guard inShape.count == 1 else {
            throw ctx.unsupported("MatMul on '\(ctx.node.input[0])' of shape N×\(formatShape(inShape)); flatten it to N×features first")
        }
        let b = try constant(ctx, 1, role: "weight")
        guard b.shape.count == 2, b.shape[0] == inShape[0] else {
            throw ModelError.shapeMismatch("MatMul '\(ctx.name)': weight '\(ctx.node.input[1])' of shape \(formatShape(b.shape)) does not take \(inShape[0]) input features from '\(ctx.node.input[0])'")
        }
        let (k, m) = (b.shape[0], b.shape[1])
        var weights = [Double](repeating: 0, count: m * k)
        for o in 0..<m { for i in 0..<k { weights[o * k + i] = b.values[i * m + o] } }
        let dense = Dense(weights: Tensor(shape: [m, k], values: weights), bias: [Double](repeating: 0, count: m))
        output(ctx, layer: try append(Layer(name: ctx.name, operation: .dense(dense), inputs: [x], shape: [m])))
    }

    /// Inference BatchNormalization: an affine layer per channel, folded later into the
    /// neighbouring convolution or dense layer.
    func batchNorm(_ ctx: ONNXNodeContext) throws {
        if try ctx.int("training_mode", default: 0) != 0 {
            throw ctx.unsupported("BatchNormalization in training mode; export the model in eval mode (model.eval())")
        }
        let x = try layerInput(ctx, 0)
        let shape = layers[x].shape
        guard let channels = shape.first else { throw ctx.unsupported("BatchNormalization on a tensor without a channel axis") }
        var params: [[Double]] = []
        for (i, role) in ["scale", "bias", "mean", "variance"].enumerated() {
            let t = try constant(ctx, i + 1, role: role)
            guard t.count == channels else {
                throw ModelError.shapeMismatch("BatchNormalization '\(ctx.name)': \(role) '\(ctx.node.input[i + 1])' has \(t.count) entries but '\(ctx.node.input[0])' has \(channels) channels")
            }
            params.append(t.values)
        }
        let epsilon = ctx.float("epsilon", default: 1e-5)
        var scale = [Double](repeating: 0, count: channels), shift = scale
        for c in 0..<channels {
            guard params[3][c] + epsilon > 0 else { throw ctx.invalid("variance + epsilon of channel \(c) is not positive") }
            scale[c] = params[0][c] / (params[3][c] + epsilon).squareRoot()
            shift[c] = params[1][c] - params[2][c] * scale[c]
        }
        let layer = Layer(name: ctx.name, operation: .affine(ChannelAffine(scale: scale, shift: shift)), inputs: [x], shape: shape)
        output(ctx, layer: try append(layer))
    }
}
