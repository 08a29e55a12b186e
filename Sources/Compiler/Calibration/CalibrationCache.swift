import CKKS
import Foundation
import HEMath

/// The calibration table on disk: one JSON file per engine version and thread count under the
/// user's cache directory ($HE_TOOL_CACHE, else $XDG_CACHE_HOME/he-tool, else ~/.cache/he-tool),
/// holding the machine it was measured on. A table from another machine or version is not used.
public struct CalibrationCache {
    public let directory: URL
    public let threads: Int
    /// What `model(for:)` keeps between calls in this process (shared by copies of the cache).
    private let memo = Memo()

    public init(directory: URL? = nil, threads: Int) {
        self.directory = directory ?? CalibrationCache.defaultDirectory
        self.threads = threads
    }

    public static var defaultDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let path = env["HE_TOOL_CACHE"], !path.isEmpty { return URL(fileURLWithPath: path) }
        if let path = env["XDG_CACHE_HOME"], !path.isEmpty { return URL(fileURLWithPath: path).appendingPathComponent("he-tool") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/he-tool")
    }

    public var file: URL {
        directory.appendingPathComponent("calibration-\(EngineVersion.calibrationKey)-\(threads)t.json")
    }

    /// The cached table for this machine, version and thread count; nil when there is none (or
    /// it was measured elsewhere). A damaged file is an error naming it.
    public func load() throws -> CostTable? {
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        // A table of another format (an older he-tool's) is measured again, not an error.
        struct Header: Decodable { var format_version: Int }
        if let header = try? JSONDecoder().decode(Header.self, from: data), header.format_version < CostTable.formatVersion { return nil }
        let table: CostTable
        do {
            table = try JSONDecoder().decode(CostTable.self, from: data)
        } catch {
            throw CompilerError.invalidCalibration("\(file.path) is not a calibration table (\(error)); delete it or run `he-tool calibrate`")
        }
        do { try table.validate() } catch let error as CompilerError {
            throw CompilerError.invalidCalibration("\(file.path): \(error); delete it or run `he-tool calibrate`")
        }
        guard table.machine == MachineIdentity.current, table.engineVersion == EngineVersion.calibrationKey,
              table.threads == threads else { return nil }
        return table
    }

    /// Writes the table atomically (temporary file, then rename).
    public func save(_ table: CostTable) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            // StagedFile rather than Data.write(options: .atomic): Foundation's atomic write on
            // Linux leaves an empty TemporaryDirectory.* behind in /tmp on every save.
            try StagedFile(Array(encoder.encode(table)), to: file, ownerOnly: false).commit()
        } catch {
            throw CompilerError.fileSystem("cannot write the calibration cache \(file.path): \(error.localizedDescription)")
        }
    }

    /// The cached table, or an empty one for this machine when there is none or it is damaged
    /// (said through `progress`; it is replaced on the next save).
    func loadOrFresh(progress: (String) -> Void) -> CostTable {
        do {
            if let table = try load() { return table }
        } catch {
            progress("\(error); measuring afresh")
        }
        return CostTable(machine: MachineIdentity.current, engineVersion: EngineVersion.calibrationKey, threads: threads)
    }

    /// The table with every requested preset calibrated: cached ones are reused, missing ones are
    /// measured now (`progress` is told, so the caller can say so) and the cache is updated.
    /// A damaged cache is replaced after a note through `progress`; `force` measures every
    /// requested preset again.
    public func ensure(_ presets: [ParameterPreset], force: Bool = false, calibrator: Calibrator = Calibrator(),
                       progress: (String) -> Void = { _ in }) throws -> CostTable {
        var table = loadOrFresh(progress: progress)
        var changed = measureRatesIfMissing(&table, force: force, calibrator: calibrator, progress: progress)
        for preset in presets {
            let parameters = try preset.parameters()
            if !force, table.costs(fingerprint: parameters.fingerprintHex) != nil { continue }
            progress("calibrating \(preset.name) on this machine (once; cached in \(file.path))")
            let policy = ExecutionPolicy(threads: threads)
            table.merge(try policy.run { try calibrator.calibrate(name: preset.name, parameters: parameters, progress: progress) })
            changed = true
        }
        if changed { try save(table) }
        return table
    }

    /// The cost model of `parameters` from its family's profile (`CostProfile`), measured now
    /// when this machine has none deep enough (`progress` says so, and says when the
    /// measurements were noisy: measured once, `Calibrator.remeasureNoisyProfiles`) and cached.
    public func model(for parameters: CKKSParameters, name: String, calibrator: Calibrator = Calibrator(remeasureNoisyProfiles: false),
                      progress: (String) -> Void = { _ in }) throws -> CostModel {
        var table = memo.table ?? loadOrFresh(progress: progress)
        var changed = measureRatesIfMissing(&table, calibrator: calibrator, progress: progress)
        if table.profile(for: parameters) == nil {
            let key = CostProfile.Key(parameters)
            progress("calibrating \(key) on this machine (a few levels, once for every plan of that structure; cached in \(file.path))")
            table.merge(try ExecutionPolicy(threads: threads).run { try calibrator.profile(for: parameters, progress: progress) })
            changed = true
        }
        if changed { try save(table) }
        // The optimizer asks for every candidate: the file is read once per process.
        memo.table = table
        let profile = table.profile(for: parameters)!
        if profile.noisy != nil || profile.busy != nil, memo.noted.insert("\(profile.key)").inserted {
            let why = profile.noisy.map { String(format: "disagreed with itself by %.0f%%", 100 * $0) } ?? "ran on a busy machine (\(profile.busy!))"
            progress("note: the calibration of \(profile.key) \(why); estimates may be off: run `he-tool calibrate --force` on a quiet machine")
        }
        return CostModel(costs: try profile.costs(for: parameters, name: name),
                         firstTouchMicrosecondsPerMB: table.firstTouchMicrosecondsPerMB ?? 0,
                         keyReadMicrosecondsPerMB: table.keyReadMicrosecondsPerMB ?? 0)
    }

    /// Measures the machine's rates a table holds beside its profiles, each when the table has
    /// none (or `force`) and the calibrator takes it: the first-touch cost (`FirstTouchCost`,
    /// with the cache's threads) and the cost of reading Galois keys from their file
    /// (`KeyReadCost`: one thread per read, as an evaluation's workers read them). True when
    /// either was measured.
    func measureRatesIfMissing(_ table: inout CostTable, force: Bool = false, calibrator: Calibrator,
                               progress: (String) -> Void) -> Bool {
        func measure(_ rate: WritableKeyPath<CostTable, Double?>, what: String, on threadNote: String,
                     _ probe: (() -> Double?)?) -> Bool {
            guard force || table[keyPath: rate] == nil, let probe else { return false }
            progress("measuring what \(what) costs on this machine (once; cached in \(file.path))")
            guard let measured = probe() else { return false }
            progress(String(format: "%@: %.0f µs per MB %@", what, measured, threadNote))
            table[keyPath: rate] = measured
            return true
        }
        let threads = self.threads
        let touched = measure(\.firstTouchMicrosecondsPerMB, what: "memory touched for the first time", on: "on \(threads) thread(s)",
                              calibrator.firstTouch.map { probe in { probe.measure(threads: threads) } })
        let read = measure(\.keyReadMicrosecondsPerMB, what: "reading evaluation keys from their file", on: "on one thread",
                           calibrator.keyRead.map { probe in { probe.measure(threads: 1) } })
        return touched || read
    }
}

/// The table as last read or written, and the profiles whose noise was already reported (once
/// per process, not per candidate plan).
final class Memo: @unchecked Sendable {
    var table: CostTable?
    var noted = Set<String>()
}
