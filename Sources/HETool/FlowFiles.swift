import CKKS
import Compiler
import Foundation

/// Reading and writing the flow's files for the commands, with errors that name the path.
enum FlowFiles {
    static func bytes(_ path: String) throws -> [UInt8] { try CKKSFile.read(from: URL(fileURLWithPath: path)) }

    static func profile(_ path: String) throws -> ClientProfile {
        try ClientProfile.read(bytes(path), source: path)
    }

    static func model(_ path: String) throws -> CompiledModel {
        try CompiledModel.read(bytes(path), source: path)
    }

    static func tensor(_ path: String) throws -> EncryptedTensorFile {
        try EncryptedTensorFile.read(bytes(path), source: path)
    }

    static func secretKey(_ path: String, context: CKKSContext, profilePath: String) throws -> SecretKey {
        let data = try bytes(path)
        let header = try CKKSFile.header(of: data)
        guard header.kind == .secretKey else { throw CompilerError.mismatch("\(path) holds \(header.kind), not a secret key") }
        guard header.parametersFingerprint == context.parameters.fingerprint else {
            throw CompilerError.mismatch("\(path) is a secret key for other parameters than \(profilePath)'s; make keys for this profile with `he-tool keygen --profile \(profilePath)`")
        }
        return try CKKSFile.readSecretKey(data, context: context)
    }

    static func evaluationKeys(_ path: String, context: CKKSContext, modelPath: String) throws -> EvaluationKeys {
        let data = try bytes(path)
        let header = try CKKSFile.header(of: data)
        guard header.kind == .evaluationKeys else {
            throw CompilerError.mismatch("\(path) holds \(header.kind), not evaluation keys\(header.kind == .secretKey ? " — never give a secret key to the server" : "")")
        }
        guard header.parametersFingerprint == context.parameters.fingerprint else {
            throw CompilerError.mismatch("\(path) holds evaluation keys for other parameters than \(modelPath); make them with `he-tool keygen` and that model's client profile")
        }
        return try CKKSFile.readEvaluationKeys(data, context: context)
    }

    static func write(_ bytes: [UInt8], _ path: String) throws {
        try CKKSFile.write(bytes, to: URL(fileURLWithPath: path), ownerOnly: false)
    }

    static func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    static func megabytes(_ n: Int) -> String { String(format: "%.2f MB", Double(n) / 1_000_000) }
}
