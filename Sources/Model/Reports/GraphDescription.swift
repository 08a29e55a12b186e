/// The text `he-tool inspect` prints: one line per layer with its shape, the fused polynomials,
/// the parameter count and the multiplicative depth.
public enum GraphDescription {
    public static func text(_ graph: Graph, fileName: String) -> String {
        let depths = graph.cumulativeDepths
        var rows: [[String]] = [["#", "layer", "reads", "output", "params", "depth", "details"]]
        for (i, layer) in graph.layers.enumerated() {
            rows.append([
                "\(i)", layer.operation.kind,
                layer.inputs.isEmpty ? "-" : layer.inputs.map(String.init).joined(separator: ","),
                "N×" + formatShape(layer.shape), "\(parameters(layer))", "\(depths[i])", details(layer),
            ])
        }
        var lines = ["\(fileName): input '\(graph.inputName)' N×\(formatShape(graph.inputShape)) (batch \(graph.batchSize.map(String.init) ?? "dynamic")), output '\(graph.outputName)' N×\(formatShape(graph.outputShape))"]
        lines += table(rows)
        let polys = graph.polynomialLayers
        lines.append("")
        lines.append("layers: \(graph.layers.count - 1), parameters: \(graph.parameterCount), multiplicative depth: \(graph.multiplicativeDepth) (\(graph.foldedMultiplicativeDepth) once affines, pooling and the polynomials' leading coefficients fold into linear layers, as compile does), polynomial activations: \(polys.count)")
        for p in polys {
            guard case let .polynomial(poly) = graph.layers[p].operation else { continue }
            lines.append("  layer \(p) (\(graph.layers[p].name)): degree \(poly.degree), depth \(poly.multiplicativeDepth), \(poly.formula)")
        }
        for key in [Preprocessing.metadataKey, RangeAudit.metadataKey] {
            if let value = graph.metadata[key] { lines.append("metadata \(key): \(value)") }
        }
        for note in graph.notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }

    static func parameters(_ layer: Layer) -> Int {
        switch layer.operation {
        case let .conv2d(c): return c.weights.count + c.bias.count
        case let .dense(d): return d.weights.count + d.bias.count
        case let .affine(a): return a.scale.count + a.shift.count
        case let .polynomial(p): return p.coefficients.reduce(0) { $0 + $1.count }
        default: return 0
        }
    }

    static func details(_ layer: Layer) -> String {
        func pads(_ p: Padding2d) -> String { p.isZero ? "" : ", pads t\(p.top) l\(p.left) b\(p.bottom) r\(p.right)" }
        switch layer.operation {
        case .input: return layer.name
        case let .conv2d(c):
            return "\(c.outChannels)×\(c.inChannels)×\(c.kernelH)×\(c.kernelW), stride \(c.strideH)×\(c.strideW)\(pads(c.padding))  [\(layer.name)]"
        case let .dense(d): return "\(d.outFeatures)×\(d.inFeatures)  [\(layer.name)]"
        case let .affine(a): return "\(a.scale.count == 1 ? "shared" : "per channel") scale and shift  [\(layer.name)]"
        case let .averagePool(p):
            return "\(p.kernelH)×\(p.kernelW), stride \(p.strideH)×\(p.strideW)\(pads(p.padding))\(p.countIncludePad ? ", padding counted" : "")  [\(layer.name)]"
        case let .polynomial(p): return "degree \(p.degree)\(p.isShared ? "" : ", per channel")  [\(layer.name)]"
        case let .zeroPad(p): return "t\(p.top) l\(p.left) b\(p.bottom) r\(p.right)  [\(layer.name)]"
        default: return "[\(layer.name)]"
        }
    }

    /// Columns padded to their widest cell (the last column unpadded).
    static func table(_ rows: [[String]]) -> [String] {
        guard let columns = rows.first?.count else { return [] }
        let widths = (0..<columns).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                c == columns - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }
}

import Foundation
