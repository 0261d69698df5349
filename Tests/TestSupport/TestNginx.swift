import Foundation

/// nginx (Debian's) as the tests' load balancer: round robin over upstreams on loopback, Server-Sent
/// Events proxied without buffering — started in its own directory, stopped by ``stop()``.
public final class TestNginx: @unchecked Sendable {
    // @unchecked Sendable: `process` and `directory` are set in init and never mutated.
    public let port: Int
    let process: Process
    let directory: URL

    /// Starts nginx in front of `upstreams` (ports on 127.0.0.1).
    public init(upstreams: [Int]) throws {
        directory = try TestSupport.temporaryDirectory("nginx")
        port = try Self.freePort()
        let root = getuid() == 0 ? "user root;\n" : ""
        let servers = upstreams.map { "server 127.0.0.1:\($0) max_fails=0;" }.joined(separator: " ")
        let dir = directory.path
        let conf = """
            \(root)worker_processes 1;
            pid \(dir)/nginx.pid;
            error_log \(dir)/error.log warn;
            events { worker_connections 4096; }
            http {
              access_log off;
              client_body_temp_path \(dir)/body; proxy_temp_path \(dir)/proxy; fastcgi_temp_path \(dir)/fastcgi;
              uwsgi_temp_path \(dir)/uwsgi; scgi_temp_path \(dir)/scgi;
              upstream nodes { \(servers) keepalive 32; }
              server {
                listen 127.0.0.1:\(port);
                location / {
                  proxy_pass http://nodes;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  proxy_buffering off;
                  proxy_read_timeout 1h;
                }
              }
            }
            """
        try Data(conf.utf8).write(to: directory.appendingPathComponent("nginx.conf"))
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") else {
            throw TestSupport.MissingPeer(description: "/usr/sbin/nginx is missing: run scripts/bootstrap.sh (make test does)")
        }
        process.arguments = ["-c", directory.appendingPathComponent("nginx.conf").path, "-p", dir, "-g", "daemon off;"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready once it accepts a connection (bounded by the caller's time limit).
        while !Self.accepts(port) {
            guard process.isRunning else {
                let log = (try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
                throw TestSupport.MissingPeer(description: "nginx exited: \(log)")
            }
            usleep(10_000)
        }
    }

    /// The balancer's base URL.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Stops nginx and removes its directory.
    public func stop() {
        process.terminate()
        process.waitUntilExit()
        TestSupport.remove(directory)
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// A port nothing listens on now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupport.MissingPeer(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestSupport.MissingPeer(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
