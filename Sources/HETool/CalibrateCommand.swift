import ArgumentParser
import CKKS
import Compiler
import Foundation
import HEMath

/// `he-tool calibrate`: measures the primitives the optimizer prices, per parameter set and level,
/// on this machine, and caches the table (the compiler runs it on first use).
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Time the CKKS primitives the optimizer prices, per parameter set and level, and cache the table.",
        discussion: """
        The table is cached under $HE_TOOL_CACHE, $XDG_CACHE_HOME/he-tool or ~/.cache/he-tool, keyed by
        this machine, the engine version and the thread count. --force measures again.
        """
    )

    @Option(parsing: .upToNextOption, help: "Parameter presets (names or JSON files); default: every built-in preset.")
    var params: [String] = []

    @Option(help: "1: single-threaded kernels (as `eval --threads 1`); 2 or more: limbs in parallel.")
    var threads: Int = 2

    @Flag(help: "Measure again even when the cache has the presets.")
    var force = false

    @Flag(help: "Print the table as JSON.")
    var json = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let presets = try (params.isEmpty ? ParameterPreset.builtIn.map(\.name) : params).map { try ParameterPreset.named($0) }
        let cache = CalibrationCache(threads: threads)
        var table = try cache.ensure(presets, force: force, progress: log)
        if force && !table.profiles.isEmpty {
            // Profiles are measured by the compiler for the structures it meets: dropped here,
            // they are measured again (quietly, one hopes) on the next compile that needs them.
            log("dropping \(table.profiles.count) cost profile(s); the next compile measures the ones it needs again")
            table.profiles = []
            try cache.save(table)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(table), as: UTF8.self))
            return
        }
        print("calibration: \(table.machine), \(table.threads) thread(s), he-tool \(table.engineVersion); cache \(cache.file.path)")
        for profile in table.profiles {
            let rotate = Primitive.rotate.rawValue
            print("profile \(profile.key): levels \(profile.levels.map(String.init).joined(separator: "/")), rotate " + profile.levels.indices
                .map { String(format: "%.0f", profile.measured[rotate]?[$0] ?? .nan) }.joined(separator: "/") + " µs"
                + (profile.noisy.map { String(format: " (noisy: %.0f%%)", 100 * $0) } ?? ""))
        }
        for preset in presets {
            guard let set = table.costs(fingerprint: try preset.parameters().fingerprintHex) else { continue }
            print("\n\(set.name) (N = \(1 << set.logDegree)), microseconds per call")
            let columns = Primitive.allCases
            print("level" + columns.map { $0.rawValue.padding(toLength: 21, withPad: " ", startingAt: 0) }.reduce("  ") { $0 + $1 })
            let levels = set.microseconds[Primitive.add.rawValue]?.count ?? 0
            for level in stride(from: levels - 1, through: 0, by: -1) {
                let cells = columns.map { String(format: "%-21.1f", set.microseconds[$0.rawValue]?[level] ?? .nan) }
                print(String(format: "%5d  ", level) + cells.joined())
            }
        }
    }

    private func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
