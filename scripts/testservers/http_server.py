#!/usr/bin/env python3
"""A static-file HTTP server for the remote-data tests, benchmark and demo, on loopback only.

Serves one directory with what DuckDB's httpfs expects of a real server: HEAD, byte ranges
(`Range: bytes=a-b`, answered 206), `Content-Length`, `Last-Modified` and an `ETag` that changes
whenever a file's size or modification time does. Optional `--bearer TOKEN` refuses requests that
do not carry `Authorization: Bearer TOKEN` (401). Prints `PORT <n>` once listening (port 0 asks the
system for a free one), then serves until its standard input closes, so it never outlives the
process that started it.

    python http_server.py DIRECTORY [--port N] [--bearer TOKEN] [--redirect-to BASE] [--record FILE]
    python http_server.py --hang [--port N]     accepts connections and never answers (timeouts)

`--redirect-to BASE` answers every request under /redirect/ with a 302 to BASE + the rest of the
path; `--record FILE` appends `METHOD PATH AUTHORIZATION` for each request (tests check which
credentials reached which server).
"""
import argparse
import email.utils
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", nargs="?")
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bearer")
    parser.add_argument("--redirect-to")
    parser.add_argument("--record")
    args = parser.parse_args()
    if args.hang:
        import socket
        listener = socket.socket()
        listener.bind(("127.0.0.1", args.port))
        listener.listen(128)  # the kernel completes connections; nobody ever reads or answers
        print("PORT %d" % listener.getsockname()[1], flush=True)
        sys.stdin.read()
        return
    if args.directory is None:
        parser.error("a DIRECTORY to serve is needed")
    root = os.path.realpath(args.directory)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _file(self):
            if args.record:
                with open(args.record, "a") as log:
                    log.write("%s %s %s\n" % (self.command, self.path, self.headers.get("Authorization", "-")))
            if args.redirect_to and self.path.startswith("/redirect/"):
                self.send_response(302)
                self.send_header("Location", args.redirect_to + self.path[len("/redirect/"):])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if args.bearer is not None and self.headers.get("Authorization") != "Bearer " + args.bearer:
                self._plain(401, "missing or wrong bearer token")
                return None
            path = os.path.realpath(os.path.join(root, self.path.split("?", 1)[0].lstrip("/")))
            if not path.startswith(root + os.sep) or not os.path.isfile(path):
                self._plain(404, "not found")
                return None
            return path

        def _plain(self, status, text):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _serve(self, with_body):
            path = self._file()
            if path is None:
                return
            st = os.stat(path)
            size = st.st_size
            etag = '"%x-%x"' % (st.st_mtime_ns, size)
            start, end, status = 0, size - 1, 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                a, _, b = rng[len("bytes="):].partition("-")
                try:
                    if a == "":
                        start, end = max(0, size - int(b)), size - 1
                    else:
                        start, end = int(a), (int(b) if b else size - 1)
                except ValueError:
                    self._plain(400, "bad range")
                    return
                end = min(end, size - 1)
                if start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            self.send_header("Content-Length", str(end - start + 1))
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            if with_body:
                with open(path, "rb") as f:
                    f.seek(start)
                    left = end - start + 1
                    while left > 0:
                        chunk = f.read(min(left, 1 << 20))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        left -= len(chunk)

        def do_HEAD(self):
            self._serve(False)

        def do_GET(self):
            self._serve(True)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    sys.stdin.read()  # until the parent closes it (or dies)
    server.shutdown()


if __name__ == "__main__":
    main()
