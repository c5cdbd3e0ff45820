/*
 * libFuzzer target over the listener path (RFC 9293 3.10.7.2, RFC 4987):
 * SYNs with any option bytes, third segments aimed at the SYN-ACKs the
 * stack sent (SYN cookies and half-open entries), repeated SYNs, RSTs, raw
 * packets, time and accept.
 *
 * Input: one configuration byte (SYN cookies always, on overflow or off;
 * timestamps, SACK, window scaling; the backlog; a buffer bound), then
 * operations. Listeners come and go, on one address or on any.
 *
 * Checked besides crashes and sanitizer reports: every packet sent parses
 * with a correct checksum; the counters stay sane; a third segment that
 * answers a cookie SYN-ACK exactly, within the cookie's minute, checks as a
 * valid cookie; and once everything is closed and time has passed, no
 * socket is left.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEERS 4
#define PORTS 4
#define MAX_ACCEPTED 8

/* The last SYN-ACK to each (family, peer, port), to aim a third segment at. */
struct synack {
	bool valid, cookie, checked;
	uint64_t at;
	unsigned epoch;             /* the listeners it was sent under */
	uint32_t seq, ack, ts_val;
	bool ts;
};

struct world {
	struct tw_stack_config cfg;
	struct tw_stack *st;
	uint64_t now;
	struct tw_sock *listener[2];
	struct tw_sock *accepted[MAX_ACCEPTED];
	struct fz_sent sent;
	bool sent_any;
	struct synack synacks[2][PEERS][PORTS];
	unsigned epoch;             /* counts changes of listener */
};

static int family_index(uint8_t family) { return family == TW_AF_INET ? 0 : 1; }

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct world *w = ctx;
	fz_check_output(pkt, len, &w->sent);
	w->sent_any = true;
}

/* Every event is one the API names, with a state change between real states. */
static void on_event(void *ctx, const struct tw_event *ev)
{
	(void)ctx;
	if (ev->size != sizeof(*ev))
		abort();
	if (ev->type == TW_EVENT_STATE && (ev->old_state == ev->new_state || ev->new_state > TW_TIME_WAIT))
		abort();
	if (ev->type == TW_EVENT_DROP && (ev->drop < 1 || ev->drop >= TW_DROP_COUNT))
		abort();
	if (ev->type < TW_EVENT_STATE || ev->type > TW_EVENT_DROP)
		abort();
}

static struct synack *slot_of(struct world *w, uint8_t family, uint8_t peer, uint16_t sport)
{
	return &w->synacks[family_index(family)][(peer - 1) % PEERS][(sport - 40000) % PORTS];
}

/* The segment's common fields from the input: which family, peer and port. */
static void pick_flow(struct fz_input *in, struct fz_seg *g)
{
	uint8_t b = fz_take8(in);
	g->family = b & 1 ? TW_AF_INET6 : TW_AF_INET;
	g->peer = (uint8_t)(1 + (b >> 1) % PEERS);
	g->sport = (uint16_t)(40000 + (b >> 3) % PORTS);
	g->dport = b & 0x80 ? 81 : 80;   /* 81: no listener */
}

static void send_seg(struct world *w, const struct fz_seg *g)
{
	uint8_t pkt[WIRE_IPV6_HDR_LEN + WIRE_TCP_HDR_MIN + WIRE_TCP_OPT_SPACE + 512];
	size_t n = fz_build_tcp(pkt, sizeof(pkt), g);
	if (!n)
		return;
	struct tw_stack_stats before;
	tw_stack_stats(w->st, &before);
	w->sent_any = false;
	tw_input(w->st, pkt, n, w->now);
	struct tw_stack_stats after;
	tw_stack_stats(w->st, &after);
	/*
	 * A cookie checks for any segment whose SEQ and ACK are both off by the
	 * same amount (as Linux's): once one has made a connection, the flow's
	 * exact third segment meets that connection instead.
	 */
	if (after.cookies_valid != before.cookies_valid)
		slot_of(w, g->family, g->peer, g->sport)->checked = true;
	/* Note the SYN-ACK the stack answered with, if it did. */
	if (w->sent_any && (w->sent.t.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == (WIRE_TCP_SYN | WIRE_TCP_ACK) &&
	    w->sent.t.dport == g->sport && w->sent.family == g->family) {
		struct synack *sa = slot_of(w, g->family, g->peer, g->sport);
		sa->valid = true;
		sa->checked = false;
		sa->cookie = after.cookies_sent > before.cookies_sent;
		sa->at = w->now;
		sa->epoch = w->epoch;
		sa->seq = w->sent.t.seq;
		sa->ack = w->sent.t.ack;
		sa->ts = w->sent.t.opt.has & WIRE_HAS_TS;
		sa->ts_val = w->sent.t.opt.ts_val;
	}
}

static void op_syn(struct world *w, struct fz_input *in)
{
	struct fz_seg g = { 0 };
	pick_flow(in, &g);
	uint8_t how = fz_take8(in);
	g.flags = WIRE_TCP_SYN | (how & 0x80 ? fz_take8(in) : 0);
	g.seq = fz_take32(in);
	g.ack = how & 0x40 ? fz_take32(in) : 0;
	g.wnd = fz_take16(in);
	g.opts = fz_take_bytes(in, WIRE_TCP_OPT_SPACE, &g.opt_len);
	if (how & 0x20)
		g.payload = fz_take_bytes(in, 255, &g.payload_len);
	send_seg(w, &g);
}

/* A third segment for the last SYN-ACK to the flow: exact, or off by a little. */
static void op_third(struct world *w, struct fz_input *in)
{
	struct fz_seg g = { 0 };
	pick_flow(in, &g);
	struct synack *sa = slot_of(w, g.family, g.peer, g.sport);
	uint8_t how = fz_take8(in);
	int8_t dseq = how & 1 ? (int8_t)fz_take8(in) : 0, dack = how & 2 ? (int8_t)fz_take8(in) : 0;
	g.flags = how & 4 ? fz_take8(in) : WIRE_TCP_ACK;
	g.seq = sa->ack + (uint32_t)dseq;
	g.ack = sa->seq + 1 + (uint32_t)dack;
	g.wnd = fz_take16(in);
	uint8_t opts[12];
	if (sa->ts && !(how & 8)) {
		/* NOP NOP TS, echoing the SYN-ACK's TSval (maybe off by a little). */
		opts[0] = opts[1] = WIRE_OPT_NOP;
		opts[2] = WIRE_OPT_TS;
		opts[3] = 10;
		wire_put32(opts + 4, fz_take32(in));
		wire_put32(opts + 8, sa->ts_val + (how & 0x10 ? fz_take8(in) : 0));
		g.opts = opts;
		g.opt_len = sizeof(opts);
	}
	if (how & 0x20)
		g.payload = fz_take_bytes(in, 255, &g.payload_len);

	bool exact = g.dport == 80 && sa->valid && sa->cookie && !sa->checked && sa->epoch == w->epoch && !dseq && !dack && !(how & 0x10) &&
		     (g.flags & (WIRE_TCP_ACK | WIRE_TCP_SYN | WIRE_TCP_RST)) == WIRE_TCP_ACK &&
		     w->now - sa->at < 60ull * 1000000;
	struct tw_stack_stats before, after;
	tw_stack_stats(w->st, &before);
	send_seg(w, &g);
	tw_stack_stats(w->st, &after);
	/* RFC 4987 3.6: the stack's own cookie, returned in time, must check. */
	if (exact) {
		sa->checked = true;
		if (after.cookies_valid != before.cookies_valid + 1)
			abort();
	}
}

static void op_raw(struct world *w, struct fz_input *in)
{
	size_t len;
	const uint8_t *p = fz_take_bytes(in, 255, &len);
	tw_input(w->st, p, len, w->now);
}

static void op_app(struct world *w, struct fz_input *in)
{
	uint8_t b = fz_take8(in);
	struct tw_sock **s = &w->accepted[(b >> 3) % MAX_ACCEPTED];
	uint8_t buf[256];
	int err = 0;
	switch (b & 7) {
	case 0:
		if (!*s)
			*s = w->listener[b >> 7] ? tw_accept(w->listener[b >> 7], NULL, &err) : NULL;
		break;
	case 1:
		if (*s)
			tw_recv(*s, buf, sizeof(buf), 0);
		break;
	case 2:
		if (*s) {
			memset(buf, 'x', sizeof(buf));
			tw_send(*s, buf, sizeof(buf), 0);
		}
		break;
	case 3:
		if (*s) {
			if (b & 0x80)
				tw_abort(*s);
			else
				tw_close(*s);
			*s = NULL;
		}
		break;
	case 4:
	case 5: {
		/* A listener goes, and another comes: on the same address, or on any address. */
		int i = b & 1;
		uint8_t c = fz_take8(in);
		w->epoch++;
		if (w->listener[i])
			tw_close(w->listener[i]);
		w->listener[i] = NULL;
		if (c & 1)
			break;
		struct tw_endpoint ep = { .addr = w->cfg.addrs[(c >> 1) & 1], .port = 80 };
		if (c & 4)
			memset(ep.addr.bytes, 0, sizeof(ep.addr.bytes));
		if ((w->listener[i] = tw_socket(w->st, &err)) &&
		    (tw_bind(w->listener[i], &ep) || tw_listen(w->listener[i], c >> 5))) {
			tw_close(w->listener[i]);
			w->listener[i] = NULL;
		}
		break;
	}
	case 6:
		if (w->listener[(b >> 3) & 1])
			tw_listen(w->listener[(b >> 3) & 1], b >> 4);
		break;
	default:
		if (w->listener[(b >> 3) & 1])
			tw_setsockopt(w->listener[(b >> 3) & 1], (enum tw_sockopt)(1 + (b >> 4) % 12),
				      (int)(fz_take16(in) % 70000));
		break;
	}
}

static void setup(struct world *w, uint8_t conf)
{
	tw_stack_config_init(&w->cfg);
	static const uint8_t modes[4] = { TW_SYNCOOKIES_ALWAYS, TW_SYNCOOKIES_ON_OVERFLOW, TW_SYNCOOKIES_ALWAYS,
					  TW_SYNCOOKIES_OFF };
	w->cfg.syncookies = modes[conf & 3];
	w->cfg.timestamps = !(conf & 4);
	w->cfg.sack = !(conf & 8);
	w->cfg.window_scaling = !(conf & 16);
	w->cfg.max_conns = 24;
	w->cfg.synack_retries = 2;
	w->cfg.buffer_max_bytes = conf & 0x80 ? 16384 : 0;
	w->cfg.rcvbuf = w->cfg.sndbuf = 4096;
	w->cfg.output = on_output;
	w->cfg.output_ctx = w;
	w->cfg.event = on_event;
	w->st = fz_stack_new(&w->cfg);
	w->now = 5000000;
	tw_poll(w->st, w->now);
	for (int i = 0; i < 2; i++) {
		int err = 0;
		struct tw_endpoint ep = { .addr = w->cfg.addrs[i], .port = 80 };
		w->listener[i] = tw_socket(w->st, &err);
		if (!w->listener[i] || tw_bind(w->listener[i], &ep) || tw_listen(w->listener[i], 1 + ((conf >> 5) & 3)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world *w = calloc(1, sizeof(*w));
	if (!w)
		return 0;
	struct fz_input in = { data, size };
	setup(w, fz_take8(&in));
	for (int steps = 0; in.left && steps < 512; steps++) {
		uint8_t op = fz_take8(&in);
		switch (op % 6) {
		case 0: op_syn(w, &in); break;
		case 1: op_third(w, &in); break;
		case 2: fz_advance(w->st, &w->now, (uint64_t)fz_take8(&in) << (op >> 3)); break;
		case 3: op_app(w, &in); break;
		case 4: op_raw(w, &in); break;
		default: op_third(w, &in); break;
		}
		fz_check_stats(w->st, &w->cfg);
	}
	for (int i = 0; i < MAX_ACCEPTED; i++)
		if (w->accepted[i])
			tw_close(w->accepted[i]);
	for (int i = 0; i < 2; i++)
		if (w->listener[i])
			tw_close(w->listener[i]);
	fz_finish(w->st, &w->now);
	free(w);
	return 0;
}
