#!/usr/bin/env bash
# The discard and chargen apps against kernel clients, and a clean stop:
# on SIGTERM, `threeway serve` closes the connections it holds with FIN (the
# clients read to a clean end of stream, no reset), lets a download under way
# finish, and exits 0. A response is never cut by a reset because the client
# sent more than the server read (lingering close, RFC 9112 9.6).
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

# A download under way when SIGTERM comes is finished, then closed.
mkdir "$WORK/www"
head -c 6000000 /dev/urandom >"$WORK/www/big.bin"
start_serve --tun tw0 --addr 10.7.0.2/24 --port 80 --app http --root "$WORK/www"
curl -sS --max-time 20 --limit-rate 4M -o "$WORK/got.bin" http://10.7.0.2/big.bin &
CURL=$!
sleep 0.5
kill -TERM "$SERVE_PID"
wait "$CURL" || fail "the download under way when serve was stopped failed"
cmp -s "$WORK/www/big.bin" "$WORK/got.bin" || fail "the download under way was cut"
wait "$SERVE_PID" || fail "serve exited non-zero"
echo "ok: a download under way at SIGTERM completed (6000000 bytes), then serve exited"

# Unread input at the end of a response does not reset it away.
start_serve --tun tw0 --addr 10.7.0.2/24 --port 80 --app http --root "$WORK/www"
python3 - <<'PY' || fail "lingering close"
import socket
def fetch(request, extra):
    s = socket.create_connection(("10.7.0.2", 80), timeout=10)
    s.sendall(request + extra)
    got = b""
    while True:
        try:
            d = s.recv(1 << 20)
        except ConnectionResetError:
            raise SystemExit("reset after %d bytes" % len(got))
        if not d:
            break
        got += d
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert len(body) == 6000000, "body of %d bytes" % len(body)
fetch(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"GET / HTTP/1.1\r\n" * 1200)
fetch(b"GET /big.bin HTTP/1.0\r\nContent-Length: 100000\r\n\r\n", b"x" * 100000)
print("ok: whole responses despite pipelined requests and a request body left unread")
PY
stop_serve
echo "PASS"
