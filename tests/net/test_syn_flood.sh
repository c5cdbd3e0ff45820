#!/usr/bin/env bash
# A SYN flood (RFC 4987) against `threeway serve --app http` and then against
# the kernel's own TCP, each while 1,000 legitimate clients fetch a page.
#
#   attacker ns --veth--+                 +--TUN-- threeway serve 10.7.0.2
#                       +-- this ns ------+
#   client ns  --veth---+  (router;       +--veth-- Linux ns 10.9.0.2
#                           default route: blackhole)
#
# hping3 floods SYNs from random sources for FLOOD_S seconds; the SYN-ACKs to
# those sources end in this namespace's blackhole. Meanwhile the clients
# connect at an even pace, each timing its connect and fetching a page.
# threeway must serve all of them, p99 connect under 1 s, its RSS growing by
# under 1 MiB (measured after a warm-up flood), and serve at least as many
# as Linux does with tcp_syncookies=1 and the same backlog.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
. "$(dirname "$0")/neighbours.sh"
net_need hping3 nstat nsenter timeout taskset
HERE=$(cd "$(dirname "$0")" && pwd)

FLOOD_S=${FLOOD_S:-20}        # the measured flood
CLIENTS=1000       # legitimate connections during it, spread over CLIENTS_S
CLIENTS_S=15
WARM_S=3           # the warm-up flood, with WARM_CLIENTS connections
WARM_CLIENTS=200
BACKLOG=128        # both listeners' backlog: the SYN queue cookies start past
PORT=80

flood_topology
[ "$(in_ns "$LNX" sysctl -n net.ipv4.tcp_syncookies)" = 1 ] || fail "the Linux namespace's tcp_syncookies is not 1"

# Performance is measured on the optimized build (THREEWAY_RELEASE_BIN, built beside the
# sanitized one): AddressSanitizer more than doubles the cost of each packet. The attacker
# floods from a CPU of its own at the server's priority, as fast as hping3 can; FLOOD_CPU and
# FLOOD_NICE override that (FLOOD_CPU=$SERVER_CPU FLOOD_NICE=19 shares the server's CPU, the
# attacker taking what the server leaves).
SERVER_CPU=$(( $(nproc) - 1 ))
ATTACKER_CPU=${FLOOD_CPU:-$(( $(nproc) > 1 ? 0 : SERVER_CPU ))}
[ -x "${THREEWAY_RELEASE_BIN:-}" ] && TW="$THREEWAY_RELEASE_BIN"
echo "serving with $TW"

# flood_start TARGET LOG: hping3's SYN flood from random sources, in the background; returns
# once SYNs flow (a starved attacker may take a while to start), the clock started.
flood_start() {
	local rx0 i
	rx0=$(rx_packets fa0)
	nsenter -t "$ATK" -n taskset -c "$ATTACKER_CPU" nice -n "${FLOOD_NICE:-0}" \
		hping3 --flood --rand-source -S -p "$PORT" "$1" >"$2" 2>&1 &
	FLOOD_PID=$!
	for i in $(seq 300); do
		[ "$(rx_packets fa0)" -gt $((rx0 + 100)) ] && break
		sleep 0.1
	done
	[ "$(rx_packets fa0)" -gt $((rx0 + 100)) ] || { cat "$2"; fail "hping3 did not flood"; }
	FLOOD_RX0=$rx0
	FLOOD_T0=$EPOCHREALTIME
}

# flood_stop SECONDS: ends the flood SECONDS after it began; FLOOD_RATE gets its SYNs a second.
flood_stop() {
	local left
	left=$(awk -v t0="$FLOOD_T0" -v now="$EPOCHREALTIME" -v s="$1" 'BEGIN { d = t0 + s - now; print (d > 0 ? d : 0) }')
	sleep "$left"
	kill -INT "$FLOOD_PID"
	wait "$FLOOD_PID" || true
	FLOOD_RATE=$(awk -v n=$(($(rx_packets fa0) - FLOOD_RX0)) -v t0="$FLOOD_T0" -v now="$EPOCHREALTIME" \
		'BEGIN { printf "%d", n / (now - t0) }')
}

# clients TARGET COUNT SECONDS: the legitimate connections; prints flood_clients.py's line.
clients() {
	in_ns "$CLI" python3 "$HERE/flood_clients.py" "$1" "$PORT" "$2" "$3" 2>"$WORK/clients.err"
}

# run_load TARGET FLOOD_SECONDS COUNT SPREAD LOG: a flood, with clients starting a second into it.
run_load() {
	flood_start "$1" "$5"
	sleep 1
	LOAD=$(clients "$1" "$3" "$4")
	flood_stop "$2"
}

# ------------------------------------------------------------------ threeway
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
	start_serve --tun tw0 --addr 10.7.0.2/24 --port "$PORT" --app http --backlog "$BACKLOG"
taskset -apc "$SERVER_CPU" "$SERVE_PID" >/dev/null
# Room for a burst in the kernel's queue to the stack, which reads it in turn.
ip link set dev tw0 txqueuelen 10000
[ "$(in_ns "$CLI" curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://10.7.0.2:$PORT/")" = 200 ] ||
	fail "threeway does not serve before the flood"

run_load 10.7.0.2 "$WARM_S" "$WARM_CLIENTS" 2 "$WORK/hping-warm.log"
echo "warm-up against threeway: $LOAD"
sleep 1
rss0=$(rss_kib "$SERVE_PID")
s0=$(serve_stats)
run_load 10.7.0.2 "$FLOOD_S" "$CLIENTS" "$CLIENTS_S" "$WORK/hping-tw.log"
tw_load=$LOAD
tw_rate=$FLOOD_RATE
sleep 1
rss1=$(rss_kib "$SERVE_PID")
s1=$(serve_stats)
tw_drops=$(tx_dropped tw0)
stop_serve
delta() { echo $(( $(stat_of "$s1" "$1") - $(stat_of "$s0" "$1") )); }
tw_syns=$(delta 'SYNs received')
tw_overflows=$(delta 'SYN queue overflows')
tw_cookies=$(delta 'cookies sent')
tw_valid=$(delta 'cookies valid')
tw_rss=$((rss1 - rss0))

# --------------------------------------------------------------------- Linux
nsenter -t "$LNX" -n python3 "$HERE/flood_server.py" 10.9.0.2 "$PORT" "$BACKLOG" >"$WORK/linux.log" 2>&1 &
LINUX_PID=$!
taskset -apc "$SERVER_CPU" "$LINUX_PID" >/dev/null
for i in $(seq 50); do grep -q serving "$WORK/linux.log" && break; sleep 0.1; done
[ "$(in_ns "$CLI" curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://10.9.0.2:$PORT/")" = 200 ] ||
	{ cat "$WORK/linux.log"; fail "the Linux server does not serve before the flood"; }
run_load 10.9.0.2 "$WARM_S" "$WARM_CLIENTS" 2 "$WORK/hping-warm-linux.log"
echo "warm-up against Linux:    $LOAD"
sleep 1
lrss0=$(rss_kib "$LINUX_PID")
n0=$(ns_nstat "$LNX")
run_load 10.9.0.2 "$FLOOD_S" "$CLIENTS" "$CLIENTS_S" "$WORK/hping-linux.log"
lx_load=$LOAD
lx_rate=$FLOOD_RATE
sleep 1
lrss1=$(rss_kib "$LINUX_PID")
n1=$(ns_nstat "$LNX")
kill "$LINUX_PID"
ndelta() { echo $(( $(nstat_of "$n1" "$1") - $(nstat_of "$n0" "$1") )); }
lx_cookies=$(ndelta TcpExtSyncookiesSent)
lx_valid=$(ndelta TcpExtSyncookiesRecv)
lx_overflows=$(ndelta TcpExtTCPReqQFullDoCookies)
lx_rss=$((lrss1 - lrss0))

# ------------------------------------------------------------------- figures
field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$1"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
printf '%-34s %14s %14s\n' "SYN flood, ${FLOOD_S} s" threeway Linux
printf '%-34s %14s %14s\n' "SYNs sent per second" "$tw_rate" "$lx_rate"
printf '%-34s %14s %14s\n' "clients served (of $CLIENTS)" "$(field "$tw_load" ok)" "$(field "$lx_load" ok)"
printf '%-34s %14s %14s\n' "connect p50, ms" "$(ms "$(field "$tw_load" p50)")" "$(ms "$(field "$lx_load" p50)")"
printf '%-34s %14s %14s\n' "connect p99, ms" "$(ms "$(field "$tw_load" p99)")" "$(ms "$(field "$lx_load" p99)")"
printf '%-34s %14s %14s\n' "connect max, ms" "$(ms "$(field "$tw_load" max)")" "$(ms "$(field "$lx_load" max)")"
printf '%-34s %14s %14s\n' "server RSS growth, KiB" "$tw_rss" "$lx_rss (process only)"
printf '%-34s %14s %14s\n' "SYN cookies sent" "$tw_cookies" "$lx_cookies"
printf '%-34s %14s %14s\n' "SYN cookies valid" "$tw_valid" "$lx_valid"
printf '%-34s %14s %14s\n' "SYNs finding the SYN queue full" "$tw_overflows" "$lx_overflows"
printf '%-34s %14s %14s\n' "SYNs received by the stack" "$tw_syns" "-"
printf '%-34s %14s %14s\n' "kernel queue to the stack dropped" "$tw_drops" "-"

tw_ok=$(field "$tw_load" ok)
lx_ok=$(field "$lx_load" ok)
[ "$tw_cookies" -gt 0 ] && [ "$tw_overflows" -gt 0 ] || fail "the flood never filled threeway's SYN queue"
[ "$lx_cookies" -gt 0 ] || fail "the flood never made Linux send a cookie"
[ "$tw_ok" = "$CLIENTS" ] || { cat "$WORK/clients.err"; fail "threeway served $tw_ok of $CLIENTS clients"; }
awk -v p="$(field "$tw_load" p99)" 'BEGIN { exit !(p < 1.0) }' || fail "threeway's p99 connect time is not under 1 s"
[ "$tw_rss" -lt 1024 ] || fail "threeway's RSS grew by $tw_rss KiB"
[ "$tw_ok" -ge "$lx_ok" ] || fail "threeway served fewer clients ($tw_ok) than Linux ($lx_ok)"
echo "PASS"
