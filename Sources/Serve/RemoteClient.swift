import AsyncHTTPClient
import CKKS
import Compiler
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The client of `he-tool serve` (async-http-client): lists models, downloads a profile,
/// uploads evaluation keys only when the server lacks them, and runs evaluations.
public final class RemoteClient: Sendable {
    /// The server's base URL without a trailing slash (`http://host:port`).
    public let baseURL: String
    private let token: String?
    private let http: HTTPClient
    private let timeout: TimeAmount

    /// - Parameters:
    ///   - baseURL: `http://host:port` or `https://…` (a path prefix is kept: for a proxy).
    ///   - token: the bearer token, when the server wants one.
    ///   - timeoutSeconds: the longest a single request may take (an evaluation included).
    ///   - caCertificatePath: PEM certificates to trust for https instead of the system's
    ///     (a server with a self-signed certificate).
    /// - Throws: `RemoteError` for a URL that is not http(s) or an unreadable certificate file.
    public init(baseURL: String, token: String? = nil, timeoutSeconds: Int64 = 1800, caCertificatePath: String? = nil) throws {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
            throw RemoteError(status: 0, code: "usage", detail: "--remote must be an http:// or https:// URL, not '\(baseURL)'")
        }
        self.baseURL = url
        self.token = token
        self.timeout = .seconds(timeoutSeconds)
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.decompression = .disabled
        configuration.redirectConfiguration = .disallow
        if let caCertificatePath {
            do {
                var tls = TLSConfiguration.makeClientConfiguration()
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caCertificatePath))
                configuration.tlsConfiguration = tls
            } catch {
                throw RemoteError(status: 0, code: "usage", detail: "cannot read the CA certificate \(caCertificatePath): \(error)")
            }
        }
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Closes the connections; call once when done.
    public func shutdown() async throws { try await http.shutdown() }

    // MARK: API

    /// `GET /v1/models`.
    public func models() async throws -> [ModelInfo] {
        let (_, body) = try await send(.GET, "/v1/models", what: "model list")
        do { return try JSONDecoder().decode(ModelList.self, from: Data(body)).models } catch {
            throw RemoteError(status: 200, code: "protocol", detail: "\(baseURL)/v1/models did not answer a model list (\(error))")
        }
    }

    /// `GET /v1/models/{name}/profile`, validated (it must read as a client profile, of the
    /// plan the server says it serves) before it is returned.
    public func profile(model: String, progress: ProgressHandler? = nil) async throws -> (bytes: [UInt8], profile: ClientProfile) {
        let (headers, body) = try await send(.GET, "/v1/models/\(try Self.segment(model))/profile", what: "profile", progress: progress)
        let profile: ClientProfile
        do { profile = try ClientProfile.read(body, source: "the profile from \(baseURL)") } catch {
            throw RemoteError(status: 200, code: "protocol", detail: "\(error)")
        }
        if let plan = headers.first(name: "He-Plan-Fingerprint"), plan != hex(profile.planFingerprint) {
            throw RemoteError(status: 200, code: "protocol", detail: "the server says model '\(model)' runs plan \(plan), but the profile it sent is for \(hex(profile.planFingerprint))")
        }
        return (body, profile)
    }

    /// `PUT /v1/keys/{id}`: uploads an evaluation-key file (the id is computed here).
    public func uploadKeys(_ keys: [UInt8], progress: ProgressHandler? = nil) async throws -> KeyUploadAnswer {
        let id = KeyID.of(keys)
        let (_, body) = try await send(.PUT, "/v1/keys/\(id)", body: keys, what: "evaluation keys", progress: progress)
        do { return try JSONDecoder().decode(KeyUploadAnswer.self, from: Data(body)) } catch {
            throw RemoteError(status: 200, code: "protocol", detail: "the key upload was not acknowledged as expected (\(error))")
        }
    }

    /// The outcome of `evaluate`.
    public struct Evaluation: Sendable {
        /// The result file (`.hect`, stage output), as the server sent it.
        public var result: [UInt8]
        /// Whether the keys had to be uploaded first (the server answered 409).
        public var uploadedKeys: Bool
    }

    /// `POST /v1/models/{name}/eval` with the keys named by their id; when the server does not
    /// hold them (409) they are uploaded and the request sent once more. The answer is read as
    /// an encrypted result of the same plan as the input before it is returned.
    public func evaluate(model: String, input: [UInt8], keys: [UInt8], keyID: String? = nil,
                         progress: ProgressHandler? = nil) async throws -> Evaluation {
        let id = keyID ?? KeyID.of(keys)
        let path = "/v1/models/\(try Self.segment(model))/eval"
        var uploaded = false
        var answer: (HTTPHeaders, [UInt8])
        do {
            answer = try await send(.POST, path, body: input, headers: [("He-Eval-Keys", id)], what: "ciphertext", progress: progress)
        } catch let error as RemoteError where error.status == 409 {
            _ = try await uploadKeys(keys, progress: progress)
            uploaded = true
            answer = try await send(.POST, path, body: input, headers: [("He-Eval-Keys", id)], what: "ciphertext", progress: progress)
        }
        let result = answer.1
        do {
            let sent = try EncryptedTensorGroups.read(input, source: "the input")
            let answer = try EncryptedTensorGroups.read(result, source: "the server's answer")
            guard answer.count == sent.count, zip(answer, sent).allSatisfy({ $0.stage == .output && $0.planFingerprint == $1.planFingerprint
                && $0.group == $1.group && $0.groups == $1.groups && $0.images == $1.images }) else {
                throw RemoteError(status: 200, code: "protocol", detail: "the server's answer is not an evaluation result of the input's plan, group for group")
            }
        } catch let error as RemoteError {
            throw error
        } catch {
            throw RemoteError(status: 200, code: "protocol", detail: "\(error)")
        }
        return Evaluation(result: result, uploadedKeys: uploaded)
    }

    // MARK: transport

    static func segment(_ name: String) throws -> String {
        guard ServedModel.isValidName(name) else {
            throw RemoteError(status: 0, code: "usage", detail: "'\(name)' is not a model name (letters, digits, '.', '_', '-')")
        }
        return name
    }

    /// One request; a non-2xx answer becomes a `RemoteError` with the server's JSON error.
    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers extra: [(String, String)] = [],
              what: String, progress: ProgressHandler? = nil) async throws -> (HTTPHeaders, [UInt8]) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            request.body = .stream(ProgressBody(bytes: body, what: what, progress: progress), length: .known(Int64(body.count)))
        }
        let response: HTTPClientResponse
        var received: [UInt8] = []
        do {
            response = try await http.execute(request, timeout: timeout)
            let total = response.headers.first(name: "Content-Length").flatMap(Int.init)
            if let total { received.reserveCapacity(min(total, CKKSFile.maximumFileSize)) }
            let label = (200..<300).contains(response.status.code) ? (method == .POST ? "result" : what) : "error"
            for try await chunk in response.body {
                guard received.count + chunk.readableBytes <= CKKSFile.maximumFileSize else {
                    throw RemoteError(status: Int(response.status.code), code: "protocol", detail: "the answer is larger than any he-tool file")
                }
                received.append(contentsOf: chunk.readableBytesView)
                if label != "error" { progress?(TransferProgress(direction: .download, what: label, bytes: received.count, total: total)) }
            }
        } catch let error as RemoteError {
            throw error
        } catch {
            throw RemoteError(status: 0, code: "transport", detail: "\(method.rawValue) \(baseURL + path) failed: \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let status = Int(response.status.code)
            if let e = try? JSONDecoder().decode(ErrorBody.self, from: Data(received)) {
                throw RemoteError(status: status, code: e.error, detail: e.detail)
            }
            throw RemoteError(status: status, code: "http_\(status)",
                              detail: "\(method.rawValue) \(path): \(response.status.reasonPhrase) \(String(decoding: received.prefix(200), as: UTF8.self))")
        }
        return (response.headers, received)
    }
}
