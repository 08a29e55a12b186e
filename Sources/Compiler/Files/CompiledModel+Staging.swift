import CKKS
import Crypto
import Foundation
import SwiftProtobuf

extension CompiledModel {
    /// Stages the model file at `url` written field by field: the plan, then each step's weights
    /// encoded and written in turn, the frame's checksum streamed over them and its header
    /// written last. So the file is never built whole in memory (AlexNet's 57 M weights are a
    /// 456 MB file; `serialized()` held its message, its encoding and the framed copy at once);
    /// the bytes are exactly `serialized()`'s (a test checks it): the weights are the message's
    /// last field, which protobuf's encoder writes last too.
    /// - Returns: the staged file (commit it, alone or with the client profile).
    /// - Throws: `CKKSError.fileSystem` naming the path; an encoding error.
    public func stage(to url: URL) throws -> StagedFile {
        var m = Hetool_Plan_V1_CompiledModel()
        m.magic = Self.magic
        m.formatVersion = UInt32(Self.formatVersion)
        m.planFingerprint = Data(plan.fingerprint)
        m.plan = try PlanCoding.plan(plan)
        let head: [UInt8] = try m.serializedBytes()
        let weightsTag = CKKSFile.varint(22 << 3 | 2)   // field 22 (`weights`), length-delimited
        return try StagedFile(to: url, ownerOnly: false) { writer in
            var hash = SHA256()
            var length = 0
            func append(_ bytes: [UInt8]) throws {
                hash.update(data: bytes)
                length += bytes.count
                try writer.append(bytes)
            }
            try writer.append([UInt8](repeating: 0, count: IntegrityFrame.headerSize))
            try append(head)
            for step in steps {
                let entry: [UInt8] = try PlanCoding.weights(step.operation).serializedBytes()
                try append(weightsTag + CKKSFile.varint(UInt64(entry.count)))
                try append(entry)
            }
            try writer.overwrite(IntegrityFrame.header(tag: .compiledModel, length: length, digest: Array(hash.finalize())), at: 0)
        }
    }
}
