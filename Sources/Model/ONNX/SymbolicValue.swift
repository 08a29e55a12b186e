/// A value during import: a constant known now (weights, shapes, scalars), or a tensor computed
/// from the input, held as a polynomial p(x) of one materialized layer's output x. Elementwise
/// ONNX nodes (Add, Sub, Mul, Div, Pow, Neg with constants, and x·x of the same source) only
/// transform the polynomial; the polynomial becomes a layer when something else reads it. This is
/// how `x*x`, `Pow(x, 2)` and `a*x*x + b*x + c` fuse whatever order torch writes them in.
enum ImportValue {
    case constant(Tensor)
    case symbolic(SymbolicPolynomial)
}

/// p(x) = Σ coefficients[k][c]·x^k, applied elementwise to layer `source`'s output; rows hold one
/// coefficient (shared) or one per channel (the first axis of a sample).
struct SymbolicPolynomial {
    var source: Int
    var coefficients: [[Double]]
    /// ONNX nodes folded into this polynomial, for the layer's name.
    var nodes: NodeNames

    /// The layer's output itself: p(x) = x.
    static func identity(_ source: Int) -> SymbolicPolynomial {
        SymbolicPolynomial(source: source, coefficients: [[0], [1]], nodes: NodeNames())
    }

    var degree: Int {
        var d = coefficients.count - 1
        while d > 0, coefficients[d].allSatisfy({ $0 == 0 }) { d -= 1 }
        return d
    }

    var isIdentity: Bool {
        degree == 1 && coefficients[0].allSatisfy { $0 == 0 } && coefficients[1].allSatisfy { $0 == 1 }
    }

    /// Elementwise combination of two coefficient rows with broadcasting of single entries.
    static func combine(_ a: [Double], _ b: [Double], _ f: (Double, Double) -> Double) -> [Double] {
        if a.count == b.count { return zip(a, b).map(f) }
        if a.count == 1 { return b.map { f(a[0], $0) } }
        return a.map { f($0, b[0]) }
    }

    /// p + constant (per channel).
    func adding(_ constant: [Double], node: String) -> SymbolicPolynomial {
        var r = self
        r.coefficients[0] = Self.combine(coefficients[0], constant, +)
        r.nodes.append(node)
        return r
    }

    /// constant · p (per channel).
    func scaled(by factor: [Double], node: String) -> SymbolicPolynomial {
        var r = self
        r.coefficients = coefficients.map { Self.combine($0, factor, *) }
        r.nodes.append(node)
        return r
    }

    /// p + q for two polynomials of the same source.
    func adding(_ other: SymbolicPolynomial, node: String) -> SymbolicPolynomial {
        var rows: [[Double]] = []
        for k in 0..<max(coefficients.count, other.coefficients.count) {
            let a = k < coefficients.count ? coefficients[k] : [0]
            let b = k < other.coefficients.count ? other.coefficients[k] : [0]
            rows.append(Self.combine(a, b, +))
        }
        return SymbolicPolynomial(source: source, coefficients: rows, nodes: mergedNodes(other, node))
    }

    /// p · q for two polynomials of the same source.
    func multiplied(by other: SymbolicPolynomial, node: String) -> SymbolicPolynomial {
        let (da, db) = (degree, other.degree)
        var rows = [[Double]](repeating: [0], count: da + db + 1)
        for i in 0...da {
            for j in 0...db {
                let product = Self.combine(coefficients[i], other.coefficients[j], *)
                rows[i + j] = Self.combine(rows[i + j], product, +)
            }
        }
        return SymbolicPolynomial(source: source, coefficients: rows, nodes: mergedNodes(other, node))
    }

    private func mergedNodes(_ other: SymbolicPolynomial, _ node: String) -> NodeNames {
        var names = nodes.merged(with: other.nodes)
        names.append(node)
        return names
    }

    /// A name for the layer the polynomial becomes: its first and last ONNX node.
    var layerName: String {
        guard let first = nodes.first, let last = nodes.last else { return "" }
        return nodes.count == 1 ? first : "\(first) … \(last) (\(nodes.count) nodes)"
    }
}

/// The ONNX nodes folded into one polynomial, kept as the first, the last and how many: the
/// layer name needs no more, and a list would be copied at every node of a long chain (each
/// pending value holding its own list made a 20,000-node chain of `Add(x, 0)` take gigabytes).
struct NodeNames: Equatable {
    private(set) var first: String?
    private(set) var last: String?
    private(set) var count = 0

    mutating func append(_ name: String) {
        if first == nil { first = name }
        last = name
        count += 1
    }

    /// The names of both operands (x·x reads the same pending value twice: counted once).
    func merged(with other: NodeNames) -> NodeNames {
        if other == self || other.count == 0 { return self }
        if count == 0 { return other }
        return NodeNames(first: first, last: other.last, count: count + other.count)
    }
}
