import Foundation

/// How busy the machine is while a calibration runs. A calibration measured while other work
/// competes for the cores is slow in every repetition alike, so its repetitions agree and the
/// noise check cannot see it (a profile measured beside two builds priced the bundled MNIST plan
/// 40% high). Two signs catch that: the load average before measuring, and the share of a core
/// the process got while measuring (its CPU time over the wall time: below one when it waited
/// for a core).
struct MachineLoad {
    /// The 1-minute load average (0 where the system does not say).
    var loadAverage: Double
    /// CPU seconds this process has used, and a monotonic wall clock in seconds.
    var cpuSeconds: Double
    var wallSeconds: Double

    static func sample() -> MachineLoad {
        var loads = [Double](repeating: 0, count: 3)
        let n = getloadavg(&loads, 3)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return MachineLoad(loadAverage: n >= 1 ? loads[0] : 0, cpuSeconds: cpu, wallSeconds: ProcessInfo.processInfo.systemUptime)
    }

    /// Why a measurement from `start` to `end` ran on a busy machine, nil when it did not: a load
    /// average of at least the core count before it, or less than 85% of a core while it ran.
    static func busy(from start: MachineLoad, to end: MachineLoad, cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> String? {
        let wall = end.wallSeconds - start.wallSeconds
        let share = wall > 0 ? (end.cpuSeconds - start.cpuSeconds) / wall : 1
        guard start.loadAverage >= Double(cores) || share < 0.85 else { return nil }
        return String(format: "load average %.1f on %d cores before measuring, %.0f%% of a core while measuring", start.loadAverage, cores, 100 * share)
    }
}
