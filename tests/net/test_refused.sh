#!/usr/bin/env bash
# Interop 3: a SYN to a port threeway does not serve is answered with RST at
# once, so curl fails immediately with "Connection refused"; the RST is
# `[R.] seq 0, ack ISN+1, win 0` (RFC 9293 3.10.7.1).
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need curl tcpdump

start_serve --tun tw0 --addr 10.7.0.2/24 --addr 2001:db8:7::2/64 --port 80 --app http --trace
for host in 10.7.0.2 '[2001:db8:7::2]'; do
	start=$(date +%s%N)
	out=$(curl -sS -v --max-time 10 "http://$host:81/" 2>&1) && fail "curl to port 81 succeeded"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	grep -q 'Connection refused' <<<"$out" || fail "curl did not report 'Connection refused': $out"
	[ "$ms" -lt 1000 ] || fail "curl took $ms ms to fail: the refusal was not immediate"
	echo "ok: $host port 81 refused in $ms ms"
done
# The two SYNs are counted by their reason, which SIGUSR1 prints by name.
serve_open_connections >/dev/null
grep 'connections open' "$WORK/serve.log" | tail -1 | grep -Eq 'dropped: .*no-socket ([2-9]|[1-9][0-9])' ||
	fail "the counters do not show the two refused SYNs as no-socket: $(tail -1 "$WORK/serve.log")"
echo "ok: the refused SYNs counted as no-socket"
stop_serve
# The trace shows the SYN and its answer: RST+ACK, seq 0, acknowledging the SYN's ISN + 1, window 0.
syn=$(grep -m1 '\.81: Flags \[S\], seq ' "$WORK/trace.log" | sed 's/.*Flags \[S\], seq \([0-9]*\).*/\1/')
[ -n "$syn" ] || fail "no SYN to port 81 in the trace"
want="Flags [R.], seq 0, ack $(( (syn + 1) % 4294967296 )), win 0, length 0"
grep -qF "$want" "$WORK/trace.log" || { grep 'Flags \[R' "$WORK/trace.log"; fail "no '$want' in the trace"; }
echo "ok: $want"
echo "PASS"
