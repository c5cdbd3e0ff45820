/*
 * A scripted peer for tests of one established connection: how it is opened
 * (struct est), the peer's segments, the segments expected from the stack,
 * and a byte pattern that lets every byte of either stream be checked. The
 * peer's ISN sits 1536 below 2^32, so its stream crosses the wrap. Shared by
 * test_data.c and test_timers.c; every function is static inline so a test
 * uses what it needs.
 */
#ifndef THREEWAY_TEST_PEER_H
#define THREEWAY_TEST_PEER_H

#include "harness.h"

#define PEER_ISS 0xfffffa00u

/* How the connection is opened, and what the peer offers. */
struct est {
	bool active;        /* we connect; else the peer connects to our listener */
	bool ts, sack;
	int ws;             /* the peer's window scale; -1: not offered */
	uint16_t mss;       /* the peer's MSS option; 0: none */
	uint16_t wnd;       /* window field of the peer's handshake ACK */
	uint32_t rtt_ms;    /* from our SYN or SYN-ACK to the peer's answer */
	uint32_t irs;       /* the peer's ISN */
	int keepidle_s;     /* >0: the listener has keepalive on, with this idle time, before the SYN */
};

static inline struct est est_default(void)
{
	struct est e;
	memset(&e, 0, sizeof(e));
	e.ts = true;
	e.sack = true;
	e.ws = 7;
	e.mss = 1460;
	e.wnd = 502;        /* 64256 bytes at scale 7 */
	e.irs = PEER_ISS;
	return e;
}

/* The scripted peer of one connection. */
struct peer {
	struct harness *h;
	struct tw_sock *l, *s;  /* listener (passive opens) and the connection */
	uint32_t iss;           /* our ISN */
	uint32_t irs;           /* the peer's ISN */
	uint32_t seq;           /* the peer's next sequence number */
	uint32_t ack;           /* what the peer acknowledges of ours */
	uint32_t wrote;         /* bytes the application has written */
	bool ts;
	uint32_t tsval;         /* the peer's timestamp clock */
	uint32_t ecr;           /* what the peer echoes: our last TSval seen */
	uint16_t wnd;           /* the peer's window field */
};

/* Byte `i` of a stream: a pattern no shift or repeat preserves. */
static inline uint8_t pat(uint32_t i, uint8_t salt)
{
	uint32_t x = (i + salt) * 2654435761u;
	return (uint8_t)(x >> 24);
}

#define OUR_SALT 0x11
#define PEER_SALT 0x5a

static uint8_t big[262144];   /* the stream bytes handed to tw_send */

static inline const uint8_t *fill(uint32_t off, size_t len, uint8_t salt)
{
	assert_true(len <= sizeof(big));
	for (size_t i = 0; i < len; i++)
		big[i] = pat(off + (uint32_t)i, salt);
	return big;
}

static inline void peer_syn_opts(struct h_seg *s, const struct est *e, uint32_t tsval, uint32_t ecr)
{
	if (e->mss)
		h_opt_mss(s, e->mss);
	if (e->sack && e->ts) {
		h_opt_sackok(s);
		h_opt_ts(s, tsval, ecr);
	} else if (e->ts) {
		h_opt_nop(s);
		h_opt_nop(s);
		h_opt_ts(s, tsval, ecr);
	} else if (e->sack) {
		h_opt_nop(s);
		h_opt_nop(s);
		h_opt_sackok(s);
	}
	if (e->ws >= 0) {
		h_opt_nop(s);
		h_opt_ws(s, (uint8_t)e->ws);
	}
}

/* The peer sends a segment, with <nop,nop,TS> when timestamps are on. */
static inline int peer_send(struct peer *p, uint8_t flags, uint32_t seq, uint32_t ack, const void *data, size_t len)
{
	struct h_seg s = h_seg(flags, seq, ack);
	s.wnd = p->wnd;
	if (p->ts) {
		h_opt_nop(&s);
		h_opt_nop(&s);
		h_opt_ts(&s, ++p->tsval, p->ecr);
	}
	s.data = data;
	s.len = len;
	return h_feed(p->h, &s);
}

/* A bare ACK from the peer at its current sequence number. */
static inline void peer_ack(struct peer *p, uint32_t ack)
{
	p->ack = ack;
	assert_int_equal(peer_send(p, WIRE_TCP_ACK, p->seq, ack, NULL, 0), 0);
}

/* The peer's stream bytes [off, off + len) (off from its ISN + 1), PSH on. */
static inline void peer_data(struct peer *p, uint32_t off, size_t len)
{
	const uint8_t *d = fill(off, len, PEER_SALT);
	assert_int_equal(peer_send(p, WIRE_TCP_ACK | WIRE_TCP_PSH, p->irs + 1 + off, p->ack, d, len), 0);
}

/* The next segment we sent: flags, seq, ack and payload length; records its TSval. */
static inline struct wire_tcp expect_seg(struct peer *p, uint8_t flags, uint32_t seq, uint32_t ack, size_t len)
{
	if (!h_pending(p->h))
		fprintf(stderr, "expected flags 0x%02x seq %u ack %u len %zu at %llu: the stack sent nothing\n",
			flags, seq, ack, len, (unsigned long long)p->h->now);
	struct wire_tcp t = h_expect(p->h, flags, seq, ack);
	assert_int_equal(t.payload_len, len);
	if (p->ts) {
		assert_true(t.opt.has & WIRE_HAS_TS);
		p->ecr = t.opt.ts_val;
	}
	return t;
}

/* Our stream bytes [off, off + len) in a segment, ACKing all the peer sent. */
static inline struct wire_tcp expect_data(struct peer *p, uint8_t flags, uint32_t off, size_t len)
{
	struct wire_tcp t = expect_seg(p, flags, p->iss + 1 + off, p->seq, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(t.payload[i], pat(off + (uint32_t)i, OUR_SALT));
	return t;
}

/* A zero-window or keepalive probe: SEG.SEQ = SND.UNA - 1, no data. */
static inline struct wire_tcp expect_probe(struct peer *p)
{
	return expect_seg(p, WIRE_TCP_ACK, p->ack - 1, p->seq, 0);
}

/* The application writes `len` more bytes of its stream. */
static inline long app_write(struct peer *p, size_t len, int flags)
{
	long n = tw_send(p->s, fill(p->wrote, len, OUR_SALT), len, flags);
	if (n > 0)
		p->wrote += (uint32_t)n;
	return n;
}

/* Keepalive with small times: idle, interval (s), count. */
static inline void keepalive_opts(struct tw_sock *s, int idle, int intvl, int cnt)
{
	assert_int_equal(tw_setsockopt(s, TW_TCP_KEEPIDLE, idle), 0);
	assert_int_equal(tw_setsockopt(s, TW_TCP_KEEPINTVL, intvl), 0);
	assert_int_equal(tw_setsockopt(s, TW_TCP_KEEPCNT, cnt), 0);
}

/*
 * Brings a connection to ESTABLISHED: the peer connects to our listener
 * (or, with e->active, answers our SYN), offering what `e` says. The
 * handshake's answer comes e->rtt_ms after our SYN or SYN-ACK.
 */
static inline void est_open(struct peer *p, struct harness *h, const struct est *e)
{
	memset(p, 0, sizeof(*p));
	p->h = h;
	p->irs = e->irs;
	p->ts = e->ts;
	p->wnd = e->wnd;
	p->tsval = 7000;
	if (e->active) {
		p->s = h_connect(h);
		struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, h_info(p->s).iss, 0);
		p->iss = syn.seq;
		h_advance(h, (uint64_t)e->rtt_ms * 1000);
		while (h_pending(h))
			h_expect(h, WIRE_TCP_SYN, p->iss, 0);   /* retransmitted while the answer was slow */
		struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, e->irs, p->iss + 1);
		peer_syn_opts(&sa, e, ++p->tsval, syn.opt.ts_val);
		sa.wnd = 65535;     /* a SYN's window is never scaled */
		assert_int_equal(h_feed(h, &sa), 0);
		p->seq = e->irs + 1;
		p->ack = p->iss + 1;
		expect_seg(p, WIRE_TCP_ACK, p->iss + 1, p->seq, 0);
		if (e->wnd != 65535 || e->ws > 0) {
			/* The window the test asked for, in a scaled segment. */
			assert_int_equal(peer_send(p, WIRE_TCP_ACK, p->seq, p->ack, NULL, 0), 0);
		}
	} else {
		p->l = h_listen(h, 8);
		if (e->keepidle_s) {
			keepalive_opts(p->l, e->keepidle_s, 2, 3);
			assert_int_equal(tw_setsockopt(p->l, TW_SO_KEEPALIVE, 1), 0);
		}
		struct h_seg syn = h_seg(WIRE_TCP_SYN, e->irs, 0);
		peer_syn_opts(&syn, e, ++p->tsval, 0);
		assert_int_equal(h_feed(h, &syn), 0);
		struct wire_tcp sa = h_next(h);
		assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
		assert_int_equal(sa.ack, e->irs + 1);
		p->iss = sa.seq;
		p->ecr = sa.opt.ts_val;
		h_advance(h, (uint64_t)e->rtt_ms * 1000);
		while (h_pending(h))
			h_expect(h, WIRE_TCP_SYN | WIRE_TCP_ACK, p->iss, e->irs + 1);
		p->seq = e->irs + 1;
		peer_ack(p, p->iss + 1);
		int err = 0;
		p->s = tw_accept(p->l, NULL, &err);
		assert_non_null(p->s);
	}
	h_expect_none(h);
	assert_int_equal(h_state(p->s), TW_ESTABLISHED);
}

/* Skips whatever was sent so far. */
static inline void drain(struct harness *h)
{
	h->next_out = h->n_out;
}

/*
 * The harness is freed by the test's end, with the teardown check, or by
 * the teardown when an assertion failed, without it: a failure shows as
 * itself, not as what the interrupted test left behind.
 */
static inline void done(void **state)
{
	struct harness *h = *state;
	*state = NULL;      /* h_free frees it even when its check fails */
	h_free(h);
}

static inline int teardown(void **state)
{
	if (*state)
		h_free_unchecked(*state);
	*state = NULL;
	return 0;
}

#endif
