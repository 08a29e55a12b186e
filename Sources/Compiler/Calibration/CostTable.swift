import CKKS
import Foundation

/// Measured cost, in microseconds, of every primitive at every level of the parameter sets that
/// were calibrated, on one machine with one thread setting. The optimizer prices a plan with it.
public struct CostTable: Codable, Sendable, Equatable {
    /// The costs of one parameter set.
    public struct ParameterCosts: Codable, Sendable, Equatable {
        /// Preset name (for display) and the parameter fingerprint (what lookups key on).
        public var name: String
        public var fingerprint: String
        public var logDegree: Int
        /// microseconds[primitive][level], levels 0 … maxLevel.
        public var microseconds: [String: [Double]]

        enum CodingKeys: String, CodingKey {
            case name, fingerprint
            case logDegree = "log_degree"
            case microseconds
        }
    }

    /// Format version of the cache file.
    /// Version 2 added the cost profiles; version 3 times additions on operands cold in cache
    /// (tables of version 2 priced them hot, 45–80% low); version 4 adds the product workers'
    /// concurrent encode and multiply-accumulate; version 5 the scalar multiply-accumulate
    /// (one thread and product workers); version 6 the terms of lazy sums of products; version 7
    /// the elementwise products and rescales of product workers; version 8 the products
    /// relinearized and rescaled at once; version 9 a scalar lazy sum's own work beside its
    /// terms' (lazy_scalar_sum): older tables are measured again.
    public static let formatVersion = 9

    public var formatVersion: Int
    /// What the table was measured on and with (see `MachineIdentity`).
    public var machine: String
    public var engineVersion: String
    public var threads: Int
    public var sets: [ParameterCosts]
    /// Fitted costs per ring and key-switching structure (`CostProfile`): what compiles use.
    public var profiles: [CostProfile] = []
    /// Microseconds per megabyte of memory first touched by the table's threads
    /// (`FirstTouchCost`); nil in tables measured before it (measured at the next compile).
    public var firstTouchMicrosecondsPerMB: Double?
    /// Microseconds per megabyte of Galois keys read from their file when a step first needs
    /// them (`KeyReadCost`, one thread per read); nil in tables measured before it.
    public var keyReadMicrosecondsPerMB: Double?

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case machine
        case engineVersion = "engine_version"
        case threads, sets, profiles
        case firstTouchMicrosecondsPerMB = "first_touch_us_per_mb"
        case keyReadMicrosecondsPerMB = "key_read_us_per_mb"
    }

    public init(machine: String, engineVersion: String, threads: Int, sets: [ParameterCosts] = []) {
        self.formatVersion = CostTable.formatVersion
        self.machine = machine
        self.engineVersion = engineVersion
        self.threads = threads
        self.sets = sets
    }

    /// The costs of the parameter set with this fingerprint, if calibrated.
    public func costs(fingerprint: String) -> ParameterCosts? {
        sets.first { $0.fingerprint == fingerprint }
    }

    /// The cost of `primitive` at `level` for the parameter set `fingerprint`.
    public func cost(_ primitive: Primitive, level: Int, fingerprint: String) throws -> Double {
        guard let set = costs(fingerprint: fingerprint) else {
            throw CompilerError.notCalibrated("no calibration for parameters \(fingerprint.prefix(16))…; run `he-tool calibrate`")
        }
        guard let row = set.microseconds[primitive.rawValue], row.indices.contains(level) else {
            throw CompilerError.notCalibrated("the calibration of \(set.name) has no \(primitive.rawValue) at level \(level); run `he-tool calibrate` again")
        }
        return row[level]
    }

    /// The profile of `parameters`' family deep enough for it, if measured.
    public func profile(for parameters: CKKSParameters) -> CostProfile? {
        let key = CostProfile.Key(parameters)
        return profiles.first { $0.key == key && $0.covers(level: parameters.maxLevel) }
    }

    /// Adds a profile, replacing a shallower one of the same family.
    public mutating func merge(_ profile: CostProfile) {
        profiles.removeAll { $0.key == profile.key }
        profiles.append(profile)
        profiles.sort { ($0.logDegree, $0.primesPerDigit, $0.specialPrimes) < ($1.logDegree, $1.primesPerDigit, $1.specialPrimes) }
    }

    /// Adds or replaces the costs of one parameter set.
    public mutating func merge(_ set: ParameterCosts) {
        sets.removeAll { $0.fingerprint == set.fingerprint }
        sets.append(set)
        sets.sort { ($0.logDegree, $0.name) < ($1.logDegree, $1.name) }
    }

    /// Checks every field of a table read from disk: version, identity, and for every set a row
    /// per primitive with one finite positive value per level.
    public func validate() throws {
        guard formatVersion == CostTable.formatVersion else {
            throw CompilerError.invalidCalibration("calibration format \(formatVersion), this he-tool reads \(CostTable.formatVersion)")
        }
        guard !machine.isEmpty, !engineVersion.isEmpty, threads >= 1 else {
            throw CompilerError.invalidCalibration("calibration without machine, version or thread count")
        }
        for (rate, what) in [(firstTouchMicrosecondsPerMB, "first-touch"), (keyReadMicrosecondsPerMB, "key-read")] {
            if let rate, !(rate.isFinite && rate > 0 && rate < 1e6) {
                throw CompilerError.invalidCalibration("calibration's \(what) cost \(rate) µs/MB is not a positive figure below a second per megabyte")
            }
        }
        for profile in profiles { try profile.validate() }
        for set in sets {
            guard set.fingerprint.count == 64, set.fingerprint.allSatisfy(\.isHexDigit), (1...17).contains(set.logDegree) else {
                throw CompilerError.invalidCalibration("calibration entry \(set.name): bad fingerprint or ring degree")
            }
            let levels = set.microseconds[Primitive.add.rawValue]?.count ?? 0
            for primitive in Primitive.allCases {
                guard let row = set.microseconds[primitive.rawValue], row.count == levels, levels > 0,
                      row.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                    throw CompilerError.invalidCalibration("calibration entry \(set.name): \(primitive.rawValue) missing or not positive at every level")
                }
            }
        }
    }
}
