#!/usr/bin/env python3
"""Blind in-window attacks (RFC 5961) on a real TCP server, measured from the wire.

Usage: blind_attack.py NAME IFACE SERVER_ADDR PORT

The kernel opens two echo connections to SERVER_ADDR:PORT through IFACE. An
off-path attacker knows the 4-tuples but not the sequence numbers; this one
is given them (read from the wire) so that it can aim at the window, and so
that it can step over the one sequence number a blind attacker must hit.
On the first connection it sends:

  - 65,536 RSTs stepping through the sequence space by the receive window,
    skipping RCV.NXT itself (RFC 5961 3.2: only that one may reset);
  - 100,000 RSTs and 100,000 SYNs at random places inside the window.

Both connections must survive: each echoes afterwards. Every answer the
server sends during the attack is counted; each must be a bare ACK (a
challenge ACK, RFC 5961 3.2 and 4.2), and they must be rate-limited.

Then CVE-2016-5696: the challenge ACKs one connection draws are counted
while the other is quiet and while the other is under attack; with no
counter shared between connections the two counts are the same.

Prints one line of figures prefixed with NAME; exits non-zero on a failure.
"""
import os
import random
import socket
import struct
import sys
import threading
import time

ETH_P_IP = 0x0800
PACKET_IGNORE_OUTGOING = 23
SOL_PACKET = 263
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_packet(src, dst, sport, dport, seq, ack, flags, wnd=1024):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, wnd, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


class Wire:
    """What the kernel's client side and the server have said, read from IFACE."""

    def __init__(self, iface, server, port):
        self.server, self.port = server, port
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        # Our own forged packets leave through IFACE: only what arrives counts.
        self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        self.sock.bind((iface, ETH_P_IP))
        self.sock.settimeout(0.2)
        self.lock = threading.Lock()
        self.conns = {}        # client port -> state
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                pkt = self.sock.recv(65535)
            except socket.timeout:
                continue
            self.seen(pkt)

    def seen(self, pkt):
        if len(pkt) < 40 or pkt[9] != 6:
            return
        ihl = (pkt[0] & 15) * 4
        src = socket.inet_ntoa(pkt[12:16])
        sport, dport, seq, ack, off, flags, wnd = struct.unpack("!HHIIBBH", pkt[ihl:ihl + 16])
        if src != self.server or sport != self.port:
            return
        hlen = (off >> 4) * 4
        payload = len(pkt) - ihl - hlen
        with self.lock:
            c = self.conns.setdefault(dport, {"answers": 0, "not_bare_ack": 0, "wscale": 0})
            if flags & SYN:
                opts = pkt[ihl + 20:ihl + hlen]
                i = 0
                while i < len(opts):
                    kind = opts[i]
                    if kind == 0:
                        break
                    if kind == 1:
                        i += 1
                        continue
                    if i + 1 >= len(opts) or opts[i + 1] < 2:
                        break
                    if kind == 3:
                        c["wscale"] = opts[i + 2]
                    i += opts[i + 1]
            # The server's view: its RCV.NXT is what it acks, its window what it offers.
            c["rcv_nxt"] = ack
            c["wnd"] = wnd << (0 if flags & SYN else c["wscale"])
            c["snd_nxt"] = seq + payload + (1 if flags & (SYN | FIN) else 0)
            if c.get("counting"):
                c["answers"] += 1
                if flags != ACK or payload:
                    c["not_bare_ack"] += 1

    def view(self, port):
        with self.lock:
            return dict(self.conns[port])

    def count(self, port, on):
        with self.lock:
            c = self.conns[port]
            if on:
                c["answers"] = c["not_bare_ack"] = 0
            c["counting"] = on
            return c["answers"], c["not_bare_ack"]


def echo(sock, data):
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        d = sock.recv(65536)
        if not d:
            raise ConnectionError("closed")
        got += d
    if got != data:
        raise ValueError("echo differs")


def settle():
    time.sleep(0.3)


def main():
    name, iface, server, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    wire = Wire(iface, server, port)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    victim = socket.create_connection((server, port), timeout=10)
    other = socket.create_connection((server, port), timeout=10)
    echo(victim, b"before")
    echo(other, b"before")
    settle()
    me = victim.getsockname()[0]
    vport, oport = victim.getsockname()[1], other.getsockname()[1]

    def send(c_port, seqs, flags):
        v = wire.view(c_port)
        sent = 0
        for seq in seqs:
            pkt = tcp_packet(me, server, c_port, port, seq, v["snd_nxt"], flags)
            while True:
                try:
                    raw.sendto(pkt, (server, 0))
                    break
                except (BlockingIOError, OSError):
                    time.sleep(0.001)   # the device queue is full: wait, lose nothing
            sent += 1
        return sent

    v = wire.view(vport)
    nxt, wnd = v["rcv_nxt"], max(v["wnd"], 1)
    if wnd < 2:
        sys.exit("%s: the server offers no window (%d)" % (name, wnd))

    # 1. 65,536 RSTs stepping by the window, over RCV.NXT but never on it.
    wire.count(vport, True)
    t0 = time.monotonic()
    stepped = [(nxt + 1 + i * wnd) & 0xFFFFFFFF for i in range(65536)]
    stepped = [s for s in stepped if s != nxt]
    n_step = send(vport, stepped, RST)
    # 2. 10^5 RSTs and 10^5 SYNs inside the window, anywhere but RCV.NXT.
    inside = [(nxt + 1 + random.randrange(wnd - 1)) & 0xFFFFFFFF for _ in range(100000)]
    n_rst = send(vport, inside, RST)
    n_syn = send(vport, [(nxt + 1 + random.randrange(wnd - 1)) & 0xFFFFFFFF for _ in range(100000)], SYN)
    elapsed = time.monotonic() - t0
    settle()
    answers, bad = wire.count(vport, False)
    try:
        echo(victim, b"after the attack")
        echo(other, b"after the attack")
    except (OSError, ValueError) as e:
        sys.exit("%s: a connection did not survive the attack: %s" % (name, e))
    # RFC 5961 7: challenge ACKs are rate-limited; Linux's tcp_invalid_ratelimit is 500 ms.
    limit = int(elapsed / 0.5) + 3
    if bad:
        sys.exit("%s: %d answers to the attack were not bare ACKs" % (name, bad))
    if answers > limit:
        sys.exit("%s: %d challenge ACKs in %.1f s: not rate-limited (at most %d)" % (name, answers, elapsed, limit))

    # 3. CVE-2016-5696: what one connection draws does not depend on another's attack.
    def probe(during_attack):
        settle()
        time.sleep(0.6)   # past any rate-limit interval left from before
        o = wire.view(oport)
        onxt, ownd = o["rcv_nxt"], max(o["wnd"], 2)
        wire.count(oport, True)
        attacker = None
        if during_attack:
            vv = wire.view(vport)
            flood = [(vv["rcv_nxt"] + 1 + random.randrange(max(vv["wnd"], 2) - 1)) & 0xFFFFFFFF
                     for _ in range(20000)]
            attacker = threading.Thread(target=send, args=(vport, flood, RST))
            attacker.start()
        end = time.monotonic() + 2.0
        probes = 0
        while time.monotonic() < end:
            send(oport, [(onxt + 1 + random.randrange(ownd - 1)) & 0xFFFFFFFF], RST)
            probes += 1
            time.sleep(0.01)
        if attacker:
            attacker.join()
        settle()
        return wire.count(oport, False)[0], probes

    quiet, probes = probe(False)
    loud, _ = probe(True)
    if abs(quiet - loud) > 1:
        sys.exit("%s: challenge ACKs on one connection went from %d to %d while another was attacked"
                 % (name, quiet, loud))
    try:
        echo(victim, b"still here")
        echo(other, b"still here")
    except (OSError, ValueError) as e:
        sys.exit("%s: a connection did not survive the side-channel probe: %s" % (name, e))
    wire.stop = True
    print("%s: window %d; %d stepped RSTs, %d in-window RSTs, %d in-window SYNs in %.1f s -> "
          "survived, %d challenge ACKs; side channel: %d probes drew %d challenge ACKs alone, %d beside an attack"
          % (name, wnd, n_step, n_rst, n_syn, elapsed, answers, probes, quiet, loud))


if __name__ == "__main__":
    main()
