import Foundation

/// The process's peak resident set so far (getrusage's ru_maxrss, which Linux reports in KB:
/// the VmHWM of /proc/self/status). The commands print it beside their times, since memory is
/// what limits the large models.
enum PeakMemory {
    static var megabytes: Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
