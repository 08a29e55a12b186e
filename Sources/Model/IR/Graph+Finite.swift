extension Graph {
    /// Throws when a weight, bias or coefficient of a layer is NaN or infinite (a model whose
    /// training diverged, or one whose folding overflowed), naming the layer and the value: every
    /// result computed from it would be meaningless, and under CKKS it would be noise.
    /// - Throws: `ModelError.invalidFile`.
    public func checkFiniteParameters() throws {
        for (index, layer) in layers.enumerated() {
            for (role, values) in layer.parameterLists {
                if let i = values.firstIndex(where: { !$0.isFinite }) {
                    throw ModelError.invalidFile("layer \(index) ('\(layer.name)', \(layer.operation.kind)) has \(role) \(values[i]) at entry \(i); he-tool refuses weights that are not finite numbers: the training diverged, a constant overflowed, or the file is corrupted")
                }
            }
        }
    }
}

extension Layer {
    /// The layer's numbers by role, for checks and audits.
    var parameterLists: [(String, [Double])] {
        switch operation {
        case let .conv2d(c): return [("weight", c.weights.values), ("bias", c.bias)]
        case let .dense(d): return [("weight", d.weights.values), ("bias", d.bias)]
        case let .affine(a): return [("scale", a.scale), ("shift", a.shift)]
        case let .polynomial(p): return p.coefficients.enumerated().map { ("coefficient of x^\($0.offset)", $0.element) }
        case .input, .averagePool, .globalAveragePool, .flatten, .reshape, .zeroPad, .add, .concat: return []
        }
    }
}
