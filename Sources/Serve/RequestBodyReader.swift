import Foundation
import Hummingbird
import NIOHTTP1

/// Reads a request body into memory within a size bound and a time bound, and turns every
/// way a body can fail into a 4xx answer:
///
/// - a declared `Content-Length` over the bound: 413 before a byte of the body is read;
/// - a body that keeps coming past the bound: 413 as soon as it passes it;
/// - a body that has not fully arrived `timeoutSeconds` after the request started: 408, however
///   it trickles (the deadline is a timer, not checked only when bytes arrive);
/// - malformed chunked framing (a chunk size above 2^64, garbage for a size, a connection that
///   ends inside a chunk): 400 `malformed_request`.
///
/// The 408, 400 and the 413 of a body already streaming close the connection
/// (`ServeError.closesConnection`): the rest of such a body is not read. The 413 of a declared
/// length leaves the connection open: the server answers before the body and then reads and
/// drops what the client still sends, never holding it, because HTTP clients that are still
/// writing a large body when their connection closes report a broken connection instead of
/// the 413 (async-http-client, he-tool's own client, does).
enum RequestBodyReader {
    static func read(_ request: Request, limit: Int, timeoutSeconds: Double) async throws -> [UInt8] {
        try refuseDeclaredLength(request, limit: limit)
        let declared = request.headers[.contentLength].flatMap(Int.init)
        let body = request.body
        return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask { try await collect(body, declared: declared, limit: limit) }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(timeoutSeconds * 1e9))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let bytes = first else {
                throw ServeError(.requestTimeout, "timeout", "the request body did not arrive within \(timeoutSeconds) s (--request-timeout)",
                                 closesConnection: true)
            }
            return bytes
        }
    }

    /// 413 at once when the declared `Content-Length` is over `limit` (nothing is read).
    static func refuseDeclaredLength(_ request: Request, limit: Int) throws {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw tooLarge(declared, limit, closesConnection: false)
        }
    }

    private static func collect(_ body: RequestBody, declared: Int?, limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        if let declared { bytes.reserveCapacity(declared) }
        do {
            for try await var chunk in body {
                guard bytes.count + chunk.readableBytes <= limit else { throw tooLarge(bytes.count + chunk.readableBytes, limit, closesConnection: true) }
                bytes.append(contentsOf: chunk.readBytes(length: chunk.readableBytes) ?? [])
            }
        } catch let error as ServeError {
            throw error
        } catch let error as HTTPParserError {
            throw ServeError(.badRequest, "malformed_request", "the request's framing is malformed (\(error)); the connection is closed",
                             closesConnection: true)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ServeError(.badRequest, "malformed_request", "the request body could not be read (\(type(of: error))); the connection is closed",
                             closesConnection: true)
        }
        if Task.isCancelled { throw CancellationError() }
        return bytes
    }

    private static func tooLarge(_ size: Int, _ limit: Int, closesConnection: Bool) -> ServeError {
        ServeError(.contentTooLarge, "body_too_large",
                   "the body has at least \(size) bytes; this request takes \(limit) at most (--max-body-mb, or the size of the model's input)",
                   closesConnection: closesConnection)
    }
}
