import Foundation

/// The range table `he-tool audit` prints: per polynomial layer the largest |x| seen on the
/// calibration inputs, the trained range and whether the activations escape it.
public enum AuditReport {
    public static func text(_ rows: [RangeAudit.Row], inputNames: [String]) -> String {
        var table: [[String]] = [["layer", "degree", "max |x|", "trained range", "ratio", "status", "worst input", "name"]]
        for r in rows {
            let bound = r.trainedBound.map { "±" + String(format: "%.4g", $0) } ?? "unknown"
            let ratio = r.trainedBound.map { String(format: "%.2f", r.observedMaximum / $0) } ?? "-"
            let status = r.trainedBound == nil ? "no range" : (r.escapes ? "ESCAPES" : "ok")
            let worst = r.worstInput < inputNames.count ? inputNames[r.worstInput] : "\(r.worstInput)"
            table.append(["\(r.layer)", "\(r.degree)", String(format: "%.6g", r.observedMaximum), bound, ratio, status, worst, r.name])
        }
        var lines = GraphDescription.table(table)
        let escaping = rows.filter(\.escapes)
        if rows.isEmpty {
            lines.append("the model has no polynomial activations; nothing to audit")
        } else if rows.allSatisfy({ $0.trainedBound == nil }) {
            lines.append("no trained range known: add metadata \(RangeAudit.metadataKey) to the model or pass --range")
        } else if escaping.isEmpty {
            lines.append("all activations stay inside their trained range on \(inputNames.count) calibration input(s)")
        } else {
            lines.append("\(escaping.count) polynomial layer(s) see inputs outside their trained range: under encryption these give garbage, not an error. Retrain with a wider range, add normalization before the activation, or clip the inputs")
        }
        return lines.joined(separator: "\n")
    }
}
