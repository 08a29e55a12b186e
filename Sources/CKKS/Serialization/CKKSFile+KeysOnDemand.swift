import Crypto
import Foundation
import HEMath
import RegularFiles
import SwiftProtobuf

extension CKKSFile {
    /// Evaluation keys whose Galois keys stay in the file at `path` and are read when a rotation
    /// needs them (`GaloisKeyStore`), at most `residentBytes` of them decoded at once. The file
    /// is checked as `readEvaluationKeys` checks it — the frame's SHA-256 (streamed), the
    /// envelope, and every key decoded and validated once, one at a time — so a bad file is
    /// refused here, not half-way through an evaluation. The file may be larger than one he-tool
    /// file held whole (2 GiB). A key read later spreads its limbs over `readThreads` threads
    /// (default: the policy in force, or every core).
    /// - Throws: `CKKSError` naming what is wrong.
    public static func openEvaluationKeys(path: String, context: CKKSContext, residentBytes: Int,
                                          readThreads: Int? = nil) throws -> EvaluationKeys {
        try readByEntries(path: path, context: context, keep: false, residentBytes: residentBytes,
                          readThreads: readThreads ?? (ExecutionPolicy.current ?? .allCores).threads)
    }

    /// Every key of the evaluation-key file at `path` in memory, read one key at a time: the
    /// file checked as `openEvaluationKeys` checks it, then each key decoded (its a expanded
    /// from its seed) and kept. The process holds the keys and one key's bytes, where reading
    /// the file whole held the file, its decoded message and the keys at once (twice the keys:
    /// 674 MB for the bundled MNIST model's 317 MB).
    /// - Throws: `CKKSError` naming what is wrong.
    public static func readEvaluationKeys(path: String, context: CKKSContext) throws -> EvaluationKeys {
        try readByEntries(path: path, context: context, keep: true, residentBytes: 0, readThreads: 1)
    }

    private static func readByEntries(path: String, context: CKKSContext, keep: Bool, residentBytes: Int,
                                      readThreads: Int) throws -> EvaluationKeys {
        let file: RegularFile.Handle
        do { file = try RegularFile.Handle(path: path) } catch let failure as RegularFile.Failure {
            throw fileSystemError(failure, path: path)
        }
        do {
            try IntegrityFrame.verify(file, expecting: Kind.evaluationKeys.tag, legacyAdvice: Kind.evaluationKeys.remakeAdvice)
        } catch let failure as IntegrityFrame.Failure {
            throw CKKSError.invalidFormat("\(failure)")
        } catch let failure as RegularFile.Failure {
            throw fileSystemError(failure, path: path)
        }
        do {
            return try readByEntries(file, context: context, keep: keep, residentBytes: residentBytes, readThreads: readThreads)
        } catch let failure as RegularFile.Failure {
            throw fileSystemError(failure, path: path)
        }
    }

    private static func readByEntries(_ file: RegularFile.Handle, context: CKKSContext, keep: Bool, residentBytes: Int,
                                      readThreads: Int) throws -> EvaluationKeys {
        // The envelope: its small fields gathered as they are encoded, the body (field 13) found.
        var scan = WireScan(file: file, start: IntegrityFrame.headerSize, end: file.size)
        var header: [UInt8] = []
        var body: Range<Int>?
        while let field = try scan.next() {
            switch (field.number, field.range) {
            case (13, let range?):
                guard body == nil else { throw CKKSError.invalidFormat("the evaluation keys' body appears twice") }
                body = range
            case (1...4, _):
                guard field.encoded.count <= 4096 else { throw CKKSError.invalidFormat("envelope field \(field.number) is \(field.encoded.count) bytes") }
                header += try file.read(at: field.encoded.lowerBound, count: field.encoded.count)
            default:
                throw CKKSError.invalidFormat("the file's envelope has field \(field.number), which evaluation keys do not have: it holds something else or was written by a newer he-tool")
            }
        }
        let envelope: Hetool_V1_EnvelopeHeader
        do { envelope = try Hetool_V1_EnvelopeHeader(serializedBytes: header) } catch {
            throw CKKSError.invalidFormat("malformed he-tool file (\(error))")
        }
        try checkMagicAndVersion(magic: envelope.magic, version: envelope.formatVersion)
        guard Kind(envelope.kind) == .evaluationKeys else {
            throw CKKSError.invalidFormat("the file holds \(Kind(envelope.kind).map { "\($0)" } ?? "an unknown kind"), not evaluation keys")
        }
        guard Array(envelope.parametersFingerprint) == context.parameters.fingerprint else {
            throw CKKSError.parameterMismatch("the file holds evaluation keys made with parameters \(hexPrefix(Array(envelope.parametersFingerprint)))…, but the context's parameters are \(hexPrefix(context.parameters.fingerprint))…")
        }
        guard let body else { throw CKKSError.invalidFormat("the file says it holds evaluation keys but its body is missing") }
        var relinearization: KeySwitchKey?
        var publicKey: PublicKey?
        var entries: [UInt64: GaloisKeyStore.Entry] = [:]
        var galois: [UInt64: KeySwitchKey] = [:]
        var keys = WireScan(file: file, start: body.lowerBound, end: body.upperBound)
        var index = 0
        while let field = try keys.next() {
            guard let range = field.range else { throw CKKSError.invalidFormat("the evaluation keys have a field \(field.number) that is not a message") }
            let bytes = try file.read(at: range.lowerBound, count: range.count)
            switch field.number {
            case 1:
                let message: Hetool_V1_KeySwitchKey
                do { message = try Hetool_V1_KeySwitchKey(serializedBytes: bytes) } catch {
                    throw CKKSError.invalidFormat("the relinearization key is malformed (\(error))")
                }
                relinearization = try keySwitchKey(message, context: context, field: "the relinearization key")
            case 2:
                // Validated now (decoded and dropped; a seeded a is not expanded), read again by
                // limbs when a rotation needs it.
                // (Kept whole instead when `keep`.)
                let (g, key) = try galoisKey(bytes, context: context, index: index, expandingSeed: keep)
                guard entries[g] == nil, galois[g] == nil else { throw CKKSError.invalidFormat("Galois element \(g) appears twice") }
                if keep {
                    galois[g] = key
                } else {
                    entries[g] = try galoisEntry(file, context: context, message: range, bytes: bytes, seed: key.seed)
                }
                index += 1
            case 3:
                let message: Hetool_V1_PublicKey
                do { message = try Hetool_V1_PublicKey(serializedBytes: bytes) } catch {
                    throw CKKSError.invalidFormat("the evaluation keys' public key is malformed (\(error))")
                }
                try rejectUnknownFields(message, "the evaluation keys' public key")
                publicKey = try Self.publicKey(message, context: context, field: "the evaluation keys' public key")
            default:
                throw CKKSError.invalidFormat("the evaluation keys have fields format version \(formatVersion) does not define (field \(field.number))")
            }
        }
        if keep {
            return EvaluationKeys(context: context, relinearization: relinearization, galois: galois, publicKey: publicKey)
        }
        let store = GaloisKeyStore(handle: file, context: context, entries: entries,
                                   residentBytes: max(residentBytes, GaloisKeyStore.keyBytes(context)), readThreads: readThreads)
        return EvaluationKeys(context: context, relinearization: relinearization, galois: [:], publicKey: publicKey, store: store)
    }

    /// Where a validated Galois key's residues lie in the file, and each limb's digest.
    private static func galoisEntry(_ file: RegularFile.Handle, context: CKKSContext, message: Range<Int>, bytes: [UInt8],
                                    seed: Seed?) throws -> GaloisKeyStore.Entry {
        var keyRange: Range<Int>?
        var fields = WireScan(file: file, start: message.lowerBound, end: message.upperBound)
        while let field = try fields.next() {
            if field.number == 2 { keyRange = field.range }
        }
        guard let keyRange else { throw CKKSError.invalidFormat("a Galois key has no key") }
        var b: Range<Int>?, a: Range<Int>?
        var keyFields = WireScan(file: file, start: keyRange.lowerBound, end: keyRange.upperBound)
        while let field = try keyFields.next() {
            if field.number == 3 { b = field.range }
            if field.number == 4, field.range?.isEmpty == false { a = field.range }
        }
        let limbBytes = 8 * context.degree
        guard let b else { throw CKKSError.invalidFormat("a Galois key has no b") }
        var digests: [UInt8] = []
        bytes.withUnsafeBytes { raw in
            for range in [b, a].compactMap({ $0 }) {
                for start in stride(from: range.lowerBound, to: range.upperBound, by: limbBytes) {
                    let local = (start - message.lowerBound)..<(start - message.lowerBound + limbBytes)
                    digests += SHA256.hash(data: UnsafeRawBufferPointer(rebasing: raw[local]))
                }
            }
        }
        return GaloisKeyStore.Entry(bOffset: b.lowerBound, aOffset: a?.lowerBound, seed: a == nil ? seed : nil, limbDigests: digests)
    }

    static func fileSystemError(_ failure: RegularFile.Failure, path: String) -> CKKSError {
        switch failure {
        case .missing: return .fileSystem("no file at \(path)")
        case let .notRegular(what): return .fileSystem("\(path) is \(what), not a regular file: give the path of an he-tool file")
        case let .tooLarge(size): return .fileSystem("\(path) has \(size) bytes; no he-tool file has more than \(maximumFileSize)")
        case let .shrank(done, size): return .fileSystem("\(path) became shorter while it was read (\(done) of \(size) bytes)")
        case let .system(operation, reason): return .fileSystem("\(operation) \(path): \(reason)")
        }
    }
}

/// The fields of one protobuf message in a file, read by their headers (tag and length) only:
/// a length-delimited field's content is skipped, not read. Fixed-width fields are refused
/// (none of these messages has one).
struct WireScan {
    struct Field {
        let number: Int
        /// The whole field as encoded (tag, length, content).
        let encoded: Range<Int>
        /// A length-delimited field's content; nil for a varint.
        let range: Range<Int>?
    }

    let file: RegularFile.Handle
    var position: Int
    let end: Int

    init(file: RegularFile.Handle, start: Int, end: Int) {
        self.file = file
        position = start
        self.end = end
    }

    mutating func next() throws -> Field? {
        guard position < end else { return nil }
        let start = position
        let tag = try varint()
        let number = Int(tag >> 3)
        guard number >= 1, number < 1 << 29 else { throw CKKSError.invalidFormat("malformed he-tool file (field number \(number))") }
        switch tag & 7 {
        case 0:
            _ = try varint()
            return Field(number: number, encoded: start..<position, range: nil)
        case 2:
            let length = try varint()
            guard length <= UInt64(end - position) else {
                throw CKKSError.invalidFormat("malformed he-tool file (field \(number) claims \(length) bytes past the message's end)")
            }
            let content = position..<(position + Int(length))
            position = content.upperBound
            return Field(number: number, encoded: start..<position, range: content)
        default:
            throw CKKSError.invalidFormat("malformed he-tool file (field \(number) has wire type \(tag & 7))")
        }
    }

    private mutating func varint() throws -> UInt64 {
        let bytes = try file.read(at: position, count: min(10, end - position))
        var value: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            value |= UInt64(byte & 0x7F) << (7 * UInt64(i))
            if byte & 0x80 == 0 {
                position += i + 1
                return value
            }
        }
        throw CKKSError.invalidFormat("malformed he-tool file (a varint runs past the message's end or over 10 bytes)")
    }
}
