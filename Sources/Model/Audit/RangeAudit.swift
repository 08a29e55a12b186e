import Foundation

/// The range audit: on calibration inputs, the largest |x| that reaches each polynomial
/// activation, beside the range [−B, B] the model was trained for. A polynomial is only a good
/// activation inside that range; outside it grows fast, and under encryption the result is
/// garbage rather than an error ("escaping activations"). The audit catches it in plaintext.
///
/// Trained ranges come from the ONNX metadata key `he_tool.activation_ranges` (JSON: one number
/// B for every polynomial layer, or an array with one B per polynomial layer in network order)
/// or from the caller (`--range`).
public enum RangeAudit {
    public static let metadataKey = "he_tool.activation_ranges"

    /// One polynomial layer's line of the report.
    public struct Row: Equatable, Sendable {
        public var layer: Int
        public var name: String
        public var degree: Int
        /// Largest |x| over every element of every calibration input.
        public var observedMaximum: Double
        /// Index of the calibration input where it occurred.
        public var worstInput: Int
        /// B of the trained range [−B, B], when known.
        public var trainedBound: Double?
        /// True when the observed maximum exceeds the trained bound.
        public var escapes: Bool { trainedBound.map { observedMaximum > $0 } ?? false }
    }

    /// The trained bounds from the graph's metadata (one per polynomial layer), or nil.
    public static func trainedBounds(of graph: Graph) throws -> [Double]? {
        guard let text = graph.metadata[metadataKey] else { return nil }
        let json = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        let count = graph.polynomialLayers.count
        let bounds: [Double]
        if let single = json as? Double {
            bounds = [Double](repeating: single, count: count)
        } else if let list = json as? [Double], list.count == count {
            bounds = list
        } else {
            throw ModelError.invalidArgument("metadata \(metadataKey) should be a number or a list of \(count) numbers (one per polynomial layer), got \(text)")
        }
        guard bounds.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw ModelError.invalidArgument("metadata \(metadataKey) holds a bound that is not a positive number: \(text)")
        }
        return bounds
    }

    /// Runs the graph on `calibration` (N×sample) in chunks and returns one row per polynomial
    /// layer. `bounds` overrides the metadata: one number for all layers or one per layer.
    public static func run(_ graph: Graph, calibration: Tensor, bounds override: [Double]? = nil, chunk: Int = 256) throws -> [Row] {
        let polys = graph.polynomialLayers
        var bounds = try trainedBounds(of: graph)
        if let override {
            guard override.count == 1 || override.count == polys.count, override.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw ModelError.invalidArgument("give one positive range for all \(polys.count) polynomial layers or one per layer, got \(override)")
            }
            bounds = override.count == 1 ? [Double](repeating: override[0], count: polys.count) : override
        }
        let sources = Set(polys.map { graph.layers[$0].inputs[0] })
        var maxima = [Double](repeating: 0, count: polys.count)
        var worst = [Int](repeating: 0, count: polys.count)
        let n = calibration.shape.first ?? 0
        guard n > 0 else { throw ModelError.invalidArgument("the range audit needs at least one calibration input") }
        let sampleSize = calibration.count / n
        var start = 0
        while start < n {
            let end = min(start + chunk, n)
            let part = Tensor(shape: [end - start] + calibration.shape.dropFirst(),
                              values: Array(calibration.values[(start * sampleSize)..<(end * sampleSize)]))
            var g = graph
            g.batchSize = nil
            let outputs = try PlainExecutor.runRecordingAll(g, input: part, keep: sources)
            for (k, p) in polys.enumerated() {
                let x = outputs[graph.layers[p].inputs[0]]!
                let block = x.count / (end - start)
                for (j, v) in x.values.enumerated() where abs(v) > maxima[k] || !v.isFinite {
                    maxima[k] = v.isFinite ? abs(v) : .infinity
                    worst[k] = start + j / block
                }
            }
            start = end
        }
        return polys.enumerated().compactMap { k, p in
            guard case let .polynomial(poly) = graph.layers[p].operation else { return nil }
            return Row(layer: p, name: graph.layers[p].name, degree: poly.degree, observedMaximum: maxima[k],
                       worstInput: worst[k], trainedBound: bounds?[k])
        }
    }
}
