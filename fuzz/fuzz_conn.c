/*
 * libFuzzer target over one established connection: the handshake is done
 * in the setup (options from the first input byte), then the input decodes
 * into a sequence of operations: a segment from the peer (sequence and
 * acknowledgment numbers near what the stack expects, any flags, window,
 * SACK blocks, timestamps and data), time passing, and the application's
 * reads, writes, shutdown and close.
 *
 * The data on both sides is a known pattern of its stream offset, so
 * besides crashes, leaks and sanitizer reports the target checks that the
 * application reads exactly the peer's bytes in order, that every byte the
 * stack sends is the application's at its offset, that every packet sent is
 * well-formed, that the stack's view of the connection stays ordered
 * (SND.UNA <= SND.NXT), and that after close and enough time nothing is left.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tcp/seq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEER_PORT 40000
#define OUR_PORT 80

struct world {
	struct tw_stack_config cfg;
	struct tw_stack *st;
	uint64_t now;
	struct tw_sock *listener, *s;
	bool ts;                    /* timestamps agreed */
	uint32_t peer_iss, our_iss;
	uint32_t peer_nxt;          /* the peer's next new byte */
	uint32_t peer_ack;          /* the most the stack has sent: what the peer may ACK */
	uint32_t our_tsval;         /* the stack's last TSval, for the peer to echo */
	uint32_t peer_tsval;
	uint64_t read_off;          /* bytes the application has read */
	uint64_t write_off;         /* bytes the application has written */
	bool synack_seen;
};

/* The peer's byte at stream offset `off`, and the application's. */
static uint8_t peer_byte(uint64_t off) { return (uint8_t)(off * 7 + (off >> 8)); }
static uint8_t app_byte(uint64_t off) { return (uint8_t)(off * 13 + (off >> 9) + 1); }

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct world *w = ctx;
	struct fz_sent sent;
	fz_check_output(pkt, len, &sent);
	if (pkt[0] >> 4 != 4)
		return;
	const struct wire_tcp *t = &sent.t;
	if (t->dport != PEER_PORT)
		return;
	if ((t->flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == (WIRE_TCP_SYN | WIRE_TCP_ACK) && !w->synack_seen) {
		w->synack_seen = true;
		w->our_iss = t->seq;
		w->peer_ack = t->seq + 1;
	}
	if (t->opt.has & WIRE_HAS_TS)
		w->our_tsval = t->opt.ts_val;
	if (!w->synack_seen || (t->flags & WIRE_TCP_SYN))
		return;
	/* Every byte sent is the application's byte at its offset. */
	struct wire_ipv4 ip;
	struct wire_tcp full;
	struct wire_pseudo ph;
	wire_ipv4_parse(&ip, pkt, len);
	wire_ipv4_pseudo(&ip, &ph);
	wire_tcp_parse(&full, ip.payload, ip.payload_len, &ph);
	uint32_t off = t->seq - (w->our_iss + 1);
	for (size_t i = 0; i < full.payload_len; i++)
		if (full.payload[i] != app_byte((uint64_t)off + i))
			abort();
	uint32_t end = t->seq + (uint32_t)full.payload_len + !!(t->flags & WIRE_TCP_FIN);
	if (seq_gt(end, w->peer_ack))
		w->peer_ack = end;
}

static size_t ts_option(const struct world *w, uint8_t *opts, uint32_t tsval, uint32_t tsecr)
{
	if (!w->ts)
		return 0;
	opts[0] = opts[1] = WIRE_OPT_NOP;
	opts[2] = WIRE_OPT_TS;
	opts[3] = 10;
	wire_put32(opts + 4, tsval);
	wire_put32(opts + 8, tsecr);
	return 12;
}

static void send_seg(struct world *w, const struct fz_seg *g)
{
	uint8_t pkt[WIRE_IPV4_HDR_MIN + WIRE_TCP_HDR_MIN + WIRE_TCP_OPT_SPACE + 2048];
	size_t n = fz_build_tcp(pkt, sizeof(pkt), g);
	if (n)
		tw_input(w->st, pkt, n, w->now);
}

/* A segment from the peer: data from the pattern at its sequence number. */
static void op_segment(struct world *w, struct fz_input *in)
{
	uint8_t how = fz_take8(in);
	struct fz_seg g = { .family = TW_AF_INET, .peer = 1, .sport = PEER_PORT, .dport = OUR_PORT };
	/* Sequence: new data, a retransmission or overlap, out of order, or anywhere. */
	int16_t dseq = (int16_t)fz_take16(in);
	switch (how & 3) {
	case 0: g.seq = w->peer_nxt; break;
	case 1: g.seq = w->peer_nxt - (uint32_t)(dseq & 0x7ff); break;
	case 2: g.seq = w->peer_nxt + (uint32_t)(dseq & 0x7fff); break;
	default: g.seq = w->peer_nxt + (uint32_t)(int32_t)dseq * 64; break;
	}
	g.flags = how & 4 ? fz_take8(in) : WIRE_TCP_ACK | (how & 8 ? WIRE_TCP_PSH : 0);
	int8_t dack = (int8_t)fz_take8(in);
	g.ack = how & 0x10 ? w->peer_ack + (uint32_t)dack : w->peer_ack - (uint32_t)(dack & 0x7f);
	g.wnd = how & 0x20 ? fz_take16(in) : 65535;
	uint8_t opts[WIRE_TCP_OPT_SPACE];
	size_t n = ts_option(w, opts, w->peer_tsval + (how & 0x40 ? 0 : 1), w->our_tsval);
	if (w->ts && (how & 0x40))
		w->peer_tsval++;
	if (how & 0x80) {
		/* SACK blocks near what was sent. */
		unsigned blocks = 1 + fz_take8(in) % 3;
		opts[n++] = WIRE_OPT_NOP;
		opts[n++] = WIRE_OPT_NOP;
		opts[n++] = WIRE_OPT_SACK;
		opts[n++] = (uint8_t)(2 + 8 * blocks);
		for (unsigned i = 0; i < blocks; i++) {
			uint32_t left = w->peer_ack - (uint32_t)fz_take16(in);
			wire_put32(opts + n, left);
			wire_put32(opts + n + 4, left + (uint32_t)fz_take16(in) % 8192);
			n += 8;
		}
	}
	g.opts = opts;
	g.opt_len = n;
	static uint8_t payload[2048];
	size_t len = (size_t)fz_take8(in) * ((g.flags & WIRE_TCP_URG) ? 1 : 8);
	if (len > sizeof(payload))
		len = sizeof(payload);
	uint32_t off = g.seq - (w->peer_iss + 1);
	for (size_t i = 0; i < len; i++)
		payload[i] = peer_byte((uint64_t)off + i);
	g.payload = payload;
	g.payload_len = len;
	g.urp = (g.flags & WIRE_TCP_URG) ? fz_take16(in) : 0;
	send_seg(w, &g);
	uint32_t end = g.seq + (uint32_t)len;
	if (!(g.flags & (WIRE_TCP_RST | WIRE_TCP_SYN)) && seq_gt(end, w->peer_nxt) && seq_leq(g.seq, w->peer_nxt))
		w->peer_nxt = end;
}

static void op_app(struct world *w, struct fz_input *in)
{
	uint8_t b = fz_take8(in);
	static uint8_t buf[8192];
	if (!w->s)
		return;
	switch (b & 7) {
	case 0:
	case 1: {
		/* The bytes read are the peer's, in order, once each. */
		bool peek = b & 8;
		long n = tw_recv(w->s, buf, 1 + (size_t)fz_take8(in) * 32, peek ? TW_MSG_PEEK : 0);
		for (long i = 0; i < n; i++)
			if (buf[i] != peer_byte(w->read_off + (uint64_t)i))
				abort();
		if (n > 0 && !peek)
			w->read_off += (uint64_t)n;
		break;
	}
	case 2:
	case 3: {
		size_t len = (size_t)fz_take8(in) * 32;
		for (size_t i = 0; i < len; i++)
			buf[i] = app_byte(w->write_off + i);
		long n = tw_send(w->s, buf, len, b & 8 ? TW_MSG_MORE : 0);
		if (n > (long)len)
			abort();
		if (n > 0)
			w->write_off += (uint64_t)n;
		break;
	}
	case 4:
		tw_shutdown(w->s, (b >> 3) % 3);
		break;
	case 5:
		tw_setsockopt(w->s, (enum tw_sockopt)(1 + (b >> 3) % 12), (int)(fz_take16(in) % 70000));
		break;
	case 6:
		if (b & 8)
			tw_abort(w->s);
		else
			tw_close(w->s);
		w->s = NULL;
		break;
	default: {
		struct tw_conn_info ci;
		if (tw_conn_info(w->s, &ci) == 0 && ci.state >= TW_ESTABLISHED &&
		    (seq_gt(ci.snd_una, ci.snd_nxt) || seq_gt(ci.snd_nxt, w->peer_ack)))
			abort();
		break;
	}
	}
}

/* The passive open, with the options the first byte picks; the connection is accepted. */
static bool setup(struct world *w, uint8_t conf)
{
	tw_stack_config_init(&w->cfg);
	w->cfg.output = on_output;
	w->cfg.output_ctx = w;
	w->cfg.rcvbuf = w->cfg.sndbuf = conf & 0x80 ? 4096 : 65536;
	w->st = fz_stack_new(&w->cfg);
	w->now = 1000000;
	tw_poll(w->st, w->now);
	int err = 0;
	struct tw_endpoint ep = { .addr = w->cfg.addrs[0], .port = OUR_PORT };
	if (!(w->listener = tw_socket(w->st, &err)) || tw_bind(w->listener, &ep) || tw_listen(w->listener, 4))
		abort();
	uint8_t opts[WIRE_TCP_OPT_SPACE];
	size_t n = 0;
	opts[n++] = WIRE_OPT_MSS;
	opts[n++] = 4;
	wire_put16(opts + n, (uint16_t)(conf & 1 ? 536 : 1460));
	n += 2;
	if (conf & 2) {
		opts[n++] = WIRE_OPT_SACK_PERM;
		opts[n++] = 2;
	}
	w->ts = conf & 4;
	w->peer_tsval = 1000;
	n += ts_option(w, opts + n, w->peer_tsval, 0);
	if (conf & 8) {
		opts[n++] = WIRE_OPT_NOP;
		opts[n++] = WIRE_OPT_WSCALE;
		opts[n++] = 3;
		opts[n++] = (uint8_t)((conf >> 4) & 7);
	}
	w->peer_iss = 0xfffff000u;   /* near the wrap */
	struct fz_seg syn = { .family = TW_AF_INET, .peer = 1, .sport = PEER_PORT, .dport = OUR_PORT,
			      .seq = w->peer_iss, .flags = WIRE_TCP_SYN, .wnd = 65535, .opts = opts, .opt_len = n };
	send_seg(w, &syn);
	if (!w->synack_seen)
		abort();
	w->peer_nxt = w->peer_iss + 1;
	struct fz_seg ack = { .family = TW_AF_INET, .peer = 1, .sport = PEER_PORT, .dport = OUR_PORT,
			      .seq = w->peer_nxt, .ack = w->our_iss + 1, .flags = WIRE_TCP_ACK, .wnd = 65535 };
	n = ts_option(w, opts, ++w->peer_tsval, w->our_tsval);
	ack.opts = opts;
	ack.opt_len = n;
	send_seg(w, &ack);
	w->s = tw_accept(w->listener, NULL, &err);
	return w->s != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world *w = calloc(1, sizeof(*w));
	if (!w)
		return 0;
	struct fz_input in = { data, size };
	if (!setup(w, fz_take8(&in)))
		abort();
	for (int steps = 0; in.left && steps < 512; steps++) {
		uint8_t op = fz_take8(&in);
		switch (op % 4) {
		case 0:
		case 1: op_segment(w, &in); break;
		case 2: fz_advance(w->st, &w->now, (uint64_t)fz_take8(&in) << (op >> 3)); break;
		default: op_app(w, &in); break;
		}
		fz_check_stats(w->st, &w->cfg);
	}
	if (w->s)
		tw_close(w->s);
	tw_close(w->listener);
	fz_finish(w->st, &w->now);
	free(w);
	return 0;
}
