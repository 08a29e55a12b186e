import CKKS
import Compiler
import Foundation
import Serve
import XCTest

/// 4 clients × 25 evaluations in parallel with one key set, interleaved with bad requests of
/// every kind: every good answer decrypts to the image's class, none is lost, each bad one
/// gets its 4xx, and /metrics counts them all. Bounded: loopback only, stops by itself.
final class LoadTests: XCTestCase {
    func testFourClientsTwentyFiveRequestsEachWithBadRequestsInterleaved() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer { $0.maxConcurrentEvaluations = 6 }
        let id = KeyID.of(f.keyBytes)
        let clients = 4, requests = 25
        // The four clients start together: each is answered 409 and uploads the shared keys;
        // the server reads and parses one upload and lets the others wait for it.
        let start = Date()

        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for c in 0..<clients {
                group.addTask {
                    let client = try RemoteClient(baseURL: url)
                    var failures: [String] = []
                    for r in 0..<requests {
                        let image = f.images[(c + r) % f.images.count]
                        do {
                            let answer = try await client.evaluate(model: "mnist", input: image.input, keys: f.keyBytes, keyID: id)
                            let predicted = try f.predictedClass(answer.result)
                            if predicted != image.label { failures.append("client \(c) request \(r): \(image.name) → class \(predicted)") }
                        } catch {
                            failures.append("client \(c) request \(r): \(error)")
                        }
                    }
                    try await client.shutdown()
                    return failures
                }
            }
            group.addTask {
                // Bad requests once the keys are there (before, a bad body with their id is a 409).
                while !server.keyCache.contains(id) { try await Task.sleep(nanoseconds: 50_000_000) }
                return try await Self.badRequests(f, url: url, rounds: 3)
            }
            var all: [String] = []
            for try await part in group { all += part }
            return all
        }
        XCTAssertEqual(results, [], "failures:\n" + results.joined(separator: "\n"))
        let elapsed = Date().timeIntervalSince(start)
        print(String(format: "LoadTests: %d evaluations in %.1f s (%.2f/s) with bad requests interleaved", clients * requests, elapsed,
                     Double(clients * requests) / elapsed))

        let metrics = try await RawHTTP.send(.GET, url + "/metrics").text
        let evalRoute = "route=\"/v1/models/{name}/eval\""
        XCTAssertEqual(RawHTTP.metric(metrics, "he_requests_total", [evalRoute, "status=\"200\""]), Double(clients * requests), metrics)
        XCTAssertEqual(RawHTTP.metric(metrics, "he_evaluations_total", ["outcome=\"ok\""]), Double(clients * requests))
        XCTAssertEqual(RawHTTP.metric(metrics, "he_requests_total", ["route=\"/v1/keys/{id}\"", "status=\"201\""]), 1, "one upload stored")
        XCTAssertEqual(RawHTTP.metric(metrics, "he_requests_total", [evalRoute, "status=\"409\""]).map { $0 >= Double(clients + 3) }, true, "each client was answered 409 once, and the 3 unknown-id bad requests")
        XCTAssertEqual(RawHTTP.metric(metrics, "he_evaluations_in_flight"), 0)
        XCTAssertEqual(RawHTTP.metric(metrics, "he_request_duration_seconds_count", [evalRoute]).map { $0 >= Double(clients * requests) }, true)
        for kind in ["invalid_file", "unknown_keys", "invalid_key_id", "body_too_large", "secret_key_refused", "unknown_model", "keys_mismatch", "wrong_plan"] {
            XCTAssertNotNil(RawHTTP.metric(metrics, "he_request_errors_total", ["kind=\"\(kind)\""]), "no error counted of kind \(kind)")
        }
        XCTAssertGreaterThan(RawHTTP.metric(metrics, "he_bytes_received_total", [evalRoute]) ?? 0, Double(clients * requests * f.images[0].input.count) - 1)
        XCTAssertGreaterThan(RawHTTP.metric(metrics, "he_key_cache_bytes") ?? 0, 0)
        XCTAssertEqual(RawHTTP.metric(metrics, "he_key_cache_entries"), 1)
        await server.stop()
    }

    /// Every kind of bad request, `rounds` times, each checked for its status and error kind;
    /// returns the mismatches.
    static func badRequests(_ f: ServeFixtures, url: String, rounds: Int) async throws -> [String] {
        let id = KeyID.of(f.keyBytes)
        var generator = SystemRandomNumberGenerator()
        let input = f.images[0].input
        var otherPlan = try EncryptedTensorFile.read(input)
        otherPlan.planFingerprint = [UInt8](repeating: 9, count: 32)
        let (_, relinOnly) = try f.otherClient(rotations: false)
        var failures: [String] = []
        func expect(_ what: String, _ answer: RawHTTP.Answer, _ status: Int, _ kind: String) {
            if answer.status != status || answer.error?.error != kind {
                failures.append("\(what): expected \(status) \(kind), got \(answer.status) \(answer.text.prefix(300))")
            }
        }
        let eval = url + "/v1/models/mnist/eval"
        let oversized = [UInt8](repeating: 1, count: f.keyBytes.count + (2 << 20))
        let oversizedID = KeyID.of(oversized)
        for _ in 0..<rounds {
            let random = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let cut = Int.random(in: 16..<(input.count - 16), using: &generator)
            expect("truncated ciphertext", try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: Array(input.prefix(cut))), 400, "invalid_file")
            expect("random body", try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: random), 400, "invalid_file")
            expect("unknown key id", try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", KeyID.of(random))], body: input), 409, "unknown_keys")
            expect("malformed key id", try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", "not-a-key-id")], body: input), 400, "invalid_key_id")
            expect("no key id", try await RawHTTP.send(.POST, eval, body: input), 400, "missing_keys_header")
            expect("oversized keys", try await RawHTTP.send(.PUT, url + "/v1/keys/\(oversizedID)", body: oversized), 413, "body_too_large")
            expect("secret key as keys", try await RawHTTP.send(.PUT, url + "/v1/keys/\(KeyID.of(f.secretKeyBytes))", body: f.secretKeyBytes), 422, "secret_key_refused")
            expect("truncated keys", try await RawHTTP.send(.PUT, url + "/v1/keys/\(KeyID.of(Array(f.keyBytes.prefix(5000))))", body: Array(f.keyBytes.prefix(5000))), 400, "invalid_file")
            expect("keys without rotations", try await RawHTTP.send(.PUT, url + "/v1/keys/\(KeyID.of(relinOnly))", body: relinOnly), 422, "keys_mismatch")
            expect("unknown model", try await RawHTTP.send(.POST, url + "/v1/models/nope/eval", headers: [("He-Eval-Keys", id)], body: input), 404, "unknown_model")
            expect("unknown route", try await RawHTTP.send(.GET, url + "/v2/anything"), 404, "not_found")
            expect("wrong plan", try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: try otherPlan.serialized()), 422, "wrong_plan")
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        return failures
    }
}
