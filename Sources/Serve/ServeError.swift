import Foundation
import Hummingbird

/// An error the server answers with: an HTTP status and a JSON body
/// `{"error": code, "detail": explanation}`. `code` is a stable machine-readable kind
/// (`unknown_keys`, `wrong_plan`, …, listed in docs/openapi.yaml); `detail` is for people.
public struct ServeError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var detail: String
    /// Seconds for a `Retry-After` header (503 answers).
    public var retryAfterSeconds: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ detail: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.detail = detail
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(status.code) \(code): \(detail)" }

    /// The response carrying this error as JSON.
    public func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let seconds = retryAfterSeconds { headers[.retryAfter] = String(seconds) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
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
