import Crypto
import Foundation

/// The id of an evaluation-key file: the lowercase hex SHA-256 of its bytes. The server checks
/// it on upload and names its spill files by it; a client computes it to ask for its keys.
public enum KeyID {
    /// The id of `bytes`.
    public static func of(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `id` has the form of an id (64 lowercase hex digits); anything else never names
    /// a file.
    public static func isWellFormed(_ id: String) -> Bool {
        id.utf8.count == 64 && id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// Hex of a fingerprint, for JSON and messages.
func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
