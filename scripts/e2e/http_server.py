#!/usr/bin/env python3
"""The server of scripts/attach-e2e.sh: python3's http.server with a handler for each kind of exchange the test
sends. HTTP/1.1 keep-alive, one thread per connection. Usage: http_server.py ADDRESS PORT"""
import gzip
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/missing":
            self.send_body(404, b"not here\n", [("Content-Type", "text/plain")])
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for part in (b"first chunk\n", b"second chunk\n", b"third\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/gzip":
            body = gzip.compress(b"compressible " * 500)
            self.send_body(200, body, [("Content-Encoding", "gzip"), ("Content-Type", "text/plain")])
        elif path == "/big":
            # Larger than any MTU: the kernel hands libpcap GSO super-frames of it.
            self.send_body(200, bytes(range(256)) * 1024, [("Content-Type", "application/octet-stream")])
        elif path.startswith("/slow/"):
            # Keeps connections open together, for the concurrency part.
            time.sleep(0.5)
            self.send_body(200, path.encode() + b"\n", [("Content-Type", "text/plain")])
        else:
            self.send_body(200, path.encode() + b"\n", [("Content-Type", "text/plain")])

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.send_body(201, b"got " + body, [("Content-Type", "text/plain")])


if __name__ == "__main__":
    server = ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
    server.daemon_threads = True
    server.serve_forever()
