import CKKS
import Compiler
import Foundation

/// The models a server serves, by name, and the parameter sets they use: the place where an
/// uploaded key file is judged (kind, parameters) and parsed.
public struct ModelCatalog: Sendable {
    /// In the order given on the command line.
    public let models: [ServedModel]
    private let byName: [String: Int]
    /// Parameter fingerprint (hex) → a context of those parameters.
    private let contexts: [String: CKKSContext]

    /// - Throws: `CompilerError.mismatch` when no model is given or a name repeats.
    public init(_ models: [ServedModel]) throws {
        guard !models.isEmpty else { throw CompilerError.mismatch("no model to serve: give --model NAME=DIR/model.hemodel") }
        var byName: [String: Int] = [:], contexts: [String: CKKSContext] = [:]
        for (i, m) in models.enumerated() {
            guard byName[m.name] == nil else { throw CompilerError.mismatch("model name '\(m.name)' is given twice") }
            byName[m.name] = i
            contexts[m.model.parameters.fingerprintHex] = contexts[m.model.parameters.fingerprintHex] ?? m.context
        }
        self.models = models
        self.byName = byName
        self.contexts = contexts
    }

    /// The model served as `name`, or a 404 error.
    public func model(_ name: String) throws -> ServedModel {
        guard let i = byName[name] else {
            throw ServeError(.notFound, "unknown_model", "no model '\(name.prefix(64))' is served here; GET /v1/models lists them (\(models.map(\.name).joined(separator: ", ")))")
        }
        return models[i]
    }

    /// Judges and parses an evaluation-key file: refuses secret keys and any other kind,
    /// and keys for parameters no served model uses; then the CKKS reader validates every
    /// field and residue.
    /// - Throws: `ServeError` 400 (not a key file, damaged) or 422 (a secret key, other
    ///   parameters).
    public func parseKeys(_ bytes: [UInt8]) throws -> EvaluationKeys {
        let header: CKKSFile.Header
        do { header = try CKKSFile.header(of: bytes) } catch {
            throw ServeError(.badRequest, "invalid_file", "the body is not an he-tool evaluation-key file (\(error))")
        }
        guard header.kind != .secretKey else {
            throw ServeError(.unprocessableContent, "secret_key_refused",
                             "the body is a secret key; never send it to a server — upload the evaluation keys (.heevk) that `he-tool keygen` wrote beside it")
        }
        guard header.kind == .evaluationKeys else {
            throw ServeError(.unprocessableContent, "wrong_kind", "the body holds \(header.kind), not evaluation keys")
        }
        let fingerprint = hex(header.parametersFingerprint)
        guard let context = contexts[fingerprint] else {
            throw ServeError(.unprocessableContent, "unknown_parameters",
                             "the keys were made for parameters \(fingerprint.prefix(16))…, which no served model uses (served: \(models.map { "\($0.name) \($0.model.parameters.fingerprintHex.prefix(16))…" }.joined(separator: ", ")))")
        }
        do { return try CKKSFile.readEvaluationKeys(bytes, context: context) } catch {
            throw ServeError(.badRequest, "invalid_file", "the evaluation-key file is damaged: \(error)")
        }
    }

    /// The names of the served models that `keys` can evaluate.
    public func modelsFitting(_ keys: EvaluationKeys) -> [String] {
        models.filter { (try? EvaluationSession.check(keys, serve: $0.model)) != nil }.map(\.name)
    }
}
