import Foundation

/// What `GET /v1/models` says about one served model: enough for a client to pick a model
/// and to check the files it holds (fingerprints in hex), plus a summary of the plan.
public struct ModelInfo: Codable, Sendable, Equatable {
    /// The name the server serves it under (`--model NAME=…`), used in the routes.
    public var name: String
    /// The model's own name, from compilation.
    public var modelName: String
    public var engineVersion: String
    /// SHA-256 of the CKKS parameter set (hex): evaluation keys must carry the same.
    public var parametersFingerprint: String
    /// SHA-256 of the plan (hex): ciphertexts must have been packed for the same.
    public var planFingerprint: String
    public var logDegree: Int
    public var maxLevel: Int
    /// Images one evaluation carries.
    public var batch: Int
    /// [C, H, W] of one input sample.
    public var inputShape: [Int]
    /// The output of one sample ([classes, 1, 1] for a classifier).
    public var outputShape: [Int]
    public var steps: Int
    /// Rotation steps the evaluation keys must hold (their count).
    public var rotationSteps: Int
    /// The optimizer's latency estimate for one evaluation, in seconds.
    public var estimatedSeconds: Double
    /// Size of the client profile (`GET /v1/models/{name}/profile`), in bytes.
    public var profileBytes: Int
}

/// The body of `GET /v1/models`.
public struct ModelList: Codable, Sendable, Equatable {
    public var models: [ModelInfo]
}

/// The body of a successful `PUT /v1/keys/{id}`.
public struct KeyUploadAnswer: Codable, Sendable, Equatable {
    public var id: String
    /// False when the server held these keys already (the upload changed nothing).
    public var created: Bool
    /// The served models these keys fit (parameters and rotations).
    public var models: [String]
    public var bytes: Int
}

/// The body of `GET /healthz`.
public struct HealthAnswer: Codable, Sendable, Equatable {
    public var status: String
    public var models: Int
    public var evaluationsInFlight: Int
}
