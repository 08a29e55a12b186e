import ArgumentParser
import Compiler
import Foundation
import HEMath
import Logging
import Serve

/// `he-tool serve`: serves compiled models over HTTP (remote evaluation; docs/openapi.yaml).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve compiled models over HTTP: clients upload evaluation keys and ciphertexts, never a secret key.",
        discussion: """
        Each --model NAME=DIR/model.hemodel is served under NAME, with the client.heprofile found beside it. \
        /v1 routes need `Authorization: Bearer <token>` when --token-file is given; /healthz and /metrics stay open \
        (for load balancers and Prometheus). Stops on SIGINT or SIGTERM after running requests finish.
        """
    )

    @Option(name: .customLong("model"), help: "NAME=PATH of a compiled model (model.hemodel, client.heprofile beside it); repeatable.")
    var models: [String]

    @Option(help: "Address to listen on (a non-loopback address without TLS prints a warning).")
    var host = "127.0.0.1"

    @Option(help: "Port (0: any free port, printed).")
    var port = 8080

    @Flag(name: .customLong("no-circuit-privacy"), help: "Also serve models compiled without --circuit-privacy. Their results carry more than the logits (garbage slots with partial sums, noise that depends on the weights): only for clients you would trust with the weights.")
    var noCircuitPrivacy = false

    @Option(name: .customLong("token-file"), help: "File whose first line is the bearer token the /v1 routes require.")
    var tokenFile: String?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain (HTTPS, with --tls-key).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("max-concurrent"), help: "Evaluations at once; more are answered 503 with Retry-After.")
    var maxConcurrent = 2

    @Option(name: .customLong("max-uploads-per-client"),
            help: "Request bodies (key files, ciphertexts) one client address may send at once; more: 429 with Retry-After.")
    var maxUploadsPerClient = 8

    @Option(name: .customLong("max-body-mb"), help: "Largest request body in MiB (ciphertexts, key files); larger: 413.")
    var maxBodyMB = 2048

    @Option(name: .customLong("key-cache-mb"), help: "Parsed evaluation keys kept in memory, MiB (least recently used evicted).")
    var keyCacheMB = 4096

    @Option(name: .customLong("key-spill-dir"), help: "Directory for key files (owner-only); default: a he-tool-serve-keys-PORT folder in the temporary directory.")
    var keySpillDir: String?

    @Option(name: .customLong("key-spill-mb"), help: "Bound of the key spill directory, MiB.")
    var keySpillMB = 16384

    @Option(name: .customLong("request-timeout"), help: "Seconds a request body may take to arrive, however slowly it trickles (408 after); idle connections close after it.")
    var requestTimeout: Double = 300

    @Option(name: .customLong("eval-timeout"), help: "Seconds an evaluation may take (504 after).")
    var evalTimeout: Double = 600

    @Option(help: "Threads per evaluation (1: single-threaded kernels; 2 or more: RNS limbs in parallel).")
    var threads = 2

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard maxConcurrent >= 1 else { throw ValidationError("--max-concurrent must be at least 1") }
        guard maxUploadsPerClient >= 1 else { throw ValidationError("--max-uploads-per-client must be at least 1") }
        guard maxBodyMB >= 1, keyCacheMB >= 0, keySpillMB >= 0 else { throw ValidationError("--max-body-mb must be at least 1, the cache bounds not negative") }
        guard requestTimeout > 0, evalTimeout > 0 else { throw ValidationError("--request-timeout and --eval-timeout must be positive") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 … 65535") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("give both --tls-cert and --tls-key, or neither") }
        for m in models where m.split(separator: "=", maxSplits: 1).count != 2 {
            throw ValidationError("--model takes NAME=PATH, not '\(m)'")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var served: [ServedModel] = []
        for m in models {
            let parts = m.split(separator: "=", maxSplits: 1).map(String.init)
            let model = try ServedModel.load(name: parts[0], modelPath: parts[1])
            guard model.model.circuitPrivacy != nil || noCircuitPrivacy else {
                throw CompilerError.unsupported("serving model '\(parts[0])' (\(parts[1])) without circuit privacy: it was compiled without --circuit-privacy, so its results would show clients more than the logits; compile it again with --circuit-privacy, or pass --no-circuit-privacy to serve it to clients you trust with the weights")
            }
            served.append(model)
        }
        var configuration = ServeConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.token = try tokenFile.map { try BearerToken.load(path: $0) }
        configuration.tlsCertificatePath = tlsCert
        configuration.tlsKeyPath = tlsKey
        configuration.policy = ExecutionPolicy(threads: threads)
        configuration.maxConcurrentEvaluations = maxConcurrent
        configuration.maxUploadsPerClient = maxUploadsPerClient
        configuration.maxBodyBytes = maxBodyMB << 20
        configuration.keyCacheBytes = keyCacheMB << 20
        configuration.keySpillBytes = keySpillMB << 20
        configuration.keySpillDirectory = keySpillDir.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("he-tool-serve-keys-\(port)")
        configuration.requestTimeoutSeconds = requestTimeout
        configuration.evaluationTimeoutSeconds = evalTimeout
        for warning in configuration.warnings { FlowFiles.log("serve: warning: \(warning)") }
        let server = try EvaluationServer(configuration: configuration, catalog: try ModelCatalog(served))
        let bound = try await server.start(handleSignals: true)
        let scheme = configuration.usesTLS ? "https" : "http"
        for model in served {
            print("serve: \(model.name) (\(model.model.modelName), plan \(model.info.planFingerprint.prefix(16))…, batch \(model.model.batch), ~\(String(format: "%.2f", model.info.estimatedSeconds)) s) at \(scheme)://\(host):\(bound)/v1/models/\(model.name)")
        }
        print("serve: keys in \(configuration.keySpillDirectory.path) (memory \(keyCacheMB) MiB); \(maxConcurrent) evaluation(s) at once; auth \(configuration.token == nil ? "none" : "bearer token on /v1")")
        fflush(stdout)
        try await server.wait()
        print("serve: stopped")
    }
}
