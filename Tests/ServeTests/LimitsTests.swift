import Foundation
import Serve
import XCTest

/// Admission (503 with Retry-After past --max-concurrent) and the request timeout (504, the
/// slot held until the evaluation really ends); the server keeps serving afterwards.
final class LimitsTests: XCTestCase {
    func testBusyAndTimeout() async throws {
        let f = try ServeFixtures.get()
        let id = KeyID.of(f.keyBytes)
        let eval = "/v1/models/mnist/eval"

        let (busyServer, busyURL) = try await f.startServer { $0.maxConcurrentEvaluations = 1 }
        let client = try RemoteClient(baseURL: busyURL)
        _ = try await client.uploadKeys(f.keyBytes)
        let running = Task { try await RawHTTP.send(.POST, busyURL + eval, headers: [("He-Eval-Keys", id)], body: f.images[2].input) }
        var waited = 0
        while busyServer.limiter.inFlight == 0 && waited < 500 {
            try await Task.sleep(nanoseconds: 10_000_000)
            waited += 1
        }
        let refused = try await RawHTTP.send(.POST, busyURL + eval, headers: [("He-Eval-Keys", id)], body: f.images[2].input)
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.error?.error, "busy")
        XCTAssertNotNil(refused.headers["retry-after"].flatMap(Int.init))
        let first = try await running.value
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(try f.predictedClass(first.body), f.images[2].label)
        try await client.shutdown()
        await busyServer.stop()

        let (slowServer, slowURL) = try await f.startServer { $0.evaluationTimeoutSeconds = 0.05 }
        let slowClient = try RemoteClient(baseURL: slowURL)
        _ = try await slowClient.uploadKeys(f.keyBytes)
        let late = try await RawHTTP.send(.POST, slowURL + eval, headers: [("He-Eval-Keys", id)], body: f.images[2].input)
        XCTAssertEqual(late.status, 504)
        XCTAssertEqual(late.error?.error, "timeout")
        waited = 0
        while slowServer.limiter.inFlight > 0 && waited < 3000 {
            try await Task.sleep(nanoseconds: 10_000_000)
            waited += 1
        }
        XCTAssertEqual(slowServer.limiter.inFlight, 0)
        let health = try await RawHTTP.send(.GET, slowURL + "/healthz")
        XCTAssertEqual(health.status, 200)
        let metrics = try await RawHTTP.send(.GET, slowURL + "/metrics").text
        XCTAssertEqual(RawHTTP.metric(metrics, "he_evaluations_total", ["outcome=\"timeout\""]), 1)
        try await slowClient.shutdown()
        await slowServer.stop()
    }
}
