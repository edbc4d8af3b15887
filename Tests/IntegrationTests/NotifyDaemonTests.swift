import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

// Readiness with daemons nobody here wrote, under dinit with `-d 30`: only
// READY=1 can explain a start of the next command within seconds. Each test
// skips (with the reason) only when its daemon is not installed; CI installs
// them (.ci/run: php8.2-fpm, nginx-light, curl, postgresql).

/// A TCP port nobody listens on now (the kernel's pick).
private func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var sa = sockaddr_in()
    sa.sin_family = sa_family_t(AF_INET)
    sa.sin_addr.s_addr = inet_addr("127.0.0.1")
    sa.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &sa) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            _ = bind(fd, p, len)
            return getsockname(fd, p, &len)
        }
    }
    return Int(UInt16(bigEndian: sa.sin_port))
}

private func requireExecutable(_ path: String, _ package: String) throws {
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw XCTSkip("\(path) is not installed (Debian package \(package))")
    }
}

final class NotifyDaemonTests: XCTestCase {
    /// php-fpm 8.2 says READY=1 about 40 ms after start; nginx, started only
    /// then, must answer its first request with 200, never 502 (with -d 0
    /// most first requests were a 502).
    func testPhpFpmThenNginxFirstRequestIs200() throws {
        try requireExecutable("/usr/sbin/php-fpm8.2", "php8.2-fpm")
        try requireExecutable("/usr/sbin/nginx", "nginx-light")
        try requireExecutable("/usr/bin/curl", "curl")
        let dir = try makeTempDir(self)
        chmod(dir, 0o755)
        try FileManager.default.createDirectory(atPath: dir + "/www", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        try "<?php echo 'fpm says hello';\n".write(toFile: dir + "/www/index.php", atomically: true, encoding: .utf8)
        let runs = 5
        var firstRequest: [Double] = []
        for run in 0..<runs {
            let port = freePort()
            try """
                [global]
                pid = \(dir)/fpm.pid
                error_log = \(dir)/fpm.log
                daemonize = no
                [www]
                user = www-data
                group = www-data
                listen = \(dir)/fpm.sock
                listen.mode = 0666
                pm = static
                pm.max_children = 2
                """.write(toFile: dir + "/fpm.conf", atomically: true, encoding: .utf8)
            try """
                daemon off;
                pid \(dir)/nginx.pid;
                error_log \(dir)/nginx-error.log;
                events { worker_connections 64; }
                http {
                    access_log off;
                    client_body_temp_path \(dir)/tmp/body;
                    fastcgi_temp_path \(dir)/tmp/fastcgi;
                    proxy_temp_path \(dir)/tmp/proxy;
                    uwsgi_temp_path \(dir)/tmp/uwsgi;
                    scgi_temp_path \(dir)/tmp/scgi;
                    server {
                        listen 127.0.0.1:\(port);
                        location / {
                            include /etc/nginx/fastcgi_params;
                            fastcgi_param SCRIPT_FILENAME \(dir)/www/index.php;
                            fastcgi_pass unix:\(dir)/fpm.sock;
                        }
                    }
                }
                """.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: dir + "/fpm.sock")
            let p = try startDinit(["-d", "30", "--", ":notify:php-fpm8.2", "-F", "-y", dir + "/fpm.conf",
                                    "--", "nginx", "-e", dir + "/nginx-error.log", "-p", dir, "-c", dir + "/nginx.conf"])
            defer { if p.isRunning { killTree(p.pid) } }
            // Ask until nginx accepts a connection; that first answer counts.
            var code = ""
            let started = Date()
            while Date().timeIntervalSince(started) < 15 {
                let r = try runProgram("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                         "--max-time", "5", "http://127.0.0.1:\(port)/"])
                if r.status == 7 { usleep(5_000); continue }  // not listening yet
                code = r.stdout
                break
            }
            firstRequest.append(Date().timeIntervalSince(p.started))
            XCTAssertEqual(code, "200", "run \(run): first request\n\(p.stderr.text)")
            XCTAssertTrue(p.stderr.text.contains("'php-fpm8.2' is ready"), p.stderr.text)
            XCTAssertTrue(p.stderr.text.contains("'php-fpm8.2' status: Ready to handle connections"), p.stderr.text)
            p.signal(SIGTERM)
            let r = p.wait(timeout: 30)
            XCTAssertFalse(r.timedOut, r.summary)
        }
        print("readiness: php-fpm+nginx first request (200) after " +
              firstRequest.map { String(format: "%.3f", $0) }.joined(separator: " ") + " s")
        // -d 30 would have taken 30 s.
        XCTAssertLessThan(firstRequest.max() ?? 99, 15)
    }

    /// postgres 15 (run as user postgres through setpriv, which execs, so
    /// the pid is the postmaster's) says READY=1 when it accepts
    /// connections, STOPPING=1 on SIGTERM.
    func testPostgresReadinessThenAQuery() throws {
        let bin = "/usr/lib/postgresql/15/bin"
        try requireExecutable(bin + "/postgres", "postgresql-15")
        try requireExecutable("/usr/bin/psql", "postgresql-client-15")
        try requireExecutable("/usr/bin/setpriv", "util-linux")
        let dir = try makeTempDir(self)
        chmod(dir, 0o755)
        let data = dir + "/data"
        let asPostgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
        let sock = dir + "/sock"
        let mk = try runProgram("/usr/bin/install", ["-d", "-o", "postgres", "-g", "postgres", "-m", "0700", data, sock])
        XCTAssertEqual(mk.status, 0, mk.summary)
        let initdb = try runProgram("/usr/bin/env", asPostgres + [bin + "/initdb", "-A", "trust", "-U", "postgres",
                                                                  "-D", data], timeout: 120)
        XCTAssertEqual(initdb.status, 0, initdb.summary)
        let port = freePort()
        let p = try startDinit(["-d", "30", "--", ":notify:" + asPostgres[0]] + asPostgres.dropFirst() +
                               [bin + "/postgres", "-D", data, "-k", sock, "-p", "\(port)", "-c", "listen_addresses=",
                                "--", ":wait:psql", "-X", "-q", "-h", sock, "-p", "\(port)", "-U", "postgres",
                                "-c", "select 1", "--", "sleep", "100"])
        defer { if p.isRunning { killTree(p.pid) } }
        XCTAssertTrue(p.waitForStderr("'psql' exited with status 0", timeout: 25), p.stderr.text)
        let upAfter = Date().timeIntervalSince(p.started)
        print("readiness: postgres ready and queried after \(String(format: "%.3f", upAfter)) s")
        XCTAssertLessThan(upAfter, 15, p.stderr.text)
        XCTAssertTrue(p.stderr.text.contains("'setpriv' is ready"), p.stderr.text)
        p.signal(SIGTERM)
        let r = p.wait(timeout: 30)
        XCTAssertFalse(r.timedOut, r.summary)
        XCTAssertTrue(r.stderr.contains("'setpriv' is stopping"), r.summary)
        XCTAssertTrue(r.dinitLines.contains { $0.hasPrefix("dinit: Stopped child ") && $0.contains("'setpriv', exited with status 0") },
                      r.summary)
    }
}
