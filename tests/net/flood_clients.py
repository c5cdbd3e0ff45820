#!/usr/bin/env python3
"""Legitimate clients for the SYN flood tests: N connections at an even pace,
each timing its connect (SYN to established) and then fetching a page with
HTTP/1.1 and closing first. Prints one line:

    ok N fail F p50 SECONDS p99 SECONDS max SECONDS

and the first few failures on stderr. Exits 0 whatever the outcome: the
test judges the figures.
"""
import math
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

addr, port, count, spread = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
# Generous, so a slow connection is measured rather than abandoned.
TIMEOUT = 30.0
REQUEST = b"GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: flood-test\r\n\r\n" % addr.encode()


def read_response(s):
    """Reads one response: headers, then Content-Length bytes. Returns the status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            raise OSError("connection closed inside the headers")
        data += d
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        d = s.recv(65536)
        if not d:
            raise OSError("connection closed inside the body (%d of %d bytes)" % (len(body), length))
        body += d
    return status


def one(i, start):
    delay = start + i * spread / count - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    t0 = time.monotonic()
    try:
        s = socket.create_connection((addr, port), timeout=TIMEOUT)
    except OSError as e:
        return None, "connect %d: %s" % (i, e)
    connect = time.monotonic() - t0
    try:
        s.sendall(REQUEST)
        status = read_response(s)
        if status != 200:
            return None, "request %d: status %d" % (i, status)
        return connect, None
    except OSError as e:
        return None, "request %d: %s" % (i, e)
    finally:
        s.close()


def main():
    start = time.monotonic() + 0.1
    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(lambda i: one(i, start), range(count)))
    times = sorted(t for t, _ in results if t is not None)
    errors = [e for _, e in results if e is not None]
    for e in errors[:5]:
        print(e, file=sys.stderr)

    def pct(p):
        if not times:
            return float("nan")
        return times[max(0, math.ceil(p / 100 * len(times)) - 1)]   # nearest rank

    print("ok %d fail %d p50 %.4f p99 %.4f max %.4f" %
          (len(times), len(errors), pct(50), pct(99), times[-1] if times else float("nan")))


threading.stack_size(256 * 1024)
main()
