/*
 * Timers on the wire: retransmission (RFC 6298: the RTO from the measured
 * RTT, backoff, Karn, the 200 ms floor, giving up), fast retransmit and
 * NewReno's partial ACKs (RFC 5681, RFC 6582), zero-window probes, keepalive,
 * and that no timer fires before its time. Every test drives one connection
 * against a scripted peer whose ISN lies just below 2^32, and asserts the
 * exact virtual time of each segment.
 */
#include <errno.h>

#include "peer.h"

#define MS 1000ull
#define SEC 1000000ull

/* ------------------------------------------------------------------ helpers */

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
