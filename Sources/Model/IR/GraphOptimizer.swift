/// Rewrites of a `Graph` that keep its outputs (up to rounding) and save levels under CKKS:
/// affine layers (BatchNorm, constant scalings) fold into the convolution or dense layer before
/// or after them, consecutive affine layers merge, zero padding folds into the next convolution,
/// and the constant factor of an activation c·x² moves into the next linear layer. `pruned`
/// drops layers nothing reads.
public enum GraphOptimizer {
    /// Folds every affine layer and zero padding that has a linear neighbour to fold into.
    ///
    /// Layers are tried lowest index first; after a fold only the layers around it are tried
    /// again (a fold changes what its neighbours can do, nothing else), and each layer's readers
    /// are kept in a list, so the work is linear in the number of layers (plus the weights each
    /// fold scales) instead of a rescan and renumbering of the whole graph per fold.
    public static func foldLinearLayers(_ graph: Graph) -> Graph {
        var f = Folding(graph)
        var pending = MinimumQueue(Array(graph.layers.indices))
        while let i = pending.pop() {
            guard f.count(i) > 0 else { continue }
            let touched: [Int]?
            switch f.g.layers[i].operation {
            case let .affine(a): touched = foldBackward(&f, i, a) ?? foldForward(&f, i, a)
            case let .zeroPad(p): touched = foldPadding(&f, i, p)
            case let .polynomial(p): touched = foldMonomialFactor(&f, i, p)
            default: touched = nil
            }
            guard let touched else { continue }
            // Every layer whose fold conditions read something the fold changed: the changed
            // layers, their inputs (whose reader changed) and their readers (whose input did).
            var again = Set(touched)
            for t in touched where f.count(t) > 0 || t == i {
                again.formUnion(f.g.layers[t].inputs)
                again.formUnion(f.readers[t])
            }
            for t in again { pending.push(t) }
        }
        return pruned(f.g)
    }

    /// A graph being folded and the readers of each layer (one entry per operand, so a layer read
    /// twice by an add counts twice); dead layers keep their place until the final `pruned`.
    struct Folding {
        var g: Graph
        var readers: [[Int]]

        init(_ graph: Graph) {
            g = graph
            readers = [[Int]](repeating: [], count: graph.layers.count)
            for (i, layer) in graph.layers.enumerated() { for j in layer.inputs { readers[j].append(i) } }
        }

        /// How many read layer `i`'s output (the network output counts as one reader).
        func count(_ i: Int) -> Int { readers[i].count + (i == g.output ? 1 : 0) }

        /// The sole reader of `i`, when `i` is read exactly once and is not the output.
        func soleReader(_ i: Int) -> Int? {
            guard i != g.output, readers[i].count == 1 else { return nil }
            return readers[i][0]
        }

        /// Layer `i` (one input) leaves the graph: its sole reader `k` reads `i`'s input instead.
        mutating func bypass(_ i: Int, reader k: Int) {
            let x = g.layers[i].inputs[0]
            g.layers[k].inputs = [x]
            if let r = readers[x].firstIndex(of: i) { readers[x][r] = k }
            readers[i] = []
        }
    }

    /// Affine after conv2d / dense / affine whose output only it reads: scale that layer.
    /// Returns the layers changed, or nil when nothing was folded.
    private static func foldBackward(_ f: inout Folding, _ i: Int, _ a: ChannelAffine) -> [Int]? {
        let j = f.g.layers[i].inputs[0]
        guard f.soleReader(j) == i else { return nil }
        switch f.g.layers[j].operation {
        case var .conv2d(c):
            let block = c.inChannels * c.kernelH * c.kernelW
            for o in 0..<c.outChannels {
                for k in 0..<block { c.weights.values[o * block + k] *= a.scale(o) }
                c.bias[o] = c.bias[o] * a.scale(o) + a.shift(o)
            }
            f.g.layers[j].operation = .conv2d(c)
        case var .dense(d):
            for o in 0..<d.outFeatures {
                for k in 0..<d.inFeatures { d.weights.values[o * d.inFeatures + k] *= a.scale(o) }
                d.bias[o] = d.bias[o] * a.scale(o) + a.shift(o)
            }
            f.g.layers[j].operation = .dense(d)
        case let .affine(first):
            let scale = SymbolicPolynomial.combine(first.scale, a.scale, *)
            let shift = SymbolicPolynomial.combine(SymbolicPolynomial.combine(first.shift, a.scale, *), a.shift, +)
            f.g.layers[j].operation = .affine(ChannelAffine(scale: scale, shift: shift))
        default:
            return nil
        }
        f.g.layers[j].name += " + " + f.g.layers[i].name
        // Everything that read i reads j now; i is read by nobody.
        let readersOfI = f.readers[i]
        f.readers[j] = []
        for r in readersOfI {
            f.g.layers[r].inputs = f.g.layers[r].inputs.map { $0 == i ? j : $0 }
            f.readers[j].append(r)
        }
        f.readers[i] = []
        if f.g.output == i { f.g.output = j }
        return [i, j] + readersOfI
    }

    /// Affine read only by a conv2d (exact when the shift is zero or the convolution has no
    /// padding), a dense layer, or a flatten read only by a dense layer: scale the reader's inputs.
    private static func foldForward(_ f: inout Folding, _ i: Int, _ a: ChannelAffine) -> [Int]? {
        guard let (k, target) = scaleReader(&f, of: i, by: a) else { return nil }
        let x = f.g.layers[i].inputs[0]
        f.bypass(i, reader: k)
        f.g.layers[target].name = f.g.layers[i].name + " + " + f.g.layers[target].name
        return [i, x, k, target]
    }

    /// Multiplies the inputs of the sole reader of layer `i` by the affine map `a` (per channel of
    /// `i`'s output) by changing the reader's weights: a conv2d (shift only without padding), a
    /// dense layer, or a flatten whose sole reader is dense. Returns the reader and the layer
    /// whose weights changed, or nil (nothing changed) when there is no such reader.
    private static func scaleReader(_ f: inout Folding, of i: Int, by a: ChannelAffine) -> (reader: Int, changed: Int)? {
        guard let k = f.soleReader(i) else { return nil }
        let shape = f.g.layers[i].shape
        switch f.g.layers[k].operation {
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
            f.g.layers[k].operation = .conv2d(c)
            return (k, k)
        case let .dense(d):
            f.g.layers[k].operation = .dense(foldIntoDense(d, a, channelBlock: 1, channels: shape[0]))
            return (k, k)
        case .flatten:
            guard let m = f.soleReader(k), case let .dense(d) = f.g.layers[m].operation else { return nil }
            let block = shape.dropFirst().reduce(1, *)
            f.g.layers[m].operation = .dense(foldIntoDense(d, a, channelBlock: block, channels: shape[0]))
            return (k, m)
        default:
            return nil
        }
    }

    /// A polynomial c·x^(2^k) (c per channel, no other terms) read only by a linear layer: the
    /// factor c moves into that layer's weights and the activation becomes the bare power, which
    /// saves one level (x² has depth 1, c·x² depth 2).
    private static func foldMonomialFactor(_ f: inout Folding, _ i: Int, _ p: PolynomialActivation) -> [Int]? {
        let d = p.degree
        guard d >= 1, d & (d - 1) == 0, p.multiplicativeDepth > ceilLog2(d),
              (0..<d).allSatisfy({ k in p.coefficients[k].allSatisfy { $0 == 0 } }),
              !p.coefficients[d].contains(0) else { return nil }
        guard let (k, target) = scaleReader(&f, of: i, by: ChannelAffine(scale: p.coefficients[d], shift: [0])) else { return nil }
        f.g.layers[i].operation = .polynomial(PolynomialActivation(coefficients: [[Double]](repeating: [0], count: d) + [[1]]))
        f.g.layers[target].name += " (× the activation's factor)"
        return [i, k, target]
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

    private static func foldPadding(_ f: inout Folding, _ i: Int, _ p: Padding2d) -> [Int]? {
        guard let k = f.soleReader(i), case var .conv2d(c) = f.g.layers[k].operation else { return nil }
        c.padding = Padding2d(top: c.padding.top + p.top, left: c.padding.left + p.left,
                              bottom: c.padding.bottom + p.bottom, right: c.padding.right + p.right)
        let x = f.g.layers[i].inputs[0]
        f.g.layers[k].operation = .conv2d(c)
        f.bypass(i, reader: k)
        f.g.layers[k].name = f.g.layers[i].name + " + " + f.g.layers[k].name
        return [i, x, k]
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
