/// The server's paths and the methods each serves, for `405 Method Not Allowed` with an
/// `Allow` header when a known path is asked with another method (TRACE, DELETE, …).
/// Kept beside `ServeRoutes.register`, which serves exactly these.
enum RouteTable {
    /// Path patterns (`:x` matches one segment) and their methods; GET routes answer HEAD too.
    static let routes: [(pattern: [String], methods: [String])] = [
        (["healthz"], ["GET", "HEAD"]),
        (["metrics"], ["GET", "HEAD"]),
        (["v1", "models"], ["GET", "HEAD"]),
        (["v1", "models", ":name", "profile"], ["GET", "HEAD"]),
        (["v1", "models", ":name", "eval"], ["POST"]),
        (["v1", "keys", ":id"], ["PUT"]),
    ]

    /// The methods served on `path`, or nil when no route has this path.
    static func allowedMethods(_ path: String) -> [String]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let methods = routes.filter { route in
            route.pattern.count == segments.count
                && zip(route.pattern, segments).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
        }.flatMap(\.methods)
        return methods.isEmpty ? nil : methods
    }
}
