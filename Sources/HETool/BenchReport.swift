import Foundation

/// One benchmark's results, printed as a table or as JSON in the schema of `shared/bench`
/// (`library`, `params`, `unit`, `threads`, `reps`, `median`, `min`), so that keys compare
/// one to one with the peer scripts' output.
struct BenchReport {
    let title: String
    let params: [(String, String)]      // key, JSON value (already encoded)
    let threads: Int
    let reps: Int
    var rows: [(key: String, summary: Stopwatch.Summary)] = []
    /// Lines printed under the table (not in the JSON).
    var notes: [String] = []
    /// Object sizes in bytes (JSON key `bytes`).
    var sizes: [(key: String, bytes: Int)] = []

    func table() -> String {
        var lines = [title]
        let width = max(14, (rows.map(\.key.count) + sizes.map(\.key.count)).max() ?? 0)
        lines.append("operation".padding(toLength: width, withPad: " ", startingAt: 0)
                     + "  " + "median (us)".leftPadded(12) + "  " + "min (us)".leftPadded(10))
        for row in rows {
            lines.append(row.key.padding(toLength: width, withPad: " ", startingAt: 0)
                         + "  " + String(format: "%.3f", row.summary.median).leftPadded(12)
                         + "  " + String(format: "%.3f", row.summary.minimum).leftPadded(10))
        }
        for size in sizes {
            lines.append(size.key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + "\(size.bytes) bytes".leftPadded(12))
        }
        return (lines + notes).joined(separator: "\n")
    }

    func json() -> String {
        func object(_ pairs: [(String, String)]) -> String {
            "{" + pairs.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
        }
        func number(_ x: Double) -> String { String(format: "%.3f", x) }
        return object([
            ("library", "\"he-tool\""),
            ("version", "\"\(HETool.configuration.version)\""),
            ("params", object(params)),
            ("unit", "\"us\""),
            ("threads", "\(threads)"),
            ("reps", "\(reps)"),
            ("median", object(rows.map { ($0.key, number($0.summary.median)) })),
            ("min", object(rows.map { ($0.key, number($0.summary.minimum)) })),
        ] + (sizes.isEmpty ? [] : [("bytes", object(sizes.map { ($0.key, "\($0.bytes)") }))]))
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
