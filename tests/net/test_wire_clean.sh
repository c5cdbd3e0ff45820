#!/usr/bin/env bash
# Interop 5: the wire is clean. tcpdump -vv on the TUN interface finds no
# incorrect checksum in any packet threeway sent (IPv4 and IPv6: TCP, RSTs,
# ICMP), and tshark's expert analysis reports no malformed packet.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
net_need curl tcpdump tshark ping

mkdir "$WORK/www"
head -c 3000000 /dev/urandom >"$WORK/www/file.bin"
start_serve --tun tw0 --addr 10.7.0.2/24 --addr 2001:db8:7::2/64 --port 80 --app http --root "$WORK/www"
tcpdump -i tw0 -U -s 0 -w "$WORK/wire.pcap" 2>"$WORK/tcpdump.log" &
TCPDUMP=$!
for i in $(seq 50); do grep -q 'listening on' "$WORK/tcpdump.log" && break; sleep 0.1; done

for host in 10.7.0.2 '[2001:db8:7::2]'; do
	curl -sS --max-time 30 -o /dev/null -o /dev/null -o /dev/null \
		"http://$host/file.bin" "http://$host/" "http://$host/nothing"
	curl -sS --max-time 5 "http://$host:81/" 2>/dev/null && fail "port 81 answered"
done
ping -c 2 -i 0.2 -W 2 10.7.0.2 >/dev/null || fail "ping 10.7.0.2"
ping -c 2 -i 0.2 -W 2 -s 1400 2001:db8:7::2 >/dev/null || fail "ping 2001:db8:7::2"
sleep 0.3
kill -INT $TCPDUMP
wait $TCPDUMP || true

ours='src host 10.7.0.2 or src host 2001:db8:7::2'
tcpdump -nn -vv -r "$WORK/wire.pcap" "$ours" 2>/dev/null >"$WORK/ours.txt"
sent=$(grep -c ' > ' "$WORK/ours.txt" || true)
[ "$sent" -gt 2000 ] || fail "only $sent packets from threeway were captured"
bad=$(grep -c 'incorrect' "$WORK/ours.txt" || true)
[ "$bad" = 0 ] || { grep 'incorrect' "$WORK/ours.txt" | head; fail "$bad packets from threeway with an incorrect checksum"; }
good=$(grep -c 'cksum 0x[0-9a-f]* (correct)' "$WORK/ours.txt" || true)
[ "$good" -gt 2000 ] || fail "tcpdump verified only $good checksums"
echo "ok: $sent packets from threeway, $good checksums verified correct by tcpdump, none incorrect"

tshark -r "$WORK/wire.pcap" -q -z expert >"$WORK/expert.txt" 2>&1 || fail "tshark failed: $(cat "$WORK/expert.txt")"
if grep -qi 'malformed' "$WORK/expert.txt"; then
	cat "$WORK/expert.txt"
	fail "tshark reports a malformed packet"
fi
tshark -r "$WORK/wire.pcap" -Y '_ws.malformed || tcp.checksum.status == 0 || ip.checksum.status == 0' \
	-o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE 2>/dev/null >"$WORK/bad.txt"
[ ! -s "$WORK/bad.txt" ] || { head "$WORK/bad.txt"; fail "tshark finds malformed packets or bad checksums"; }
echo "ok: tshark -z expert reports no malformed packet; no bad checksum either"
stop_serve
echo "PASS"
