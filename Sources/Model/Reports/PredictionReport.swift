import Foundation

/// The output of `he-tool predict`: per input its logits and top-k classes, as a table or as
/// the JSON object `{"outputs": [{"input": NAME, "logits": [...], "top": [[class, score], ...]}, ...]}`.
public struct PredictionReport: Sendable {
    public struct Entry: Sendable {
        public var input: String
        public var logits: [Double]
        public var top: [(Int, Double)]
    }

    public var entries: [Entry]

    /// One entry per sample: `logits` is the executor's N×classes output for `names`.
    public init(names: [String], logits: Tensor, k: Int) {
        let top = Classification.topK(logits, k: k)
        let width = names.isEmpty ? 0 : logits.count / names.count
        entries = names.enumerated().map { i, name in
            Entry(input: name, logits: Array(logits.values[(i * width)..<((i + 1) * width)]), top: top[i])
        }
    }

    public func json() -> String {
        let items = entries.map { e in
            let logits = e.logits.map(Self.number).joined(separator: ", ")
            let top = e.top.map { "[\($0.0), \(Self.number($0.1))]" }.joined(separator: ", ")
            return "{\"input\": \(Self.string(e.input)), \"logits\": [\(logits)], \"top\": [\(top)]}"
        }
        return "{\"outputs\": [" + items.joined(separator: ", ") + "]}"
    }

    public func text(classNames: [String]? = nil) -> String {
        entries.map { e in
            let top = e.top.map { c, s in
                let label = classNames.flatMap { c < $0.count ? " (\($0[c]))" : nil } ?? ""
                return "\(c)\(label): \(String(format: "%.6g", s))"
            }
            return "\(e.input): " + top.joined(separator: ", ")
        }.joined(separator: "\n")
    }

    /// A JSON number; non-finite values (which JSON cannot hold) become null.
    static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

    /// A JSON string literal.
    static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
