/*
 * Timers on the wire: retransmission (RFC 6298: the RTO from the measured
 * RTT, backoff, Karn, the 200 ms floor, giving up), fast retransmit and
 * NewReno's partial ACKs (RFC 5681, RFC 6582), zero-window probes, keepalive,
 * and that no timer fires before its time. Every test drives one connection
 * against a scripted peer whose ISN lies just below 2^32, and asserts the
 * exact virtual time of each segment.
 */
#include <errno.h>

#include "harness.h"

#define PEER_ISS 0xfffffa00u    /* 1536 below 2^32: the peer's stream crosses the wrap */
#define MS 1000ull
#define SEC 1000000ull

/* ------------------------------------------------------------------ helpers */

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

static struct est est_default(void)
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
static uint8_t pat(uint32_t i, uint8_t salt)
{
	uint32_t x = (i + salt) * 2654435761u;
	return (uint8_t)(x >> 24);
}

#define OUR_SALT 0x11
#define PEER_SALT 0x5a

static uint8_t big[65536];

static const uint8_t *fill(uint32_t off, size_t len, uint8_t salt)
{
	assert_true(len <= sizeof(big));
	for (size_t i = 0; i < len; i++)
		big[i] = pat(off + (uint32_t)i, salt);
	return big;
}

static void peer_syn_opts(struct h_seg *s, const struct est *e, uint32_t tsval, uint32_t ecr)
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
static int peer_send(struct peer *p, uint8_t flags, uint32_t seq, uint32_t ack, const void *data, size_t len)
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
static void peer_ack(struct peer *p, uint32_t ack)
{
	p->ack = ack;
	assert_int_equal(peer_send(p, WIRE_TCP_ACK, p->seq, ack, NULL, 0), 0);
}

/* The peer's stream bytes [off, off + len) (off from its ISN + 1), PSH on. */
static void peer_data(struct peer *p, uint32_t off, size_t len)
{
	const uint8_t *d = fill(off, len, PEER_SALT);
	assert_int_equal(peer_send(p, WIRE_TCP_ACK | WIRE_TCP_PSH, p->irs + 1 + off, p->ack, d, len), 0);
}

/* The next segment we sent: flags, seq, ack and payload length; records its TSval. */
static struct wire_tcp expect_seg(struct peer *p, uint8_t flags, uint32_t seq, uint32_t ack, size_t len)
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
static struct wire_tcp expect_data(struct peer *p, uint8_t flags, uint32_t off, size_t len)
{
	struct wire_tcp t = expect_seg(p, flags, p->iss + 1 + off, p->seq, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(t.payload[i], pat(off + (uint32_t)i, OUR_SALT));
	return t;
}

/* A zero-window or keepalive probe: SEG.SEQ = SND.UNA - 1, no data. */
static struct wire_tcp expect_probe(struct peer *p)
{
	return expect_seg(p, WIRE_TCP_ACK, p->ack - 1, p->seq, 0);
}

/* The application writes `len` more bytes of its stream. */
static long app_write(struct peer *p, size_t len, int flags)
{
	long n = tw_send(p->s, fill(p->wrote, len, OUR_SALT), len, flags);
	if (n > 0)
		p->wrote += (uint32_t)n;
	return n;
}

/* Keepalive with small times: idle, interval (s), count. */
static void keepalive_opts(struct tw_sock *s, int idle, int intvl, int cnt)
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
static void est_open(struct peer *p, struct harness *h, const struct est *e)
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
static void drain(struct harness *h)
{
	h->next_out = h->n_out;
}

/* When the segment last taken with h_next/expect_* was sent. */
static uint64_t last_at(const struct harness *h)
{
	return h->out[h->next_out - 1].at;
}

/* Advances to the next timer deadline if it is no later than `end`; false if none is. */
static bool advance_to_next(struct harness *h, uint64_t end)
{
	uint64_t next = tw_poll(h->st, h->now);
	if (next > end)
		return false;
	h_advance(h, next > h->now ? next - h->now : 0);
	return true;
}

/* The harness is freed by the test's end, or by the teardown when an assertion failed. */
static void done(void **state)
{
	h_free(*state);
	*state = NULL;
}

static int teardown(void **state)
{
	if (*state)
		h_free(*state);
	*state = NULL;
	return 0;
}

/*
 * A connection with a known RTO, whatever the RTO right after the handshake:
 * a 100 ms handshake, then 100 bytes ACKed 100 ms later. RFC 6298: SRTT 100
 * ms, RTTVAR 3/4 * 50 = 37.5 ms, RTO = 100 + max(150, 200) = 300 ms. The
 * warm-up ACK carries the window `wnd`.
 */
#define WARM_RTO (300 * MS)

static struct harness *open_warm(void **state, struct peer *p, const struct tw_stack_config *cfg, bool ts,
				 uint16_t wnd)
{
	struct harness *h = cfg ? h_new_cfg(cfg) : h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = ts;
	e.sack = false;
	e.rtt_ms = 100;
	est_open(p, h, &e);
	assert_int_equal(app_write(p, 100, 0), 100);
	expect_data(p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	h_advance(h, 100 * MS);
	p->wnd = wnd;
	peer_ack(p, p->iss + 1 + 100);
	h_expect_none(h);
	struct tw_conn_info ci = h_info(p->s);
	assert_int_equal(ci.srtt_us, 100000);
	assert_int_equal(ci.rttvar_us, 37500);
	assert_int_equal(ci.rto_us, WARM_RTO);
	return h;
}

/* ------------------------------------------------------------ retransmission */

/*
 * RFC 6298 5.7: when the SYN-ACK had to be retransmitted and timestamps are
 * off, the handshake gives no RTT sample (Karn), and the RTO MUST be 3 s
 * when data transmission begins (Linux's TCP_TIMEOUT_FALLBACK).
 */
static void test_established_rto_3s_after_synack_retransmitted(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	e.rtt_ms = 1050;    /* the SYN-ACK is sent again at 1 s */
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(h_info(p.s).srtt_us, 0);
	uint64_t t0 = h->now;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	h_advance(h, 3 * SEC - 1);
	h_expect_none(h);
	h_advance(h, 1);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	assert_int_equal(last_at(h) - t0, 3 * SEC);
	done(state);
}

/*
 * RFC 6298 2.2 and Linux: the handshake's RTT sample sets the RTO for the
 * first data, RTO = SRTT + max(4 * RTTVAR, 200 ms). With timestamps, a
 * SYN-ACK 120 ms after the SYN: 120 + max(240, 200) = 360 ms.
 */
static void test_established_rto_from_handshake_rtt_ts(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.active = true;
	e.rtt_ms = 120;
	struct peer p;
	est_open(&p, h, &e);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.srtt_us, 120000);
	assert_int_equal(ci.rttvar_us, 60000);
	uint64_t t0 = h->now;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	h_advance(h, 360 * MS - 1);
	h_expect_none(h);
	h_advance(h, 1);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	assert_int_equal(last_at(h) - t0, 360 * MS);
	done(state);
}

/* Without timestamps the SYN is timed: 50 ms gives 50 + max(100, 200) = 250 ms. */
static void test_established_rto_from_handshake_rtt_no_ts(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.active = true;
	e.ts = false;
	e.rtt_ms = 50;
	struct peer p;
	est_open(&p, h, &e);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.srtt_us, 50000);
	assert_int_equal(ci.rttvar_us, 25000);
	uint64_t t0 = h->now;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	h_advance(h, 250 * MS - 1);
	h_expect_none(h);
	h_advance(h, 1);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	assert_int_equal(last_at(h) - t0, 250 * MS);
	done(state);
}

/* RFC 6298 5.5: each further retransmission doubles the interval: 0.3, 0.6, 1.2, 2.4, 4.8 s. */
static void test_established_rto_backoff_doubles(void **state)
{
	struct peer p;
	struct harness *h = open_warm(state, &p, NULL, false, 502);
	uint64_t t0 = h->now, at = 0;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	for (int i = 0; i < 5; i++) {
		uint64_t ivl = WARM_RTO << i;
		h_advance(h, ivl - 1);
		h_expect_none(h);
		h_advance(h, 1);
		at += ivl;
		expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
		assert_int_equal(last_at(h) - t0, at);
	}
	assert_int_equal(h_info(p.s).retransmits, 5);
	done(state);
}

/*
 * RFC 6298 5.3: an ACK of new data restarts the timer with the current RTO.
 * A 100 ms handshake, then two segments; the first is ACKed after 200 ms:
 * RTTVAR = 37.5 + 25 = 62.5 ms, SRTT = 87.5 + 25 = 112.5 ms, RTO = 362.5
 * ms from that ACK, so the second is resent 562.5 ms after it was sent.
 */
static void test_established_rto_restarts_on_new_ack(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	e.rtt_ms = 100;
	struct peer p;
	est_open(&p, h, &e);
	uint64_t t0 = h->now;
	assert_int_equal(app_write(&p, 2 * 1460, 0), 2 * 1460);
	expect_data(&p, WIRE_TCP_ACK, 0, 1460);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 1460, 1460);
	h_advance(h, 200 * MS);
	peer_ack(&p, p.iss + 1 + 1460);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.srtt_us, 112500);
	assert_int_equal(ci.rttvar_us, 62500);
	assert_int_equal(ci.rto_us, 362500);
	h_advance(h, 362500 - 1);
	h_expect_none(h);
	h_advance(h, 1 * MS);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 1460, 1460);
	assert_true(last_at(h) - t0 >= 562500);
	assert_true(last_at(h) - t0 < 563500);
	done(state);
}

/*
 * Karn's rule (RFC 6298 3): without timestamps, the ACK of a retransmitted
 * segment is ambiguous and gives no RTT sample.
 */
static void test_established_rto_karn_no_sample_from_retransmission(void **state)
{
	struct peer p;
	struct harness *h = open_warm(state, &p, NULL, false, 502);
	/* The next segment is lost, resent after 300 ms, then ACKed 10 ms later. */
	uint64_t t1 = h->now;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	h_advance(h, WARM_RTO);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	assert_int_equal(last_at(h) - t1, WARM_RTO);
	h_advance(h, 10 * MS);
	peer_ack(&p, p.iss + 1 + 200);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.srtt_us, 100000);
	assert_int_equal(ci.rttvar_us, 37500);
	done(state);
}

/* Karn's rule holds for a fast retransmit too: no sample from its ACK without timestamps. */
static void test_established_rto_karn_no_sample_after_fast_retransmit(void **state)
{
	struct peer p;
	struct harness *h = open_warm(state, &p, NULL, false, 502);
	assert_int_equal(app_write(&p, 5 * 1460, 0), 5 * 1460);
	for (uint32_t i = 0; i < 5; i++)
		expect_data(&p, i == 4 ? WIRE_TCP_ACK | WIRE_TCP_PSH : WIRE_TCP_ACK, 100 + i * 1460, 1460);
	h_advance(h, 10 * MS);
	for (int i = 0; i < 3; i++)
		peer_ack(&p, p.iss + 1 + 100);
	expect_data(&p, WIRE_TCP_ACK, 100, 1460);
	h_advance(h, 10 * MS);
	peer_ack(&p, p.iss + 1 + 100 + 5 * 1460);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.srtt_us, 100000);
	assert_int_equal(ci.rttvar_us, 37500);
	done(state);
}

/*
 * RFC 6298 2.3 and RFC 7323 4 (RTTM): each ACK echoing our TSval is a
 * sample; SRTT and RTTVAR follow alpha = 1/8, beta = 1/4, and RTO = SRTT +
 * max(4 * RTTVAR, 200 ms). Samples of 80 (the handshake), 160 and 40 ms.
 */
static void test_established_rtt_estimation_from_timestamps(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.rtt_ms = 80;
	struct peer p;
	est_open(&p, h, &e);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.srtt_us, 80000);     /* R */
	assert_int_equal(ci.rttvar_us, 40000);   /* R / 2 */

	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);   /* the peer will echo its TSval */
	h_advance(h, 160 * MS);
	peer_ack(&p, p.iss + 1 + 100);
	ci = h_info(p.s);
	assert_int_equal(ci.rttvar_us, 50000);   /* 3/4 * 40 + 1/4 * |80 - 160| */
	assert_int_equal(ci.srtt_us, 90000);     /* 7/8 * 80 + 1/8 * 160 */
	assert_int_equal(ci.rto_us, 290000);     /* 90 + max(200, 200) */

	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	h_advance(h, 40 * MS);
	peer_ack(&p, p.iss + 1 + 200);
	ci = h_info(p.s);
	assert_int_equal(ci.rttvar_us, 50000);   /* 3/4 * 50 + 1/4 * |90 - 40| */
	assert_int_equal(ci.srtt_us, 83750);     /* 7/8 * 90 + 1/8 * 40 */
	assert_int_equal(ci.rto_us, 283750);
	done(state);
}

/* Linux's floor: with a 1 ms RTT, RTO = 1 ms + max(4 * RTTVAR, 200 ms) = 201 ms. */
static void test_established_rto_min_200ms(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.rtt_ms = 1;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	h_advance(h, 1 * MS);
	peer_ack(&p, p.iss + 1 + 100);
	assert_int_equal(h_info(p.s).srtt_us, 1000);
	uint64_t t1 = h->now;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	h_advance(h, 201 * MS - 1);
	h_expect_none(h);
	h_advance(h, 1);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	assert_int_equal(last_at(h) - t1, 201 * MS);
	done(state);
}

/* cfg.data_retries retransmissions, then -ETIMEDOUT at the next timeout; no RST. */
static void test_established_rto_gives_up_after_data_retries(void **state)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.data_retries = 3;
	struct peer p;
	struct harness *h = open_warm(state, &p, &cfg, false, 502);
	uint64_t t0 = h->now;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	uint64_t at = 0;
	for (int i = 0; i < 3; i++) {
		at += WARM_RTO << i;
		h_advance(h, t0 + at - h->now);
		expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
		assert_int_equal(last_at(h) - t0, at);
	}
	at += WARM_RTO << 3;   /* 4.5 s */
	h_advance(h, t0 + at - 1 - h->now);
	h_expect_none(h);
	assert_int_equal(h_state(p.s), TW_ESTABLISHED);
	h_advance(h, 1);
	h_expect_none(h);
	assert_int_equal(h_state(p.s), TW_CLOSED);
	assert_true(tw_events(p.s) & TW_POLLERR);
	assert_int_equal(tw_sock_error(p.s), -ETIMEDOUT);
	done(state);
}

/*
 * TCP_USER_TIMEOUT (RFC 5482, tcp(7)): data that stays unacknowledged for
 * that long ends the connection with -ETIMEDOUT. Not before it, and not
 * much after: Linux clamps the RTO so the timer fires at the timeout. Data
 * sent at t0 is resent at 0.3, 0.9, 2.1 and 4.5 s; with a 5 s timeout the
 * connection is gone by 5.3 s (5 s counted from the first retransmission at
 * the latest), where the doubled RTO alone would wait until 9.3 s.
 */
static void test_established_user_timeout_gives_up(void **state)
{
	struct peer p;
	struct harness *h = open_warm(state, &p, NULL, false, 502);
	assert_int_equal(tw_setsockopt(p.s, TW_TCP_USER_TIMEOUT, 5000), 0);
	uint64_t t0 = h->now;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	h_advance(h, t0 + 5 * SEC - 1 - h->now);
	assert_int_equal(h_state(p.s), TW_ESTABLISHED);
	assert_int_equal(h_pending(h), 4);   /* 0.3, 0.9, 2.1, 4.5 s */
	drain(h);
	h_advance(h, 300 * MS + 1);
	assert_int_equal(h_state(p.s), TW_CLOSED);
	assert_int_equal(tw_sock_error(p.s), -ETIMEDOUT);
	done(state);
}

/* ------------------------------------------------------- fast retransmit */

/* RFC 5681 3.2: the third duplicate ACK resends the missing segment at once. */
static void test_established_dupack_third_fast_retransmit(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	e.sack = false;
	struct peer p;
	est_open(&p, h, &e);
	uint64_t t0 = h->now;
	assert_int_equal(app_write(&p, 5 * 1460, 0), 5 * 1460);
	for (uint32_t i = 0; i < 5; i++)
		expect_data(&p, i == 4 ? WIRE_TCP_ACK | WIRE_TCP_PSH : WIRE_TCP_ACK, i * 1460, 1460);
	h_advance(h, 10 * MS);
	peer_ack(&p, p.iss + 1);
	peer_ack(&p, p.iss + 1);
	h_expect_none(h);
	peer_ack(&p, p.iss + 1);
	expect_data(&p, WIRE_TCP_ACK, 0, 1460);
	assert_int_equal(last_at(h) - t0, 10 * MS);
	h_expect_none(h);
	done(state);
}

/*
 * RFC 3042 (Limited Transmit): with the congestion window full, each of the
 * first two duplicate ACKs lets one new segment out; the third retransmits.
 */
static void test_established_dupack_limited_transmit(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	e.sack = false;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 14 * 1460, 0), 14 * 1460);
	for (uint32_t i = 0; i < 10; i++)
		expect_data(&p, WIRE_TCP_ACK, i * 1460, 1460);   /* the initial window, then nothing */
	h_expect_none(h);
	peer_ack(&p, p.iss + 1);
	expect_data(&p, WIRE_TCP_ACK, 10 * 1460, 1460);
	h_expect_none(h);
	peer_ack(&p, p.iss + 1);
	expect_data(&p, WIRE_TCP_ACK, 11 * 1460, 1460);
	h_expect_none(h);
	peer_ack(&p, p.iss + 1);
	expect_data(&p, WIRE_TCP_ACK, 0, 1460);                  /* fast retransmit */
	h_expect_none(h);
	done(state);
}

/*
 * RFC 6582 3.2 step 5: in fast recovery, a partial ACK (below the highest
 * sequence sent when recovery began) resends the next hole at once.
 */
static void test_established_dupack_partial_ack_retransmits_next_hole(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	e.sack = false;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 6 * 1460, 0), 6 * 1460);
	for (uint32_t i = 0; i < 6; i++)
		expect_data(&p, i == 5 ? WIRE_TCP_ACK | WIRE_TCP_PSH : WIRE_TCP_ACK, i * 1460, 1460);
	/* Segments 0 and 2 are lost. */
	h_advance(h, 10 * MS);
	for (int i = 0; i < 3; i++)
		peer_ack(&p, p.iss + 1);
	expect_data(&p, WIRE_TCP_ACK, 0, 1460);
	h_expect_none(h);
	h_advance(h, 10 * MS);
	uint64_t t1 = h->now;
	peer_ack(&p, p.iss + 1 + 2 * 1460);
	expect_data(&p, WIRE_TCP_ACK, 2 * 1460, 1460);
	assert_int_equal(last_at(h), t1);
	h_expect_none(h);
	h_advance(h, 10 * MS);
	peer_ack(&p, p.iss + 1 + 6 * 1460);
	h_advance(h, 5 * SEC);
	h_expect_none(h);
	done(state);
}

/* ------------------------------------------------------------ zero window */

/* A warmed-up connection (RTO 300 ms) whose peer's last ACK closed the window. */
static struct harness *zero_window_open(void **state, struct peer *p)
{
	struct harness *h = open_warm(state, p, NULL, false, 0);
	assert_int_equal(h_info(p->s).snd_wnd, 0);
	return h;
}

/* RFC 9293 3.8.6.1: data queued behind a zero window: a probe after the RTO, seq SND.UNA - 1. */
static void test_established_zero_window_probe_after_rto(void **state)
{
	struct peer p;
	struct harness *h = zero_window_open(state, &p);
	uint64_t t0 = h->now;
	assert_int_equal(app_write(&p, 100, 0), 100);
	h_expect_none(h);
	h_advance(h, WARM_RTO - 1);
	h_expect_none(h);
	h_advance(h, 1);
	expect_probe(&p);
	assert_int_equal(last_at(h) - t0, WARM_RTO);
	done(state);
}

/* Probes back off exponentially: 0.3, 0.6, 1.2, 2.4 s apart. */
static void test_established_zero_window_probes_back_off(void **state)
{
	struct peer p;
	struct harness *h = zero_window_open(state, &p);
	uint64_t t0 = h->now, at = 0;
	assert_int_equal(app_write(&p, 100, 0), 100);
	for (int i = 0; i < 4; i++) {
		uint64_t ivl = WARM_RTO << i;
		h_advance(h, ivl - 1);
		h_expect_none(h);
		h_advance(h, 1);
		at += ivl;
		expect_probe(&p);
		assert_int_equal(last_at(h) - t0, at);
	}
	done(state);
}

/* The peer's window update resumes sending at once; probing stops. */
static void test_established_zero_window_update_resumes_sending(void **state)
{
	struct peer p;
	struct harness *h = zero_window_open(state, &p);
	assert_int_equal(app_write(&p, 100, 0), 100);
	h_advance(h, WARM_RTO);
	expect_probe(&p);
	h_advance(h, 10 * MS);
	p.wnd = 502;
	peer_ack(&p, p.iss + 1 + 100);   /* answers the probe: the window is open */
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	h_expect_none(h);
	peer_ack(&p, p.iss + 1 + 200);
	h_advance(h, 30 * SEC);
	h_expect_none(h);
	done(state);
}

/* -------------------------------------------------------------- keepalive */

/* RFC 9293 3.8.4 (RFC 1122 4.2.3.6): after the idle time, a probe with seq SND.UNA - 1. */
static void test_established_keepalive_probe_after_idle(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	struct peer p;
	est_open(&p, h, &e);
	uint64_t t0 = h->now;
	keepalive_opts(p.s, 10, 2, 3);
	assert_int_equal(tw_setsockopt(p.s, TW_SO_KEEPALIVE, 1), 0);
	h_advance(h, 10 * SEC - 1);
	h_expect_none(h);
	h_advance(h, 1);
	expect_probe(&p);
	assert_int_equal(last_at(h) - t0, 10 * SEC);
	done(state);
}

/* Unanswered: a probe every interval; after KEEPCNT of them, RST and -ETIMEDOUT. */
static void test_established_keepalive_unanswered_resets(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	struct peer p;
	est_open(&p, h, &e);
	uint64_t t0 = h->now;
	keepalive_opts(p.s, 10, 2, 3);
	assert_int_equal(tw_setsockopt(p.s, TW_SO_KEEPALIVE, 1), 0);
	for (int i = 0; i < 3; i++) {
		h_advance(h, t0 + (10 + 2 * (uint64_t)i) * SEC - h->now);
		expect_probe(&p);
		assert_int_equal(last_at(h) - t0, (10 + 2 * (uint64_t)i) * SEC);
		h_expect_none(h);
	}
	h_advance(h, 2 * SEC - 1);
	h_expect_none(h);
	assert_int_equal(h_state(p.s), TW_ESTABLISHED);
	h_advance(h, 1);
	expect_seg(&p, WIRE_TCP_RST | WIRE_TCP_ACK, p.iss + 1, p.seq, 0);
	assert_int_equal(last_at(h) - t0, 16 * SEC);
	h_expect_none(h);
	assert_int_equal(h_state(p.s), TW_CLOSED);
	assert_int_equal(tw_sock_error(p.s), -ETIMEDOUT);
	done(state);
}

/*
 * An answered probe keeps the connection alive: the peer answers every
 * probe, and probes come one idle time after the last answer (Linux).
 */
static void test_established_keepalive_answered_probe_keeps_alive(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	struct peer p;
	est_open(&p, h, &e);
	uint64_t t0 = h->now, last = t0;
	keepalive_opts(p.s, 10, 2, 3);
	assert_int_equal(tw_setsockopt(p.s, TW_SO_KEEPALIVE, 1), 0);
	uint64_t probe_at[16];
	size_t n = 0;
	while (advance_to_next(h, t0 + 65 * SEC)) {
		while (h_pending(h)) {
			struct wire_tcp t = h_next(h);
			assert_false(t.flags & WIRE_TCP_RST);
			assert_int_equal(t.seq, p.iss);
			assert_true(n < 16);
			probe_at[n++] = last_at(h);
			peer_ack(&p, p.iss + 1);   /* the answer, at once */
		}
	}
	h_advance(h, t0 + 65 * SEC - h->now);
	assert_int_equal(h_state(p.s), TW_ESTABLISHED);
	assert_int_equal(tw_sock_error(p.s), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(probe_at[i] - last, 10 * SEC);
		last = probe_at[i];
	}
	assert_int_equal(n, 6);
	done(state);
}

/* The idle time counts from the last segment received: traffic postpones the probe. */
static void test_established_keepalive_idle_restarts_on_activity(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	struct peer p;
	est_open(&p, h, &e);
	keepalive_opts(p.s, 10, 2, 3);
	assert_int_equal(tw_setsockopt(p.s, TW_SO_KEEPALIVE, 1), 0);
	h_advance(h, 5 * SEC);
	uint64_t t1 = h->now;
	peer_data(&p, 0, 100);
	p.seq += 100;
	expect_seg(&p, WIRE_TCP_ACK, p.iss + 1, p.seq, 0);
	h_advance(h, 10 * SEC - 1);
	h_expect_none(h);
	h_advance(h, 1);
	expect_probe(&p);
	assert_int_equal(last_at(h) - t1, 10 * SEC);
	done(state);
}

/* TCP_KEEPIDLE set after SO_KEEPALIVE takes effect at once, as on Linux. */
static void test_established_keepalive_idle_set_after_enable(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	struct peer p;
	est_open(&p, h, &e);
	uint64_t t0 = h->now;
	assert_int_equal(tw_setsockopt(p.s, TW_SO_KEEPALIVE, 1), 0);
	keepalive_opts(p.s, 10, 2, 3);
	h_advance(h, 10 * SEC - 1);
	h_expect_none(h);
	h_advance(h, 1);
	expect_probe(&p);
	assert_int_equal(last_at(h) - t0, 10 * SEC);
	done(state);
}

/* A connection accepted from a listener with SO_KEEPALIVE inherits it, and its timer runs. */
static void test_established_keepalive_inherited_from_listener(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	e.keepidle_s = 10;
	struct peer p;
	est_open(&p, h, &e);
	uint64_t t0 = h->now;
	int v = 0;
	assert_int_equal(tw_getsockopt(p.s, TW_SO_KEEPALIVE, &v), 0);
	assert_int_equal(v, 1);
	h_advance(h, 10 * SEC - 1);
	h_expect_none(h);
	h_advance(h, 1);
	expect_probe(&p);
	assert_int_equal(last_at(h) - t0, 10 * SEC);
	done(state);
}

/* ------------------------------------------------------ nothing fires early */

/* Time half a millisecond off the timer wheel's tick: no deadline may be rounded down. */
#define OFF_TICK 500

static void test_established_delack_not_early_off_tick(void **state)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.quickack_segs = 0;
	struct harness *h = h_new_cfg(&cfg);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	h_advance(h, OFF_TICK);
	uint64_t t1 = h->now;
	peer_data(&p, 0, 100);
	p.seq += 100;
	h_advance(h, 40 * MS - 1);
	h_expect_none(h);
	h_advance(h, 1 * MS);
	expect_seg(&p, WIRE_TCP_ACK, p.iss + 1, p.seq, 0);
	assert_true(last_at(h) - t1 >= 40 * MS);
	assert_true(last_at(h) - t1 < 41 * MS);
	done(state);
}

static void test_established_rto_min_not_early_off_tick(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.rtt_ms = 1;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	h_advance(h, 1 * MS);
	peer_ack(&p, p.iss + 1 + 100);
	h_advance(h, OFF_TICK);
	uint64_t t1 = h->now;
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	h_advance(h, 201 * MS - 1);
	h_expect_none(h);
	h_advance(h, 1 * MS);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	assert_true(last_at(h) - t1 >= 201 * MS);
	assert_true(last_at(h) - t1 < 202 * MS);
	done(state);
}

/* Keepalive's 10 s lies beyond one turn of the wheel (4.096 s): it still fires on time. */
static void test_established_keepalive_not_early_off_tick(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	struct peer p;
	est_open(&p, h, &e);
	h_advance(h, OFF_TICK);
	uint64_t t1 = h->now;
	keepalive_opts(p.s, 10, 2, 3);
	assert_int_equal(tw_setsockopt(p.s, TW_SO_KEEPALIVE, 1), 0);
	h_advance(h, 10 * SEC - 1);
	h_expect_none(h);
	h_advance(h, 1 * MS);
	expect_probe(&p);
	assert_true(last_at(h) - t1 >= 10 * SEC);
	assert_true(last_at(h) - t1 < 10 * SEC + 1 * MS);
	done(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_established_rto_3s_after_synack_retransmitted, teardown),
		cmocka_unit_test_teardown(test_established_rto_from_handshake_rtt_ts, teardown),
		cmocka_unit_test_teardown(test_established_rto_from_handshake_rtt_no_ts, teardown),
		cmocka_unit_test_teardown(test_established_rto_backoff_doubles, teardown),
		cmocka_unit_test_teardown(test_established_rto_restarts_on_new_ack, teardown),
		cmocka_unit_test_teardown(test_established_rto_karn_no_sample_from_retransmission, teardown),
		cmocka_unit_test_teardown(test_established_rto_karn_no_sample_after_fast_retransmit, teardown),
		cmocka_unit_test_teardown(test_established_rtt_estimation_from_timestamps, teardown),
		cmocka_unit_test_teardown(test_established_rto_min_200ms, teardown),
		cmocka_unit_test_teardown(test_established_rto_gives_up_after_data_retries, teardown),
		cmocka_unit_test_teardown(test_established_user_timeout_gives_up, teardown),
		cmocka_unit_test_teardown(test_established_dupack_third_fast_retransmit, teardown),
		cmocka_unit_test_teardown(test_established_dupack_limited_transmit, teardown),
		cmocka_unit_test_teardown(test_established_dupack_partial_ack_retransmits_next_hole, teardown),
		cmocka_unit_test_teardown(test_established_zero_window_probe_after_rto, teardown),
		cmocka_unit_test_teardown(test_established_zero_window_probes_back_off, teardown),
		cmocka_unit_test_teardown(test_established_zero_window_update_resumes_sending, teardown),
		cmocka_unit_test_teardown(test_established_keepalive_probe_after_idle, teardown),
		cmocka_unit_test_teardown(test_established_keepalive_unanswered_resets, teardown),
		cmocka_unit_test_teardown(test_established_keepalive_answered_probe_keeps_alive, teardown),
		cmocka_unit_test_teardown(test_established_keepalive_idle_restarts_on_activity, teardown),
		cmocka_unit_test_teardown(test_established_keepalive_idle_set_after_enable, teardown),
		cmocka_unit_test_teardown(test_established_keepalive_inherited_from_listener, teardown),
		cmocka_unit_test_teardown(test_established_delack_not_early_off_tick, teardown),
		cmocka_unit_test_teardown(test_established_rto_min_not_early_off_tick, teardown),
		cmocka_unit_test_teardown(test_established_keepalive_not_early_off_tick, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
