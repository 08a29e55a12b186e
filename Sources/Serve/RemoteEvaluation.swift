import CKKS
import Compiler
import Foundation

/// `he-tool eval --remote` as a function: checks the files against the server's profile before
/// anything large moves, then evaluates (uploading the keys only if the server lacks them).
public enum RemoteEvaluation {
    /// What was done, for the command's summary.
    public struct Outcome: Sendable {
        public var result: [UInt8]
        public var uploadedKeys: Bool
        public var profile: ClientProfile
    }

    /// - Parameters:
    ///   - input: the ciphertext file (`.hect` from `he-tool encrypt`).
    ///   - keys: the evaluation-key file (`.heevk`).
    /// - Throws: `RemoteError` with code `mismatch` naming both fingerprints when the ciphertext
    ///   was packed for another plan than the server's model, or the keys were made for other
    ///   parameters; `RemoteError` from the server otherwise.
    public static func run(client: RemoteClient, model: String, input: [UInt8], inputSource: String,
                           keys: [UInt8], keysSource: String, progress: ProgressHandler? = nil) async throws -> Outcome {
        let groups: [EncryptedTensorFile]
        do { groups = try EncryptedTensorGroups.read(input, source: inputSource) } catch {
            throw RemoteError(status: 0, code: "usage", detail: "\(error)")
        }
        let tensor = groups[0]   // every group was made with the first (`EncryptedTensorGroups`)
        guard tensor.stage == .input else {
            throw RemoteError(status: 0, code: "usage", detail: "\(inputSource) is already an evaluation result, not an encrypted input")
        }
        let header: CKKSFile.Header
        do { header = try CKKSFile.header(of: keys) } catch {
            throw RemoteError(status: 0, code: "usage", detail: "\(keysSource) is not an he-tool key file: \(error)")
        }
        guard header.kind == .evaluationKeys else {
            throw RemoteError(status: 0, code: "usage", detail: "\(keysSource) holds \(header.kind), not evaluation keys\(header.kind == .secretKey ? " — never send a secret key to a server" : "")")
        }
        let (_, profile) = try await client.profile(model: model)
        guard tensor.planFingerprint == profile.planFingerprint else {
            throw RemoteError(status: 0, code: "mismatch",
                              detail: "\(inputSource) was packed for plan \(hex(tensor.planFingerprint)), but model '\(model)' at \(client.baseURL) runs plan \(hex(profile.planFingerprint)); encrypt with that model's profile (`he-tool fetch-profile`)")
        }
        guard header.parametersFingerprint == profile.parameters.fingerprint else {
            throw RemoteError(status: 0, code: "mismatch",
                              detail: "\(keysSource) were made for parameters \(hex(header.parametersFingerprint)), model '\(model)' uses \(profile.parameters.fingerprintHex); make keys with `he-tool keygen --profile` and its profile")
        }
        // A file of several groups: one request per group (each within the server's body limit,
        // which is one group's size), the answers joined in order.
        if groups.count == 1 {
            let evaluation = try await client.evaluate(model: model, input: input, keys: keys, progress: progress)
            return Outcome(result: evaluation.result, uploadedKeys: evaluation.uploadedKeys, profile: profile)
        }
        var result: [UInt8] = []
        var uploaded = false
        for group in groups {
            // Sent as a file of its own (group 1 of 1); its answer numbered back into place.
            var alone = group
            (alone.group, alone.groups) = (0, 1)
            let evaluation = try await client.evaluate(model: model, input: try alone.serialized(), keys: keys, progress: progress)
            var answer: EncryptedTensorFile
            do { answer = try EncryptedTensorFile.read(evaluation.result, source: "the server's answer") } catch {
                throw RemoteError(status: 200, code: "protocol", detail: "\(error)")
            }
            (answer.group, answer.groups) = (group.group, group.groups)
            result += try answer.serialized()
            uploaded = uploaded || evaluation.uploadedKeys
        }
        return Outcome(result: result, uploadedKeys: uploaded, profile: profile)
    }
}
