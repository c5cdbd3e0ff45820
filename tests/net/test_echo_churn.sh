#!/usr/bin/env bash
# Interop 4: 2,000 sequential and then 200 concurrent kernel connections to
# `threeway serve --app echo`, each echoed byte for byte; afterwards threeway
# holds no connection at all (the kernel closed first, so TIME-WAIT is the
# kernel's) and the kernel has none but TIME-WAIT ones.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need ss

start_serve --tun tw0 --addr 10.7.0.2/24 --port 7 --app echo
python3 - <<'PY' || fail "the kernel-side clients failed"
import os, selectors, socket, sys

ADDR = ("10.7.0.2", 7)

def payload(i):
    return (b"%d:" % i) + os.urandom(200 + i % 1800)

def echo_once(i):
    data = payload(i)
    s = socket.create_connection(ADDR, timeout=10)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    s.close()
    if got != data:
        sys.exit("connection %d: echo differs (%d bytes sent, %d back)" % (i, len(data), len(got)))

for i in range(2000):
    echo_once(i)
print("ok: 2000 sequential connections echoed")

# 200 at once: all connected before any sends, served side by side.
sel = selectors.DefaultSelector()
conns = []
for i in range(200):
    s = socket.create_connection(ADDR, timeout=10)
    conns.append([s, payload(i), b""])
for c in conns:
    c[0].sendall(c[1])
    c[0].shutdown(socket.SHUT_WR)
    c[0].setblocking(False)
    sel.register(c[0], selectors.EVENT_READ, c)
open_count = len(conns)
while open_count:
    events = sel.select(timeout=10)
    if not events:
        sys.exit("timed out with %d connections unfinished" % open_count)
    for key, _ in events:
        c = key.data
        d = c[0].recv(65536)
        if d:
            c[2] += d
            continue
        sel.unregister(c[0])
        c[0].close()
        open_count -= 1
        if c[2] != c[1]:
            sys.exit("a concurrent connection's echo differs")
print("ok: 200 concurrent connections echoed")
PY

# threeway closed second (LAST-ACK, then CLOSED): nothing of its own is left.
open_now=""
for i in $(seq 30); do
	open_now=$(serve_open_connections)
	[ "$open_now" = 0 ] && break
	sleep 0.2
done
[ "$open_now" = 0 ] || fail "threeway still has $open_now connections"
kernel=$(ss -Htan state all '( dport = :7 )' | awk '$1 != "TIME-WAIT"' | wc -l)
[ "$kernel" = 0 ] || { ss -tan; fail "the kernel has $kernel connections to port 7 besides TIME-WAIT"; }
tw=$(ss -Htan state time-wait '( dport = :7 )' | wc -l)
echo "ok: threeway holds 0 connections; the kernel holds $tw in TIME-WAIT and nothing else"
stats=$(tail -1 "$WORK/serve.log")
grep -q '2200 passive opens' <<<"$stats" || fail "expected 2200 passive opens: $stats"
grep -q ' 0 reset, 0 timed out' <<<"$stats" || fail "connections were reset or timed out: $stats"
stop_serve
echo "PASS"
