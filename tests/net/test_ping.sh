#!/usr/bin/env bash
# Interop 6: ping (the kernel's ICMP and ICMPv6 echo) to both of the stack's
# addresses is answered, with the data echoed back intact.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need ping

start_serve --tun tw0 --addr 10.7.0.2/24 --addr 2001:db8:7::2/64 --port 7 --app echo --trace
ping_three "$WORK/ping4.txt" -p 74687265657761 10.7.0.2
ping_three "$WORK/ping6.txt" -s 1000 2001:db8:7::2
stop_serve
grep -q 'ICMP echo reply, id [0-9]*, seq 3, length 64' "$WORK/trace.log" || fail "no IPv4 echo reply in the trace"
grep -q 'ICMP6, echo reply, id [0-9]*, seq 3, length 1008' "$WORK/trace.log" || fail "no IPv6 echo reply in the trace"
grep -q '6 pings answered' "$WORK/serve.log" || fail "the stack's counter: $(tail -1 "$WORK/serve.log")"
echo "ok: 3 + 3 pings answered, data intact"
echo "PASS"
