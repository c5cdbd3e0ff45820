# Neighbour namespaces around a test's own (sourced after lib.sh, after
# net_enter). Each neighbour is a network namespace held by a sleeping
# process of the test's PID namespace, so it goes when the test goes, on any
# path. The test's own namespace is the router between them; its default
# route is a blackhole, so replies to forged sources die there and nothing
# leaves the test's namespaces.

# ns_new VAR: a new network namespace; VAR gets the PID that holds it.
ns_new() {
	local ours i
	ours=$(readlink /proc/self/ns/net)
	unshare --net sleep 1000000 &
	local pid=$!
	for i in $(seq 100); do
		[ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$ours" ] && break
		sleep 0.02
	done
	nsenter -t "$pid" -n ip link set lo up
	eval "$1=$pid"
}

# in_ns PID COMMAND...: runs COMMAND in that namespace.
in_ns() {
	local pid=$1
	shift
	nsenter -t "$pid" -n -- "$@"
}

# ns_link PID OUR_IF OUR_ADDR/LEN ITS_IF ITS_ADDR/LEN: a veth pair from here
# to the namespace, whose default route points back here.
ns_link() {
	local pid=$1 our_if=$2 our_addr=$3 its_if=$4 its_addr=$5
	ip link add "$our_if" type veth peer name "$its_if" netns "$pid"
	ip addr add "$our_addr" dev "$our_if"
	ip link set "$our_if" up
	in_ns "$pid" ip addr add "$its_addr" dev "$its_if"
	in_ns "$pid" ip link set "$its_if" up
	in_ns "$pid" ip route add default via "${our_addr%/*}"
}

# This namespace forwards between its neighbours, accepts any source (forged
# ones included: rp_filter off) and drops what is for no neighbour.
ns_router() {
	sysctl -qw net.ipv4.ip_forward=1
	sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip route add blackhole default
}

# The floods' three neighbours, each with a veth pair to this namespace: the attacker
# ($ATK, 10.8.1.2), the real clients ($CLI, 10.8.2.2) and the kernel's TCP ($LNX, 10.9.0.2,
# through fl0). threeway serve's TUN interface, added by the test, is the fourth way out.
flood_topology() {
	ns_router
	ns_new ATK
	ns_new CLI
	ns_new LNX
	ns_link "$ATK" fa0 10.8.1.1/24 fa1 10.8.1.2/24
	ns_link "$CLI" fc0 10.8.2.1/24 fc1 10.8.2.2/24
	ns_link "$LNX" fl0 10.9.0.1/24 fl1 10.9.0.2/24
}

# The kernel's TCP counters of a namespace, as "Name value" lines (nstat's, absolute).
ns_nstat() {
	in_ns "$1" nstat -asz "${@:2}" | awk 'NF >= 2 && $1 !~ /^#/ { print $1, $2 }'
}

# One counter out of ns_nstat's output: nstat_of "$counters" TcpExtSyncookiesSent.
nstat_of() {
	awk -v name="$2" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }' <<<"$1"
}

# Packets this namespace took from the interface, handed to it, and dropped handing them.
rx_packets() { ip -s link show dev "$1" | awk '/RX:/ { getline; print $2 }'; }
tx_packets() { ip -s link show dev "$1" | awk '/TX:/ { getline; print $2 }'; }
tx_dropped() { ip -s link show dev "$1" | awk '/TX:/ { getline; print $4 }'; }

# Resident memory of a process, KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
