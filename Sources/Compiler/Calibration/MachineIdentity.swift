import Foundation

/// What a calibration is keyed by: the CPU model and the number of logical cores, read from the
/// system, so that a cache copied to another machine is not trusted.
public enum MachineIdentity {
    public static var current: String {
        "\(cpuModel) × \(ProcessInfo.processInfo.activeProcessorCount)"
    }

    static var cpuModel: String {
        #if os(Linux)
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        #endif
        return ProcessInfo.processInfo.hostName
    }
}
