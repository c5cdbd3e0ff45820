#!/usr/bin/env bash
# README's first command ends in `threeway demo`: as root with /dev/net/tun and
# curl, it shows curl fetching a page from threeway through Linux's TCP, with
# the live trace (handshake explained, request, close) and the negotiated
# parameters, and leaves nothing behind, also when interrupted.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need curl

"$TW" demo >"$WORK/demo.txt" 2>"$WORK/demo.err" || { cat "$WORK/demo.txt" "$WORK/demo.err"; fail "demo failed"; }
out="$WORK/demo.txt"
expect() { grep -qF -- "$1" "$out" || { cat "$out"; fail "the demo did not print '$1'"; }; }
expect "fetches http://10.7.0.2/ from threeway"
syn=$(grep -m1 'IP 10.7.0.1.[0-9]* > 10.7.0.2.80: Flags \[S\], seq ' "$out" | sed 's/.*Flags \[S\], seq \([0-9]*\).*/\1/')
[ -n "$syn" ] || { cat "$out"; fail "no SYN from the kernel in the trace"; }
expect "IP 10.7.0.2.80 > 10.7.0.1."
expect "Flags [S.], seq "
expect "ack $(( (syn + 1) % 4294967296 )), win 65160, options [mss 1460,sackOK,TS val "
expect "SYN-ACK: the server picks its own ISN and acknowledges the client's ISN + 1"
expect "HTTP: GET / HTTP/1.1"
expect "HTTP: HTTP/1.1 200 OK"
[ "$(grep -c 'Flags \[F\.\]' "$out")" = 2 ] || fail "the trace does not show both FINs"
expect "curl received this page"
expect "Hello from threeway!"
expect "initial sequence numbers  $syn / "
expect "SACK permitted            yes"
[ ! -s "$WORK/demo.err" ] || fail "the demo wrote to stderr: $(cat "$WORK/demo.err")"
# The demo's namespace was its own: nothing of it shows here, and no curl is left.
! ip link show tw0 >/dev/null 2>&1 || fail "tw0 leaked into the caller's namespace"

# Interrupted at any point, it leaves nothing either.
for delay in 0.005 0.02 0.05; do
	"$TW" demo >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -INT "$pid" 2>/dev/null || true
	wait "$pid" || true
done
sleep 0.2
! pgrep -x curl >/dev/null || fail "a curl outlived the demo"
echo "ok: demo over TUN with curl; nothing left behind, also after SIGINT"
echo "PASS"
