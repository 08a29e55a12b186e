import Crypto
import Foundation
import HEMath
import RegularFiles

/// The integrity frame around every file he-tool writes: a fixed 56-byte header carrying the
/// SHA-256 of the payload, then the payload (one protobuf message).
///
/// CKKS has no integrity of its own: a flipped bit in a key, a ciphertext or a model's weights
/// still parses and decrypts to other numbers. The frame turns any such damage into an error
/// that names the file, before anything of the payload is parsed.
///
/// Layout (all integers little-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `89 48 45 54 0D 0A 1A 0A` (`\x89HET\r\n\x1a\n`: a byte above 127 and a CR LF catch 7-bit and text-mode transfers, as PNG's signature does) |
/// | 8 | 2 | frame version (1) |
/// | 10 | 4 | kind tag, 4 ASCII letters (`Tag`) |
/// | 14 | 2 | reserved, zero |
/// | 16 | 8 | payload length in bytes |
/// | 24 | 32 | SHA-256 of the payload |
/// | 56 | n | payload |
///
/// Readers check, in order: the length (≥ 56), the magic, the frame version, the tag, the
/// reserved field, that the stated length is exactly what follows (a truncated or extended
/// file), and the checksum, streamed over the payload in place (no copy, even for a 2 GiB key
/// file). Only then is the payload handed to the protobuf decoder.
public enum IntegrityFrame {
    /// Bytes before the payload.
    public static let headerSize = 56
    /// The frame version this build writes and reads.
    public static let version: UInt16 = 1
    /// The first 8 bytes of every framed file.
    public static let magic: [UInt8] = [0x89, 0x48, 0x45, 0x54, 0x0D, 0x0A, 0x1A, 0x0A]

    /// What a framed file holds: four ASCII letters in the header, so that a file handed to the
    /// wrong command is named before its payload is touched.
    public struct Tag: Hashable, Sendable, CustomStringConvertible {
        /// The four letters.
        public let code: String
        /// "a secret key", "a compiled model", …: for error messages.
        public let noun: String

        /// A tag of exactly four ASCII letters (a programmer's constant).
        public init(_ code: String, noun: String) {
            precondition(code.utf8.count == 4 && code.utf8.allSatisfy { $0 >= 0x61 && $0 <= 0x7A }, "a tag is 4 lowercase ASCII letters")
            self.code = code
            self.noun = noun
        }

        var bytes: [UInt8] { Array(code.utf8) }
        public var description: String { noun }

        public static let parameters = Tag("hepa", noun: "a parameter set")
        public static let secretKey = Tag("hesk", noun: "a secret key")
        public static let publicKey = Tag("hepk", noun: "a public key")
        public static let evaluationKeys = Tag("hevk", noun: "evaluation keys")
        public static let plaintext = Tag("hept", noun: "a plaintext")
        public static let ciphertext = Tag("hect", noun: "a ciphertext")
        public static let compiledModel = Tag("hemd", noun: "a compiled model")
        public static let clientProfile = Tag("hepf", noun: "a client profile")
        public static let encryptedTensor = Tag("hetn", noun: "an encrypted tensor")

        /// Every tag he-tool writes, to name what a file holds when it is not what was expected.
        public static let all: [Tag] = [.parameters, .secretKey, .publicKey, .evaluationKeys, .plaintext, .ciphertext,
                                        .compiledModel, .clientProfile, .encryptedTensor]
    }

    /// Why a frame was refused.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// Not a framed he-tool file (too short or no magic), with what it looks like instead.
        case notFramed(String)
        /// A file of an earlier he-tool, written before files carried a checksum.
        case legacy(String)
        /// A frame version this build does not read.
        case unsupportedVersion(UInt16)
        /// A framed file of another kind.
        case wrongKind(expected: Tag, found: String)
        /// The frame's own fields or length are wrong, or the checksum does not match.
        case damaged(String)

        public var description: String {
            switch self {
            case let .notFramed(why): return "not an he-tool file: \(why)"
            case let .legacy(why): return why
            case let .unsupportedVersion(v):
                return "the file's frame version is \(v); this he-tool reads version \(IntegrityFrame.version): use a newer he-tool"
            case let .wrongKind(expected, found): return "the file holds \(found), not \(expected.noun)"
            case let .damaged(why): return "the file is damaged (\(why)): make it again or send it again"
            }
        }
    }

    /// The framed file of `payload`: header, then the payload copied after it.
    public static func seal(_ payload: [UInt8], tag: Tag) -> [UInt8] {
        let digest = Array(SHA256.hash(data: payload))
        return [UInt8](unsafeUninitializedCapacity: headerSize + payload.count) { buffer, initialized in
            writeHeader(into: buffer, tag: tag, length: payload.count, digest: digest)
            payload.withUnsafeBufferPointer { source in
                if let base = source.baseAddress, !source.isEmpty {
                    (buffer.baseAddress! + headerSize).initialize(from: base, count: source.count)
                }
            }
            initialized = headerSize + payload.count
        }
    }

    /// The header of a frame around `length` bytes of payload whose SHA-256 is `digest`: for a
    /// file written in pieces (`StagedFile.Writer`), whose header is written last.
    public static func header(tag: Tag, length: Int, digest: [UInt8]) -> [UInt8] {
        precondition(digest.count == 32, "a SHA-256 digest has 32 bytes")
        return [UInt8](unsafeUninitializedCapacity: headerSize) { buffer, initialized in
            writeHeader(into: buffer, tag: tag, length: length, digest: digest)
            initialized = headerSize
        }
    }

    /// Checks the frame of `bytes` (see the type's documentation for the order) and calls `body`
    /// with the payload, in place. The buffer passed to `body` is valid only during the call.
    /// - Parameter legacyAdvice: what to tell the user when `bytes` is a file of an earlier
    ///   he-tool without a frame (which command makes it again).
    public static func withPayload<R>(of bytes: [UInt8], expecting tag: Tag, legacyAdvice: String,
                                      _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try bytes.withUnsafeBytes { raw in
            let payload = try checkedPayload(raw, expecting: tag, legacyAdvice: legacyAdvice)
            return try body(payload)
        }
    }

    /// `withPayload` giving the payload as a `Data` that shares the bytes (valid during the call):
    /// what the protobuf decoders take.
    public static func withPayloadData<R>(of bytes: [UInt8], expecting tag: Tag, legacyAdvice: String,
                                          _ body: (Data) throws -> R) throws -> R {
        try bytes.withUnsafeBytes { try withPayloadData(ofRaw: $0, expecting: tag, legacyAdvice: legacyAdvice, body) }
    }

    /// `withPayloadData` of bytes held elsewhere (a tile of an encrypted tensor, in place).
    /// `checksum` false skips the SHA-256 (the header is still checked): only for bytes inside
    /// an enclosing frame whose checksum was verified, which covers every one of them.
    public static func withPayloadData<R>(ofRaw raw: UnsafeRawBufferPointer, expecting tag: Tag, legacyAdvice: String,
                                          checksum: Bool = true, _ body: (Data) throws -> R) throws -> R {
        guard checksum else {
            try checkHeader(raw, fileSize: raw.count, expecting: tag, legacyAdvice: legacyAdvice)
            return try body(sharedData(UnsafeRawBufferPointer(rebasing: raw[headerSize...])))
        }
        return try body(sharedData(try checkedPayload(raw, expecting: tag, legacyAdvice: legacyAdvice)))
    }

    /// A `Data` over `payload`'s bytes, not copied (valid while they are).
    private static func sharedData(_ payload: UnsafeRawBufferPointer) -> Data {
        guard let base = payload.baseAddress, !payload.isEmpty else { return Data() }
        return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: payload.count, deallocator: .none)
    }

    /// `withPayloadData` with the checksum computed on a second thread while `body` decodes the
    /// payload (with one thread in force, one after the other). A damaged payload is reported as
    /// damaged whatever `body` made of it (its result or error dropped), as when the checksum
    /// comes first. For large frames whose readers check every field anyway: an encrypted
    /// tensor's group, whose 0.6 GB took 0.5 s to hash before its decoding began.
    public static func withPayloadDataCheckedAlongside<R>(of bytes: [UInt8], expecting tag: Tag, legacyAdvice: String,
                                                          _ body: (Data) throws -> R) throws -> R {
        try bytes.withUnsafeBytes { raw in
            try checkHeader(raw, fileSize: raw.count, expecting: tag, legacyAdvice: legacyAdvice)
            let payload = UnsafeRawBufferPointer(rebasing: raw[headerSize...])
            let parts = try ExecutionPolicy.concurrentMap(2) { k -> (intact: Bool, made: Result<R, Error>?) in
                if k == 0 { return (SHA256.hash(data: payload).elementsEqual(raw[24..<56]), nil) }
                return (true, Result { try body(sharedData(payload)) })
            }
            guard parts[0].intact else { throw Failure.damaged("its SHA-256 checksum does not match its content") }
            return try parts[1].made!.get()
        }
    }

    /// The tag of a framed file (its frame checked up to, but not including, the checksum), or
    /// nil when `bytes` does not start with a frame.
    public static func tag(of bytes: [UInt8]) -> Tag? {
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else { return nil }
        let code = bytes[10..<14]
        return Tag.all.first { $0.bytes.elementsEqual(code) }
    }

    /// The whole size (header and payload) of the frame whose first `headerSize` bytes are
    /// `header`, from its stated payload length: how files of several frames one after another
    /// are split (an encrypted tensor of several groups). Nil when `header` is short, has no
    /// magic, or states a frame larger than `limit`; the frame itself is checked when read.
    public static func frameSize(header: ArraySlice<UInt8>, limit: Int) -> Int? {
        guard header.count >= headerSize, header.prefix(8).elementsEqual(magic) else { return nil }
        let start = header.startIndex + 16
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(header[start + $1]) << (8 * UInt64($1)) }
        guard length <= UInt64(max(0, limit - headerSize)) else { return nil }
        return headerSize + Int(length)
    }

    // MARK: Internals

    private static func writeHeader(into buffer: UnsafeMutableBufferPointer<UInt8>, tag: Tag, length: Int, digest: [UInt8]) {
        var header = magic
        header += [UInt8(version & 0xFF), UInt8(version >> 8)]
        header += tag.bytes
        header += [0, 0]
        let n = UInt64(length)
        header += (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
        header += digest
        precondition(header.count == headerSize)
        _ = buffer.initialize(from: header)
    }

    private static func checkedPayload(_ raw: UnsafeRawBufferPointer, expecting tag: Tag,
                                       legacyAdvice: String) throws -> UnsafeRawBufferPointer {
        try checkHeader(raw, fileSize: raw.count, expecting: tag, legacyAdvice: legacyAdvice)
        let payload = UnsafeRawBufferPointer(rebasing: raw[headerSize...])
        let digest = SHA256.hash(data: payload)
        guard digest.elementsEqual(raw[24..<56]) else {
            throw Failure.damaged("its SHA-256 checksum does not match its content")
        }
        return payload
    }

    /// Checks the frame of a file read by ranges (too large to hold): its header, then the
    /// SHA-256 streamed over the payload in 8 MiB reads.
    public static func verify(_ file: RegularFile.Handle, expecting tag: Tag, legacyAdvice: String) throws {
        let header = try file.read(at: 0, count: min(file.size, headerSize))
        try header.withUnsafeBytes { try checkHeader($0, fileSize: file.size, expecting: tag, legacyAdvice: legacyAdvice) }
        var hash = SHA256()
        var offset = headerSize
        while offset < file.size {
            let chunk = try file.read(at: offset, count: min(8 << 20, file.size - offset))
            hash.update(data: chunk)
            offset += chunk.count
        }
        guard hash.finalize().elementsEqual(header[24..<56]) else {
            throw Failure.damaged("its SHA-256 checksum does not match its content")
        }
    }

    /// Checks a frame's header (`raw` holds the file's first bytes, all of them up to the header's
    /// end) against a file of `fileSize` bytes: magic, version, tag, reserved bytes, length.
    private static func checkHeader(_ raw: UnsafeRawBufferPointer, fileSize: Int, expecting tag: Tag,
                                    legacyAdvice: String) throws {
        guard raw.count >= magic.count, raw.prefix(magic.count).elementsEqual(magic) else {
            throw unframed(raw, legacyAdvice: legacyAdvice)
        }
        guard fileSize >= headerSize, raw.count >= headerSize else {
            throw Failure.damaged("\(fileSize) bytes, shorter than the \(headerSize)-byte header: truncated")
        }
        let frameVersion = UInt16(raw[8]) | UInt16(raw[9]) << 8
        guard frameVersion == version else { throw Failure.unsupportedVersion(frameVersion) }
        let code = raw[10..<14]
        guard tag.bytes.elementsEqual(code) else {
            let found = Tag.all.first { $0.bytes.elementsEqual(code) }?.noun
                ?? "an unknown kind '\(String(decoding: code.map { (0x20...0x7E).contains($0) ? $0 : 0x3F }, as: UTF8.self))'"
            throw Failure.wrongKind(expected: tag, found: found)
        }
        guard raw[14] == 0, raw[15] == 0 else { throw Failure.damaged("the header's reserved bytes are not zero") }
        var stated: UInt64 = 0
        for i in 0..<8 { stated |= UInt64(raw[16 + i]) << (8 * UInt64(i)) }
        let actual = UInt64(fileSize - headerSize)
        guard stated == actual else {
            throw Failure.damaged(stated > actual
                ? "the header says \(stated) bytes of content but \(actual) follow: truncated"
                : "the header says \(stated) bytes of content but \(actual) follow: bytes were added")
        }
    }

    /// The error for bytes without a frame: an earlier he-tool's file, or something else.
    private static func unframed(_ raw: UnsafeRawBufferPointer, legacyAdvice: String) -> Failure {
        guard !raw.isEmpty else { return .notFramed("the file is empty") }
        // Files of he-tool before the frame were bare protobuf messages whose field 1 is the
        // magic string "he-tool…": 0x0A, a length, then the text.
        if raw.count > 9, raw[0] == 0x0A, raw[1] >= 7, raw[1] < 0x20,
           raw[2..<9].elementsEqual(Array("he-tool".utf8)) {
            return .legacy("the file was written by an earlier he-tool, before files carried a checksum; this he-tool reads only checksummed files: \(legacyAdvice)")
        }
        return .notFramed("it does not start with the he-tool file signature")
    }
}
