#!/usr/bin/env bash
# 1,000,000 forged SYN-cookie ACKs (RFC 4987 3.6) against `threeway serve`
# with cookies always on, and then against the kernel's TCP with
# tcp_syncookies=2: hping3 sends ACKs from random sources (source ports
# counting up from a random one), each with a random sequence and
# acknowledgment number, to a listener that has
# just sent a cookie (a real client's, with the flood paused, redone every
# half minute so the listener keeps checking: both check only for two
# minutes after a cookie).
# Every forged ACK that arrives must be checked and refused (or, by
# threeway, dropped first for a source nothing may be answered to, as the
# 240/4 the kernel forwards), and no
# connection made but the real clients'. Topology: flood_topology (neighbours.sh).
. "$(dirname "$0")/lib.sh"
net_enter "$@"
. "$(dirname "$0")/neighbours.sh"
net_need hping3 nstat nsenter curl
HERE=$(cd "$(dirname "$0")" && pwd)

FORGED=${FORGED:-1000000}
LIMIT_S=240        # per server: the sanitized serve under heavy load takes about 4,500 a second
PRIME_S=30
PORT=80

flood_topology
in_ns "$LNX" sysctl -qw net.ipv4.tcp_syncookies=2

# prime TARGET: one real client, whose SYN gets a cookie (with the flood paused, so it gets through).
prime() {
	[ "$(in_ns "$CLI" curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$1:$PORT/")" = 200 ] ||
		fail "a real client was not served by $1"
	PRIMES=$((PRIMES + 1))
}

# forge TARGET IF: forged ACKs until FORGED have gone out of IF toward the server, in rounds
# of PRIME_S seconds each after a real client's connection; sets SENT (what the attacker
# sent), RATE (a second, while flooding), DELIVERED, DROPPED (in the queue to the server), PRIMES.
forge() {
	local target=$1 ifc=$2 rx0 tx0 drop0 started round pid flooding=0 t0
	PRIMES=0
	rx0=$(rx_packets fa0)
	tx0=$(tx_packets "$ifc")
	drop0=$(tx_dropped "$ifc")
	started=$SECONDS
	while [ $(($(tx_packets "$ifc") - tx0)) -lt "$FORGED" ]; do
		sleep 0.5   # the queue to the server drains
		prime "$target"
		nsenter -t "$ATK" -n hping3 --flood --rand-source -A -p "$PORT" "$target" >"$WORK/hping.log" 2>&1 &
		pid=$!
		t0=$EPOCHREALTIME
		round=$SECONDS
		while [ $(($(tx_packets "$ifc") - tx0)) -lt "$FORGED" ] && [ $((SECONDS - round)) -lt "$PRIME_S" ]; do
			[ $((SECONDS - started)) -lt "$LIMIT_S" ] ||
				{ cat "$WORK/hping.log"; fail "fewer than $FORGED forged ACKs reached $target in $LIMIT_S s"; }
			sleep 0.2
		done
		kill -INT "$pid"
		wait "$pid" || true
		flooding=$(awk -v f="$flooding" -v t0="$t0" -v now="$EPOCHREALTIME" 'BEGIN { print f + now - t0 }')
	done
	sleep 1
	SENT=$(($(rx_packets fa0) - rx0))
	RATE=$(awk -v n="$SENT" -v t="$flooding" 'BEGIN { printf "%d", n / t }')
	DELIVERED=$(($(tx_packets "$ifc") - tx0))
	DROPPED=$(($(tx_dropped "$ifc") - drop0))
}

# ------------------------------------------------------------------ threeway
start_serve --tun tw0 --addr 10.7.0.2/24 --port "$PORT" --app http --syncookies always
ip link set dev tw0 txqueuelen 10000
s0=$(serve_stats)
forge 10.7.0.2 tw0
s1=$(serve_stats)
stop_serve
delta() { echo $(( $(stat_of "$s1" "$1") - $(stat_of "$s0" "$1") )); }
tw_sent=$SENT tw_rate=$RATE tw_delivered=$DELIVERED tw_dropped=$DROPPED tw_primes=$PRIMES
tw_invalid=$(delta 'cookies invalid')
tw_valid=$(delta 'cookies valid')
tw_opens=$(delta 'passive opens')
# Dropped by reason, as "bad-source 12": the sources the kernel forwards but nothing may be answered to.
drops_of() { { grep -o "$2 [0-9]*" <<<"$1" || echo "$2 0"; } | head -1 | cut -d' ' -f2; }
tw_badsrc=$(( $(drops_of "$s1" bad-source) - $(drops_of "$s0" bad-source) ))

# --------------------------------------------------------------------- Linux
nsenter -t "$LNX" -n python3 "$HERE/flood_server.py" 10.9.0.2 "$PORT" 128 >"$WORK/linux.log" 2>&1 &
for i in $(seq 50); do grep -q serving "$WORK/linux.log" && break; sleep 0.1; done
n0=$(ns_nstat "$LNX")
forge 10.9.0.2 fl0
n1=$(ns_nstat "$LNX")
ndelta() { echo $(( $(nstat_of "$n1" "$1") - $(nstat_of "$n0" "$1") )); }
lx_sent=$SENT lx_rate=$RATE lx_delivered=$DELIVERED lx_dropped=$DROPPED lx_primes=$PRIMES
lx_invalid=$(ndelta TcpExtSyncookiesFailed)
lx_valid=$(ndelta TcpExtSyncookiesRecv)
lx_opens=$(ndelta TcpPassiveOpens)

# ------------------------------------------------------------------- figures
printf '%-40s %12s %12s\n' "forged cookie ACKs" threeway Linux
printf '%-40s %12s %12s\n' "sent by hping3 (as the router took them)" "$tw_sent" "$lx_sent"
printf '%-40s %12s %12s\n' "  per second" "$tw_rate" "$lx_rate"
printf '%-40s %12s %12s\n' "reached the server's link" "$tw_delivered" "$lx_delivered"
printf '%-40s %12s %12s\n' "dropped in the queue to the server" "$tw_dropped" "$lx_dropped"
printf '%-40s %12s %12s\n' "dropped for their source (broadcast...)" "$tw_badsrc" "-"
printf '%-40s %12s %12s\n' "cookies refused (invalid / Failed)" "$tw_invalid" "$lx_invalid"
printf '%-40s %12s %12s\n' "real clients (each a valid cookie)" "$tw_primes" "$lx_primes"
printf '%-40s %12s %12s\n' "cookies valid (Recv)" "$tw_valid" "$lx_valid"
printf '%-40s %12s %12s\n' "connections made (passive opens)" "$tw_opens" "$lx_opens"
printf '%-40s %12s %12s\n' "  of them by forged ACKs" $((tw_opens - tw_primes)) $((lx_opens - lx_primes))

# Every forged ACK that reached threeway was checked or dropped for its source (the link
# also carried the real clients' few packets) and none made a connection.
[ "$tw_opens" = "$tw_primes" ] && [ "$tw_valid" = "$tw_primes" ] ||
	fail "threeway made $tw_opens connections ($tw_valid valid cookies) for $tw_primes real clients"
tw_seen=$((tw_invalid + tw_badsrc))
# Besides the real clients' packets, the kernel's own IPv6 chatter on the new link (router
# solicitations, MLD reports) counts as delivered: a few dozen packets at most.
LINK_CHATTER=64
[ "$tw_seen" -le "$tw_delivered" ] && [ "$tw_seen" -ge $((tw_delivered - 20 * tw_primes - LINK_CHATTER)) ] ||
	fail "threeway refused $tw_invalid cookies and $tw_badsrc sources of $tw_delivered packets delivered"
[ "$tw_seen" -ge $((FORGED - 20 * tw_primes)) ] || fail "threeway took only $tw_seen forged ACKs"
[ "$lx_invalid" -ge $((lx_delivered - 20 * lx_primes - LINK_CHATTER)) ] ||
	fail "Linux refused $lx_invalid cookies of $lx_delivered packets delivered"
[ "$lx_opens" = "$lx_primes" ] || fail "Linux made $lx_opens connections for $lx_primes real clients"
echo "PASS"
