/// Rewrites of a `Graph` that keep its outputs (up to rounding) and save levels under CKKS:
/// affine layers (BatchNorm, constant scalings) fold into the convolution or dense layer before
/// or after them, consecutive affine layers merge, zero padding folds into the next convolution,
/// and the constant factor of an activation c·x² moves into the next linear layer. `pruned`
/// drops layers nothing reads.
public enum GraphOptimizer {
    /// Folds every affine layer and zero padding that has a linear neighbour to fold into.
    public static func foldLinearLayers(_ graph: Graph) -> Graph {
        var g = graph
        var changed = true
        while changed {
            changed = false
            for i in g.layers.indices {
                let counts = g.consumerCounts
                guard counts[i] > 0 else { continue }
                switch g.layers[i].operation {
                case let .affine(a):
                    if foldBackward(&g, i, a, counts) || foldForward(&g, i, a, counts) { changed = true }
                case let .zeroPad(p):
                    if foldPadding(&g, i, p, counts) { changed = true }
                case let .polynomial(p):
                    if foldMonomialFactor(&g, i, p, counts) { changed = true }
                default: break
                }
                if changed { g = pruned(g); break }
            }
        }
        return g
    }

    /// Affine after conv2d / dense / affine whose output only it reads: scale that layer.
    private static func foldBackward(_ g: inout Graph, _ i: Int, _ a: ChannelAffine, _ counts: [Int]) -> Bool {
        let j = g.layers[i].inputs[0]
        guard counts[j] == 1, j != g.output else { return false }
        switch g.layers[j].operation {
        case var .conv2d(c):
            let block = c.inChannels * c.kernelH * c.kernelW
            for o in 0..<c.outChannels {
                for k in 0..<block { c.weights.values[o * block + k] *= a.scale(o) }
                c.bias[o] = c.bias[o] * a.scale(o) + a.shift(o)
            }
            g.layers[j].operation = .conv2d(c)
        case var .dense(d):
            for o in 0..<d.outFeatures {
                for k in 0..<d.inFeatures { d.weights.values[o * d.inFeatures + k] *= a.scale(o) }
                d.bias[o] = d.bias[o] * a.scale(o) + a.shift(o)
            }
            g.layers[j].operation = .dense(d)
        case let .affine(first):
            let scale = SymbolicPolynomial.combine(first.scale, a.scale, *)
            let shift = SymbolicPolynomial.combine(SymbolicPolynomial.combine(first.shift, a.scale, *), a.shift, +)
            g.layers[j].operation = .affine(ChannelAffine(scale: scale, shift: shift))
        default:
            return false
        }
        g.layers[j].name += " + " + g.layers[i].name
        redirect(&g, from: i, to: j)
        return true
    }

    /// Affine read only by a conv2d (exact when the shift is zero or the convolution has no
    /// padding), a dense layer, or a flatten read only by a dense layer: scale the reader's inputs.
    private static func foldForward(_ g: inout Graph, _ i: Int, _ a: ChannelAffine, _ counts: [Int]) -> Bool {
        guard let (k, target) = scaleReader(&g, of: i, by: a, counts) else { return false }
        g.layers[k].inputs = [g.layers[i].inputs[0]]
        g.layers[target].name = g.layers[i].name + " + " + g.layers[target].name
        return true
    }

    /// Multiplies the inputs of the sole reader of layer `i` by the affine map `a` (per channel of
    /// `i`'s output) by changing the reader's weights: a conv2d (shift only without padding), a
    /// dense layer, or a flatten whose sole reader is dense. Returns the reader and the layer
    /// whose weights changed, or nil (nothing changed) when there is no such reader.
    private static func scaleReader(_ g: inout Graph, of i: Int, by a: ChannelAffine, _ counts: [Int]) -> (reader: Int, changed: Int)? {
        guard counts[i] == 1, i != g.output, let k = g.layers.indices.first(where: { g.layers[$0].inputs.contains(i) }) else { return nil }
        let shape = g.layers[i].shape
        switch g.layers[k].operation {
        case var .conv2d(c):
            guard c.padding.isZero || a.shift.allSatisfy({ $0 == 0 }) else { return nil }
            let taps = c.kernelH * c.kernelW
            for o in 0..<c.outChannels {
                for ch in 0..<c.inChannels {
                    for t in 0..<taps {
                        let idx = (o * c.inChannels + ch) * taps + t
                        c.bias[o] += c.weights.values[idx] * a.shift(ch)
                        c.weights.values[idx] *= a.scale(ch)
                    }
                }
            }
            g.layers[k].operation = .conv2d(c)
            return (k, k)
        case let .dense(d):
            g.layers[k].operation = .dense(foldIntoDense(d, a, channelBlock: 1, channels: shape[0]))
            return (k, k)
        case .flatten:
            guard counts[k] == 1, k != g.output, let m = g.layers.indices.first(where: { g.layers[$0].inputs.contains(k) }),
                  case let .dense(d) = g.layers[m].operation else { return nil }
            let block = shape.dropFirst().reduce(1, *)
            g.layers[m].operation = .dense(foldIntoDense(d, a, channelBlock: block, channels: shape[0]))
            return (k, m)
        default:
            return nil
        }
    }

    /// A polynomial c·x^(2^k) (c per channel, no other terms) read only by a linear layer: the
    /// factor c moves into that layer's weights and the activation becomes the bare power, which
    /// saves one level (x² has depth 1, c·x² depth 2).
    private static func foldMonomialFactor(_ g: inout Graph, _ i: Int, _ p: PolynomialActivation, _ counts: [Int]) -> Bool {
        let d = p.degree
        guard d >= 1, d & (d - 1) == 0, p.multiplicativeDepth > ceilLog2(d),
              (0..<d).allSatisfy({ k in p.coefficients[k].allSatisfy { $0 == 0 } }),
              !p.coefficients[d].contains(0) else { return false }
        guard let (_, target) = scaleReader(&g, of: i, by: ChannelAffine(scale: p.coefficients[d], shift: [0]), counts) else { return false }
        g.layers[i].operation = .polynomial(PolynomialActivation(coefficients: [[Double]](repeating: [0], count: d) + [[1]]))
        g.layers[target].name += " (× the activation's factor)"
        return true
    }

    /// W'[o][f] = W[o][f]·s(c(f)), b'[o] = b[o] + Σ_f W[o][f]·t(c(f)) with c(f) = f / block.
    private static func foldIntoDense(_ d: Dense, _ a: ChannelAffine, channelBlock block: Int, channels: Int) -> Dense {
        var d = d
        for o in 0..<d.outFeatures {
            for f in 0..<d.inFeatures {
                let c = (f / block) % channels
                let idx = o * d.inFeatures + f
                d.bias[o] += d.weights.values[idx] * a.shift(c)
                d.weights.values[idx] *= a.scale(c)
            }
        }
        return d
    }

    private static func foldPadding(_ g: inout Graph, _ i: Int, _ p: Padding2d, _ counts: [Int]) -> Bool {
        guard counts[i] == 1, i != g.output, let k = g.layers.indices.first(where: { g.layers[$0].inputs.contains(i) }),
              case var .conv2d(c) = g.layers[k].operation else { return false }
        c.padding = Padding2d(top: c.padding.top + p.top, left: c.padding.left + p.left,
                              bottom: c.padding.bottom + p.bottom, right: c.padding.right + p.right)
        g.layers[k].operation = .conv2d(c)
        g.layers[k].inputs = [g.layers[i].inputs[0]]
        g.layers[k].name = g.layers[i].name + " + " + g.layers[k].name
        return true
    }

    private static func redirect(_ g: inout Graph, from old: Int, to new: Int) {
        for l in g.layers.indices { g.layers[l].inputs = g.layers[l].inputs.map { $0 == old ? new : $0 } }
        if g.output == old { g.output = new }
    }

    /// The graph without layers the output does not depend on, renumbered (input stays 0).
    public static func pruned(_ graph: Graph) -> Graph {
        var live = [Bool](repeating: false, count: graph.layers.count)
        live[0] = true
        live[graph.output] = true
        for i in stride(from: graph.layers.count - 1, through: 0, by: -1) where live[i] {
            for j in graph.layers[i].inputs { live[j] = true }
        }
        var newIndex = [Int](repeating: -1, count: graph.layers.count)
        var layers: [Layer] = []
        for (i, layer) in graph.layers.enumerated() where live[i] {
            var l = layer
            l.inputs = l.inputs.map { newIndex[$0] }
            newIndex[i] = layers.count
            layers.append(l)
        }
        var g = graph
        g.layers = layers
        g.output = newIndex[graph.output]
        return g
    }
}
