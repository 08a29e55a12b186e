import Foundation

/// A named parameter set as stored in `Params/*.json`: bit sizes, not primes (the primes are
/// generated deterministically from them), and a comment saying what the set is for.
public struct ParameterPreset: Codable, Sendable, Equatable {
    public let name: String
    public let comment: String
    public let logDegree: Int
    public let primeBits: [Int]
    public let specialPrimeBits: [Int]
    public let logScale: Int
    public let keySwitchDigits: Int?

    enum CodingKeys: String, CodingKey {
        case name, comment
        case logDegree = "log_degree"
        case primeBits = "prime_bits"
        case specialPrimeBits = "special_prime_bits"
        case logScale = "log_scale"
        case keySwitchDigits = "key_switch_digits"
    }

    public init(name: String, comment: String, logDegree: Int, primeBits: [Int], specialPrimeBits: [Int], logScale: Int,
                keySwitchDigits: Int?) {
        self.name = name
        self.comment = comment
        self.logDegree = logDegree
        self.primeBits = primeBits
        self.specialPrimeBits = specialPrimeBits
        self.logScale = logScale
        self.keySwitchDigits = keySwitchDigits
    }

    /// The validated parameter set (128-bit secure, or an error naming the excess).
    public func parameters() throws -> CKKSParameters {
        try CKKSParameters(logDegree: logDegree, primeBits: primeBits, specialPrimeBits: specialPrimeBits,
                           logScale: logScale, keySwitchDigits: keySwitchDigits)
    }

    /// Reads a preset from JSON, with a clear error for a malformed file.
    public static func decode(json: Data, source: String) throws -> ParameterPreset {
        do {
            return try JSONDecoder().decode(ParameterPreset.self, from: json)
        } catch {
            throw CKKSError.invalidFormat("\(source) is not a parameter preset: \(error)")
        }
    }

    /// The presets built into the engine, identical to the files in `Params/`.
    public static let builtIn: [ParameterPreset] = [
        ParameterPreset(
            name: "n8192-l2",
            comment: "N = 8192, two levels: q0 60 bits, two 40-bit scale primes, one 60-bit special prime, scale 2^40 (log2 QP = 200 of 218). The chain of shared/bench's SEAL log-n 13 run; depth-2 circuits such as one product and one plaintext product.",
            logDegree: 13, primeBits: [60, 40, 40], specialPrimeBits: [60], logScale: 40, keySwitchDigits: nil),
        ParameterPreset(
            name: "n16384-l6",
            comment: "N = 16384, six levels: q0 60 bits, six 40-bit scale primes, one 60-bit special prime, scale 2^40 (log2 QP = 360 of 438). The chain of shared/bench's SEAL log-n 14 run; small CNNs with two or three square activations.",
            logDegree: 14, primeBits: [60] + Array(repeating: 40, count: 6), specialPrimeBits: [60], logScale: 40, keySwitchDigits: nil),
        ParameterPreset(
            name: "n32768-l18",
            comment: "N = 32768, eighteen levels: q0 60 bits, eighteen 40-bit scale primes, one 60-bit special prime, scale 2^40 (log2 QP = 840 of 881). The chain of shared/bench's SEAL log-n 15 run; deep networks.",
            logDegree: 15, primeBits: [60] + Array(repeating: 40, count: 18), specialPrimeBits: [60], logScale: 40, keySwitchDigits: nil),
    ]

    /// A built-in preset by name, or a preset file by path.
    public static func named(_ nameOrPath: String) throws -> ParameterPreset {
        if let preset = builtIn.first(where: { $0.name == nameOrPath }) { return preset }
        let url = URL(fileURLWithPath: nameOrPath)
        guard let data = try? Data(contentsOf: url) else {
            throw CKKSError.invalidParameters("no preset named '\(nameOrPath)' (built in: \(builtIn.map(\.name).joined(separator: ", "))) and no such file")
        }
        return try decode(json: data, source: nameOrPath)
    }
}
