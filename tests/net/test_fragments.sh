#!/usr/bin/env bash
# Interop: the kernel fragments its pings (a route MTU below the link's), the
# stack reassembles them and answers each whole, over IPv4 and IPv6.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need ping
net_need ip

start_serve --tun tw0 --addr 10.7.0.2/24 --addr 2001:db8:7::2/64 --port 7 --app echo --trace
# The link's MTU stays 1500 (the stack's, so its replies go out whole); the routes to the
# stack make the kernel cut anything larger than 576 or 1280 bytes.
ip route replace 10.7.0.2/32 dev tw0 mtu lock 576 || fail "route 10.7.0.2 mtu 576"
ip -6 route replace 2001:db8:7::2/128 dev tw0 mtu 1280 || fail "route 2001:db8:7::2 mtu 1280"
ping_three "$WORK/ping4.txt" -M want -s 1400 10.7.0.2
ping_three "$WORK/ping6.txt" -s 1400 2001:db8:7::2
stop_serve
# The requests came in fragments; the replies went out whole.
grep -q 'frag' "$WORK/trace.log" || fail "no fragment in the trace"
grep -q 'ICMP echo reply, id [0-9]*, seq 3, length 1408' "$WORK/trace.log" || fail "no IPv4 echo reply in the trace"
grep -q 'ICMP6, echo reply, id [0-9]*, seq 3, length 1408' "$WORK/trace.log" || fail "no IPv6 echo reply in the trace"
grep -q '6 pings answered; 6 datagrams reassembled' "$WORK/serve.log" ||
	fail "the stack's counters: $(tail -1 "$WORK/serve.log")"
echo "ok: 3 + 3 fragmented pings reassembled and answered"
echo "PASS"
