#!/usr/bin/env bash
# The discard and chargen apps against kernel clients, and a clean stop:
# on SIGTERM, `threeway serve` closes the connections it holds with FIN (the
# clients read to a clean end of stream, no reset) and exits 0.
. "$(dirname "$0")/lib.sh"
net_enter "$@"

# discard (RFC 863): 2 MB in, nothing out, a clean close.
start_serve --tun tw0 --addr 10.7.0.2/24 --port 9 --app discard
python3 - <<'PY' || fail "discard"
import os, socket
s = socket.create_connection(("10.7.0.2", 9), timeout=10)
s.sendall(os.urandom(2000000))
s.shutdown(socket.SHUT_WR)
assert s.recv(1) == b"", "discard sent something"
s.close()
print("ok: discard took 2000000 bytes and closed cleanly")
PY
stop_serve

# chargen (RFC 864): lines of 72 characters, each starting one further along; then SIGTERM.
start_serve --tun tw0 --addr 10.7.0.2/24 --port 19 --app chargen
python3 - "$SERVE_PID" <<'PY' || fail "chargen"
import os, signal, socket, sys
s = socket.create_connection(("10.7.0.2", 19), timeout=10)
got = b""
while len(got) < 74 * 300:
    got += s.recv(65536)
for i in range(300):
    line = got[74 * i:74 * (i + 1)]
    want = bytes(32 + (i + j) % 95 for j in range(72)) + b"\r\n"
    assert line == want, "line %d: %r" % (i, line)
print("ok: chargen's first 300 lines follow RFC 864's pattern")
os.kill(int(sys.argv[1]), signal.SIGTERM)
try:
    while s.recv(65536):
        pass
except ConnectionResetError:
    sys.exit("the stop reset the connection instead of closing it")
print("ok: on SIGTERM the connection ended with FIN")
PY
rc=0
wait "$SERVE_PID" || rc=$?
[ "$rc" = 0 ] || fail "serve exited with $rc after SIGTERM"
# threeway closed first, so its side may be in TIME-WAIT; nothing was reset.
grep -q ' 0 reset, 0 timed out' "$WORK/serve.log" || fail "serve's last counters: $(tail -1 "$WORK/serve.log")"

# An idle keep-alive http connection is closed with FIN as well.
start_serve --tun tw0 --addr 10.7.0.2/24 --port 80 --app http
python3 - "$SERVE_PID" <<'PY' || fail "http stop"
import os, signal, socket, sys
s = socket.create_connection(("10.7.0.2", 80), timeout=10)
s.sendall(b"GET /info HTTP/1.1\r\nHost: x\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(65536)
assert b"Connection: keep-alive" in head, head
os.kill(int(sys.argv[1]), signal.SIGTERM)
try:
    while s.recv(65536):
        pass
except ConnectionResetError:
    sys.exit("the stop reset the idle connection")
print("ok: an idle keep-alive connection ended with FIN on SIGTERM")
PY
wait "$SERVE_PID" || fail "serve exited non-zero"
echo "PASS"
