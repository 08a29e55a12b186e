import ArgumentParser
import Compiler
import Foundation
import Serve

/// `he-tool bench serve`: requests per second and latency percentiles of a served model under
/// N concurrent clients (closed loop: each sends its next request when the last is answered).
struct BenchServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Load-test a model served by `he-tool serve`: requests/s and latency p50/p90/p99."
    )

    @Option(help: "The server's URL.")
    var remote: String

    @Option(help: "The model's name on the server.")
    var model: String

    @Option(name: .customLong("eval-keys"), help: "Evaluation keys (.heevk), uploaded when the server lacks them.")
    var evalKeys: String

    @Option(help: "An encrypted input (.hect) of that model, sent with every request.")
    var input: String

    @Option(help: "Concurrent clients.")
    var clients = 1

    @Option(help: "Requests per client (after one warm-up request).")
    var requests = 10

    @Option(name: .customLong("token-file"), help: "File whose first line is the server's bearer token.")
    var tokenFile: String?

    @Option(name: .customLong("ca-cert"), help: "PEM certificate(s) to trust for an https server (a self-signed one) instead of the system's.")
    var caCert: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard clients >= 1, requests >= 1 else { throw ValidationError("--clients and --requests must be at least 1") }
    }

    func run() async throws {
        let client = try RemoteClient(baseURL: remote, token: try tokenFile.map { try BearerToken.readFile(path: $0) }, caCertificatePath: caCert)
        let result: RemoteBenchmark.Result
        do {
            result = try await RemoteBenchmark.run(client: client, model: model, input: try FlowFile.bytes(input),
                                                   keys: try FlowFile.bytes(evalKeys), clients: clients, requests: requests)
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(String(format: "bench serve: %@ at %@, %d client(s) × %d request(s): %d ok, %d failed in %.2f s",
                         model, remote, clients, requests, result.completed, result.failed, result.wallSeconds))
            print(String(format: "  %.3f requests/s; latency p50 %.3f s, p90 %.3f s, p99 %.3f s (mean %.3f, min %.3f, max %.3f)",
                         result.requestsPerSecond, result.latencyP50, result.latencyP90, result.latencyP99,
                         result.latencyMean, result.latencyMin, result.latencyMax))
            for e in result.errors { print("  failure: \(e)") }
        }
        if result.failed > 0 { throw ExitCode(1) }
    }
}
