import Foundation

/// Request bodies being received, counted per client: a client may send at most `perClient`
/// bodies (key files, ciphertexts) at once; one more is answered 429 with `Retry-After`
/// before a byte of it is read. Bodies are received before any evaluation or parsing slot is
/// taken, so slow senders hold only their own share of this count, never a slot.
public final class UploadAdmission: @unchecked Sendable {
    public let perClient: Int
    private let lock = NSLock()
    private var receiving: [String: Int] = [:]

    /// - Throws: `ServeConfigurationError` when `perClient` is below 1.
    public init(perClient: Int) throws {
        guard perClient >= 1 else { throw ServeConfigurationError("--max-uploads-per-client must be at least 1") }
        self.perClient = perClient
    }

    /// Bodies being received from `client` now.
    public func inFlight(_ client: String) -> Int { lock.withLock { receiving[client] ?? 0 } }

    /// Counts one more body from `client`, or returns false when it already sends `perClient`.
    func tryBegin(_ client: String) -> Bool {
        lock.withLock {
            let n = receiving[client] ?? 0
            guard n < perClient else { return false }
            receiving[client] = n + 1
            return true
        }
    }

    /// The body from `client` has arrived (or failed).
    func end(_ client: String) {
        lock.withLock {
            let n = (receiving[client] ?? 1) - 1
            receiving[client] = n > 0 ? n : nil
        }
    }

    /// Runs `body` counted as one upload of `client`.
    /// - Throws: `ServeError` 429 `too_many_uploads` when the client is at its limit; what
    ///   `body` throws.
    func receiving<T>(from client: String, _ body: () async throws -> T) async throws -> T {
        guard tryBegin(client) else {
            throw ServeError(.tooManyRequests, "too_many_uploads",
                             "this client is sending \(perClient) request bodies already (--max-uploads-per-client); retry when one has arrived",
                             retryAfterSeconds: 1)
        }
        defer { end(client) }
        return try await body()
    }
}
