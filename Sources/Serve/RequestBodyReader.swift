import Foundation
import Hummingbird

/// Reads a request body into memory within a size bound and a time bound: a declared
/// `Content-Length` over the bound is refused before a byte is read; a body that keeps coming
/// past it is cut off. Either answers 413.
enum RequestBodyReader {
    static func read(_ request: Request, limit: Int, timeoutSeconds: Double) async throws -> [UInt8] {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw tooLarge(declared, limit)
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutSeconds * 1e9)
        var bytes: [UInt8] = []
        if let declared = request.headers[.contentLength].flatMap(Int.init) { bytes.reserveCapacity(declared) }
        for try await var chunk in request.body {
            guard bytes.count + chunk.readableBytes <= limit else { throw tooLarge(bytes.count + chunk.readableBytes, limit) }
            bytes.append(contentsOf: chunk.readBytes(length: chunk.readableBytes) ?? [])
            guard DispatchTime.now().uptimeNanoseconds <= deadline else {
                throw ServeError(.requestTimeout, "timeout", "the request body did not arrive within \(timeoutSeconds) s (--request-timeout)")
            }
        }
        return bytes
    }

    private static func tooLarge(_ size: Int, _ limit: Int) -> ServeError {
        ServeError(.contentTooLarge, "body_too_large",
                   "the body has at least \(size) bytes; this server takes \(limit) at most (--max-body-mb)")
    }
}
