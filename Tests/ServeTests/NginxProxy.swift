import Foundation
import Glibc

/// Debian's nginx in the foreground on a loopback port, its pid file, logs and temporary
/// paths in a directory of its own, in front of he-tool servers: the configuration of the
/// README's "Remote evaluation" section.
final class NginxProxy {
    let process = Process()
    let prefix: URL
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }

    static func executable() -> String? {
        var candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/nginx") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A free loopback port (bound and released; nginx binds it right after).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw NSError(domain: "bind", code: Int(errno)) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The configuration: keys and evaluations that name the same key id go to the same
    /// replica (consistent hash of the id), so a key set is uploaded once per replica that
    /// serves it; when a replica is down nginx passes the request to the next.
    static func configuration(prefix: String, port: Int, upstreams: [String]) -> String {
        let servers = upstreams.map { "        server \($0.replacingOccurrences(of: "http://", with: "")) max_fails=1 fail_timeout=30s;" }.joined(separator: "\n")
        return """
        worker_processes 1;
        pid \(prefix)/nginx.pid;
        error_log \(prefix)/error.log warn;
        events { worker_connections 256; }
        http {
            access_log \(prefix)/access.log;
            client_body_temp_path \(prefix)/client_body;
            proxy_temp_path \(prefix)/proxy;
            fastcgi_temp_path \(prefix)/fastcgi;
            uwsgi_temp_path \(prefix)/uwsgi;
            scgi_temp_path \(prefix)/scgi;
            map $request_uri $he_key_id {
                ~^/v1/keys/(?<id>[0-9a-f]+) $id;
                default $http_he_eval_keys;
            }
            upstream he_tool {
                hash $he_key_id consistent;
        \(servers)
                keepalive 16;
            }
            server {
                listen 127.0.0.1:\(port);
                client_max_body_size 4g;
                proxy_request_buffering off;
                proxy_buffering off;
                proxy_http_version 1.1;
                proxy_set_header Connection "";
                proxy_set_header Host $host;
                proxy_connect_timeout 5s;
                proxy_send_timeout 600s;
                proxy_read_timeout 600s;
                proxy_next_upstream error timeout;
                location / { proxy_pass http://he_tool; }
            }
        }
        """
    }

    init(executable: String, upstreams: [String], directory: URL) throws {
        prefix = directory.appendingPathComponent("nginx-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: prefix, withIntermediateDirectories: true)
        // Workers may run as another user when the tests run as root.
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: prefix.path)
        port = try Self.freePort()
        let conf = prefix.appendingPathComponent("nginx.conf")
        try Self.configuration(prefix: prefix.path, port: port, upstreams: upstreams).write(to: conf, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-p", prefix.path, "-c", conf.path, "-e", prefix.appendingPathComponent("error.log").path, "-g", "daemon off;"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    /// Waits until nginx answers (its /healthz goes to a replica), or fails with its error log.
    func waitUntilReady() async throws {
        for _ in 0..<100 {
            if !process.isRunning { break }
            if let answer = try? await RawHTTP.send(.GET, url + "/healthz"), answer.status == 200 { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let log = (try? String(contentsOf: prefix.appendingPathComponent("error.log"), encoding: .utf8)) ?? "(no error log)"
        throw NSError(domain: "nginx", code: 1, userInfo: [NSLocalizedDescriptionKey: "nginx did not start: \(log.suffix(2000))"])
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}
