#!/usr/bin/env bash
# RFC 5961 against real servers, side by side: the kernel opens echo
# connections to `threeway serve` (over TUN) and to a Linux listener (in a
# namespace of its own, over veth), and a raw-socket attacker sprays each
# with 65,536 RSTs stepping through the sequence space by the window, then
# 100,000 RSTs and 100,000 SYNs inside it. Both must survive, answer only
# with rate-limited challenge ACKs, and show no counter shared between
# connections (CVE-2016-5696). The figures print for both stacks.
. "$(dirname "$0")/lib.sh"
net_enter "$@"
HERE=$(cd "$(dirname "$0")" && pwd)

start_serve --tun tw0 --addr 10.7.0.2/24 --port 7 --app echo

# The Linux listener: an echo server in a namespace of its own, behind veth.
netns_add lx
ip link add vc type veth peer name vs
ip link set vs netns lx
ip addr add 10.8.0.1/24 dev vc
ip link set vc up
ip -n lx addr add 10.8.0.2/24 dev vs
ip -n lx link set vs up
ip -n lx link set lo up
ip netns exec lx python3 -c '
import socket, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.8.0.2", 7)); l.listen(16)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' &
for i in $(seq 50); do
	ip netns exec lx ss -ltn | grep -q '10.8.0.2:7 ' && break
	sleep 0.1
done

python3 "$HERE/blind_attack.py" threeway tw0 10.7.0.2 7 || fail "threeway"
python3 "$HERE/blind_attack.py" linux vc 10.8.0.2 7 || fail "linux"
kill -USR1 "$SERVE_PID"
sleep 0.2
grep 'connections open' "$WORK/serve.log" | tail -1
stop_serve
echo "ok: both stacks survived the blind attacks"
