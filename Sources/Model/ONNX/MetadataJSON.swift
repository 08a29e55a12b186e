import Foundation

/// A JSON value of an ONNX metadata entry, read without a schema so that every field can be
/// checked with a message that names it and says what is wrong (Codable's errors name coding
/// paths and stop at the first type mismatch). Used for `he_tool.budgets`.
enum MetadataJSON: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([MetadataJSON])
    case object([String: MetadataJSON])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([MetadataJSON].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: MetadataJSON].self))
        }
    }

    /// The JSON text of metadata entry `key`, parsed.
    /// - Throws: `ModelError.invalidArgument` when it is not JSON.
    static func parse(_ text: String, key: String) throws -> MetadataJSON {
        do {
            return try JSONDecoder().decode(MetadataJSON.self, from: Data(text.utf8))
        } catch {
            throw ModelError.invalidArgument("metadata \(key) is not valid JSON (\(text.prefix(80))\(text.count > 80 ? "…" : "")); the file was written by another tool or damaged: export it again with the training toolkit")
        }
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}

/// A value of a metadata entry and where it is (`budgets[1].zeroed.conv2`), with typed accessors
/// whose errors name that place, what was found and what was expected.
struct MetadataField {
    let value: MetadataJSON
    /// Path from the entry's root, e.g. `layers[0].geometry.shape`.
    let path: String
    /// The metadata key, e.g. `he_tool.budgets`, for messages.
    let key: String

    /// An error about this field.
    func error(_ why: String) -> ModelError {
        .invalidArgument("metadata \(key): \(path.isEmpty ? "the entry" : path) \(why); the file was written by another tool or damaged: export it again with the training toolkit (format: Examples/training/README.md)")
    }

    private func child(_ value: MetadataJSON, _ name: String) -> MetadataField {
        MetadataField(value: value, path: path.isEmpty ? name : "\(path).\(name)", key: key)
    }

    func object() throws -> [String: MetadataJSON] {
        guard case let .object(o) = value else { throw error("is \(value.typeName), not an object") }
        return o
    }

    /// The required member `name` of this object.
    func field(_ name: String) throws -> MetadataField {
        guard let v = try object()[name], v != .null else { throw child(.null, name).error("is missing") }
        return child(v, name)
    }

    /// The member `name` of this object, nil when absent or null.
    func optionalField(_ name: String) throws -> MetadataField? {
        guard let v = try object()[name], v != .null else { return nil }
        return child(v, name)
    }

    /// The members of this object, sorted by name.
    func members() throws -> [(String, MetadataField)] {
        try object().sorted { $0.key < $1.key }.map { ($0.key, child($0.value, $0.key)) }
    }

    func array() throws -> [MetadataField] {
        guard case let .array(a) = value else { throw error("is \(value.typeName), not a list") }
        return a.enumerated().map { MetadataField(value: $0.element, path: "\(path)[\($0.offset)]", key: key) }
    }

    func string() throws -> String {
        guard case let .string(s) = value else { throw error("is \(value.typeName), not a string") }
        return s
    }

    func number() throws -> Double {
        guard case let .number(d) = value, d.isFinite else { throw error("is \(value.typeName), not a finite number") }
        return d
    }

    /// An integer in `range`.
    func int(in range: ClosedRange<Int>) throws -> Int {
        let d = try number()
        guard d == d.rounded(), d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
            throw error("is \(formatNumber(d)), not an integer in \(range.lowerBound) … \(range.upperBound)")
        }
        return Int(d)
    }

    /// A list of integers, each in `range`.
    func ints(in range: ClosedRange<Int>) throws -> [Int] {
        try array().map { try $0.int(in: range) }
    }
}
