import Foundation
import Hummingbird

/// The request framings the server reads: a `Content-Length`, or `Transfer-Encoding: chunked`.
/// Any other transfer coding is refused before the body is read (RFC 9112):
///
/// - chunked not the last coding (`Transfer-Encoding: gzip`): the body's length cannot be
///   known, so 400 and the connection is closed (§6.3: the server MUST answer 400 and close);
/// - chunked last after another coding (`gzip, chunked`): the framing is sound but the coding
///   is not one the server decodes, so 501 (§6.1: a server SHOULD answer 501 to a transfer
///   coding it does not understand); the connection is closed too, the body left unread.
enum TransferCoding {
    static func check(_ request: Request) throws {
        let values = request.headers[values: .transferEncoding]
        guard !values.isEmpty else { return }
        let codings = values.flatMap { $0.split(separator: ",") }
            .map { $0.split(separator: ";").first.map(String.init) ?? "" }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
        guard codings.last == "chunked" else {
            throw ServeError(.badRequest, "malformed_request",
                             "Transfer-Encoding '\(codings.joined(separator: ", ").prefix(80))' does not end in chunked: the body's length cannot be known; the connection is closed",
                             closesConnection: true)
        }
        guard codings.count == 1 else {
            throw ServeError(.notImplemented, "unsupported_transfer_coding",
                             "this server reads Content-Length or chunked bodies only, not the transfer coding '\(codings.dropLast().joined(separator: ", ").prefix(80))'; send the file as it is",
                             closesConnection: true)
        }
    }
}
