import HEMath
import CKKS
import Compiler
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The API's handlers (docs/openapi.yaml). They move bytes and call the Compiler's checks and
/// `EvaluationSession`; parsing and evaluation run on `WorkQueue`.
///
/// An upload or evaluation runs in this order, so that slow or hostile senders cost only
/// themselves: the cheap checks on the head (route, ids, keys known, declared size) answer
/// before a byte of the body is read; the body is received counted against its client
/// (`UploadAdmission`, 429) and the request timeout (408), never against a slot; only once it
/// has fully arrived, and for an evaluation its frame, plan and layout checked, is a parsing or
/// evaluation slot taken (503 when none is free). Whatever
/// the work on the slot throws becomes an error answer (`ServeMiddleware`), never a stop.
struct ServeRoutes: Sendable {
    static let keysHeader = HTTPField.Name("He-Eval-Keys")!
    static let planHeader = HTTPField.Name("He-Plan-Fingerprint")!
    static let keyIDHeader = HTTPField.Name("He-Key-Id")!

    let catalog: ModelCatalog
    let cache: KeyCache
    let limiter: EvaluationLimiter
    let uploads: UploadAdmission
    let metrics: ServeMetrics
    let configuration: ServeConfiguration
    let logger: Logger
    /// One parse per key id at a time (after the bodies have arrived).
    let gate = UploadGate()
    /// Key uploads being read and parsed at once (each holds the file and its parsed form:
    /// about three times the file), bounded like the evaluations.
    let parsing: EvaluationLimiter

    func register(on router: Router<ServeRequestContext>) {
        router.get("/healthz") { _, _ in try self.json(HealthAnswer(status: "ok", models: self.catalog.models.count,
                                                                      evaluationsInFlight: self.limiter.inFlight)) }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: self.metrics.exposition())))
        }
        router.get("/v1/models") { _, _ in try self.json(ModelList(models: self.catalog.models.map(\.info))) }
        router.get("/v1/models/:name/profile") { _, context in
            let model = try self.catalog.model(try self.parameter("name", context))
            var headers = HTTPFields()
            headers[.contentType] = "application/octet-stream"
            headers[Self.planHeader] = hex(model.model.planFingerprint)
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: model.profileBytes)))
        }
        router.put("/v1/keys/:id") { request, context in try await self.putKeys(request, context) }
        router.post("/v1/models/:name/eval") { request, context in try await self.evaluate(request, context) }
    }

    // MARK: keys

    func putKeys(_ request: Request, _ context: ServeRequestContext) async throws -> Response {
        let id = try parameter("id", context)
        guard KeyID.isWellFormed(id) else {
            throw ServeError(.badRequest, "invalid_key_id", "a key id is the SHA-256 of the key file as 64 lowercase hex digits")
        }
        if cache.contains(id) {
            return try json(KeyUploadAnswer(id: id, created: false, models: [], bytes: 0), status: .ok, keyID: id)
        }
        let bytes = try await receive(request, context, limit: configuration.maxBodyBytes)
        metrics.received(route: "/v1/keys/{id}", bytes: bytes.count)
        guard KeyID.of(bytes) == id else {
            throw ServeError(.badRequest, "key_id_mismatch",
                             "the body's SHA-256 is \(KeyID.of(bytes)), not the id \(id) in the path: the file was damaged on the way, or the id names another file; send it again")
        }
        let waited = await gate.begin(id)
        defer { gate.end(id) }
        if waited, cache.contains(id) {  // another request uploaded the same keys meanwhile
            return try json(KeyUploadAnswer(id: id, created: false, models: [], bytes: 0), status: .ok, keyID: id)
        }
        guard parsing.tryAcquire() else {
            throw ServeError(.serviceUnavailable, "busy", "\(parsing.capacity) key uploads are being parsed; retry in 10 s",
                             retryAfterSeconds: 10)
        }
        defer { parsing.release() }
        let (catalog, cache) = (self.catalog, self.cache)
        let answer = try await WorkQueue.run { () -> KeyUploadAnswer in
            let keys = try catalog.parseKeys(bytes)
            let fits = catalog.modelsFitting(keys)
            guard !fits.isEmpty else {
                let reasons = catalog.models.filter { $0.model.parameters == keys.context.parameters }.compactMap { m -> String? in
                    do { try EvaluationSession.check(keys, serve: m.model, source: "the keys"); return nil } catch { return "\(m.name): \(error)" }
                }
                throw ServeError(.unprocessableContent, "keys_mismatch", "the keys fit no served model: \(reasons.joined(separator: "; "))")
            }
            let created = try cache.insert(id: id, keys: keys, fileBytes: bytes)
            return KeyUploadAnswer(id: id, created: created, models: fits, bytes: bytes.count)
        }
        logger.info("keys stored", metadata: ["key_id": "\(id)", "bytes": "\(bytes.count)", "models": "\(answer.models.joined(separator: ","))"])
        return try json(answer, status: answer.created ? .created : .ok, keyID: id)
    }

    // MARK: evaluation

    func evaluate(_ request: Request, _ context: ServeRequestContext) async throws -> Response {
        let served = try catalog.model(try parameter("name", context))
        guard let id = request.headers[Self.keysHeader], !id.isEmpty else {
            throw ServeError(.badRequest, "missing_keys_header", "name the evaluation keys in the He-Eval-Keys header (the SHA-256 of the key file, hex)")
        }
        guard KeyID.isWellFormed(id) else {
            throw ServeError(.badRequest, "invalid_key_id", "He-Eval-Keys must be the SHA-256 of the key file as 64 lowercase hex digits")
        }
        guard cache.contains(id) else {
            metrics.keyLookup("miss")
            throw Self.unknownKeys(id)
        }
        let bytes = try await receive(request, context, limit: min(configuration.maxBodyBytes, served.maxInputBytes))
        metrics.received(route: "/v1/models/{name}/eval", bytes: bytes.count)
        // The input's frame, plan and layout cost a hash and a header: checked before the slot,
        // so that a damaged or foreign input is answered as such even when every slot is busy.
        let input = try await WorkQueue.run { try Self.readInput(bytes, for: served) }
        guard limiter.tryAcquire() else {
            let retry = max(1, Int(served.model.estimatedMicroseconds.reduce(0, +) / 1e6 + 0.999))
            throw ServeError(.serviceUnavailable, "busy", "\(limiter.capacity) evaluations are running (--max-concurrent); retry in \(retry) s",
                             retryAfterSeconds: retry)
        }
        var released = false
        defer { if !released { limiter.release() } }
        let (catalog, cache, metrics, limiter, policy) = (self.catalog, self.cache, self.metrics, self.limiter, configuration.policy)
        let timeout = ServeError(.gatewayTimeout, "timeout", "the evaluation did not finish within \(configuration.evaluationTimeoutSeconds) s (--eval-timeout)")
        let start = DispatchTime.now().uptimeNanoseconds
        released = true  // from here the work queue gives the slot back when the evaluation ends
        let result: [UInt8]
        do {
            result = try await WorkQueue.run(timeout: configuration.evaluationTimeoutSeconds, timeoutError: timeout, finished: { limiter.release() }) {
                try Self.run(served, input: input, keyID: id, catalog: catalog, cache: cache, metrics: metrics, policy: policy)
            }
        } catch let error as ServeError {
            metrics.evaluation(model: served.name, outcome: error.code == "timeout" ? "timeout" : "refused", nanoseconds: 0)
            throw error
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        metrics.evaluation(model: served.name, outcome: "ok", nanoseconds: elapsed)
        logger.info("evaluated", metadata: ["model": "\(served.name)", "key_id": "\(id)", "ms": "\(elapsed / 1_000_000)",
                                            "bytes_in": "\(bytes.count)", "bytes_out": "\(result.count)"])
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[Self.planHeader] = hex(served.model.planFingerprint)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: result)))
    }

    /// The posted input's frames (SHA-256: a damaged file is named so; one per group, every
    /// group of the file, in order), their plan and their layout against the model's, before any
    /// tile is parsed. A body of several groups is evaluated group by group within the body limit.
    static func readInput(_ bytes: [UInt8], for served: ServedModel) throws -> [EncryptedTensorFile] {
        let groups: [EncryptedTensorFile]
        do { groups = try EncryptedTensorGroups.read(bytes, source: "the request body") } catch {
            throw ServeError(.badRequest, "invalid_file", "\(error)")
        }
        for input in groups {
            guard input.planFingerprint == served.model.planFingerprint else {
                throw ServeError(.unprocessableContent, "wrong_plan",
                                 "the ciphertext was packed for plan \(hex(input.planFingerprint)), model '\(served.name)' runs plan \(hex(served.model.planFingerprint)); encrypt with this model's profile (GET /v1/models/\(served.name)/profile)")
            }
            try served.checkInput(input)
        }
        return groups
    }

    /// The evaluation proper, on the work queue with a slot: the keys (from memory or the spill
    /// directory) and their fit (an `EvaluationSession`), the evaluation under `policy`.
    static func run(_ served: ServedModel, input: [EncryptedTensorFile], keyID id: String, catalog: ModelCatalog, cache: KeyCache,
                    metrics: ServeMetrics, policy: ExecutionPolicy) throws -> [UInt8] {
        guard let (keys, source) = try cache.keys(id, parse: catalog.parseKeys) else {
            metrics.keyLookup("miss")
            throw unknownKeys(id)
        }
        metrics.keyLookup(source.rawValue)
        let session: EvaluationSession
        do { session = try EvaluationSession(model: served.model, keys: keys, policy: policy, keysSource: "the keys \(id.prefix(12))…") } catch {
            throw ServeError(.unprocessableContent, "keys_mismatch", "\(error)")
        }
        do {
            var result: [UInt8] = []
            for group in input {
                result += try session.evaluate(group, source: group.groups > 1 ? "the ciphertext's group \(group.group + 1)" : "the ciphertext").serialized()
            }
            return result
        } catch let error as CompilerError {
            if case .mismatch = error { throw ServeError(.unprocessableContent, "mismatch", "\(error)") }
            throw ServeError(.badRequest, "invalid_file", "\(error)")
        } catch let error as CKKSError {
            throw ServeError(.badRequest, "invalid_file", "the ciphertext cannot be evaluated: \(error)")
        }
    }

    static func unknownKeys(_ id: String) -> ServeError {
        ServeError(.conflict, "unknown_keys", "this server holds no evaluation keys \(id); upload them with PUT /v1/keys/\(id) and send the request again")
    }

    // MARK: helpers

    /// The request body, received within the size `limit` (413 on a declared length past it,
    /// before anything is read) and `--request-timeout` (408), counted as one upload of the
    /// client (429 past `--max-uploads-per-client`).
    func receive(_ request: Request, _ context: ServeRequestContext, limit: Int) async throws -> [UInt8] {
        try RequestBodyReader.refuseDeclaredLength(request, limit: limit)
        return try await uploads.receiving(from: context.client) {
            try await RequestBodyReader.read(request, limit: limit, timeoutSeconds: configuration.requestTimeoutSeconds)
        }
    }

    func parameter(_ name: String, _ context: ServeRequestContext) throws -> String {
        guard let value = context.parameters.get(name) else { throw ServeError(.badRequest, "bad_request", "missing path parameter \(name)") }
        return value
    }

    func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, keyID: String? = nil) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let keyID { headers[Self.keyIDHeader] = keyID }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
