import Dispatch
import Hummingbird
import Logging

/// Wraps every request: transfer codings it cannot read refused (`TransferCoding`), the bearer
/// token on /v1 routes, every failure turned into a JSON error answer (`ServeError`,
/// Hummingbird's own 404, 405 with `Allow` for a known path asked with another method,
/// anything unexpected as 500, so no bad request ends the server or a connection's later
/// requests), the request metrics, and one structured log line per request. Bodies, keys and ciphertexts are never logged: only the
/// method, the route pattern, the path (model names and key ids), the status, sizes and times.
struct ServeMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServeMetrics
    let token: BearerToken?
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        var response = Response(status: .internalServerError)
        var failure: ServeError?
        do {
            try TransferCoding.check(request)
            if let token, request.uri.path == "/v1" || request.uri.path.hasPrefix("/v1/"),
               !token.accepts(authorization: request.headers[.authorization]) {
                throw ServeError(.unauthorized, "unauthorized", "this server needs `Authorization: Bearer <token>` (he-tool: --token-file)")
            }
            response = try await next(request, context)
            if response.status.code >= 400, response.headers[.contentType] != "application/json" {
                failure = Self.framework(response.status, request)
            }
        } catch let error as ServeError {
            failure = error
        } catch let error as any HTTPResponseError {
            failure = Self.framework(error.status, request)
        } catch {
            failure = ServeError(.internalServerError, "internal", "the server failed on this request (\(type(of: error))); it keeps serving")
            logger.error("unexpected error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
        }
        if let failure { response = failure.response() }
        let route = context.endpointPath ?? "unmatched"
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        metrics.request(route: route, method: request.method.rawValue, status: Int(response.status.code), nanoseconds: elapsed)
        if let failure { metrics.error(route: route, kind: failure.code) }
        let sent = response.body.contentLength ?? 0
        metrics.sent(route: route, bytes: sent)
        var metadata: Logger.Metadata = [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path.prefix(200))", "route": "\(route)",
            "status": "\(response.status.code)", "ms": "\(elapsed / 1_000_000)", "bytes_out": "\(sent)",
        ]
        if let failure {
            metadata["error"] = "\(failure.code)"
            metadata["detail"] = "\(failure.detail.prefix(300))"
        }
        logger.log(level: failure == nil || response.status.code < 500 ? .info : .warning, "request", metadata: metadata)
        return response
    }

    /// Hummingbird's own answers (no route, wrong method, a body it refused) as JSON errors; a
    /// 404 for a path that is served with other methods becomes 405 with `Allow`.
    static func framework(_ status: HTTPResponse.Status, _ request: Request) -> ServeError {
        switch status.code {
        case 404:
            if let allowed = RouteTable.allowedMethods(request.uri.path), !allowed.contains(request.method.rawValue) {
                return ServeError(.methodNotAllowed, "method_not_allowed",
                                  "\(request.method.rawValue.prefix(20)) is not served on \(request.uri.path.prefix(200)); it serves \(allowed.joined(separator: ", "))",
                                  allow: allowed)
            }
            return ServeError(status, "not_found", "no route \(request.method.rawValue.prefix(20)) \(request.uri.path.prefix(200)); see docs/openapi.yaml")
        case 405:
            return ServeError(status, "method_not_allowed", "\(request.method.rawValue.prefix(20)) is not served on \(request.uri.path.prefix(200))",
                              allow: RouteTable.allowedMethods(request.uri.path))
        case 413: return ServeError(status, "body_too_large", "the body is larger than this server takes")
        case 400..<500: return ServeError(status, "bad_request", "the request was refused (\(status.code) \(status.reasonPhrase))")
        default: return ServeError(status, "internal", "the server failed on this request (\(status.code)); it keeps serving")
        }
    }
}
