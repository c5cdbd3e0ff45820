#!/usr/bin/env bash
# serve and connect refuse what they cannot do with one clear line on stderr
# and a non-zero status: no privileges, a bad address, a TUN name that is
# taken (by another threeway, or by an interface that is not a TUN device).
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need setpriv

# Runs threeway with the arguments; checks the status is non-zero and stderr is one line matching $1.
expect_error() {
	local pattern=$1 rc=0
	shift
	"$@" >"$WORK/out" 2>"$WORK/err" </dev/null || rc=$?
	[ "$rc" != 0 ] || fail "'$*' succeeded"
	[ "$(wc -l <"$WORK/err")" = 1 ] || { cat "$WORK/err"; fail "'$*' printed $(wc -l <"$WORK/err") lines"; }
	grep -q "$pattern" "$WORK/err" || fail "'$*': '$(cat "$WORK/err")' does not say '$pattern'"
	echo "ok (exit $rc): $(cat "$WORK/err")"
}

# Closed standard descriptors: output that would be lost is refused; closed input reads as empty.
rc=0
"$TW" connect --tun tw5 --addr 10.7.0.2/24 10.7.0.1 80 </dev/null >&- 2>"$WORK/err" || rc=$?
[ "$rc" != 0 ] && [ "$(cat "$WORK/err")" = "threeway: standard output is closed" ] ||
	fail "connect with stdout closed: exit $rc, '$(cat "$WORK/err")'"
! ip link show tw5 >/dev/null 2>&1 || fail "connect with stdout closed went on to create tw5"
echo "ok (exit $rc): $(cat "$WORK/err")"
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
expect_error 'not permitted.*run as root' "${nobody[@]}" "$TW" serve --tun tw5 --addr 10.7.0.2/24 --port 80 --app echo
expect_error 'not permitted.*run as root' "${nobody[@]}" "$TW" connect --tun tw5 --addr 10.7.0.2/24 10.7.0.1 80

expect_error 'not an IPv4 or IPv6 address' "$TW" serve --tun tw5 --addr 10.7.0.300/24 --port 80 --app echo
expect_error 'not an IPv4 or IPv6 address' "$TW" serve --tun tw5 --addr 10.7.0.2 --port 80 --app echo
expect_error 'not an IPv4 or IPv6 address' "$TW" connect --tun tw5 --addr 2001:db8::zz/64 10.7.0.1 80
expect_error "'10.7.0' is not an IPv4 or IPv6 address" "$TW" connect --tun tw5 --addr 10.7.0.2/24 10.7.0 80
expect_error 'the broadcast address of the prefix' "$TW" serve --tun tw5 --addr 10.9.0.255/24 --port 80 --app echo
expect_error 'the network address of the prefix' "$TW" serve --tun tw5 --addr 10.9.0.0/24 --port 80 --app echo
expect_error 'the network address of the prefix' "$TW" serve --tun tw5 --addr 2001:db8:7::/64 --port 80 --app echo
expect_error 'not a unicast address' "$TW" serve --tun tw5 --addr 224.0.0.1/24 --port 80 --app echo
expect_error 'leaves no address for the host' "$TW" serve --tun tw5 --addr 10.7.0.2/32 --port 80 --app echo
expect_error 'port from 1 to 65535' "$TW" serve --tun tw5 --addr 10.7.0.2/24 --port 70000 --app echo
expect_error 'http, echo, discard or chargen' "$TW" serve --tun tw5 --addr 10.7.0.2/24 --port 80 --app gopher
expect_error 'overflow, always or off' "$TW" serve --tun tw5 --addr 10.7.0.2/24 --port 80 --app echo --syncookies sometimes
expect_error 'is required' "$TW" serve --addr 10.7.0.2/24 --port 80 --app echo

start_serve --tun tw0 --addr 10.7.0.2/24 --port 80 --app echo
expect_error "TUN interface 'tw0' is taken" "$TW" serve --tun tw0 --addr 10.7.0.2/24 --port 81 --app echo
expect_error "TUN interface 'tw0' is taken" "$TW" connect --tun tw0 --addr 10.7.0.3/24 10.7.0.1 80
expect_error "'lo' is taken by an interface that is not a TUN device" "$TW" serve --tun lo --addr 10.7.0.2/24 --port 80 --app echo
expect_error 'too long' "$TW" serve --tun averyveryverylongname --addr 10.7.0.2/24 --port 80 --app echo
# The server that held tw0 is unharmed by all of this.
answer=$(python3 -c 'import socket; s=socket.create_connection(("10.7.0.2",80)); s.sendall(b"hi"); s.shutdown(1); print(s.recv(9).decode())' 2>&1)
[ "$answer" = hi ] || fail "the running server no longer echoes: '$answer'"
stop_serve
echo "PASS"
