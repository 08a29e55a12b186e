import Compiler
import Foundation

/// The process's peak resident set so far: the VmHWM of /proc/self/status (getrusage's
/// ru_maxrss where there is none). The commands print it beside their times, since memory is
/// what limits the large models.
enum PeakMemory {
    static var bytes: Int {
        // VmHWM first: getrusage's ru_maxrss survives exec, so a he-tool started by a large
        // process (a test runner) reported that process's peak (1.8 GB for MNIST's 0.67).
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Int(line.dropFirst("VmHWM:".count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") {
            return kb * 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    /// The resident set now (/proc/self/statm's second field, in pages); 0 where there is none.
    static var currentBytes: Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// In MB of 10^6 bytes, as every other size he-tool prints.
    static var megabytes: Double { Double(bytes) / 1e6 }

    /// "peak resident memory X MB (estimate Y MB, +Z%)": the measured peak beside the plan's estimate.
    static func beside(_ estimate: MemoryEstimate) -> String {
        String(format: "peak resident memory %.0f MB (estimate %.0f MB, measured %+.0f%%)", megabytes, Double(estimate.total) / 1e6,
               (Double(bytes) / Double(estimate.total) - 1) * 100)
    }
}
