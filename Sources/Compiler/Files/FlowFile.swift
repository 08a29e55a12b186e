import CKKS
import Foundation
import RegularFiles

/// Reading and writing the flow's files by path, with errors that name the path: what the
/// sessions, the command line and the server share.
public enum FlowFile {
    /// The file's bytes (bounded and checked to be a regular file by `CKKSFile.read`).
    public static func bytes(_ path: String) throws -> [UInt8] { try CKKSFile.read(from: URL(fileURLWithPath: path)) }

    public static func profile(_ path: String) throws -> ClientProfile {
        try ClientProfile.read(bytes(path), source: path)
    }

    public static func model(_ path: String) throws -> CompiledModel {
        try CompiledModel.read(bytes(path), source: path)
    }

    /// Evaluation keys from `data` (read from `path`) for `context`; never a secret key.
    public static func evaluationKeys(_ data: [UInt8], path: String, context: CKKSContext, modelPath: String) throws -> EvaluationKeys {
        try refuseOtherKind(IntegrityFrame.tag(of: data), path: path)
        return try naming(path, mismatch: otherParameters(path, modelPath: modelPath)) {
            try CKKSFile.readEvaluationKeys(data, context: context)
        }
    }

    /// Every evaluation key of the file at `path` for `context`, read one key at a time
    /// (`CKKSFile.readEvaluationKeys`: the keys and one key's bytes in memory, not the file and
    /// its message beside the keys); never a secret key.
    public static func evaluationKeys(path: String, context: CKKSContext, modelPath: String) throws -> EvaluationKeys {
        // The frame's header only (a regular file, opened without blocking): a secret key is
        // named as such before anything else is read.
        let handle = try? RegularFile.Handle(path: path)
        let header = handle.flatMap { try? $0.read(at: 0, count: min($0.size, IntegrityFrame.headerSize)) } ?? []
        try refuseOtherKind(IntegrityFrame.tag(of: header), path: path)
        return try naming(path, mismatch: otherParameters(path, modelPath: modelPath)) {
            try CKKSFile.readEvaluationKeys(path: path, context: context)
        }
    }

    /// A file of another kind than evaluation keys named as such (a secret key with a warning).
    private static func refuseOtherKind(_ tag: IntegrityFrame.Tag?, path: String) throws {
        guard let tag, tag != .evaluationKeys else { return }
        throw CompilerError.mismatch("\(path) holds \(tag.noun), not evaluation keys\(tag == .secretKey ? " — never give a secret key to the server" : "")")
    }

    private static func otherParameters(_ path: String, modelPath: String) -> String {
        "\(path) holds evaluation keys for other parameters than \(modelPath); make them with `he-tool keygen` and that model's client profile"
    }

    /// Writes `bytes` at `path` through a temporary file renamed into place.
    public static func write(_ bytes: [UInt8], _ path: String) throws {
        try CKKSFile.write(bytes, to: URL(fileURLWithPath: path), ownerOnly: false)
    }

    /// Runs a CKKS reader on the file at `path`, putting the path into its errors.
    static func naming<T>(_ path: String, mismatch: String, _ read: () throws -> T) throws -> T {
        do { return try read() } catch let error as CKKSError {
            switch error {
            case .parameterMismatch: throw CompilerError.mismatch(mismatch)
            case .invalidFormat(let why): throw CompilerError.invalidFile("\(path): \(why)")
            default: throw CompilerError.invalidFile("\(path): \(error)")
            }
        }
    }
}
