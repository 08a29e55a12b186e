import CKKS
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The HTTP server of `he-tool serve`: Hummingbird 2 with the routes of `ServeRoutes`, the
/// middleware of `ServeMiddleware`, a key cache, an evaluation limiter and its own metrics.
/// Stateless apart from the key cache, so replicas can run behind a load balancer.
public final class EvaluationServer: @unchecked Sendable {
    public let configuration: ServeConfiguration
    public let catalog: ModelCatalog
    public let metrics: ServeMetrics
    public let keyCache: KeyCache
    public let limiter: EvaluationLimiter
    /// Request bodies being received, per client (`--max-uploads-per-client`).
    public let uploads: UploadAdmission
    private let logger: Logger
    private let lock = NSLock()
    private var group: ServiceGroup?
    private var runTask: Task<Void, any Error>?

    /// Prepares a server (opens the key spill directory, reads the TLS files when given).
    /// - Throws: `ServeConfigurationError` or a file-system error.
    public init(configuration: ServeConfiguration, catalog: ModelCatalog, logger: Logger = Logger(label: "he-tool.serve")) throws {
        guard configuration.maxConcurrentEvaluations >= 1, configuration.maxBodyBytes >= 1,
              configuration.requestTimeoutSeconds > 0, configuration.evaluationTimeoutSeconds > 0 else {
            throw ServeConfigurationError("--max-concurrent, --max-body-mb, --request-timeout and --eval-timeout must be positive")
        }
        guard (configuration.tlsCertificatePath == nil) == (configuration.tlsKeyPath == nil) else {
            throw ServeConfigurationError("give both --tls-cert and --tls-key, or neither")
        }
        let metrics = ServeMetrics()
        self.configuration = configuration
        self.catalog = catalog
        self.metrics = metrics
        self.logger = logger
        self.keyCache = try KeyCache(memoryCapacity: configuration.keyCacheBytes, directory: configuration.keySpillDirectory,
                                     spillCapacity: configuration.keySpillBytes, onChange: { metrics.keyCache($0) })
        self.limiter = EvaluationLimiter(capacity: configuration.maxConcurrentEvaluations, onChange: { metrics.evaluationsInFlight($0) })
        self.uploads = try UploadAdmission(perClient: configuration.maxUploadsPerClient)
        _ = try serverBuilder()  // TLS files are checked now, not when the first client connects
    }

    private func serverBuilder() throws -> HTTPServerBuilder {
        // The idle timeout closes connections that sit idle, or stall before a request's head
        // is complete; it is a second longer than the request timeout so that a stalled body
        // is answered 408 (RequestBodyReader's timer) before the connection goes.
        let idle = TimeAmount.seconds(Int64(configuration.requestTimeoutSeconds.rounded(.up)) + 1)
        let http1 = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [ConnectionCloser()], idleTimeout: idle))
        guard let certificate = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath else { return http1 }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate)
            guard !chain.isEmpty else { throw ServeConfigurationError("\(certificate) holds no PEM certificate") }
            let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
            return try .tls(http1, tlsConfiguration: tls)
        } catch let error as ServeConfigurationError {
            throw error
        } catch {
            throw ServeConfigurationError("cannot use the TLS certificate \(certificate) and key \(key): \(error)")
        }
    }

    /// Starts listening and returns the port (the one the system chose when the configuration
    /// says 0). `handleSignals`: stop gracefully on SIGINT and SIGTERM (the command line).
    /// - Throws: when the address cannot be bound.
    public func start(handleSignals: Bool = false) async throws -> Int {
        let router = Router(context: ServeRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.middlewares.add(ServeMiddleware(metrics: metrics, token: configuration.token, logger: logger))
        ServeRoutes(catalog: catalog, cache: keyCache, limiter: limiter, uploads: uploads, metrics: metrics, configuration: configuration,
                    logger: logger, parsing: EvaluationLimiter(capacity: configuration.maxConcurrentEvaluations))
            .register(on: router)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, server: try serverBuilder(),
                              configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "he-tool"),
                              onServerRunning: { channel in
                                  continuation.yield(channel.localAddress?.port ?? 0)
                                  continuation.finish()
                              },
                              logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
                                                      logger: logger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        lock.withLock {
            self.group = group
            self.runTask = task
        }
        for await port in ports {
            logger.info("serving", metadata: ["host": "\(configuration.host)", "port": "\(port)", "tls": "\(configuration.usesTLS)",
                                              "models": "\(catalog.models.map(\.name).joined(separator: ","))",
                                              "auth": "\(configuration.token != nil ? "bearer" : "none")"])
            return port
        }
        try await task.value
        throw ServeConfigurationError("the server stopped before it listened on \(configuration.host):\(configuration.port)")
    }

    /// Waits until the server has stopped (a signal, or `stop()`).
    public func wait() async throws {
        guard let task = lock.withLock({ runTask }) else { return }
        try await task.value
    }

    /// Stops accepting connections, lets running requests finish, and returns when stopped.
    public func stop() async {
        guard let (group, task) = lock.withLock({ self.group.flatMap { g in runTask.map { (g, $0) } } }) else { return }
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}
