import Crypto
import Foundation

/// A shared secret that clients send as `Authorization: Bearer <token>`. Compared in constant
/// time: both sides are hashed with SHA-256 and the digests compared with no early exit, so
/// the time taken says nothing about how much of a guess was right (nor about its length).
public struct BearerToken: Sendable {
    private let digest: [UInt8]

    /// - Precondition: `token` is not empty (`load` checks files).
    public init(_ token: String) {
        precondition(!token.isEmpty, "an empty token protects nothing")
        digest = Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// Reads a token file: its first line, surrounding white space removed.
    /// - Throws: `ServeConfigurationError` when the file is missing or empty, or the token has
    ///   characters an HTTP header cannot carry.
    public static func readFile(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServeConfigurationError("cannot read the token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !token.isEmpty else { throw ServeConfigurationError("the token file \(path) is empty") }
        guard token.utf8.allSatisfy({ (33...126).contains($0) }) else {
            throw ServeConfigurationError("the token in \(path) has characters that cannot go in an HTTP header (use printable ASCII without spaces)")
        }
        return token
    }

    /// The token of a token file, for a server.
    public static func load(path: String) throws -> BearerToken { BearerToken(try readFile(path: path)) }

    /// Whether an `Authorization` header value carries this token.
    public func accepts(authorization: String?) -> Bool {
        guard let value = authorization else { return false }
        let prefix = "Bearer "
        guard value.count > prefix.count, value.prefix(prefix.count).lowercased() == prefix.lowercased() else { return false }
        let presented = Array(SHA256.hash(data: Array(value.dropFirst(prefix.count).utf8)))
        var difference: UInt8 = 0
        for i in 0..<digest.count { difference |= digest[i] ^ presented[i] }
        return difference == 0
    }
}

/// A configuration problem found before serving or connecting (a file, an option).
public struct ServeConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
