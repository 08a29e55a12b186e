import HEMath
import Foundation

/// How a server runs: where it listens, its limits and its secrets (paths only; the token is
/// read by `BearerToken.load`).
public struct ServeConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0: any free port (the server reports the one it got).
    public var port = 8080
    /// Required on every /v1 route when set; /healthz and /metrics stay open.
    public var token: BearerToken?
    /// PEM certificate chain and private key: HTTPS when both are given.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// Evaluations running at once; more are answered 503 with Retry-After.
    public var maxConcurrentEvaluations = 2
    /// Request bodies (key files, ciphertexts) one client (one IP address) may send at once;
    /// one more is answered 429 with Retry-After. Bodies are received before a slot is taken.
    public var maxUploadsPerClient = 8
    /// The largest request body (ciphertexts and key files); larger ones are answered 413.
    public var maxBodyBytes = 2 << 30
    /// Parsed evaluation keys kept in memory.
    public var keyCacheBytes = 4 << 30
    /// The key spill directory and its bound.
    public var keySpillDirectory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("he-tool-serve-keys")
    public var keySpillBytes = 16 << 30
    /// A request's body must arrive within this many seconds of the request's start (408
    /// otherwise, however slowly it trickles); a connection idle this long is closed.
    public var requestTimeoutSeconds: Double = 300
    /// An evaluation must finish within this many seconds (504 otherwise; it still runs to its
    /// end, holding its slot).
    public var evaluationTimeoutSeconds: Double = 600
    /// The threads each evaluation may use (`he-tool serve --threads`).
    public var policy = ExecutionPolicy.allCores

    public init() {}

    /// Whether `host` only accepts connections from this machine.
    public var isLoopback: Bool {
        ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) || host.hasPrefix("127.")
    }

    /// Whether the server speaks HTTPS.
    public var usesTLS: Bool { tlsCertificatePath != nil && tlsKeyPath != nil }

    /// Problems with this configuration worth a warning before serving.
    public var warnings: [String] {
        var w: [String] = []
        if !isLoopback && !usesTLS {
            w.append("listening on \(host) without TLS: ciphertexts, evaluation keys and the bearer token cross the network in clear; give --tls-cert and --tls-key, or bind to 127.0.0.1 behind a TLS-terminating proxy")
        }
        if !isLoopback && token == nil {
            w.append("listening on \(host) without --token-file: anyone who reaches the port can upload keys and run evaluations")
        }
        return w
    }
}
