/// Reading class scores out of a network's output.
public enum Classification {
    /// For each row of `logits` (N×classes), the `k` highest (class, score) pairs, best first;
    /// ties go to the lower class index.
    public static func topK(_ logits: Tensor, k: Int) -> [[(Int, Double)]] {
        let width = logits.shape.count >= 2 ? logits.shape[1...].reduce(1, *) : logits.count
        guard width > 0 else { return [] }
        let rows = logits.count / width
        return (0..<rows).map { r in
            let row = Array(logits.values[(r * width)..<((r + 1) * width)])
            let order = row.indices.sorted { row[$0] > row[$1] || row[$0] == row[$1] && $0 < $1 }
            return order.prefix(max(0, k)).map { ($0, row[$0]) }
        }
    }

    /// The fraction of rows whose top class equals the label (rows beyond the labels are ignored).
    public static func accuracy(_ logits: Tensor, labels: [Int]) -> Double {
        let predictions = topK(logits, k: 1).map { $0.first?.0 ?? -1 }
        let n = min(predictions.count, labels.count)
        guard n > 0 else { return 0 }
        return Double(zip(predictions.prefix(n), labels.prefix(n)).filter { $0 == $1 }.count) / Double(n)
    }
}
