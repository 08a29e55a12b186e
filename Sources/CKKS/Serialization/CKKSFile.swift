import Foundation
import SwiftProtobuf

/// he-tool's versioned binary files: parameters, keys, plaintexts and ciphertexts.
///
/// Every file is an `IntegrityFrame` (a header with the SHA-256 of its content, checked before
/// anything else is read) around one protobuf `Envelope` message (schema: `Protos/he_tool.proto`): the magic
/// string `"he-tool"`, the format version, the kind of object, the 32-byte fingerprint of the
/// parameter set, and the object itself. Polynomials are stored as packed little-endian
/// 64-bit residues in NTT form; a fresh symmetric ciphertext stores the 32-byte seed of c_1
/// instead of c_1.
///
/// Readers validate everything before they build an object: magic, version, kind, the
/// fingerprint against the context, every count and length, every residue against its prime,
/// scales, Galois elements and the parameters themselves. Any malformed input throws
/// `CKKSError.invalidFormat` (never traps); a file made for another parameter set throws
/// `CKKSError.parameterMismatch`.
///
/// One protobuf message is at most 2 GiB, and so is one file: serializing a larger object
/// (many Galois keys at a large ring degree) throws; split such keys over several
/// `EvaluationKeys` and files.
public enum CKKSFile {
    /// The magic string every file starts with.
    public static let magic = "he-tool"
    /// The format version this build writes. Version 3 is version 2 inside an integrity frame;
    /// files of versions 1 and 2 (no frame, no checksum) are refused with advice to make them again.
    public static let formatVersion = 3
    /// The largest file `read(from:)` accepts and the largest a serializer produces:
    /// protobuf's limit on one message (2 GiB − 1 bytes).
    public static let maximumFileSize = Int(Int32.max)

    /// What a file holds.
    public enum Kind: String, Sendable, CaseIterable, CustomStringConvertible {
        /// A `CKKSParameters` set.
        case parameters
        /// A `SecretKey`.
        case secretKey
        /// A `PublicKey`.
        case publicKey
        /// `EvaluationKeys`: relinearization and Galois keys.
        case evaluationKeys
        /// A `Plaintext`.
        case plaintext
        /// A `Ciphertext`.
        case ciphertext

        /// "a secret key", "a ciphertext", …: for error messages.
        public var description: String {
            switch self {
            case .parameters: return "a parameter set"
            case .secretKey: return "a secret key"
            case .publicKey: return "a public key"
            case .evaluationKeys: return "evaluation keys"
            case .plaintext: return "a plaintext"
            case .ciphertext: return "a ciphertext"
            }
        }

        var message: Hetool_V1_Kind {
            switch self {
            case .parameters: return .parameters
            case .secretKey: return .secretKey
            case .publicKey: return .publicKey
            case .evaluationKeys: return .evaluationKeys
            case .plaintext: return .plaintext
            case .ciphertext: return .ciphertext
            }
        }

        /// The integrity frame's tag of files of this kind.
        public var tag: IntegrityFrame.Tag {
            switch self {
            case .parameters: return .parameters
            case .secretKey: return .secretKey
            case .publicKey: return .publicKey
            case .evaluationKeys: return .evaluationKeys
            case .plaintext: return .plaintext
            case .ciphertext: return .ciphertext
            }
        }

        /// Which command makes a file of this kind again (for files of an earlier he-tool).
        var remakeAdvice: String {
            switch self {
            case .secretKey, .publicKey, .evaluationKeys: return "make the keys again with `he-tool keygen`"
            case .ciphertext, .plaintext: return "encrypt the input again with `he-tool encrypt` (or evaluate again)"
            case .parameters: return "compile the model again with `he-tool compile`"
            }
        }

        init?(_ message: Hetool_V1_Kind) {
            switch message {
            case .parameters: self = .parameters
            case .secretKey: self = .secretKey
            case .publicKey: self = .publicKey
            case .evaluationKeys: self = .evaluationKeys
            case .plaintext: self = .plaintext
            case .ciphertext: self = .ciphertext
            case .unspecified, .UNRECOGNIZED: return nil
            }
        }
    }

    /// What a file says about itself, read without decoding its body.
    public struct Header: Sendable, Equatable {
        /// The format version (1 … `CKKSFile.formatVersion` in a header that was returned).
        public let formatVersion: Int
        /// What the file holds.
        public let kind: Kind
        /// The fingerprint of the parameter set the file was made with (32 bytes).
        public let parametersFingerprint: [UInt8]
    }

    /// Reads a file's header: checks the magic and the version and returns its kind and
    /// parameter fingerprint (to choose the reader, or to find the matching parameters).
    /// - Throws: `invalidFormat` for anything that is not a file of this format version.
    public static func header(of bytes: [UInt8]) throws -> Header {
        guard let tag = IntegrityFrame.tag(of: bytes) else {
            // No frame: the frame check says whether it is an earlier he-tool's file or another.
            try frameErrorOrNil {
                try IntegrityFrame.withPayload(of: bytes, expecting: .ciphertext,
                                               legacyAdvice: "make it again with this he-tool") { _ in () }
            }
            throw CKKSError.invalidFormat("not an he-tool file")
        }
        guard let frameKind = Kind.allCases.first(where: { $0.tag == tag }) else {
            throw CKKSError.invalidFormat("the file holds \(tag.noun), not a key, parameter, plaintext or ciphertext file")
        }
        let header = try checkedHeader(bytes, kind: frameKind)
        guard let kind = Kind(header.kind), kind == frameKind else {
            throw CKKSError.invalidFormat("the file's kind \(header.kind.rawValue) is not that of its frame (\(frameKind))")
        }
        let fingerprint = Array(header.parametersFingerprint)
        guard fingerprint.count == 32 else {
            throw CKKSError.invalidFormat("the parameter fingerprint has \(fingerprint.count) bytes, expected 32")
        }
        return Header(formatVersion: Int(header.formatVersion), kind: kind, parametersFingerprint: fingerprint)
    }

    // MARK: Envelope

    /// A new envelope of this version for `kind`, made with `parameters`.
    static func envelope(_ kind: Kind, parameters: CKKSParameters) -> Hetool_V1_Envelope {
        var envelope = Hetool_V1_Envelope()
        envelope.magic = magic
        envelope.formatVersion = UInt32(formatVersion)
        envelope.kind = kind.message
        envelope.parametersFingerprint = Data(parameters.fingerprint)
        return envelope
    }

    /// The file's bytes, framed with their checksum; throws past protobuf's 2 GiB limit
    /// instead of writing a broken file.
    static func encode(_ envelope: Hetool_V1_Envelope, payloadBytes: Int) throws -> [UInt8] {
        guard payloadBytes < maximumFileSize - 4096 - IntegrityFrame.headerSize else {
            throw CKKSError.outOfRange("\(payloadBytes) bytes do not fit in one file (at most \(maximumFileSize) bytes, protobuf's limit on one message); split the object, e.g. Galois keys over several files")
        }
        guard let kind = Kind(envelope.kind) else { preconditionFailure("an envelope without a kind") }
        do {
            return IntegrityFrame.seal(try envelope.serializedBytes(), tag: kind.tag)
        } catch {
            throw CKKSError.outOfRange("cannot encode the file (\(error)); one file holds at most \(maximumFileSize) bytes")
        }
    }

    /// Checks the integrity frame (a `kind` file whose checksum matches), then decodes only the
    /// envelope's fixed fields (the body is skipped) and checks magic and version.
    private static func checkedHeader(_ bytes: [UInt8], kind: Kind) throws -> Hetool_V1_EnvelopeHeader {
        guard bytes.count <= maximumFileSize else {
            throw CKKSError.invalidFormat("\(bytes.count) bytes is more than any he-tool file (at most \(maximumFileSize))")
        }
        return try framed(bytes, kind: kind) { payload in
            var options = BinaryDecodingOptions()
            options.discardUnknownFields = true
            let header: Hetool_V1_EnvelopeHeader
            do {
                header = try Hetool_V1_EnvelopeHeader(serializedBytes: payload, options: options)
            } catch {
                throw CKKSError.invalidFormat("not an he-tool file: the protobuf envelope does not decode (\(error))")
            }
            try checkMagicAndVersion(magic: header.magic, version: header.formatVersion)
            return header
        }
    }

    /// Calls `body` with the payload of a framed file of `kind` (checksum checked), turning frame
    /// failures into `CKKSError.invalidFormat`.
    static func framed<R>(_ bytes: [UInt8], kind: Kind, _ body: (Data) throws -> R) throws -> R {
        try bytes.withUnsafeBytes { try framed(raw: $0, kind: kind, body) }
    }

    /// `framed` of bytes held elsewhere (valid during the call).
    static func framed<R>(raw: UnsafeRawBufferPointer, kind: Kind, checksum: Bool = true, _ body: (Data) throws -> R) throws -> R {
        var result: R?
        try frameErrorOrNil {
            try IntegrityFrame.withPayloadData(ofRaw: raw, expecting: kind.tag, legacyAdvice: kind.remakeAdvice, checksum: checksum) { payload in
                result = try body(payload)
            }
        }
        return result!
    }

    /// Runs `check`, converting an `IntegrityFrame.Failure` into `CKKSError.invalidFormat`.
    private static func frameErrorOrNil(_ check: () throws -> Void) throws {
        do { try check() } catch let failure as IntegrityFrame.Failure {
            throw CKKSError.invalidFormat(failure.description)
        }
    }

    static func checkMagicAndVersion(magic found: String, version: UInt32) throws {
        guard found == magic else {
            throw CKKSError.invalidFormat(found.isEmpty
                ? "not an he-tool file: no magic string"
                : "not an he-tool file: the magic string is \"\(found.prefix(32))\", expected \"\(magic)\"")
        }
        guard version == formatVersion else {
            throw CKKSError.invalidFormat("the file has format version \(version) inside its frame; this he-tool reads format version \(formatVersion)\(version > formatVersion ? ": use a newer he-tool" : "")")
        }
    }

    /// Decodes and checks a file's envelope: magic, version, kind, body, unknown fields and
    /// (when `context` is given) the parameter fingerprint.
    static func open(_ bytes: [UInt8], expecting expected: Kind, context: CKKSContext?) throws -> Hetool_V1_Envelope {
        try bytes.withUnsafeBytes { try open(raw: $0, expecting: expected, context: context) }
    }

    /// `open` of bytes held elsewhere (valid during the call; the envelope copies what it keeps).
    static func open(raw bytes: UnsafeRawBufferPointer, expecting expected: Kind, context: CKKSContext?,
                     checksum: Bool = true) throws -> Hetool_V1_Envelope {
        guard bytes.count <= maximumFileSize else {
            throw CKKSError.invalidFormat("\(bytes.count) bytes is more than any he-tool file (at most \(maximumFileSize))")
        }
        let envelope: Hetool_V1_Envelope = try framed(raw: bytes, kind: expected, checksum: checksum) { payload in
            do {
                return try Hetool_V1_Envelope(serializedBytes: payload)
            } catch {
                throw CKKSError.invalidFormat("malformed he-tool file (\(error))")
            }
        }
        try checkMagicAndVersion(magic: envelope.magic, version: envelope.formatVersion)
        try rejectUnknownFields(envelope, "the envelope")
        guard let kind = Kind(envelope.kind) else {
            throw CKKSError.invalidFormat("the file's kind \(envelope.kind.rawValue) is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard kind == expected else {
            throw CKKSError.invalidFormat("the file holds \(kind), not \(expected)")
        }
        let bodyKind: Kind?
        switch envelope.body {
        case .parameters?: bodyKind = .parameters
        case .secretKey?: bodyKind = .secretKey
        case .publicKey?: bodyKind = .publicKey
        case .evaluationKeys?: bodyKind = .evaluationKeys
        case .plaintext?: bodyKind = .plaintext
        case .ciphertext?: bodyKind = .ciphertext
        case nil: bodyKind = nil
        }
        guard bodyKind == kind else {
            throw CKKSError.invalidFormat("the file says it holds \(kind) but its body \(bodyKind.map { "holds \($0)" } ?? "is missing")")
        }
        guard envelope.parametersFingerprint.count == 32 else {
            throw CKKSError.invalidFormat("the parameter fingerprint has \(envelope.parametersFingerprint.count) bytes, expected 32")
        }
        if let context {
            let mine = context.parameters.fingerprint
            let theirs = Array(envelope.parametersFingerprint)
            guard theirs == mine else {
                throw CKKSError.parameterMismatch("the file holds \(kind) made with parameters \(hexPrefix(theirs))…, but the context's parameters are \(hexPrefix(mine))…")
            }
        }
        return envelope
    }

    /// Throws if `message` carries fields this format version does not define.
    static func rejectUnknownFields<M: SwiftProtobuf.Message>(_ message: M, _ name: String) throws {
        guard message.unknownFields.data.isEmpty else {
            throw CKKSError.invalidFormat("\(name) has fields format version \(formatVersion) does not define (\(message.unknownFields.data.count) bytes)")
        }
    }

    /// The first 8 bytes of a fingerprint in hex.
    static func hexPrefix(_ bytes: [UInt8]) -> String {
        bytes.prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}
