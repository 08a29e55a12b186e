import Foundation

/// Classification results, one schema for `predict --json`, `decrypt --json` and `demo --json`:
///
///     {"outputs": [{"input": NAME, "logits": [...], "top": [{"class": C, "name": LABEL, "score": S}, ...]}, ...]}
///
/// `name` is present when the model names its classes; a non-finite logit is null (JSON has no
/// NaN). Encoded with `JSONEncoder`, so every string is escaped as JSON requires. Before this
/// type, `predict` wrote `top` as `[[class, score]]` and `decrypt` built `[{class, name, score}]`
/// by hand, escaping only quotes.
public struct ClassificationReport: Codable, Sendable, Equatable {
    public struct Ranked: Codable, Sendable, Equatable {
        public var `class`: Int
        public var name: String?
        public var score: Double?
    }

    public struct Output: Codable, Sendable, Equatable {
        public var input: String
        public var logits: [Double?]
        public var top: [Ranked]
    }

    public var outputs: [Output]

    /// One output per row of `scores`, named by `inputs`, with its `k` best classes (ties: the
    /// lower class first; non-finite scores last). `decimals` rounds the logits (the client
    /// profile's precision for decrypted results).
    public init(inputs: [String], scores: [[Double]], classNames: [String]?, k: Int, decimals: Int? = nil) {
        precondition(inputs.count == scores.count, "one name per row")
        let unit = decimals.map { pow(10, Double($0)) }
        func rounded(_ x: Double) -> Double? {
            guard x.isFinite else { return nil }
            return unit.map { (x * $0).rounded() / $0 } ?? x
        }
        outputs = zip(inputs, scores).map { input, row in
            let order = row.indices.sorted { a, b in
                let x = row[a], y = row[b]
                if x.isFinite && y.isFinite { return x > y || (x == y && a < b) }
                if x.isFinite != y.isFinite { return x.isFinite }
                return a < b
            }
            let top = order.prefix(max(0, k)).map { c in
                Ranked(class: c, name: classNames.flatMap { c < $0.count ? $0[c] : nil }, score: rounded(row[c]))
            }
            return Output(input: input, logits: row.map(rounded), top: Array(top))
        }
    }

    /// The report as one line of JSON (keys sorted, so the output is stable).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// One line per input: `NAME: class (label): score, …`.
    public func text() -> String {
        outputs.map { o in
            "\(o.input): " + o.top.map { r in
                "\(r.class)\(r.name.map { " (\($0))" } ?? ""): " + (r.score.map { String(format: "%.6g", $0) } ?? "nan")
            }.joined(separator: ", ")
        }.joined(separator: "\n")
    }
}

extension Graph {
    /// Class names from the `he_tool.class_names` metadata (a JSON list), when it has exactly
    /// one per output (`count`); empty otherwise.
    public func classNames(count: Int) -> [String] {
        guard let text = metadata["he_tool.class_names"],
              let names = try? JSONDecoder().decode([String].self, from: Data(text.utf8)), names.count == count else { return [] }
        return names
    }
}
