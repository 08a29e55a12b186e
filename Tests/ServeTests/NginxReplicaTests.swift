import Foundation
import Serve
import XCTest

/// Two replicas behind Debian's nginx on loopback, with the README's configuration (keys
/// pinned to a replica by their id). A client's keys are uploaded to a replica when it answers
/// 409: first to the one its key id hashes to, then, when that replica stops, to the other.
final class NginxReplicaTests: XCTestCase {
    func testTwoReplicasBehindNginx() async throws {
        guard let nginx = NginxProxy.executable() else {
            XCTFail("nginx is not installed (looked in /usr/sbin, /usr/local/sbin, /usr/bin and PATH): run scripts/bootstrap.sh or `apt-get install nginx`")
            return
        }
        let f = try ServeFixtures.get()
        let (a, urlA) = try await f.startServer()
        let (b, urlB) = try await f.startServer()
        let proxy = try NginxProxy(executable: nginx, upstreams: [urlA, urlB], directory: f.directory)
        defer { proxy.stop() }
        try await proxy.waitUntilReady()

        let client = try RemoteClient(baseURL: proxy.url)
        let (_, profile) = try await client.profile(model: "mnist")
        XCTAssertEqual(profile.planFingerprint, f.model.planFingerprint)
        let id = KeyID.of(f.keyBytes)
        let first = try await client.evaluate(model: "mnist", input: f.images[3].input, keys: f.keyBytes)
        XCTAssertTrue(first.uploadedKeys)
        XCTAssertEqual(try f.predictedClass(first.result), f.images[3].label)
        let holders = [a, b].filter { $0.keyCache.contains(id) }
        XCTAssertEqual(holders.count, 1, "the keys went to exactly one replica")
        let second = try await client.evaluate(model: "mnist", input: f.images[4].input, keys: f.keyBytes)
        XCTAssertFalse(second.uploadedKeys, "the same replica answered again")
        XCTAssertEqual(try f.predictedClass(second.result), f.images[4].label)

        // A second client with its own keys.
        let (sk2, keys2) = try f.otherClient()
        let input2 = try f.encrypt(image: 1, secretKey: sk2)
        let other = try await client.evaluate(model: "mnist", input: input2, keys: keys2)
        XCTAssertEqual(try f.predictedClass(other.result, secretKey: sk2), f.images[1].label)

        // The replica holding the first keys stops: nginx sends the client to the other one,
        // which answers 409; the client uploads there and gets its answer.
        let (stopped, remaining) = holders[0] === a ? (a, b) : (b, a)
        await stopped.stop()
        let third = try await client.evaluate(model: "mnist", input: f.images[0].input, keys: f.keyBytes)
        XCTAssertTrue(third.uploadedKeys)
        XCTAssertEqual(try f.predictedClass(third.result), f.images[0].label)
        XCTAssertTrue(remaining.keyCache.contains(id))
        try await client.shutdown()
        await remaining.stop()
    }
}
