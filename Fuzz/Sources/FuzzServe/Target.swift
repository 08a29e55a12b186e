// Fuzz target: HTTP request parsing of `he-tool serve`'s routes. A real EvaluationServer (the
// Serve library: Hummingbird, its router, the middleware, ServeRoutes) serves a small compiled
// model on a loopback port started once; each input is the raw bytes of one connection (request
// line, headers, body, pipelined requests), sent whole, then the write side is closed and the
// answer read to the end. A crash or trap anywhere in the server kills this process: libFuzzer
// reports it with the input.
import Compiler
import Foundation
import FuzzCommon
import Logging
import Serve
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var serverPort: UInt16 = 0
nonisolated(unsafe) var server: EvaluationServer?
let bearer = "fuzz-token-0123456789"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    exchange(inputBytes(data, size))
    return 0
}

/// Sends `request` on a fresh connection, half-closes, reads until the server closes (or 5 s).
@discardableResult
func exchange(_ request: [UInt8]) -> [UInt8] {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = serverPort.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return [] }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var sent = 0
    request.withUnsafeBytes { raw in
        while sent < raw.count {
            let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
            if n <= 0 { break }
            sent += n
        }
    }
    shutdown(fd, Int32(SHUT_WR))
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        answer += buffer[0..<n]
    }
    return answer
}

func startServer() throws {
    let compilation = try FuzzCompiled.compile()
    let served = try ServedModel(name: "fuzz", model: compilation.model, profileBytes: try compilation.profile.serialized())
    var configuration = ServeConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.token = BearerToken(bearer)
    configuration.maxBodyBytes = 1 << 20
    configuration.keyCacheBytes = 64 << 20
    configuration.keySpillBytes = 64 << 20
    configuration.keySpillDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("he-tool-fuzz-keys-\(getpid())")
    configuration.requestTimeoutSeconds = 3
    configuration.evaluationTimeoutSeconds = 5
    var logger = Logger(label: "fuzz")
    logger.logLevel = .critical
    let s = try EvaluationServer(configuration: configuration, catalog: try ModelCatalog([served]), logger: logger)
    let box = PortBox()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { box.result = .success(try await s.start()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    serverPort = UInt16(try box.result!.get())
    server = s
}

final class PortBox: @unchecked Sendable { var result: Result<Int, any Error>? }

/// Requests that reach every route, with and without the token, good and bad framing.
func seeds() throws -> [(name: String, bytes: [UInt8])] {
    let f = try FuzzCKKS.files()
    let auth = "Authorization: Bearer \(bearer)\r\n"
    func request(_ head: String, body: [UInt8] = []) -> [UInt8] { Array(head.utf8) + body }
    let keys = f.evaluationKeysRelinOnly
    let keyID = KeyIDHex.of(keys)
    return [
        ("healthz", request("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")),
        ("metrics", request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")),
        ("models", request("GET /v1/models HTTP/1.1\r\nHost: x\r\n\(auth)\r\n")),
        ("models-noauth", request("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")),
        ("profile", request("GET /v1/models/fuzz/profile HTTP/1.1\r\nHost: x\r\n\(auth)\r\n")),
        ("profile-unknown", request("GET /v1/models/other/profile HTTP/1.1\r\nHost: x\r\n\(auth)Connection: close\r\n\r\n")),
        ("put-keys", request("PUT /v1/keys/\(keyID) HTTP/1.1\r\nHost: x\r\n\(auth)Content-Type: application/octet-stream\r\nContent-Length: \(keys.count)\r\n\r\n", body: keys)),
        ("put-keys-chunked", request("PUT /v1/keys/\(keyID) HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: chunked\r\n\r\n\(String(keys.count, radix: 16))\r\n", body: keys) + Array("\r\n0\r\n\r\n".utf8)),
        ("eval", request("POST /v1/models/fuzz/eval HTTP/1.1\r\nHost: x\r\n\(auth)He-Eval-Keys: \(keyID)\r\nContent-Length: \(f.tensor.count)\r\n\r\n", body: f.tensor)),
        ("eval-nokeys", request("POST /v1/models/fuzz/eval HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: 4\r\n\r\nabcd")),
        ("pipelined", request("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\(auth)\r\nDELETE /v1/keys/\(keyID) HTTP/1.1\r\nHost: x\r\n\(auth)\r\n")),
        ("trace", request("TRACE /v1/models HTTP/1.0\r\n\r\n")),
    ]
}

/// The key id of a key file (SHA-256, lowercase hex), as the client computes it.
enum KeyIDHex {
    static func of(_ bytes: [UInt8]) -> String { KeyID.of(bytes) }
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, setUp: startServer, seeds: seeds)
    }
}
