/// A 32-byte seed: the whole secret input of a `SeededStream`, and what a seeded ciphertext or
/// key stores in place of a uniform polynomial.
///
/// 32 bytes is a full ChaCha20 key (256 bits), so the stream expanded from a seed is as strong
/// as the seed itself. A seed is key material: whoever holds the seed of a secret or of an
/// encryption's noise can recompute them. It is `Hashable` so tests and caches can compare seeds;
/// the comparison is not constant-time, so do not compare secret seeds against untrusted input.
public struct Seed: Sendable, Hashable {
    /// The number of bytes of every seed.
    public static let byteCount = 32

    /// The seed's bytes; always exactly `Seed.byteCount` of them.
    public let bytes: [UInt8]

    /// A seed from stored bytes (as read from a file or written by a test).
    /// - Throws: `CKKSError.invalidFormat` unless `bytes` has exactly 32 elements.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == Seed.byteCount else {
            throw CKKSError.invalidFormat("a seed has \(Seed.byteCount) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Takes 32 bytes that are known to be 32 (the callers below), without a check that can fail.
    init(validBytes bytes: [UInt8]) {
        precondition(bytes.count == Seed.byteCount)
        self.bytes = bytes
    }

    /// A fresh seed from the operating system's CSPRNG.
    ///
    /// The bytes come from `SystemRandomNumberGenerator`, which on Linux is the kernel's
    /// getrandom(2) (falling back to /dev/urandom on kernels without it) and on Apple platforms
    /// arc4random_buf; both are cryptographically secure and need no seeding by us. The
    /// generator hands out 8 bytes per call, so a seed costs four getrandom calls; everything
    /// else is expanded from it by `SeededStream`, not read from the kernel word by word.
    public static func random() -> Seed {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(byteCount)
        for _ in 0..<(byteCount / 8) {
            let word = generator.next()
            for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: word >> (8 * k))) }
        }
        return Seed(validBytes: bytes)
    }
}
