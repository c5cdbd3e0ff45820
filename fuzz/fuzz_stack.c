/*
 * libFuzzer target over the connection engine. The input is a script of
 * events for one stack: segments from a peer (built with correct checksums,
 * sequence and acknowledgment numbers near what the stack expects, so they
 * reach the state machine), IPv4 fragments of such segments, raw packets of
 * any bytes, time passing, and the application's calls (accept, send, recv, shutdown, close, abort, options).
 *
 * Besides crashes, leaks and sanitizer reports, two properties are checked:
 * the stack never sends a packet that does not parse or whose checksum is
 * wrong, and once the application has closed everything and enough time has
 * passed, no connection is left (none stuck in any state) and no datagram
 * in reassembly.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "threeway.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SOCKS 8
#define PEER_PORTS 3

struct input {
	const uint8_t *p;
	size_t left;
};

struct fuzz_world {
	struct tw_stack *st;
	uint64_t now;
	struct tw_sock *listener;
	struct tw_sock *socks[MAX_SOCKS];
	uint16_t client_port;       /* the local port of the active open */
	/* What the stack last sent to each peer port: to aim the next segment. */
	uint32_t their_seq[PEER_PORTS + 1], their_ack[PEER_PORTS + 1];
};

static const uint8_t our_addr[4] = { 10, 0, 0, 2 }, peer_addr[4] = { 10, 0, 0, 1 };
static const uint16_t peer_ports[PEER_PORTS + 1] = { 40000, 40001, 40002, 443 };

static uint8_t take8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint32_t take32(struct input *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | take8(in);
	return v;
}

static int port_index(uint16_t port)
{
	for (int i = 0; i <= PEER_PORTS; i++)
		if (peer_ports[i] == port)
			return i;
	return -1;
}

/* Every packet the stack sends must be well-formed with a correct checksum. */
static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct fuzz_world *w = ctx;
	struct wire_ipv4 ip;
	struct wire_tcp t;
	struct wire_pseudo ph;
	if (wire_ipv4_parse(&ip, pkt, len) != 0)
		abort();
	if (ip.proto == WIRE_PROTO_ICMP) {
		/* Reassembly's time exceeded: a well-formed message, never about an ICMP error. */
		struct wire_icmp m;
		if (wire_icmp_parse(&m, ip.payload, ip.payload_len, NULL) != 0 || m.type != WIRE_ICMP_TIME_EXCEEDED ||
		    len > 576)
			abort();
		return;
	}
	wire_ipv4_pseudo(&ip, &ph);
	if (wire_tcp_parse(&t, ip.payload, ip.payload_len, &ph) != 0)
		abort();
	int i = port_index(t.dport);
	if (i >= 0) {
		w->their_seq[i] = t.seq + (uint32_t)t.payload_len;
		w->their_ack[i] = t.ack;
	}
}

/* Builds a segment aimed as the input says into pkt; its length, or 0. */
static size_t build_segment(struct fuzz_world *w, struct input *in, uint8_t *pkt, size_t cap)
{
	uint8_t sel = take8(in);
	int pi = sel % (PEER_PORTS + 1);
	uint8_t flags = take8(in);
	uint8_t how = take8(in);
	uint32_t seq = take32(in), ack = take32(in);
	/* Mostly near the numbers the stack expects; sometimes anywhere. */
	if (how & 1)
		seq = w->their_ack[pi] + (uint32_t)(int8_t)(seq & 0xff) * ((how & 4) ? 1448u : 1u);
	if (how & 2)
		ack = w->their_seq[pi] + (uint32_t)(int8_t)(ack & 0xff);
	uint16_t wnd = (uint16_t)(take8(in) << 8 | take8(in));
	uint8_t opt_len = take8(in) % 41;
	uint8_t opts[40];
	for (size_t i = 0; i < opt_len; i++)
		opts[i] = take8(in);
	opt_len = (uint8_t)(opt_len & ~3u);
	size_t payload_len = (size_t)take8(in) * ((how & 8) ? 16u : 1u);

	struct wire_tcp t;
	memset(&t, 0, sizeof(t));
	t.sport = peer_ports[pi];
	t.dport = pi == PEER_PORTS ? w->client_port : 80;
	t.seq = seq;
	t.ack = ack;
	t.flags = flags;
	t.wnd = wnd;
	if (wire_tcp_opts_parse(&t.opt, opts, opt_len) != 0)
		memset(&t.opt, 0, sizeof(t.opt));
	static uint8_t payload[4096];
	t.payload = payload;
	t.payload_len = payload_len;
	struct wire_ipv4 ip;
	memset(&ip, 0, sizeof(ip));
	ip.ttl = 64;
	ip.proto = WIRE_PROTO_TCP;
	memcpy(ip.src, peer_addr, 4);
	memcpy(ip.dst, our_addr, 4);
	struct wire_pseudo ph;
	wire_ipv4_pseudo(&ip, &ph);
	size_t tcp_len = wire_tcp_emit(&t, pkt + 20, cap - 20, &ph);
	if (!tcp_len)
		return 0;
	ip.hdr_len = 20;
	ip.total_len = (uint16_t)(20 + tcp_len);
	if (!wire_ipv4_emit(&ip, pkt, cap))
		return 0;
	return 20 + tcp_len;
}

static void inject_segment(struct fuzz_world *w, struct input *in)
{
	uint8_t pkt[20 + 60 + 4096];
	size_t len = build_segment(w, in, pkt, sizeof(pkt));
	if (len)
		tw_input(w->st, pkt, len, w->now);
}

/*
 * One IPv4 fragment of a segment: a slice at an offset the input picks (8-byte
 * units, and sometimes not), MF as it says, one of four identifications, so
 * slices of the same segment can reassemble, overlap, or repeat.
 */
static void inject_fragment(struct fuzz_world *w, struct input *in)
{
	uint8_t seg[20 + 60 + 4096], pkt[20 + 60 + 4096];
	uint8_t how = take8(in), at = take8(in), n = take8(in);
	size_t len = build_segment(w, in, seg, sizeof(seg));
	if (!len)
		return;
	size_t data = len - 20, off = (size_t)at * 8 % (data + 8), cnt = (size_t)n * ((how & 1) ? 8u : 1u);
	if (off > data)
		off = data;
	if (cnt > data - off)
		cnt = data - off;
	struct wire_ipv4 ip;
	if (wire_ipv4_parse(&ip, seg, len) != 0)
		abort();
	ip.id = (uint16_t)(how >> 6);
	ip.frag = (uint16_t)(((how & 2) ? WIRE_IPV4_FLAG_MF : 0) | off / 8);
	ip.total_len = (uint16_t)(20 + cnt);
	if (!wire_ipv4_emit(&ip, pkt, sizeof(pkt)))
		return;
	memcpy(pkt + 20, seg + 20 + off, cnt);
	tw_input(w->st, pkt, 20 + cnt, w->now);
}

static void inject_raw(struct fuzz_world *w, struct input *in)
{
	size_t len = take8(in);
	if (len > in->left)
		len = in->left;
	tw_input(w->st, in->p, len, w->now);
	in->p += len;
	in->left -= len;
}

static void advance(struct fuzz_world *w, uint64_t us)
{
	uint64_t end = w->now + us;
	for (int guard = 0; guard < 100000; guard++) {
		uint64_t next = tw_poll(w->st, w->now);
		if (next > end)
			break;
		w->now = next > w->now ? next : w->now + 1;
	}
	w->now = end;
	tw_poll(w->st, w->now);
}

static struct tw_sock **pick(struct fuzz_world *w, struct input *in)
{
	return &w->socks[take8(in) % MAX_SOCKS];
}

static void app_call(struct fuzz_world *w, struct input *in)
{
	uint8_t op = take8(in) % 8;
	struct tw_sock **s = pick(w, in);
	static uint8_t buf[8192];
	int err = 0;
	switch (op) {
	case 0:
		for (int i = 0; i < MAX_SOCKS; i++)
			if (!w->socks[i] && !(w->socks[i] = tw_accept(w->listener, NULL, &err)))
				break;
		break;
	case 1:
		if (*s)
			tw_send(*s, buf, (size_t)take8(in) * 32, take8(in) & 1 ? TW_MSG_MORE : 0);
		break;
	case 2:
		if (*s)
			tw_recv(*s, buf, (size_t)take8(in) * 32 + 1, take8(in) & 1 ? TW_MSG_PEEK : 0);
		break;
	case 3:
		if (*s)
			tw_shutdown(*s, take8(in) % 4);
		break;
	case 4:
		if (*s) {
			tw_close(*s);
			*s = NULL;
		}
		break;
	case 5:
		if (*s) {
			tw_abort(*s);
			*s = NULL;
		}
		break;
	case 6:
		if (*s)
			tw_setsockopt(*s, (enum tw_sockopt)(take8(in) % 13), (int)take32(in) % 70000);
		break;
	default:
		if (*s) {
			struct tw_conn_info ci;
			tw_conn_info(*s, &ci);
			tw_events(*s);
			tw_sock_error(*s);
		}
		break;
	}
}

static bool setup(struct fuzz_world *w)
{
	struct tw_stack_config cfg;
	tw_stack_config_init(&cfg);
	cfg.secret_fixed = true;
	cfg.n_addrs = 1;
	cfg.addrs[0].family = TW_AF_INET;
	memcpy(cfg.addrs[0].bytes, our_addr, 4);
	cfg.output = on_output;
	cfg.output_ctx = w;
	cfg.rcvbuf = cfg.sndbuf = 16384;
	int err = 0;
	w->now = 1000000;
	if (!(w->st = tw_stack_new(&cfg, &err)))
		return false;
	tw_poll(w->st, w->now);
	struct tw_endpoint ep = { .addr = cfg.addrs[0], .port = 80 };
	w->listener = tw_socket(w->st, &err);
	if (!w->listener || tw_bind(w->listener, &ep) || tw_listen(w->listener, 4))
		return false;
	struct tw_endpoint peer = { .port = 443 };
	peer.addr.family = TW_AF_INET;
	memcpy(peer.addr.bytes, peer_addr, 4);
	w->socks[0] = tw_socket(w->st, &err);
	if (!w->socks[0] || tw_connect(w->socks[0], &peer) != -115)
		return false;
	struct tw_conn_info ci;
	tw_conn_info(w->socks[0], &ci);
	w->client_port = ci.local.port;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_world w;
	memset(&w, 0, sizeof(w));
	struct input in = { data, size };
	if (!setup(&w))
		abort();
	for (int steps = 0; in.left && steps < 256; steps++) {
		uint8_t ev = take8(&in);
		switch (ev % 4) {
		case 0: inject_segment(&w, &in); break;
		case 1: app_call(&w, &in); break;
		case 2: advance(&w, (uint64_t)take8(&in) << (ev >> 4)); break;
		default:
			if (ev & 0x80)
				inject_raw(&w, &in);
			else if (ev & 0x40)
				inject_fragment(&w, &in);
			else
				inject_segment(&w, &in);
			break;
		}
	}
	/* Close everything; after every timer has had its time, nothing may be left. */
	for (int i = 0; i < MAX_SOCKS; i++)
		if (w.socks[i])
			tw_close(w.socks[i]);
	tw_close(w.listener);
	fz_finish(w.st, &w.now);
	return 0;
}
