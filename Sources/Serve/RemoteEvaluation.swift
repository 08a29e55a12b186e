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
        let tensor: EncryptedTensorFile
        do { tensor = try EncryptedTensorFile.read(input, source: inputSource) } catch {
            throw RemoteError(status: 0, code: "usage", detail: "\(error)")
        }
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
        let evaluation = try await client.evaluate(model: model, input: input, keys: keys, progress: progress)
        return Outcome(result: evaluation.result, uploadedKeys: evaluation.uploadedKeys, profile: profile)
    }
}
