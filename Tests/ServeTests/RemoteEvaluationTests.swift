import CKKS
import Compiler
import Foundation
import Serve
import XCTest

/// A real server on a loopback port: the remote evaluation gives what the local one gives,
/// the profile and model list, key upload (idempotent, id checked) and the 409 round trip.
final class RemoteEvaluationTests: XCTestCase {
    func testRemoteEvaluationEqualsLocalAndKeyRoundTrip() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer()
        let client = try RemoteClient(baseURL: url)

        // The model list and the profile: a client needs nothing out of band.
        let models = try await client.models()
        XCTAssertEqual(models.map(\.name), ["mnist"])
        XCTAssertEqual(models[0].planFingerprint, f.model.planFingerprint.map { String(format: "%02x", $0) }.joined())
        XCTAssertEqual(models[0].parametersFingerprint, f.model.parameters.fingerprintHex)
        let (profileBytes, _) = try await client.profile(model: "mnist")
        XCTAssertEqual(profileBytes, f.profileBytes)
        let missing = try await RawHTTP.send(.GET, url + "/v1/models/nope/profile")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.error?.error, "unknown_model")

        // Unknown keys: 409 with a JSON error, before any upload.
        let id = KeyID.of(f.keyBytes)
        let unknown = try await RawHTTP.send(.POST, url + "/v1/models/mnist/eval", headers: [("He-Eval-Keys", id)], body: f.images[0].input)
        XCTAssertEqual(unknown.status, 409)
        XCTAssertEqual(unknown.error?.error, "unknown_keys")

        // The client uploads on 409 and retries once; the second time the server has them.
        let first = try await RemoteEvaluation.run(client: client, model: "mnist", input: f.images[0].input, inputSource: "image 0",
                                                   keys: f.keyBytes, keysSource: "keys")
        XCTAssertTrue(first.uploadedKeys)
        let second = try await client.evaluate(model: "mnist", input: f.images[0].input, keys: f.keyBytes)
        XCTAssertFalse(second.uploadedKeys)

        // Exactly what the local evaluation gives (evaluation is deterministic).
        let local = try EvaluationSession(model: f.model, keys: f.keys).evaluate(try EncryptedTensorFile.read(f.images[0].input)).serialized()
        XCTAssertEqual(first.result, local, "remote and local results differ")
        XCTAssertEqual(second.result, local)
        XCTAssertEqual(try f.predictedClass(first.result), f.images[0].label)

        // Uploads are idempotent; the id is checked.
        let again = try await RawHTTP.send(.PUT, url + "/v1/keys/\(id)", body: f.keyBytes)
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(try JSONDecoder().decode(KeyUploadAnswer.self, from: Data(again.body)).created, false)
        let (_, otherKeys) = try f.otherClient(rotations: false)
        let wrongID = try await RawHTTP.send(.PUT, url + "/v1/keys/\(String(repeating: "ab", count: 32))", body: otherKeys)
        XCTAssertEqual(wrongID.status, 400)
        XCTAssertEqual(wrongID.error?.error, "key_id_mismatch")
        XCTAssertEqual(server.keyCache.statistics.memoryEntries, 1)

        try await client.shutdown()
        await server.stop()
    }

    /// A file of two groups (a batch-1 plan, two images): `eval --remote` sends one request per
    /// group and numbers the answers back; the server also takes both groups in one body (within
    /// its limit) and gives the same bytes. The answers decrypt to the two images, in order.
    func testAFileOfSeveralGroupsIsEvaluatedGroupByGroup() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer()
        let client = try RemoteClient(baseURL: url)
        let session = try ClientSession(profile: f.profile, secretKey: f.secretKey)
        let file = try EncryptedTensorGroups.serialized(try session.encryptGroups([f.images[1].sample, f.images[0].sample]))
        let outcome = try await RemoteEvaluation.run(client: client, model: "mnist", input: file, inputSource: "x.hect",
                                                     keys: f.keyBytes, keysSource: "keys")
        let answer = try EncryptedTensorGroups.read(outcome.result, source: "y.hect")
        XCTAssertEqual(answer.map(\.group), [0, 1])
        let scores = try answer.flatMap { try session.decrypt($0) }
        XCTAssertEqual(scores.map { s in s.indices.max { s[$0] < s[$1] }! }, [f.images[1].label, f.images[0].label])
        let whole = try await RawHTTP.send(.POST, url + "/v1/models/mnist/eval", headers: [("He-Eval-Keys", KeyID.of(f.keyBytes))], body: file)
        XCTAssertEqual(whole.status, 200, "\(String(describing: whole.error))")
        XCTAssertEqual(Array(whole.body), outcome.result, "one body of two groups answers what two requests answer")
        try await client.shutdown()
        await server.stop()
    }

    func testPlanMismatchIsRefusedByTheClient() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer()
        let client = try RemoteClient(baseURL: url)
        var other = try EncryptedTensorFile.read(f.images[1].input)
        other.planFingerprint = [UInt8](repeating: 7, count: 32)
        let otherBytes = try other.serialized()
        do {
            _ = try await RemoteEvaluation.run(client: client, model: "mnist", input: otherBytes, inputSource: "x.hect", keys: f.keyBytes, keysSource: "me.heevk")
            XCTFail("a ciphertext of another plan was sent")
        } catch let e as RemoteError {
            XCTAssertEqual(e.code, "mismatch")
            XCTAssertTrue(e.detail.contains(String(repeating: "07", count: 32)) && e.detail.contains(f.model.planFingerprint.map { String(format: "%02x", $0) }.joined()), e.detail)
        }
        // (The server's own 422 wrong_plan answer is checked by LoadTests' bad requests.)
        try await client.shutdown()
        await server.stop()
    }

    func testBearerTokenGuardsV1RoutesOnly() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer { $0.token = BearerToken("s3cret-token") }
        let none = try await RawHTTP.send(.GET, url + "/v1/models")
        XCTAssertEqual(none.status, 401)
        XCTAssertEqual(none.error?.error, "unauthorized")
        XCTAssertEqual(none.headers["www-authenticate"], "Bearer")
        let wrong = try await RawHTTP.send(.GET, url + "/v1/models", headers: [("Authorization", "Bearer s3cret-tokeN")])
        XCTAssertEqual(wrong.status, 401)
        let right = try await RawHTTP.send(.GET, url + "/v1/models", headers: [("Authorization", "Bearer s3cret-token")])
        XCTAssertEqual(right.status, 200)
        let health = try await RawHTTP.send(.GET, url + "/healthz")
        XCTAssertEqual(health.status, 200)
        let metrics = try await RawHTTP.send(.GET, url + "/metrics")
        XCTAssertEqual(metrics.status, 200)
        let client = try RemoteClient(baseURL: url, token: "s3cret-token")
        let (bytes, _) = try await client.profile(model: "mnist")
        XCTAssertEqual(bytes, f.profileBytes)
        try await client.shutdown()
        await server.stop()
    }
}

/// HTTPS through Hummingbird's TLS (swift-nio-ssl) with a self-signed certificate made by
/// openssl, trusted by the client through `caCertificatePath`.
final class TLSTests: XCTestCase {
    func testHTTPSWithSelfSignedCertificate() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else {
            throw XCTSkip("openssl is not installed here to make a test certificate")
        }
        let f = try ServeFixtures.get()
        let dir = f.directory.appendingPathComponent("tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let cert = dir.appendingPathComponent("cert.pem").path, key = dir.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        XCTAssertEqual(openssl.terminationStatus, 0)
        let (server, url) = try await f.startServer {
            $0.tlsCertificatePath = cert
            $0.tlsKeyPath = key
        }
        let https = url.replacingOccurrences(of: "http://", with: "https://")
        let client = try RemoteClient(baseURL: https, caCertificatePath: cert)
        let models = try await client.models()
        XCTAssertEqual(models.map(\.name), ["mnist"])
        let untrusting = try RemoteClient(baseURL: https)
        do {
            _ = try await untrusting.models()
            XCTFail("a self-signed certificate was trusted without --ca-cert")
        } catch let e as RemoteError {
            XCTAssertEqual(e.code, "transport")
        }
        try await client.shutdown()
        try await untrusting.shutdown()
        await server.stop()
        // A key file that is not a key: refused before serving.
        var bad = ServeConfiguration()
        bad.tlsCertificatePath = cert
        bad.tlsKeyPath = cert
        bad.keySpillDirectory = dir.appendingPathComponent("spill")
        XCTAssertThrowsError(try EvaluationServer(configuration: bad, catalog: try f.catalog()))
    }
}
