import Foundation
import Serve

/// Upload and download progress on a terminal (standard error), redrawn in place; nothing when
/// standard error is not a terminal or the command is quiet.
final class TerminalProgress: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var last = ""
    private var lastPercent = -1

    init(quiet: Bool) { enabled = !quiet && isatty(STDERR_FILENO) != 0 }

    var handler: ProgressHandler? {
        guard enabled else { return nil }
        return { [self] p in report(p) }
    }

    private func report(_ p: TransferProgress) {
        let percent = p.total.map { $0 > 0 ? p.bytes * 100 / $0 : 100 } ?? -1
        lock.withLock {
            guard percent != lastPercent || p.what != last else { return }
            lastPercent = percent
            last = p.what
            let amount = p.total.map { String(format: "%.1f/%.1f MB (%d%%)", Double(p.bytes) / 1e6, Double($0) / 1e6, percent) }
                ?? String(format: "%.1f MB", Double(p.bytes) / 1e6)
            let line = "\r\(p.direction == .upload ? "↑" : "↓") \(p.what) \(amount)"
            FileHandle.standardError.write(Data(line.padding(toLength: 72, withPad: " ", startingAt: 0).utf8))
            if percent == 100 { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }
}
