/*
 * A scripted peer and one connection of the stack under test, opened
 * passively or actively, with timestamps on or off, over IPv4 or IPv6, then
 * driven into the state a test needs. The peer's ISN sits just below 2^32 so
 * every path crosses the wrap. Shared by test_close.c and test_rfc5961.c;
 * every function is static inline so a test uses what it needs.
 */
#ifndef THREEWAY_TEST_SCRIPTED_CONN_H
#define THREEWAY_TEST_SCRIPTED_CONN_H

#include "harness.h"

#define PEER_ISS 0xfffffff0u
#define PEER_WND 1000u          /* the window field of every peer segment after the SYN */
#define PEER_WSCALE 7           /* what the peer's SYN offers when timestamps are on */

#define E_PIPE 32
#define E_AGAIN 11
#define E_CONNRESET 104
#define E_NOTCONN 107

enum { M_ACTIVE = 0, M_PASSIVE = 1, M_TS = 2, M_V6 = 4 };

struct conn {
	struct harness *h;
	struct tw_sock *l;          /* the listener of a passive open, else NULL */
	struct tw_sock *s;          /* the connection, NULL once released */
	uint16_t port;              /* the peer's port */
	bool ts;
	uint32_t iss;               /* our ISS */
	uint32_t snd_nxt;           /* SND.NXT: the next sequence number we will use */
	uint32_t rcv_nxt;           /* RCV.NXT: the peer's next sequence number */
	uint32_t peer_ts;           /* the peer's TSval clock */
	uint32_t our_ts;            /* the last TSval we sent */
};

/* Prints the last segment taken from the capture (for a failing assertion). */
static inline void show_last(struct harness *h)
{
	struct h_pkt *p = &h->out[h->next_out - 1];
	fprintf(stderr, "# stack sent: %s", tw_trace_render(h->tracer, 0, 0, TW_LINK_RAW, p->bytes, p->len, p->len));
}

/* The next segment the stack sent must have these flags, seq and ack, to this peer. */
static inline struct wire_tcp expect_seg(struct conn *c, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct harness *h = c->h;
	if (!h_pending(h))
		fprintf(stderr, "# expected flags 0x%02x seq %u ack %u, the stack sent nothing\n", flags, seq, ack);
	struct wire_tcp t = h_next(h);
	if (t.flags != flags || t.seq != seq || t.ack != ack || t.dport != c->port) {
		fprintf(stderr, "# expected flags 0x%02x seq %u ack %u dport %u\n", flags, seq, ack, c->port);
		show_last(h);
	}
	assert_int_equal(t.flags, flags);
	assert_int_equal(t.seq, seq);
	assert_int_equal(t.ack, ack);
	assert_int_equal(t.sport, OUR_PORT);
	assert_int_equal(t.dport, c->port);
	if (!(flags & (WIRE_TCP_SYN | WIRE_TCP_RST))) {
		char lay[64];
		/* RFC 7323 3.2: once negotiated, every non-RST segment carries <nop,nop,TS>. */
		assert_string_equal(h_opt_layout(&t, lay, sizeof(lay)), c->ts ? "nop,nop,TS" : "");
	}
	if (t.opt.has & WIRE_HAS_TS)
		c->our_ts = t.opt.ts_val;
	return t;
}

/* The next segment is a bare ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. */
static inline struct wire_tcp expect_ack(struct conn *c)
{
	return expect_seg(c, WIRE_TCP_ACK, c->snd_nxt, c->rcv_nxt);
}

/* A segment from the peer, with <nop,nop,TS> when timestamps are on (TSval always newer). */
static inline struct h_seg pseg(struct conn *c, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct h_seg s = h_seg(flags, seq, ack);
	s.sport = c->port;
	s.wnd = PEER_WND;
	if (c->ts) {
		h_opt_nop(&s);
		h_opt_nop(&s);
		h_opt_ts(&s, ++c->peer_ts, c->our_ts);
	}
	return s;
}

static inline int feed(struct conn *c, struct h_seg *s) { return h_feed(c->h, s); }

/* The peer sends `len` bytes of `data` at RCV.NXT (RCV.NXT is not moved here). */
static inline int feed_data(struct conn *c, uint32_t seq, uint32_t ack, const char *data, size_t len)
{
	struct h_seg s = pseg(c, WIRE_TCP_ACK | WIRE_TCP_PSH, seq, ack);
	s.data = data;
	s.len = len;
	return feed(c, &s);
}

static inline struct tw_sock *connect_from_our_port(struct harness *h, uint16_t peer_port)
{
	return h_connect_ports(h, OUR_PORT, peer_port);
}

/*
 * Brings a connection to ESTABLISHED on harness `h`: passively through
 * listener `l` (created if NULL) or actively, from peer port `port` with
 * peer ISN `irs`; timestamps (and window scale) when `mode` has M_TS.
 */
static inline void conn_open_on(struct conn *c, struct harness *h, struct tw_sock *l, uint16_t port,
			 unsigned mode, uint32_t irs)
{
	memset(c, 0, sizeof(*c));
	c->h = h;
	c->port = port;
	c->ts = mode & M_TS;
	c->peer_ts = 1000;
	c->rcv_nxt = irs + 1;

	if (mode & M_PASSIVE) {
		c->l = l ? l : h_listen(h, 8);
		struct h_seg syn = h_seg(WIRE_TCP_SYN, irs, 0);
		syn.sport = port;
		if (c->ts)
			h_opt_linux_syn(&syn, ++c->peer_ts, 0);
		else
			h_opt_mss(&syn, 1460);
		assert_int_equal(h_feed(h, &syn), 0);
		struct wire_tcp sa = h_next(h);
		assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
		assert_int_equal(sa.ack, irs + 1);
		assert_int_equal(sa.dport, port);
		c->iss = sa.seq;
		c->our_ts = sa.opt.ts_val;
		c->snd_nxt = c->iss + 1;
		struct h_seg ack = pseg(c, WIRE_TCP_ACK, c->rcv_nxt, c->snd_nxt);
		assert_int_equal(feed(c, &ack), 0);
		h_expect_none(h);
		int err = 0;
		c->s = tw_accept(c->l, NULL, &err);
		assert_non_null(c->s);
	} else {
		c->s = port == PEER_PORT ? h_connect(h) : connect_from_our_port(h, port);
		c->iss = h_info(c->s).iss;
		struct wire_tcp syn = expect_seg(c, WIRE_TCP_SYN, c->iss, 0);
		c->our_ts = syn.opt.ts_val;
		c->snd_nxt = c->iss + 1;
		struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, irs, c->snd_nxt);
		sa.sport = port;
		if (c->ts)
			h_opt_linux_syn(&sa, ++c->peer_ts, c->our_ts);
		else
			h_opt_mss(&sa, 1460);
		assert_int_equal(h_feed(h, &sa), 0);
		expect_ack(c);
		/* A first segment with the peer's usual (scaled) window. */
		struct h_seg upd = pseg(c, WIRE_TCP_ACK, c->rcv_nxt, c->snd_nxt);
		assert_int_equal(feed(c, &upd), 0);
		h_expect_none(h);
	}
	struct tw_conn_info ci = h_info(c->s);
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_int_equal(ci.irs, irs);
	assert_int_equal(ci.iss, c->iss);
	assert_int_equal(ci.snd_nxt, c->snd_nxt);
	assert_int_equal(ci.rcv_nxt, c->rcv_nxt);
	assert_int_equal(ci.timestamps, c->ts);
}

/* A new harness (IPv6 with M_V6) and a connection on it from PEER_PORT. */
static inline void conn_open(struct conn *c, unsigned mode, uint32_t irs)
{
	struct harness *h = h_new(mode & M_V6 ? TW_AF_INET6 : TW_AF_INET);
	conn_open_on(c, h, NULL, PEER_PORT, mode, irs);
}

/* Our FIN: tw_shutdown(TW_SHUT_WR) sends it at once, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK>. */
static inline void our_fin(struct conn *c)
{
	assert_int_equal(tw_shutdown(c->s, TW_SHUT_WR), 0);
	expect_seg(c, WIRE_TCP_FIN | WIRE_TCP_ACK, c->snd_nxt, c->rcv_nxt);
	c->snd_nxt++;
}

/* The peer ACKs everything we sent; nothing comes back. */
static inline void peer_acks_all(struct conn *c)
{
	struct h_seg a = pseg(c, WIRE_TCP_ACK, c->rcv_nxt, c->snd_nxt);
	assert_int_equal(feed(c, &a), 0);
	h_expect_none(c->h);
}

/* The peer's FIN acknowledging `ack`; RCV.NXT moves past it. */
static inline void peer_fin(struct conn *c, uint32_t ack)
{
	struct h_seg f = pseg(c, WIRE_TCP_FIN | WIRE_TCP_ACK, c->rcv_nxt, ack);
	assert_int_equal(feed(c, &f), 0);
	c->rcv_nxt++;
}

/* Drives an ESTABLISHED connection into `to` by the usual exchange. */
static inline void drive(struct conn *c, enum tw_state to)
{
	struct harness *h = c->h;
	switch (to) {
	case TW_ESTABLISHED:
		break;
	case TW_FIN_WAIT_1:
		our_fin(c);
		break;
	case TW_FIN_WAIT_2:
		our_fin(c);
		peer_acks_all(c);
		break;
	case TW_CLOSE_WAIT:
	case TW_LAST_ACK:
		peer_fin(c, c->snd_nxt);
		/* Linux ACKs a FIN at once before any data, else after its ACK delay (40 ms). */
		if (h_pending(h) == 0)
			h_advance(h, 40000);
		expect_ack(c);
		if (to == TW_LAST_ACK)
			our_fin(c);
		break;
	case TW_CLOSING:
		our_fin(c);
		peer_fin(c, c->snd_nxt - 1);       /* the FINs cross: ours is not yet ACKed */
		expect_ack(c);
		break;
	case TW_TIME_WAIT:
		our_fin(c);
		peer_acks_all(c);
		peer_fin(c, c->snd_nxt);
		expect_ack(c);
		break;
	default:
		fail_msg("cannot drive to %s", tw_state_name(to));
	}
	h_expect_none(h);
	assert_int_equal(h_state(c->s), to);
	struct tw_conn_info ci = h_info(c->s);
	assert_int_equal(ci.snd_nxt, c->snd_nxt);
	assert_int_equal(ci.rcv_nxt, c->rcv_nxt);
}

/*
 * Ends a test: aborts the connection if the test still holds it, closes
 * the listener, and checks that the stack holds nothing (a TIME-WAIT is
 * waited out first); then frees the stack (ASan reports any leak).
 */
static inline void conn_end(struct conn *c)
{
	struct harness *h = c->h;
	if (c->s) {
		bool tw = h_state(c->s) == TW_TIME_WAIT;
		tw_abort(c->s);
		c->s = NULL;
		if (tw)
			h_advance(h, 60000000);
	}
	if (c->l)
		tw_close(c->l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

#endif
