#!/usr/bin/env bash
# Interop 2: `threeway connect` uploads 20 MB to kernel-side servers (python3,
# and netcat), byte-exact; the half-close at the end of input lets the
# server's answer still arrive.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need nc cmp

head -c 20000000 /dev/urandom >"$WORK/up.bin"

# python3 sink on the kernel's TCP: writes what it got, then answers with its size.
python3 - "$WORK/got.bin" <<'PY' &
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 9000))
srv.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = srv.accept()
n = 0
with open(sys.argv[1], "wb") as f:
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        f.write(d)
        n += len(d)
c.sendall(b"got %d bytes\n" % n)
c.close()
PY
for i in $(seq 50); do [ -e "$WORK/got.bin.ready" ] && break; sleep 0.1; done

reply=$("$TW" connect --tun tw1 --addr 10.8.0.2/24 10.8.0.1 9000 <"$WORK/up.bin") || fail "threeway connect failed"
wait %1
cmp "$WORK/up.bin" "$WORK/got.bin" || fail "the kernel received different bytes"
[ "$reply" = "got 20000000 bytes" ] || fail "the answer after the half-close: '$reply'"
echo "ok: python3 received 20000000 bytes, identical; its answer came back after our FIN"

# netcat (netcat-openbsd) as the kernel-side server, the data through a pipe this time.
nc -l 9001 >"$WORK/nc.bin" </dev/null &
NC=$!
for i in $(seq 50); do ss -Hltn '( sport = :9001 )' | grep -q . && break; sleep 0.1; done
head -c 5000000 "$WORK/up.bin" | "$TW" connect --tun tw1 --addr 10.8.0.2/24 10.8.0.1 9001 >/dev/null ||
	fail "threeway connect to nc failed"
wait $NC
cmp <(head -c 5000000 "$WORK/up.bin") "$WORK/nc.bin" || fail "nc received different bytes"
echo "ok: nc received 5000000 bytes from a pipe, identical"

# Where the peer's data cannot be written, connect says so once and fails; it never crashes or hangs.
python3 - <<'PY' &
import socket
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 9002))
srv.listen(4)
for _ in range(2):
    c, _ = srv.accept()
    try:
        c.sendall(b"y" * 3000000)
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
    except OSError:
        pass
    c.close()
PY
for i in $(seq 50); do ss -Hltn '( sport = :9002 )' | grep -q . && break; sleep 0.1; done
rc=0
"$TW" connect --tun tw1 --addr 10.8.0.2/24 10.8.0.1 9002 </dev/null >/dev/full 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] && grep -q 'writing standard output: No space left on device' "$WORK/err" ||
	fail "connect to /dev/full: exit $rc, $(cat "$WORK/err")"
[ "$(wc -l <"$WORK/err")" = 1 ] || fail "connect to /dev/full printed $(wc -l <"$WORK/err") lines"
set +o pipefail
"$TW" connect --tun tw1 --addr 10.8.0.2/24 10.8.0.1 9002 </dev/null 2>"$WORK/err" | head -c 100 >/dev/null ||
	true
[ "${PIPESTATUS[0]}" = 1 ] || fail "connect into a closed pipe exited ${PIPESTATUS[0]}"
grep -q 'writing standard output: Broken pipe' "$WORK/err" || fail "connect into a closed pipe: $(cat "$WORK/err")"
echo "ok: a full disk or a closed pipe on stdout is one error line, not a crash"
echo "PASS"
