import CKKS
@testable import Compiler
import Foundation
import Serve
import TileTensors
import XCTest

/// Requests built to hurt the server (issue 15), each answered with its 4xx while the server
/// keeps serving: malformed HTTP framing, wrong methods, damaged and hostile files, bodies
/// that stall, trickle or are too large, one client opening too many uploads.
final class HardeningTests: XCTestCase {
    static func port(_ url: String) -> Int { Int(url.split(separator: ":").last!)! }

    /// A request whose body is `body` sent as raw chunked framing.
    static func chunked(_ method: String, _ path: String, _ extra: [String] = [], body: String) -> String {
        RawSocket.head(method, path, ["Transfer-Encoding: chunked"] + extra) + body
    }

    func testMalformedFramingIs400AndTheServerStaysUp() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer()
        let port = Self.port(url)
        let id = KeyID.of(f.keyBytes)
        let upload = try await RawHTTP.send(.PUT, url + "/v1/keys/\(id)", body: f.keyBytes)
        XCTAssertEqual(upload.status, 201)
        let freshID = String(repeating: "5a", count: 32)
        let cases: [(String, String, Int, String)] = [
            ("chunk size above 2^64 (keys)", Self.chunked("PUT", "/v1/keys/\(freshID)", body: "1ffffffffffffffffffff\r\nab\r\n0\r\n\r\n"), 400, "malformed_request"),
            ("garbage chunk size (keys)", Self.chunked("PUT", "/v1/keys/\(freshID)", body: "zz\r\nab\r\n0\r\n\r\n"), 400, "malformed_request"),
            ("chunk size above 2^64 (eval)", Self.chunked("POST", "/v1/models/mnist/eval", ["He-Eval-Keys: \(id)"], body: "fffffffffffffffffffff\r\nab\r\n0\r\n\r\n"), 400, "malformed_request"),
            ("garbage chunk size (eval)", Self.chunked("POST", "/v1/models/mnist/eval", ["He-Eval-Keys: \(id)"], body: "-1\r\nab\r\n0\r\n\r\n"), 400, "malformed_request"),
            ("Transfer-Encoding: gzip", RawSocket.head("PUT", "/v1/keys/\(freshID)", ["Transfer-Encoding: gzip"]) + "abc", 400, "malformed_request"),
            ("Transfer-Encoding: gzip (eval)", RawSocket.head("POST", "/v1/models/mnist/eval", ["He-Eval-Keys: \(id)", "Transfer-Encoding: gzip"]) + "abc", 400, "malformed_request"),
            ("Transfer-Encoding: gzip, chunked", Self.chunked("PUT", "/v1/keys/\(freshID)", body: "3\r\nabc\r\n0\r\n\r\n")
                .replacingOccurrences(of: "Transfer-Encoding: chunked", with: "Transfer-Encoding: gzip, chunked"), 501, "unsupported_transfer_coding"),
        ]
        for (what, request, status, kind) in cases {
            let socket = try RawSocket(port: port)
            socket.send(request)
            guard let answer = socket.response(timeout: 30) else { XCTFail("\(what): no answer"); continue }
            XCTAssertEqual(answer.status, status, "\(what): \(answer.text)")
            XCTAssertEqual(answer.errorKind, kind, "\(what): \(answer.text)")
            XCTAssertEqual(answer.headers["connection"], "close", what)
            XCTAssertTrue(socket.closedByServer(within: 10), "\(what): the connection stays open")
        }
        // A Content-Length the parser cannot read: the framework's own 400 (no handler runs).
        let huge = try RawSocket(port: port)
        huge.send(RawSocket.head("PUT", "/v1/keys/\(freshID)", ["Content-Length: 999999999999999999999999"]))
        XCTAssertEqual(huge.response(timeout: 30)?.status, 400)
        let health = try await RawHTTP.send(.GET, url + "/healthz")
        XCTAssertEqual(health.status, 200)
        let good = try await RawHTTP.send(.POST, url + "/v1/models/mnist/eval", headers: [("He-Eval-Keys", id)], body: f.images[1].input)
        XCTAssertEqual(good.status, 200)
        XCTAssertEqual(try f.predictedClass(good.body), f.images[1].label)
        await server.stop()
    }

    func testWrongMethodIs405WithAllow() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer()
        let port = Self.port(url)
        let cases: [(String, String, Int, String?)] = [
            ("TRACE", "/healthz", 405, "GET, HEAD"),
            ("DELETE", "/v1/keys/\(String(repeating: "0", count: 64))", 405, "PUT"),
            ("GET", "/v1/models/mnist/eval", 405, "POST"),
            ("POST", "/v1/models", 405, "GET, HEAD"),
            ("OPTIONS", "/metrics", 405, "GET, HEAD"),
            ("TRACE", "/nowhere", 404, nil),
            ("HEAD", "/healthz", 200, nil),
        ]
        for (method, path, status, allow) in cases {
            let socket = try RawSocket(port: port)
            socket.send(RawSocket.head(method, path, ["Content-Length: 0"]))
            let answer = socket.response(timeout: 30, bodyless: method == "HEAD")
            XCTAssertEqual(answer?.status, status, "\(method) \(path): \(answer?.text ?? "no answer")")
            XCTAssertEqual(answer?.headers["allow"], allow, "\(method) \(path)")
            if status == 405 { XCTAssertEqual(answer?.errorKind, "method_not_allowed") }
        }
        await server.stop()
    }

    func testDamagedAndHostileUploadsAreRefusedByName() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer()
        // A key file with one flipped byte in the middle of its body, named by its own hash:
        // the integrity frame finds it.
        var damagedKeys = f.keyBytes
        damagedKeys[damagedKeys.count / 2] ^= 0x10
        let damaged = try await RawHTTP.send(.PUT, url + "/v1/keys/\(KeyID.of(damagedKeys))", body: damagedKeys)
        XCTAssertEqual(damaged.status, 400, damaged.text)
        XCTAssertEqual(damaged.error?.error, "invalid_file")
        XCTAssertTrue(damaged.error?.detail.contains("damaged") == true, damaged.text)
        // Damaged on the way (the id is the good file's): the id check finds it.
        let inTransit = try await RawHTTP.send(.PUT, url + "/v1/keys/\(KeyID.of(f.keyBytes))", body: damagedKeys)
        XCTAssertEqual(inTransit.status, 400)
        XCTAssertEqual(inTransit.error?.error, "key_id_mismatch")
        XCTAssertTrue(inTransit.error?.detail.contains("damaged") == true, inTransit.text)
        XCTAssertEqual(server.keyCache.statistics.memoryEntries, 0)

        let id = KeyID.of(f.keyBytes)
        let stored = try await RawHTTP.send(.PUT, url + "/v1/keys/\(id)", body: f.keyBytes)
        XCTAssertEqual(stored.status, 201)
        let eval = url + "/v1/models/mnist/eval"
        for position in [60, f.images[0].input.count / 2, f.images[0].input.count - 1] {
            var input = f.images[0].input
            input[position] ^= 0x01
            let answer = try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: input)
            XCTAssertEqual(answer.status, 400, "byte \(position): \(answer.text)")
            XCTAssertEqual(answer.error?.error, "invalid_file")
            XCTAssertTrue(answer.error?.detail.contains("damaged") == true, answer.text)
        }

        // A layout whose tile count is near 2^63 (the request that used to stop the server).
        let original = try EncryptedTensorFile.read(f.images[0].input)
        var m = Hetool_Plan_V1_EncryptedTensor()
        m.magic = EncryptedTensorFile.magic
        m.formatVersion = UInt32(EncryptedTensorFile.formatVersion)
        m.parametersFingerprint = Data(original.parametersFingerprint)
        m.planFingerprint = Data(original.planFingerprint)
        m.stage = .input
        m.images = 1
        m.tiles = original.tiles.map { Data($0) }
        let big = UInt64(Int64.max)
        for dims: [(UInt64, Hetool_Plan_V1_LayoutDimension.Kind)] in [[(big, .plain), (big, .plain), (1, .plain), (1, .plain), (1, .plain)],
                                                                     [(1 << 62, .plain), (4, .plain), (1, .plain), (1, .plain), (1, .plain)],
                                                                     [(big, .interleaved), (1, .plain), (1, .plain), (1, .plain), (1, .plain)]] {
            let layout = dims.map { "\($0.0)" }.joined(separator: ",")
            m.layout.dimensions = dims.map { size, kind in
                var d = Hetool_Plan_V1_LayoutDimension()
                d.size = size; d.tileSize = 1; d.kind = kind
                return d
            }
            let hostile = IntegrityFrame.seal(try m.serializedBytes(), tag: .encryptedTensor)
            let answer = try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: hostile)
            XCTAssertEqual(answer.status, 400, "\(layout): \(answer.text)")
            XCTAssertEqual(answer.error?.error, "invalid_file")
        }
        // A well-formed layout that is not the model's: refused before a tile is parsed.
        let slots = f.model.inputLayout.slotsPerTile, tiles = original.tiles.count
        var other = original
        other.layout = try TileShape(parsing: "[\(tiles * slots)/\(slots), 1/1, 1/1, 1/1, 1/1]")
        let wrongLayout = try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: try other.serialized())
        XCTAssertEqual(wrongLayout.status, 422, wrongLayout.text)
        XCTAssertEqual(wrongLayout.error?.error, "wrong_layout")
        // A result sent as an input.
        var result = original
        result.stage = .output
        let asResult = try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: try result.serialized())
        XCTAssertEqual(asResult.status, 422)
        XCTAssertEqual(asResult.error?.error, "mismatch")

        let good = try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: f.images[3].input)
        XCTAssertEqual(good.status, 200)
        XCTAssertEqual(try f.predictedClass(good.body), f.images[3].label)
        await server.stop()
    }

    /// A damaged or foreign input is judged before a slot is taken: with every slot busy it is
    /// still answered 400 / 422 for what it is, and a good one 503.
    func testBadInputsAreJudgedBeforeTheSlot() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer { $0.maxConcurrentEvaluations = 1 }
        let id = KeyID.of(f.keyBytes)
        let eval = url + "/v1/models/mnist/eval"
        let stored = try await RawHTTP.send(.PUT, url + "/v1/keys/\(id)", body: f.keyBytes)
        XCTAssertEqual(stored.status, 201)
        let running = Task { try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: f.images[4].input) }
        var waited = 0
        while server.limiter.inFlight == 0 && waited < 1000 {
            try await Task.sleep(nanoseconds: 10_000_000)
            waited += 1
        }
        var damaged = f.images[0].input
        damaged[damaged.count / 3] ^= 0x40
        let refused = try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: damaged)
        XCTAssertEqual(refused.status, 400, refused.text)
        XCTAssertTrue(refused.error?.detail.contains("damaged") == true, refused.text)
        var otherPlan = try EncryptedTensorFile.read(f.images[0].input)
        otherPlan.planFingerprint = [UInt8](repeating: 3, count: 32)
        let foreign = try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: try otherPlan.serialized())
        XCTAssertEqual(foreign.error?.error, "wrong_plan")
        let busy = try await RawHTTP.send(.POST, eval, headers: [("He-Eval-Keys", id)], body: f.images[0].input)
        XCTAssertEqual(busy.status, 503)
        let first = try await running.value
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(try f.predictedClass(first.body), f.images[4].label)
        await server.stop()
    }

    /// Two clients whose bodies stall or trickle hold no evaluation slot: with one slot, a third
    /// client is served at once; the slow ones get 408 at the request timeout, however slowly
    /// their bytes keep coming, and their connections close.
    func testSlowBodiesHoldNoSlotAndGet408() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer {
            $0.maxConcurrentEvaluations = 1
            $0.requestTimeoutSeconds = 4
        }
        let port = Self.port(url)
        let id = KeyID.of(f.keyBytes)
        let upload = try await RawHTTP.send(.PUT, url + "/v1/keys/\(id)", body: f.keyBytes)
        XCTAssertEqual(upload.status, 201)
        let input = f.images[2].input
        let head = RawSocket.head("POST", "/v1/models/mnist/eval", ["He-Eval-Keys: \(id)", "Content-Length: \(input.count)"])
        let stalled = try RawSocket(port: port, from: "127.0.0.2")
        stalled.send(head)
        stalled.send(Array(input.prefix(100)))
        let trickling = try RawSocket(port: port, from: "127.0.0.3")
        trickling.send(head)
        let started = Date()
        let trickle = Task.detached {
            for i in 0..<40 {  // a byte every 0.25 s: never idle, never done
                guard trickling.send([input[i]]) else { return }
                try? await Task.sleep(nanoseconds: 250_000_000)
            }
        }
        try await Task.sleep(nanoseconds: 500_000_000)
        let served = try await RawHTTP.send(.POST, url + "/v1/models/mnist/eval", headers: [("He-Eval-Keys", id)], body: input)
        XCTAssertEqual(served.status, 200, served.text)
        XCTAssertEqual(try f.predictedClass(served.body), f.images[2].label)
        XCTAssertEqual(server.limiter.inFlight, 0)
        for (what, socket) in [("stalled", stalled), ("trickling", trickling)] {
            let answer = socket.response(timeout: 20)
            XCTAssertEqual(answer?.status, 408, "\(what): \(answer?.text ?? "no answer")")
            XCTAssertEqual(answer?.errorKind, "timeout")
            XCTAssertTrue(socket.closedByServer(within: 10), "\(what) stays open")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 15, "408 came late")
        trickle.cancel()
        XCTAssertEqual(server.uploads.inFlight("127.0.0.2") + server.uploads.inFlight("127.0.0.3"), 0)
        await server.stop()
    }

    /// One client may send `--max-uploads-per-client` bodies at once: the next is answered 429
    /// with Retry-After before its body is read; other clients are not affected.
    func testPerClientUploadLimitIs429() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer {
            $0.maxUploadsPerClient = 2
            $0.requestTimeoutSeconds = 3
        }
        let port = Self.port(url)
        let id = KeyID.of(f.keyBytes)
        var slow: [RawSocket] = []
        for _ in 0..<2 {
            let s = try RawSocket(port: port, from: "127.0.0.4")
            s.send(RawSocket.head("PUT", "/v1/keys/\(id)", ["Content-Length: \(f.keyBytes.count)"]))
            s.send(Array(f.keyBytes.prefix(1000)))
            slow.append(s)
        }
        var waited = 0
        while server.uploads.inFlight("127.0.0.4") < 2 && waited < 500 {
            try await Task.sleep(nanoseconds: 10_000_000)
            waited += 1
        }
        let third = try RawSocket(port: port, from: "127.0.0.4")
        third.send(RawSocket.head("PUT", "/v1/keys/\(id)", ["Content-Length: \(f.keyBytes.count)"]))
        let refused = third.response(timeout: 10)
        XCTAssertEqual(refused?.status, 429, refused?.text ?? "no answer")
        XCTAssertEqual(refused?.errorKind, "too_many_uploads")
        XCTAssertNotNil(refused?.headers["retry-after"].flatMap(Int.init))
        // Another client uploads meanwhile.
        let other = try RawSocket(port: port, from: "127.0.0.5")
        other.send(RawSocket.head("PUT", "/v1/keys/\(id)", ["Content-Length: \(f.keyBytes.count)"]))
        other.send(f.keyBytes)
        XCTAssertEqual(other.response(timeout: 60)?.status, 201)
        for s in slow { XCTAssertEqual(s.response(timeout: 10)?.status, 408) }
        XCTAssertEqual(server.uploads.inFlight("127.0.0.4"), 0)
        await server.stop()
    }

    /// A body over its limit is refused from its Content-Length before it is read (the key
    /// limit, and an evaluation's own: the size of the model's input); a chunked one as soon as
    /// it passes the limit, closing the connection.
    func testOversizedBodiesAre413Early() async throws {
        let f = try ServeFixtures.get()
        let (server, url) = try await f.startServer()
        let port = Self.port(url)
        let id = KeyID.of(f.keyBytes)
        let stored = try await RawHTTP.send(.PUT, url + "/v1/keys/\(id)", body: f.keyBytes)
        XCTAssertEqual(stored.status, 201)
        let requests = [
            RawSocket.head("PUT", "/v1/keys/\(String(repeating: "7", count: 64))", ["Content-Length: 1000000000000"]),
            RawSocket.head("POST", "/v1/models/mnist/eval", ["He-Eval-Keys: \(id)", "Content-Length: \(f.keyBytes.count)"]),
        ]
        for request in requests {
            let socket = try RawSocket(port: port)
            socket.send(request)  // no body at all: the answer must not wait for it
            let answer = socket.response(timeout: 10)
            XCTAssertEqual(answer?.status, 413, answer?.text ?? "no answer")
            XCTAssertEqual(answer?.errorKind, "body_too_large")
        }
        let chunk = String(repeating: "a", count: 1 << 20)
        let socket = try RawSocket(port: port)
        socket.send(RawSocket.head("POST", "/v1/models/mnist/eval", ["He-Eval-Keys: \(id)", "Transfer-Encoding: chunked"]))
        var answer: RawSocket.Response?
        for _ in 0..<64 where answer == nil {  // read while sending: the answer comes before the end
            guard socket.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n") else { break }
            answer = socket.response(timeout: 0.05)
        }
        XCTAssertEqual((answer ?? socket.response(timeout: 10))?.status, 413)
        let health = try await RawHTTP.send(.GET, url + "/healthz")
        XCTAssertEqual(health.status, 200)
        await server.stop()
    }
}
