import Foundation

/// What went wrong talking to a server: its JSON error (status, `error`, `detail`), or a
/// transport failure, or an answer that is not what was asked for.
public struct RemoteError: Error, CustomStringConvertible, Sendable {
    /// The HTTP status, 0 when no answer came.
    public var status: Int
    /// The server's `error` kind (`unknown_keys`, `wrong_plan`, …) or `transport` / `protocol`.
    public var code: String
    public var detail: String

    public init(status: Int, code: String, detail: String) {
        self.status = status
        self.code = code
        self.detail = detail
    }

    public var description: String {
        status == 0 ? detail : "the server answered \(status) \(code): \(detail)"
    }
}
