import Foundation

/// A closed-loop load test of one served model: `clients` tasks each send `requests`
/// evaluations one after the other; the latency of each and the overall rate are reported.
public enum RemoteBenchmark {
    public struct Result: Codable, Sendable {
        public var model: String
        public var clients: Int
        public var requestsPerClient: Int
        public var completed: Int
        public var failed: Int
        /// The first few distinct failures.
        public var errors: [String]
        public var wallSeconds: Double
        public var requestsPerSecond: Double
        public var latencyP50: Double
        public var latencyP90: Double
        public var latencyP99: Double
        public var latencyMean: Double
        public var latencyMin: Double
        public var latencyMax: Double
    }

    /// Runs the load after one warm-up request (which uploads the keys when needed and is not
    /// counted). Failed requests are counted, not retried.
    public static func run(client: RemoteClient, model: String, input: [UInt8], keys: [UInt8],
                           clients: Int, requests: Int) async throws -> Result {
        precondition(clients >= 1 && requests >= 1, "checked by the command")
        let id = KeyID.of(keys)
        _ = try await client.evaluate(model: model, input: input, keys: keys, keyID: id)
        let start = DispatchTime.now().uptimeNanoseconds
        let outcomes = await withTaskGroup(of: [Swift.Result<Double, RemoteError>].self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var mine: [Swift.Result<Double, RemoteError>] = []
                    for _ in 0..<requests {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        do {
                            _ = try await client.evaluate(model: model, input: input, keys: keys, keyID: id)
                            mine.append(.success(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
                        } catch let e as RemoteError {
                            mine.append(.failure(e))
                        } catch {
                            mine.append(.failure(RemoteError(status: 0, code: "transport", detail: "\(error)")))
                        }
                    }
                    return mine
                }
            }
            var all: [Swift.Result<Double, RemoteError>] = []
            for await part in group { all += part }
            return all
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let latencies = outcomes.compactMap { try? $0.get() }.sorted()
        var errors: [String] = []
        for case let .failure(e) in outcomes where !errors.contains(e.description) && errors.count < 5 { errors.append(e.description) }
        return Result(model: model, clients: clients, requestsPerClient: requests, completed: latencies.count,
                      failed: outcomes.count - latencies.count, errors: errors, wallSeconds: wall,
                      requestsPerSecond: Double(latencies.count) / wall,
                      latencyP50: percentile(latencies, 50), latencyP90: percentile(latencies, 90), latencyP99: percentile(latencies, 99),
                      latencyMean: latencies.isEmpty ? 0 : latencies.reduce(0, +) / Double(latencies.count),
                      latencyMin: latencies.first ?? 0, latencyMax: latencies.last ?? 0)
    }

    /// The nearest-rank percentile of sorted values (0 for none).
    public static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }
}
