# Shared by the interop tests: each test runs in network and PID namespaces
# of its own (unshare), so the TUN interfaces, addresses and every process it
# starts vanish when it ends, on any path: when the script exits or is
# killed, the PID namespace's first process dies and the kernel kills the rest.
#
# Usage, at the top of a test:  . "$(dirname "$0")/lib.sh"; net_enter "$@"
# Environment: THREEWAY_BIN (the binary), THREEWAY_REQUIRE_NETNS=1 (fail, not skip).

SKIP=77

net_skip() {
	if [ "${THREEWAY_REQUIRE_NETNS:-0}" = 1 ]; then
		echo "FAIL: $* (THREEWAY_REQUIRE_NETNS=1: this test must run)"
		exit 1
	fi
	echo "SKIP: $*"
	exit $SKIP
}

net_need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || net_skip "$tool is not installed"
	done
}

# Re-runs the calling script inside fresh namespaces, unless it is there already.
net_enter() {
	if [ -z "${TW_NET_INSIDE:-}" ]; then
		[ "$(id -u)" = 0 ] || net_skip "needs root (network namespaces, TUN interfaces)"
		[ -c /dev/net/tun ] || net_skip "no /dev/net/tun"
		net_need unshare ip python3
		[ -x "${THREEWAY_BIN:-}" ] || { echo "FAIL: THREEWAY_BIN is not set to the threeway binary"; exit 1; }
		unshare --net --pid --fork --kill-child --mount-proc true 2>/dev/null ||
			net_skip "cannot create network and PID namespaces"
		TW_NET_INSIDE=1 exec unshare --net --pid --fork --kill-child --mount-proc bash "$0" "$@"
	fi
	set -eu
	TW="$THREEWAY_BIN"
	WORK=$(mktemp -d)
	trap 'net_cleanup' EXIT
	ip link set lo up
}

net_cleanup() {
	local pids
	pids=$(jobs -p)
	[ -n "$pids" ] && kill $pids 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$WORK"
}

fail() {
	echo "FAIL: $*"
	exit 1
}

# Sends 3 pings with the given arguments, output to $1; fails unless all 3 are answered
# with their data intact (ping prints "wrong data byte" for a reply that differs).
ping_three() {
	local out=$1
	shift
	ping -c 3 -i 0.2 -W 2 "$@" >"$out" || { cat "$out"; fail "ping $*"; }
	grep -q '3 received' "$out" || fail "ping $*: $(tail -2 "$out")"
	! grep -qi 'wrong data\|DUP!' "$out" || fail "ping $*: replies with wrong data"
}

# Waits until `threeway serve`, logging to $1, says it is serving (or gives up after 10 s).
wait_serving() {
	local log=$1 i
	for i in $(seq 100); do
		grep -q " on .* port " "$log" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$log"
	fail "threeway serve did not start"
}

# Starts `threeway serve` in the background with the given arguments; its
# stderr goes to $WORK/serve.log, its stdout (the trace) to $WORK/trace.log.
start_serve() {
	"$TW" serve "$@" >"$WORK/trace.log" 2>"$WORK/serve.log" &
	SERVE_PID=$!
	wait_serving "$WORK/serve.log"
}

# The line of counters `threeway serve` prints on SIGUSR1, fresh.
serve_stats() {
	local before i
	before=$(grep -c 'connections open' "$WORK/serve.log" || true)
	kill -USR1 "$SERVE_PID"
	for i in $(seq 50); do
		[ "$(grep -c 'connections open' "$WORK/serve.log" || true)" -gt "$before" ] && break
		sleep 0.1
	done
	grep 'connections open' "$WORK/serve.log" | tail -1
}

# One counter of a serve_stats line, by the words after its number: stat_of "$line" 'cookies sent'.
stat_of() {
	grep -o "[0-9]* $2" <<<"$1" | head -1 | cut -d' ' -f1
}

# The "N connections open" that `threeway serve` prints on SIGUSR1.
serve_open_connections() {
	stat_of "$(serve_stats)" 'connections open'
}

# Stops `threeway serve` with SIGTERM and checks it exits 0.
stop_serve() {
	kill -TERM "$SERVE_PID"
	local rc=0
	wait "$SERVE_PID" || rc=$?
	[ "$rc" = 0 ] || { cat "$WORK/serve.log"; fail "threeway serve exited with $rc"; }
}

# Starts a Linux listener on TCP port $1 (IPv4 and IPv6) in a network namespace
# of its own, "linux", joined to this one by a veth pair: 10.8.0.1 and
# 2001:db8:8::1 here, 10.8.0.2 and 2001:db8:8::2 there. The namespace's name
# lives on a tmpfs of the test's own mount namespace, so nothing outlives it.
# A named network namespace, kept in a private /run/netns: the name file `ip
# netns add` makes lives in the test's own mount namespace and goes with it.
netns_add() {
	if [ -z "${TW_NETNS_MOUNTED:-}" ]; then
		mkdir -p /run/netns
		mount -t tmpfs threeway-netns /run/netns
		TW_NETNS_MOUNTED=1
	fi
	ip netns add "$1"
}

start_linux_listener() {
	local port=$1 i
	netns_add linux
	ip link add veth0 type veth peer name veth1 netns linux
	ip addr add 10.8.0.1/24 dev veth0
	ip addr add 2001:db8:8::1/64 dev veth0 nodad
	ip link set veth0 up
	ip -n linux link set lo up
	ip -n linux addr add 10.8.0.2/24 dev veth1
	ip -n linux addr add 2001:db8:8::2/64 dev veth1 nodad
	ip -n linux link set veth1 up
	ip netns exec linux python3 - "$port" "$WORK/linux.ready" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(128)
open(sys.argv[2], "w").close()
time.sleep(3600)
PY
	for i in $(seq 100); do
		[ -e "$WORK/linux.ready" ] && return 0
		sleep 0.1
	done
	fail "the Linux listener did not start"
}
