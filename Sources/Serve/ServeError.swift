import Foundation
import Hummingbird

/// An error the server answers with: an HTTP status and a JSON body
/// `{"error": code, "detail": explanation}`. `code` is a stable machine-readable kind
/// (`unknown_keys`, `wrong_plan`, …, listed in docs/openapi.yaml); `detail` is for people.
public struct ServeError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var detail: String
    /// Seconds for a `Retry-After` header (429 and 503 answers).
    public var retryAfterSeconds: Int?
    /// The methods a path serves, for the `Allow` header of a 405 answer.
    public var allow: [String]?
    /// Whether the server closes the connection after this answer (`Connection: close`): when
    /// the rest of the request body is left unread (413, 408) or its framing cannot be trusted
    /// (400 for malformed chunks), so that it is neither drained nor parsed as a next request.
    public var closesConnection: Bool

    public init(_ status: HTTPResponse.Status, _ code: String, _ detail: String, retryAfterSeconds: Int? = nil,
                allow: [String]? = nil, closesConnection: Bool = false) {
        self.status = status
        self.code = code
        self.detail = detail
        self.retryAfterSeconds = retryAfterSeconds
        self.allow = allow
        self.closesConnection = closesConnection
    }

    public var description: String { "\(status.code) \(code): \(detail)" }

    /// The response carrying this error as JSON.
    public func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let seconds = retryAfterSeconds { headers[.retryAfter] = String(seconds) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let allow { headers[.allow] = allow.joined(separator: ", ") }
        if closesConnection { headers[.connection] = "close" }
        let body = (try? JSONEncoder().encode(ErrorBody(error: code, detail: detail))) ?? Data(#"{"error":"internal","detail":""}"#.utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The JSON body of every error answer.
public struct ErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public var detail: String

    public init(error: String, detail: String) {
        self.error = error
        self.detail = detail
    }
}
