#!/usr/bin/env bash
# `threeway audit-isn` against three hosts in one run: `threeway serve` on a
# TUN interface and a Linux listener in a namespace of its own (both must
# pass; their figures print side by side), and a weak peer this test builds,
# a responder on a second TUN interface that counts ISNs up by 64,000 a
# connection and sends its uptime as TSval (it must fail).
. "$(dirname "$0")/lib.sh"
net_enter "$@"

start_serve --tun tw0 --addr 10.7.0.2/24 --addr 2001:db8:7::2/64 --port 80 --app http

start_linux_listener 80

# The weak peer: 10.9.0.2 on TUN weak0, ISN += 64000 per connection, TSval = milliseconds of uptime.
ip tuntap add dev weak0 mode tun
python3 - "$WORK/weak.ready" <<'PY' &
import fcntl, os, struct, sys, time

fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"weak0", 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN | IFF_NO_PI
open(sys.argv[1], "w").close()

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

isn = 1000
while True:
    p = os.read(fd, 65536)
    if len(p) < 40 or p[0] >> 4 != 4 or p[9] != 6:
        continue
    ihl = (p[0] & 15) * 4
    src, dst = p[12:16], p[16:20]
    t = p[ihl:]
    sport, dport, seq = struct.unpack("!HHI", t[:8])
    flags = t[13]
    if flags & 0x04 or not flags & 0x02:
        continue                       # RSTs and anything but a SYN: forgotten
    tsecr = 0
    i, hl = 20, (t[12] >> 4) * 4
    while i < hl:
        if t[i] == 0:
            break
        if t[i] == 1:
            i += 1
            continue
        if t[i] == 8:
            tsecr = struct.unpack("!I", t[i + 2:i + 6])[0]
        i += max(t[i + 1], 2)
    if dport == 80:
        isn = (isn + 64000) & 0xFFFFFFFF
        tsval = int(time.monotonic() * 1000) & 0xFFFFFFFF
        opts = struct.pack("!BBH", 2, 4, 1460) + struct.pack("!BBBBII", 1, 1, 8, 10, tsval, tsecr)
        hdr = struct.pack("!HHIIBBHHH", 80, sport, isn, (seq + 1) & 0xFFFFFFFF, (20 + len(opts)) // 4 << 4, 0x12, 65535, 0, 0) + opts
    else:
        hdr = struct.pack("!HHIIBBHHH", dport, sport, 0, (seq + 1) & 0xFFFFFFFF, 5 << 4, 0x14, 0, 0, 0)
    c = csum(dst + src + struct.pack("!BBH", 0, 6, len(hdr)) + hdr)
    hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(hdr), 0, 0x4000, 64, 6, 0, dst, src)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    os.write(fd, ip + hdr)
PY
for i in $(seq 100); do [ -e "$WORK/weak.ready" ] && break; sleep 0.1; done
[ -e "$WORK/weak.ready" ] || fail "the weak peer did not start"
ip addr add 10.9.0.1/24 dev weak0
ip link set weak0 up

# Runs one audit; its output goes to $WORK/$1.out, its exit status to $WORK/$1.rc. The uptime
# given is CLOCK_MONOTONIC's, the clock Linux's TCP, threeway's loop and the weak peer count
# (/proc/uptime's also counts time suspended).
audit() {
	local name=$1
	shift
	local rc=0 up
	up=$(python3 -c 'import time; print(time.monotonic())')
	"$TW" audit-isn --uptime "$up" "$@" >"$WORK/$name.out" 2>&1 || rc=$?
	echo "$rc" >"$WORK/$name.rc"
	echo "== $name: threeway audit-isn $* (exit $rc)"
	cat "$WORK/$name.out"
}

audit threeway-v4 10.7.0.2 80
audit threeway-v6 2001:db8:7::2 80
audit linux-v4 10.8.0.2 80
audit linux-v6 2001:db8:8::2 80
audit weak 10.9.0.2 80

for name in threeway-v4 threeway-v6 linux-v4 linux-v6; do
	[ "$(cat "$WORK/$name.rc")" = 0 ] || fail "$name: audit-isn did not pass"
	grep -q '^verdict: pass$' "$WORK/$name.out" || fail "$name: no 'verdict: pass'"
	grep -q 'answered: 200 of 200, and 8 of 8' "$WORK/$name.out" || fail "$name: SYNs went unanswered"
	grep -q '8 SYN-ACKs: 7 of 7 steps forward' "$WORK/$name.out" || fail "$name: one 4-tuple's ISNs did not advance"
	grep -q 'an offset per connection' "$WORK/$name.out" || fail "$name: TSvals share one line"
done
[ "$(cat "$WORK/weak.rc")" = 1 ] || fail "the weak peer was not failed (exit $(cat "$WORK/weak.rc"))"
for want in 'FAIL: every difference between consecutive ISNs is a multiple of 64000' \
	'FAIL: an LCG predicts the next ISN' 'FAIL: a linear clock predicts the next ISN' \
	'FAIL: TSval tells the host' 'one clock shared by connections' 'verdict: FAIL'; do
	grep -qF "$want" "$WORK/weak.out" || fail "the weak peer's audit lacks '$want'"
done

# Every half-open connection was reset: threeway holds no connection, and (its last SYN-ACK
# seconds ago, more than the 1 s initial RTO) retransmitted no SYN-ACK for one left behind.
[ "$(serve_open_connections)" = 0 ] || fail "threeway holds connections after the audits: $(tail -1 "$WORK/serve.log")"
grep 'connections open' "$WORK/serve.log" | tail -1 | grep -q ' 0 retransmitted;' ||
	fail "threeway retransmitted SYN-ACKs: a half-open connection was not reset: $(tail -1 "$WORK/serve.log")"
echo "ok: threeway holds no connection and resent no SYN-ACK after the audits"

# -v prints every sample; --repeat 0 skips the one 4-tuple.
"$TW" audit-isn -v --count 10 --repeat 0 10.7.0.2 80 >"$WORK/verbose.out" || fail "a short audit did not pass: $(cat "$WORK/verbose.out")"
[ "$(grep -c '^  syn-ack .*: isn .* tsval ' "$WORK/verbose.out")" = 10 ] || fail "-v did not print the 10 samples: $(cat "$WORK/verbose.out")"
grep -q 'one 4-tuple' "$WORK/verbose.out" && fail "--repeat 0 still probed one 4-tuple"
echo "ok: -v prints each sample"

# A closed port and a host that does not answer are run-time errors (2), each said in one line.
rc=0; "$TW" audit-isn 10.7.0.2 81 >"$WORK/closed.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'refused the connection' "$WORK/closed.out" || fail "closed port: exit $rc, $(cat "$WORK/closed.out")"
rc=0; "$TW" audit-isn --timeout 200 10.8.0.99 80 >"$WORK/silent.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'no answer from 10.8.0.99' "$WORK/silent.out" || fail "silent host: exit $rc, $(cat "$WORK/silent.out")"
rc=0; "$TW" audit-isn 192.0.2.1 80 >"$WORK/noroute.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'unreachable' "$WORK/noroute.out" || fail "no route: exit $rc, $(cat "$WORK/noroute.out")"
echo "ok: a closed port, a silent host and no route are errors (exit 2)"

# Side by side.
field() { grep -m1 "$2" "$WORK/$1.out" | sed "s/$3/\1/"; }
printf '\n%-34s %-22s %-22s %-22s\n' "" "threeway" "Linux" "weak peer"
row() {
	printf '%-34s %-22s %-22s %-22s\n' "$1" "$(field threeway-v4 "$2" "$3")" "$(field linux-v4 "$2" "$3")" "$(field weak "$2" "$3")"
}
row "Difficulty (nmap SP), IPv4" 'Difficulty=' '.*Difficulty=\([0-9]*\).*'
row "ISR" 'nmap SEQ' '.*ISR \([0-9]*\).*'
row "GCD" 'nmap SEQ' '.*GCD=\([0-9A-F]*\).*'
row "LCG hits" 'LCG mod' '.*: *\([0-9]* of [0-9]*\) hit.*'
row "linear clock hits" 'linear clock' '.*: *\([0-9]* of [0-9]*\) hit.*'
row "one 4-tuple's ISN rate (/s)" 'one 4-tuple' '.*forward, \(.*\)\/s'
row "TSval clock (Hz)" 'TSval: in' '.*, a \([0-9]*\) Hz.*'
row "TSval vs uptime" 'TSval / Hz' '.*: \(.*\)$'
printf '%-34s %-22s %-22s\n' "Difficulty, IPv6" "$(field threeway-v6 'Difficulty=' '.*Difficulty=\([0-9]*\).*')" \
	"$(field linux-v6 'Difficulty=' '.*Difficulty=\([0-9]*\).*')"
stop_serve
echo "PASS"
