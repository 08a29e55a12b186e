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
        if let tag = IntegrityFrame.tag(of: data), tag != .secretKey {
            throw CompilerError.mismatch("\(path) holds \(tag.noun), not a secret key")
        }
        return try naming(path, mismatch: "\(path) is a secret key for other parameters than \(profilePath)'s; make keys for this profile with `he-tool keygen --profile \(profilePath)`") {
            try CKKSFile.readSecretKey(data, context: context)
        }
    }

    static func evaluationKeys(_ path: String, context: CKKSContext, modelPath: String) throws -> EvaluationKeys {
        let data = try bytes(path)
        if let tag = IntegrityFrame.tag(of: data), tag != .evaluationKeys {
            throw CompilerError.mismatch("\(path) holds \(tag.noun), not evaluation keys\(tag == .secretKey ? " — never give a secret key to the server" : "")")
        }
        return try naming(path, mismatch: "\(path) holds evaluation keys for other parameters than \(modelPath); make them with `he-tool keygen` and that model's client profile") {
            try CKKSFile.readEvaluationKeys(data, context: context)
        }
    }

    /// Runs a CKKS reader on the file at `path`, putting the path into its errors.
    private static func naming<T>(_ path: String, mismatch: String, _ read: () throws -> T) throws -> T {
        do { return try read() } catch let error as CKKSError {
            switch error {
            case .parameterMismatch: throw CompilerError.mismatch(mismatch)
            case .invalidFormat(let why): throw CompilerError.invalidFile("\(path): \(why)")
            default: throw CompilerError.invalidFile("\(path): \(error)")
            }
        }
    }

    static func write(_ bytes: [UInt8], _ path: String) throws {
        try CKKSFile.write(bytes, to: URL(fileURLWithPath: path), ownerOnly: false)
    }

    static func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    static func megabytes(_ n: Int) -> String { String(format: "%.2f MB", Double(n) / 1_000_000) }
}
