#!/usr/bin/env python3
"""The Linux side of the SYN flood tests: the kernel's TCP under a small
HTTP/1.1 server, with a listen backlog of its own choosing (as threeway
serve's --backlog), serving one page on every path.

    flood_server.py ADDR PORT BACKLOG
"""
import http.server
import socketserver
import sys

addr, port, backlog = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PAGE = b"<!doctype html><title>Linux</title><p>Served by the kernel's TCP.</p>\n" * 8


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = backlog
    daemon_threads = True

    def server_bind(self):
        # HTTPServer's own would look the address up in the DNS (getfqdn), which is not here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


with Server((addr, port), Handler) as server:
    print("serving", flush=True)
    server.serve_forever()
