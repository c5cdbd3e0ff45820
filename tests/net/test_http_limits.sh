#!/usr/bin/env bash
# `threeway serve --app http` against slowloris-style abuse, with kernel
# clients: a request head that trickles in is closed after --head-timeout
# (408, or nothing if nothing came) while curl still gets its page; an
# oversized head gets 431; one address holds at most --max-conns-per-client
# connections (the next is reset) while others are served; and a trace into
# a pipe nobody reads neither stops the server nor grows it: it counts drops.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need curl

# The server's counters line (SIGUSR1) that has `pattern`, once it is printed.
stats_line() {
	local pattern=$1 before i
	before=$(grep -c "$pattern" "$WORK/serve.log" || true)
	kill -USR1 "$SERVE_PID"
	for i in $(seq 50); do
		[ "$(grep -c "$pattern" "$WORK/serve.log" || true)" -gt "$before" ] && break
		sleep 0.1
	done
	grep "$pattern" "$WORK/serve.log" | tail -1
}

# 1. Slowloris: five clients send a head a line at a time and never end it, one connects and
#    sends nothing; with --head-timeout 1 each is closed between 1 and 2.5 s, and curl's request
#    in the middle of it is answered at once.
start_serve --tun tw0 --addr 10.7.0.2/24 --port 80 --app http --head-timeout 1 --max-header-bytes 1024
python3 - <<'PY' || fail "slowloris"
import socket, subprocess, threading, time
results = {}
def slow(i):
    s = socket.create_connection(("10.7.0.2", 80), timeout=10)
    t0 = time.monotonic()
    s.sendall(b"GET / HTTP/1.1\r\nHost: 10.7.0.2\r\n")
    got = b""
    s.settimeout(0.25)
    while True:
        try:
            s.sendall(b"X-Slow-%d: x\r\n" % i)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            if time.monotonic() - t0 > 8:
                break
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    results[i] = (time.monotonic() - t0, got)
def silent():
    s = socket.create_connection(("10.7.0.2", 80), timeout=10)
    t0 = time.monotonic()
    got = s.recv(4096)
    results["silent"] = (time.monotonic() - t0, got)
threads = [threading.Thread(target=slow, args=(i,)) for i in range(5)] + [threading.Thread(target=silent)]
for t in threads:
    t.start()
time.sleep(0.4)
t0 = time.monotonic()
page = subprocess.run(["curl", "-sS", "--max-time", "5", "http://10.7.0.2/info"], capture_output=True, text=True)
took = time.monotonic() - t0
assert page.returncode == 0 and "Hello from threeway" in page.stdout, "curl during the attack: %r" % (page,)
assert took < 0.9, "curl took %.2f s during the attack" % took
print("ok: curl got /info in %.3f s while six clients held heads open" % took)
for t in threads:
    t.join()
for i in range(5):
    when, got = results[i]
    assert 1.0 <= when <= 2.5, "slow client %d closed after %.2f s" % (i, when)
    assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"Connection: close\r\n" in got, got
print("ok: five slow heads got 408 and a close after %s s" % ", ".join("%.2f" % results[i][0] for i in range(5)))
when, got = results["silent"]
assert 1.0 <= when <= 2.5 and got == b"", "silent client: %.2f s, %r" % (when, got)
print("ok: a connection that sent nothing was closed after %.2f s without a word" % when)
PY

# 2. A head over --max-header-bytes gets 431 and a close; one just under it is answered.
python3 - <<'PY' || fail "header limit"
import socket
def ask(pad):
    s = socket.create_connection(("10.7.0.2", 80), timeout=5)
    head = b"GET /info HTTP/1.1\r\nHost: 10.7.0.2\r\nX-Pad: " + b"a" * pad + b"\r\nConnection: close\r\n\r\n"
    s.sendall(head)
    got = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    return len(head), got
n, got = ask(900)
assert n <= 1024 and got.startswith(b"HTTP/1.1 200 OK\r\n"), (n, got[:60])
print("ok: a %d-byte head is answered 200" % n)
n, got = ask(2000)
assert got.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), (n, got[:60])
print("ok: a %d-byte head gets 431" % n)
PY
line=$(stats_line 'request heads timed out')
echo "$line"
grep -q ': 6 request heads timed out, 1 too large (431), 0 other bad requests; 0 connections reset' <<<"$line" ||
	fail "counters: $line"
stop_serve
grep -q 'request heads timed out' "$WORK/serve.log" || fail "no counters at exit"

# 3. --max-conns-per-client 3: the fourth connection from 10.7.0.3 is reset; 10.7.0.1 is served;
#    once one of the three closes, 10.7.0.3 may connect again.
start_serve --tun tw0 --addr 10.7.0.2/24 --port 80 --app http --max-conns-per-client 3
ip addr add 10.7.0.3/24 dev tw0
python3 - <<'PY' || fail "per-client limit"
import socket, subprocess, time
def conn():
    s = socket.socket()
    s.settimeout(5)
    s.bind(("10.7.0.3", 0))
    s.connect(("10.7.0.2", 80))
    return s
def get(s):
    s.sendall(b"GET /info HTTP/1.1\r\nHost: x\r\n\r\n")
    return s.recv(65536)
held = [conn() for _ in range(3)]
# The reset follows the handshake at once: connect() itself may already see it.
try:
    got = conn().recv(100)
    raise AssertionError("the fourth connection was not reset: %r" % got)
except ConnectionResetError:
    pass
print("ok: the fourth connection from 10.7.0.3 was reset")
assert get(held[0]).startswith(b"HTTP/1.1 200 OK"), "a held connection is not served"
page = subprocess.run(["curl", "-sS", "--max-time", "5", "http://10.7.0.2/info"], capture_output=True, text=True)
assert page.returncode == 0 and "Hello from threeway" in page.stdout, page
print("ok: 10.7.0.1 is served meanwhile")
held.pop().close()
time.sleep(0.3)
again = conn()
assert get(again).startswith(b"HTTP/1.1 200 OK"), "no room after a close"
print("ok: after one closed, 10.7.0.3 connects and is served again")
PY
line=$(stats_line 'connections reset over')
grep -q '; 1 connections reset over the per-client limit' <<<"$line" || fail "counters: $line"
echo "$line"
stop_serve

# 4. --trace into a pipe nobody reads: 20 MB still download, the server answers SIGUSR1 and
#    stops on SIGTERM, and says how many packets its tracer dropped.
mkdir "$WORK/www"
head -c 20000000 /dev/zero >"$WORK/www/big.bin"
mkfifo "$WORK/fifo"
sleep 1000 <"$WORK/fifo" &
"$TW" serve --tun tw0 --addr 10.7.0.2/24 --port 80 --app http --root "$WORK/www" --trace \
	>"$WORK/fifo" 2>"$WORK/serve.log" &
SERVE_PID=$!
wait_serving "$WORK/serve.log"
code=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code} %{size_download}' http://10.7.0.2/big.bin) ||
	fail "curl with the trace blocked failed"
[ "$code" = "200 20000000" ] || fail "download with the trace blocked: '$code'"
echo "ok: 20 MB downloaded while nobody read the trace"
line=$(stats_line 'dropped by tracer')
drops=$(sed 's/^\([0-9]*\) packets\{0,1\} dropped by tracer$/\1/' <<<"$line")
[ -n "$drops" ] && [ "$drops" -gt 0 ] || fail "SIGUSR1: '$line'"
echo "ok: SIGUSR1 says '$line'"
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$SERVE_PID/status")
echo "ok: resident size with the trace blocked: $rss kB"
stop_serve
tail -1 "$WORK/serve.log" | grep -q '^[0-9]* packets dropped by tracer$' || fail "no drop count at exit"
echo "ok: at exit: $(tail -1 "$WORK/serve.log")"
echo "PASS"
