import CKKS
import Compiler
import Foundation

/// One model the server serves: the compiled model, the client profile compiled with it (both
/// checked to belong together), and the CKKS context evaluations run in.
public struct ServedModel: Sendable {
    public let name: String
    public let model: CompiledModel
    public let profile: ClientProfile
    /// The profile file's bytes, as `GET /v1/models/{name}/profile` sends them.
    public let profileBytes: [UInt8]
    public let context: CKKSContext

    /// Pairs a model with its profile.
    /// - Throws: `CompilerError.mismatch` when the profile was compiled for another plan or
    ///   other parameters; `ServeError`-free: this runs before the server starts.
    public init(name: String, model: CompiledModel, profileBytes: [UInt8], profileSource: String = "the client profile") throws {
        guard ServedModel.isValidName(name) else {
            throw CompilerError.mismatch("model name '\(name)' is not served: use letters, digits, '.', '_' and '-' (1 … 64)")
        }
        let profile = try ClientProfile.read(profileBytes, source: profileSource)
        guard profile.planFingerprint == model.planFingerprint, profile.parameters == model.parameters else {
            throw CompilerError.mismatch("\(profileSource) belongs to another plan (\(hex(profile.planFingerprint).prefix(16))…) than model '\(name)' (\(hex(model.planFingerprint).prefix(16))…); compile again to get both files from one run")
        }
        self.name = name
        self.model = model
        self.profile = profile
        self.profileBytes = profileBytes
        self.context = try CKKSContext(parameters: model.parameters)
    }

    /// Reads `model.hemodel` at `modelPath` and the `client.heprofile` beside it (as
    /// `he-tool compile` writes them).
    public static func load(name: String, modelPath: String) throws -> ServedModel {
        let url = URL(fileURLWithPath: modelPath)
        let model = try CompiledModel.read(try CKKSFile.read(from: url), source: modelPath)
        let profileURL = url.deletingLastPathComponent().appendingPathComponent("client.heprofile")
        guard FileManager.default.fileExists(atPath: profileURL.path) else {
            throw CompilerError.fileSystem("no client.heprofile beside \(modelPath): the server sends it to clients; `he-tool compile` writes both into one directory")
        }
        return try ServedModel(name: name, model: model, profileBytes: try CKKSFile.read(from: profileURL), profileSource: profileURL.path)
    }

    /// Names usable in a URL path segment without escaping.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { c in
            (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) || c == 45 || c == 46 || c == 95
        } && name != "." && name != ".."
    }

    /// The summary `GET /v1/models` lists.
    public var info: ModelInfo {
        ModelInfo(name: name, modelName: model.modelName, engineVersion: model.engineVersion,
                  parametersFingerprint: model.parameters.fingerprintHex, planFingerprint: hex(model.planFingerprint),
                  logDegree: model.parameters.logDegree, maxLevel: model.parameters.maxLevel, batch: model.imagesPerEvaluation,
                  inputShape: model.inputShape, outputShape: profile.outputShape, steps: model.steps.count,
                  rotationSteps: model.rotationSteps.count, estimatedSeconds: model.estimatedMicroseconds.reduce(0, +) / 1e6,
                  profileBytes: profileBytes.count)
    }
}
