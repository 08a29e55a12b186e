import Crypto
import Foundation
import SwiftProtobuf

extension CKKSFile {
    /// Stages the evaluation-key file of a key set made one Galois key at a time: `galoisKey(g)`
    /// is called once per element of `galoisElements` in ascending order, and each key is written
    /// and dropped before the next is made. So a key set of tens of GB (a ResNet-20 at
    /// N = 65536: 106 keys of 207 MB each in the file, 411 MB decoded) is never in memory whole;
    /// `keygen` needs one key's memory. The bytes are exactly `serialize(_:)`'s for the same keys
    /// (a test checks it); a file past `maximumFileSize` is read key by key
    /// (`openEvaluationKeys`), never whole.
    /// - Returns: the staged file (commit it, alone or with the secret key) and its size in bytes.
    /// - Throws: `CKKSError.fileSystem` naming the path; whatever `galoisKey` throws.
    public static func stageEvaluationKeys(to url: URL, context: CKKSContext, relinearization: KeySwitchKey?,
                                           publicKey: PublicKey?, galoisElements: [UInt64],
                                           galoisKey: (UInt64) throws -> KeySwitchKey) throws -> (file: StagedFile, bytes: Int) {
        let elements = Array(Set(galoisElements)).sorted()
        // Every key of one context has one encoded size (same digits, limbs, seed), so the
        // lengths protobuf puts before each field are known from the first key alone.
        var first: [UInt8]?
        if let g = elements.first { first = try keyBytes(galoisKey(g)) }
        let keyLength = first.map { $0.count } ?? 0
        func galoisMessageLength(_ g: UInt64) -> Int { 1 + varint(g).count + 1 + varint(UInt64(keyLength)).count + keyLength }

        var relinearizationField: [UInt8] = []
        if let relinearization {
            relinearizationField = try field(1, message(relinearization).serializedBytes())
        }
        var publicKeyField: [UInt8] = []
        if let publicKey { publicKeyField = try field(3, message(publicKey).serializedBytes()) }
        let galoisBytes = elements.reduce(0) { total, g in
            let length = galoisMessageLength(g)
            return total + 1 + varint(UInt64(length)).count + length
        }
        let bodyLength = relinearizationField.count + galoisBytes + publicKeyField.count
        var header = Hetool_V1_EnvelopeHeader()
        header.magic = magic
        header.formatVersion = UInt32(formatVersion)
        header.kind = Kind.evaluationKeys.message
        header.parametersFingerprint = Data(context.parameters.fingerprint)
        let envelopeStart = try header.serializedBytes() + [UInt8(13 << 3 | 2)] + varint(UInt64(bodyLength))
        let payloadLength = envelopeStart.count + bodyLength

        var written = 0
        let staged = try StagedFile(to: url, ownerOnly: false) { writer in
            var hash = SHA256()
            func append(_ bytes: [UInt8]) throws {
                hash.update(data: bytes)
                try writer.append(bytes)
            }
            try writer.append([UInt8](repeating: 0, count: IntegrityFrame.headerSize))
            try append(envelopeStart)
            try append(relinearizationField)
            for (index, g) in elements.enumerated() {
                let bytes: [UInt8]
                if index == 0, let first {
                    bytes = first
                } else {
                    bytes = try keyBytes(galoisKey(g))
                }
                precondition(bytes.count == keyLength, "the Galois keys of one context differ in encoded size")
                try append([UInt8(2 << 3 | 2)] + varint(UInt64(galoisMessageLength(g))) + [UInt8(1 << 3)] + varint(g)
                           + [UInt8(2 << 3 | 2)] + varint(UInt64(keyLength)))
                try append(bytes)
            }
            first = nil
            try append(publicKeyField)
            precondition(writer.count == IntegrityFrame.headerSize + payloadLength, "the evaluation keys' lengths were miscounted")
            try writer.overwrite(IntegrityFrame.header(tag: Kind.evaluationKeys.tag, length: payloadLength,
                                                       digest: Array(hash.finalize())), at: 0)
            written = writer.count
        }
        return (staged, written)
    }

    /// The encoded `KeySwitchKey` message of a Galois key.
    private static func keyBytes(_ key: KeySwitchKey) throws -> [UInt8] {
        try message(key).serializedBytes()
    }

    /// A length-delimited protobuf field: tag, length, content.
    private static func field(_ number: UInt64, _ content: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(content.count)) + content
    }

    /// The protobuf varint of `value`: 7 bits per byte, low first, the high bit marking more
    /// (also for files of other layers written field by field, such as compiled models).
    public static func varint(_ value: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
        return bytes
    }
}
