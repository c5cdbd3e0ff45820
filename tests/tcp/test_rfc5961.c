/*
 * RFC 5961 inside the segment-arrival checks of RFC 9293 3.10.7.4, in every
 * synchronized state: only a RST at exactly RCV.NXT resets (3.2), any other
 * in-window RST and any SYN get a challenge ACK (3.2, 4.2), an ACK outside
 * [SND.UNA - MAX.SND.WND, SND.NXT] drops the segment with an ACK (5.2);
 * challenge ACKs are limited per connection, never by a shared counter (7,
 * CVE-2016-5696). Also the first check (an unacceptable segment is ACKed and
 * dropped) and PAWS (RFC 7323 5.3).
 */
#include <errno.h>
#include "scripted_conn.h"

/* Each state is reached from a different kind of open, so every path is crossed. */
static unsigned mode_of(enum tw_state st)
{
	switch (st) {
	case TW_ESTABLISHED: return M_PASSIVE | M_TS;
	case TW_FIN_WAIT_1: return M_ACTIVE | M_TS;
	case TW_FIN_WAIT_2: return M_PASSIVE;
	case TW_CLOSE_WAIT: return M_ACTIVE;
	case TW_CLOSING: return M_PASSIVE | M_TS;
	case TW_LAST_ACK: return M_ACTIVE | M_TS;
	default: return 0;
	}
}

/* The receive window we advertise now, bytes. */
static uint32_t rcv_wnd(const struct conn *c) { return h_info(c->s).rcv_wnd; }

/* The next segment is a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> with our current window. */
static void expect_challenge_ack(struct conn *c)
{
	struct wire_tcp t = expect_ack(c);
	struct tw_conn_info ci = h_info(c->s);
	int ws = ci.rcv_wscale < 0 ? 0 : ci.rcv_wscale;
	assert_true(t.wnd > 0);
	assert_int_equal((uint32_t)t.wnd << ws, ci.rcv_wnd);
	assert_int_equal(t.payload_len, 0);
}

/* The connection is untouched: same state, same sequence variables, no error. */
static void expect_survives(struct conn *c, enum tw_state st)
{
	struct tw_conn_info ci = h_info(c->s);
	assert_int_equal(ci.state, st);
	assert_int_equal(ci.snd_nxt, c->snd_nxt);
	assert_int_equal(ci.rcv_nxt, c->rcv_nxt);
	assert_int_equal(tw_sock_error(c->s), 0);
}

/* RFC 5961 3.2 / RFC 9293 3.10.7.4 second: a RST with SEG.SEQ = RCV.NXT resets. */
static void check_rst_at_rcv_nxt(enum tw_state st, unsigned mode, uint8_t rst_flags)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	drive(&c, st);
	struct h_seg r = pseg(&c, rst_flags, c.rcv_nxt, rst_flags & WIRE_TCP_ACK ? c.snd_nxt : 0);
	assert_int_equal(feed(&c, &r), 0);
	h_expect_none(c.h);          /* a RST is never answered */
	assert_int_equal(h_state(c.s), TW_CLOSED);
	/*
	 * ESTABLISHED, FIN-WAIT-*: "connection reset"; CLOSE-WAIT: EPIPE, as Linux
	 * says once the peer had closed; CLOSING, LAST-ACK: just closed.
	 */
	int want = st == TW_CLOSING || st == TW_LAST_ACK ? 0 : st == TW_CLOSE_WAIT ? -EPIPE : -E_CONNRESET;
	assert_int_equal(tw_sock_error(c.s), want);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

/* RFC 5961 3.2: a RST in the window but not at RCV.NXT gets a challenge ACK; nothing else happens. */
static void check_rst_in_window(enum tw_state st, unsigned mode, uint32_t offset_from_edge)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	drive(&c, st);
	uint32_t wnd = rcv_wnd(&c);
	assert_true(wnd > 1);
	/* offset 0: RCV.NXT + 1; otherwise that far back from the right edge. */
	uint32_t seq = offset_from_edge ? c.rcv_nxt + wnd - offset_from_edge : c.rcv_nxt + 1;
	struct h_seg r = pseg(&c, WIRE_TCP_RST, seq, 0);
	feed(&c, &r);
	expect_challenge_ack(&c);
	h_expect_none(c.h);
	expect_survives(&c, st);
	conn_end(&c);
}

/* RFC 9293 3.10.7.4 first/second: a RST outside the window is dropped without a word. */
static void check_rst_out_of_window(enum tw_state st, unsigned mode)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	drive(&c, st);
	uint32_t wnd = rcv_wnd(&c);
	struct h_seg r1 = pseg(&c, WIRE_TCP_RST, c.rcv_nxt + wnd, 0);   /* first beyond the right edge */
	feed(&c, &r1);
	/* Just below; once the peer's FIN is in, RCV.NXT - 1 is its FIN's number, which Linux takes as exact. */
	bool fin_in = st == TW_CLOSE_WAIT || st == TW_CLOSING || st == TW_LAST_ACK;
	struct h_seg r2 = pseg(&c, WIRE_TCP_RST | WIRE_TCP_ACK, c.rcv_nxt - (fin_in ? 2 : 1), c.snd_nxt);
	feed(&c, &r2);
	struct h_seg r3 = pseg(&c, WIRE_TCP_RST, c.rcv_nxt + 0x80000000u, 0);
	feed(&c, &r3);
	h_expect_none(c.h);
	expect_survives(&c, st);
	conn_end(&c);
}

/*
 * Linux's tcp_reset_check: after the peer's FIN (CLOSE-WAIT, CLOSING,
 * LAST-ACK) a RST with the FIN's sequence number, RCV.NXT - 1, resets as if
 * exact; in other states that number is outside the window and dropped.
 */
static void check_rst_at_fin_seq(enum tw_state st, unsigned mode, bool resets)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	drive(&c, st);
	struct h_seg r = pseg(&c, WIRE_TCP_RST, c.rcv_nxt - 1, 0);
	feed(&c, &r);
	h_expect_none(c.h);
	if (!resets) {
		expect_survives(&c, st);
		conn_end(&c);
		return;
	}
	assert_int_equal(h_state(c.s), TW_CLOSED);
	assert_int_equal(tw_sock_error(c.s), st == TW_CLOSE_WAIT ? -EPIPE : 0);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

static void test_rst_at_fin_seq_resets_once_fin_is_in(void **state)
{
	(void)state;
	check_rst_at_fin_seq(TW_CLOSE_WAIT, M_PASSIVE | M_TS, true);
	check_rst_at_fin_seq(TW_LAST_ACK, M_ACTIVE, true);
	check_rst_at_fin_seq(TW_CLOSING, M_PASSIVE | M_TS | M_V6, true);
	check_rst_at_fin_seq(TW_ESTABLISHED, M_PASSIVE | M_TS, false);
	check_rst_at_fin_seq(TW_FIN_WAIT_2, M_ACTIVE, false);
}

/* RFC 5961 4.2: any SYN in a synchronized state, in the window or not, gets a challenge ACK. */
static void check_syn(enum tw_state st, unsigned mode, bool in_window)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	drive(&c, st);
	uint32_t seq = in_window ? c.rcv_nxt + 1 : c.rcv_nxt + rcv_wnd(&c) + 1000;
	struct h_seg s = pseg(&c, WIRE_TCP_SYN, seq, 0);
	feed(&c, &s);
	expect_challenge_ack(&c);
	h_expect_none(c.h);
	expect_survives(&c, st);
	conn_end(&c);
}

/* RFC 5961 5.2: an ACK above SND.NXT drops the segment with an ACK; our FIN is not thereby ACKed. */
static void check_ack_above_snd_nxt(enum tw_state st, unsigned mode)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	drive(&c, st);
	struct h_seg a = pseg(&c, WIRE_TCP_ACK, c.rcv_nxt, c.snd_nxt + 1);
	feed(&c, &a);
	expect_challenge_ack(&c);
	h_expect_none(c.h);
	expect_survives(&c, st);
	/* Our FIN is still unacknowledged in FIN-WAIT-1, CLOSING and LAST-ACK. */
	bool fin_out = st == TW_FIN_WAIT_1 || st == TW_CLOSING || st == TW_LAST_ACK;
	assert_int_equal(h_info(c.s).snd_una, c.snd_nxt - (fin_out ? 1 : 0));
	conn_end(&c);
}

#define STATE_TESTS(name, ST)                                                                      \
	static void test_##name##_rst_at_rcv_nxt_resets(void **state)                              \
	{                                                                                          \
		(void)state;                                                                       \
		check_rst_at_rcv_nxt(ST, mode_of(ST), WIRE_TCP_RST | WIRE_TCP_ACK);                \
	}                                                                                          \
	static void test_##name##_rst_in_window_gets_challenge_ack(void **state)                   \
	{                                                                                          \
		(void)state;                                                                       \
		check_rst_in_window(ST, mode_of(ST), 0);                                           \
	}                                                                                          \
	static void test_##name##_rst_out_of_window_dropped(void **state)                          \
	{                                                                                          \
		(void)state;                                                                       \
		check_rst_out_of_window(ST, mode_of(ST));                                          \
	}                                                                                          \
	static void test_##name##_syn_in_window_gets_challenge_ack(void **state)                   \
	{                                                                                          \
		(void)state;                                                                       \
		check_syn(ST, mode_of(ST), true);                                                  \
	}                                                                                          \
	static void test_##name##_syn_out_of_window_gets_challenge_ack(void **state)               \
	{                                                                                          \
		(void)state;                                                                       \
		check_syn(ST, mode_of(ST), false);                                                 \
	}                                                                                          \
	static void test_##name##_ack_above_snd_nxt_gets_ack(void **state)                         \
	{                                                                                          \
		(void)state;                                                                       \
		check_ack_above_snd_nxt(ST, mode_of(ST));                                          \
	}

STATE_TESTS(established, TW_ESTABLISHED)
STATE_TESTS(fin_wait_1, TW_FIN_WAIT_1)
STATE_TESTS(fin_wait_2, TW_FIN_WAIT_2)
STATE_TESTS(close_wait, TW_CLOSE_WAIT)
STATE_TESTS(closing, TW_CLOSING)
STATE_TESTS(last_ack, TW_LAST_ACK)

/* ----------------------------------------------------- variants and edges */

static void test_established_rst_at_rcv_nxt_resets_ipv6(void **state)
{
	(void)state;
	check_rst_at_rcv_nxt(TW_ESTABLISHED, M_ACTIVE | M_V6, WIRE_TCP_RST);
}

static void test_established_rst_in_window_gets_challenge_ack_ipv6(void **state)
{
	(void)state;
	check_rst_in_window(TW_ESTABLISHED, M_PASSIVE | M_TS | M_V6, 0);
}

static void test_fin_wait_2_syn_in_window_gets_challenge_ack_ipv6(void **state)
{
	(void)state;
	check_syn(TW_FIN_WAIT_2, M_ACTIVE | M_TS | M_V6, true);
}

/* The last sequence number in the window is still "in the window": challenge, no reset. */
static void test_established_rst_at_window_edge_gets_challenge_ack(void **state)
{
	(void)state;
	check_rst_in_window(TW_ESTABLISHED, M_ACTIVE, 1);
}

/* The RFC 5961 exchange: a blind RST draws a challenge ACK; the peer's RST at RCV.NXT then resets. */
static void test_established_rst_at_rcv_nxt_after_challenge_resets(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	struct h_seg blind = pseg(&c, WIRE_TCP_RST, c.rcv_nxt + 100, 0);
	feed(&c, &blind);
	expect_challenge_ack(&c);
	/* The challenge limit does not silence a legitimate RST. */
	struct h_seg r = pseg(&c, WIRE_TCP_RST, c.rcv_nxt, 0);
	assert_int_equal(feed(&c, &r), 0);
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_CLOSED);
	assert_int_equal(tw_sock_error(c.s), -E_CONNRESET);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

/* A SYN-ACK (SYN with ACK) in ESTABLISHED is a SYN too: challenge ACK. */
static void test_established_synack_gets_challenge_ack(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_TS, PEER_ISS);
	struct h_seg s = pseg(&c, WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, c.snd_nxt);
	feed(&c, &s);
	expect_challenge_ack(&c);
	h_expect_none(c.h);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

/* A SYN at the old ISN (an old duplicate, below the window): challenge ACK, no reset. */
static void test_established_syn_old_isn_gets_challenge_ack(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE, PEER_ISS);
	struct h_seg s = pseg(&c, WIRE_TCP_SYN, PEER_ISS, 0);
	h_opt_mss(&s, 1460);
	feed(&c, &s);
	expect_challenge_ack(&c);
	h_expect_none(c.h);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

/* ------------------------------------------------------ RFC 5961 5.2: ACK range */

/* Data whose ACK is above SND.NXT: dropped (never reaches tw_recv), answered with an ACK. */
static void test_established_data_ack_above_snd_nxt_dropped(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	feed_data(&c, c.rcv_nxt, c.snd_nxt + 1, "evil", 4);
	expect_challenge_ack(&c);          /* ack = RCV.NXT: the data was not taken */
	h_expect_none(c.h);
	char buf[16];
	assert_int_equal(tw_readable(c.s), 0);
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), -E_AGAIN);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

/* The control: the same data with SEG.ACK = SND.NXT is taken. */
static void test_established_data_ack_at_snd_nxt_accepted(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	feed_data(&c, c.rcv_nxt, c.snd_nxt, "good", 4);
	c.rcv_nxt += 4;
	expect_ack(&c);                    /* quick ACK at connection start */
	char buf[16];
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "good", 4);
	conn_end(&c);
}

/* MAX.SND.WND of a connection opened passively: the window of the handshake's ACK. */
static uint32_t max_snd_wnd(const struct conn *c)
{
	uint32_t w = c->ts ? PEER_WND << PEER_WSCALE : PEER_WND;
	assert_int_equal(h_info(c->s).snd_wnd, w);
	return w;
}

/* Data whose ACK is below SND.UNA - MAX.SND.WND: dropped, answered with an ACK. */
static void check_ack_below_max_wnd(unsigned mode)
{
	struct conn c;
	conn_open(&c, mode, PEER_ISS);
	uint32_t una = h_info(c.s).snd_una;
	feed_data(&c, c.rcv_nxt, una - max_snd_wnd(&c) - 1, "evil", 4);
	expect_challenge_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(tw_readable(c.s), 0);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

static void test_established_data_ack_below_max_snd_wnd_dropped(void **state)
{
	(void)state;
	check_ack_below_max_wnd(M_PASSIVE);
}

static void test_established_data_ack_below_max_snd_wnd_dropped_scaled(void **state)
{
	(void)state;
	check_ack_below_max_wnd(M_PASSIVE | M_TS);
}

/* The control: SEG.ACK = SND.UNA - MAX.SND.WND is an old duplicate ACK, and its data is taken. */
static void test_established_data_ack_at_max_snd_wnd_edge_accepted(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE, PEER_ISS);
	uint32_t una = h_info(c.s).snd_una;
	feed_data(&c, c.rcv_nxt, una - max_snd_wnd(&c), "fine", 4);
	c.rcv_nxt += 4;
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(tw_readable(c.s), 4);
	conn_end(&c);
}

/* ------------------------------------------------- challenge ACK rate limit */

static void blind_rst(struct conn *c)
{
	struct h_seg r = pseg(c, WIRE_TCP_RST, c->rcv_nxt + 1, 0);
	feed(c, &r);
}

/* At most one challenge ACK per 500 ms (the default) per connection. */
static void test_established_challenge_ack_rate_limited(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	blind_rst(&c);
	expect_challenge_ack(&c);
	blind_rst(&c);                     /* the same instant: nothing */
	h_expect_none(c.h);
	h_advance(c.h, 499999);
	blind_rst(&c);                     /* still within the interval: nothing */
	h_expect_none(c.h);
	h_advance(c.h, 1);
	blind_rst(&c);                     /* 500 ms after the first: again */
	expect_challenge_ack(&c);
	h_expect_none(c.h);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

/* The limit counts challenges of every kind: a SYN's and then a RST's. */
static void test_established_challenge_ack_limit_spans_syn_and_rst(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE, PEER_ISS);
	struct h_seg s = pseg(&c, WIRE_TCP_SYN, c.rcv_nxt + 5, 0);
	feed(&c, &s);
	expect_challenge_ack(&c);
	blind_rst(&c);
	h_expect_none(c.h);
	struct h_seg s2 = pseg(&c, WIRE_TCP_SYN, c.rcv_nxt + 5, 0);
	feed(&c, &s2);
	h_expect_none(c.h);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

/* cfg.challenge_ack_interval_us sets the interval. */
static void test_established_challenge_ack_interval_configurable(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.challenge_ack_interval_us = 100000;
	struct conn c;
	conn_open_on(&c, h_new_cfg(&cfg), NULL, PEER_PORT, M_PASSIVE | M_TS, PEER_ISS);
	blind_rst(&c);
	expect_challenge_ack(&c);
	h_advance(c.h, 99999);
	blind_rst(&c);
	h_expect_none(c.h);
	h_advance(c.h, 1);
	blind_rst(&c);
	expect_challenge_ack(&c);
	h_expect_none(c.h);
	conn_end(&c);
}

/*
 * CVE-2016-5696: no counter shared between connections. Two connections
 * challenged at the same instant each get their challenge ACK, and one
 * connection's exhausted limit does not silence the other.
 */
static void test_established_challenge_ack_limit_per_connection(void **state)
{
	(void)state;
	struct conn a, b;
	conn_open(&a, M_PASSIVE | M_TS, PEER_ISS);
	conn_open_on(&b, a.h, a.l, PEER_PORT + 1, M_PASSIVE | M_TS, PEER_ISS - 0x1000);
	blind_rst(&a);
	expect_challenge_ack(&a);
	blind_rst(&b);
	expect_challenge_ack(&b);          /* the same instant, the other connection: answered */
	h_expect_none(a.h);
	/* Exhaust a's limit many times over; b still answers nothing more than its own limit allows. */
	for (int i = 0; i < 50; i++)
		blind_rst(&a);
	h_expect_none(a.h);
	h_advance(a.h, 500000);
	for (int i = 0; i < 50; i++)
		blind_rst(&a);
	expect_challenge_ack(&a);
	blind_rst(&b);
	expect_challenge_ack(&b);
	h_expect_none(a.h);
	expect_survives(&a, TW_ESTABLISHED);
	expect_survives(&b, TW_ESTABLISHED);
	tw_abort(b.s);
	b.s = NULL;
	conn_end(&a);
}

/* -------------------------------- RFC 9293 3.10.7.4 first: unacceptable segments */

/* Data beyond the window: ACK <SEQ=SND.NXT><ACK=RCV.NXT>, data dropped. */
static void test_established_data_beyond_window_acked_and_dropped(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	feed_data(&c, c.rcv_nxt + rcv_wnd(&c), c.snd_nxt, "late", 4);
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(tw_readable(c.s), 0);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

/* Data entirely below the window (a retransmission of what we have): ACK, nothing delivered twice. */
static void test_established_old_data_acked_and_dropped(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE, 0xfffffffdu);   /* the data crosses 2^32 */
	feed_data(&c, c.rcv_nxt, c.snd_nxt, "abcdef", 6);
	c.rcv_nxt += 6;
	expect_ack(&c);
	assert_int_equal(tw_readable(c.s), 6);
	feed_data(&c, c.rcv_nxt - 3, c.snd_nxt, "def", 3);
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(tw_readable(c.s), 6);   /* nothing delivered twice */
	char buf[16];
	assert_int_equal(tw_recv(c.s, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "abcdef", 6);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

/* A pure ACK below the window (an old one): answered with an ACK. */
static void test_established_old_pure_ack_gets_ack(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	struct h_seg a = pseg(&c, WIRE_TCP_ACK, c.rcv_nxt - 1, c.snd_nxt);
	feed(&c, &a);
	expect_ack(&c);
	h_expect_none(c.h);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

/* A pure ACK beyond the window: answered with an ACK. */
static void test_established_pure_ack_beyond_window_gets_ack_ipv6(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_V6, PEER_ISS);
	struct h_seg a = pseg(&c, WIRE_TCP_ACK, c.rcv_nxt + rcv_wnd(&c), c.snd_nxt);
	feed(&c, &a);
	expect_ack(&c);
	h_expect_none(c.h);
	expect_survives(&c, TW_ESTABLISHED);
	conn_end(&c);
}

/* --------------------------------------------------------- RFC 7323 5.3: PAWS */

/* A segment whose TSval is older than TS.Recent is dropped with an ACK. */
static void test_established_paws_old_tsval_dropped_with_ack(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	struct h_seg d = h_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, c.rcv_nxt, c.snd_nxt);
	d.wnd = PEER_WND;
	h_opt_nop(&d);
	h_opt_nop(&d);
	h_opt_ts(&d, c.peer_ts - 10, c.our_ts);    /* older than the last TSval seen */
	d.data = "old!";
	d.len = 4;
	assert_true(h_feed(c.h, &d) < 0);
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(tw_readable(c.s), 0);
	/* The same bytes with a current TSval are taken: the drop was PAWS's. */
	feed_data(&c, c.rcv_nxt, c.snd_nxt, "new!", 4);
	c.rcv_nxt += 4;
	expect_ack(&c);
	assert_int_equal(tw_readable(c.s), 4);
	conn_end(&c);
}

/*
 * RFC 7323 5.5: after more than 24 days idle TS.Recent is no longer valid, so
 * an "old" TSval is taken (the peer's clock may have wrapped); before that it
 * is still refused.
 */
static void check_paws_after_idle(uint64_t idle_s, bool taken)
{
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	h_advance(c.h, idle_s * 1000000);
	struct h_seg d = h_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, c.rcv_nxt, c.snd_nxt);
	d.wnd = PEER_WND;
	h_opt_nop(&d);
	h_opt_nop(&d);
	h_opt_ts(&d, c.peer_ts - 10, c.our_ts);
	d.data = "late";
	d.len = 4;
	int r = h_feed(c.h, &d);
	if (taken) {
		assert_int_equal(r, 0);
		c.rcv_nxt += 4;
	} else {
		assert_true(r < 0);
	}
	h_next(c.h);   /* the ACK, of the data or of nothing */
	assert_int_equal(tw_readable(c.s), taken ? 4 : 0);
	conn_end(&c);
}

static void test_established_paws_after_25_idle_days_accepts(void **state)
{
	(void)state;
	check_paws_after_idle(25 * 24 * 3600, true);
}

static void test_established_paws_after_23_idle_days_refuses(void **state)
{
	(void)state;
	check_paws_after_idle(23 * 24 * 3600, false);
}

/* PAWS also holds across the 2^31 TSval wrap: a TSval "older" modulo 2^32 is refused. */
static void test_established_paws_tsval_wrap_dropped_with_ack(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_ACTIVE | M_TS, PEER_ISS);
	struct h_seg d = h_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, c.rcv_nxt, c.snd_nxt);
	d.wnd = PEER_WND;
	h_opt_nop(&d);
	h_opt_nop(&d);
	h_opt_ts(&d, c.peer_ts + 0x80000001u, c.our_ts);
	d.data = "old!";
	d.len = 4;
	assert_true(h_feed(c.h, &d) < 0);
	expect_ack(&c);
	h_expect_none(c.h);
	assert_int_equal(tw_readable(c.s), 0);
	conn_end(&c);
}

/* RFC 7323 5.3 R1 applies only when the RST bit is off: an old TSval does not shield a RST. */
static void test_established_paws_rst_with_old_tsval_resets(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	struct h_seg r = h_seg(WIRE_TCP_RST, c.rcv_nxt, 0);
	h_opt_nop(&r);
	h_opt_nop(&r);
	h_opt_ts(&r, c.peer_ts - 10, c.our_ts);
	assert_int_equal(h_feed(c.h, &r), 0);
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_CLOSED);
	assert_int_equal(tw_sock_error(c.s), -E_CONNRESET);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

#define T(name) cmocka_unit_test(name)
#define STATE_T(name)                                                                              \
	T(test_##name##_rst_at_rcv_nxt_resets), T(test_##name##_rst_in_window_gets_challenge_ack),  \
		T(test_##name##_rst_out_of_window_dropped),                                        \
		T(test_##name##_syn_in_window_gets_challenge_ack),                                 \
		T(test_##name##_syn_out_of_window_gets_challenge_ack),                             \
		T(test_##name##_ack_above_snd_nxt_gets_ack)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rst_at_fin_seq_resets_once_fin_is_in),
		STATE_T(established),
		STATE_T(fin_wait_1),
		STATE_T(fin_wait_2),
		STATE_T(close_wait),
		STATE_T(closing),
		STATE_T(last_ack),
		T(test_established_rst_at_rcv_nxt_resets_ipv6),
		T(test_established_rst_in_window_gets_challenge_ack_ipv6),
		T(test_fin_wait_2_syn_in_window_gets_challenge_ack_ipv6),
		T(test_established_rst_at_window_edge_gets_challenge_ack),
		T(test_established_rst_at_rcv_nxt_after_challenge_resets),
		T(test_established_synack_gets_challenge_ack),
		T(test_established_syn_old_isn_gets_challenge_ack),
		T(test_established_data_ack_above_snd_nxt_dropped),
		T(test_established_data_ack_at_snd_nxt_accepted),
		T(test_established_data_ack_below_max_snd_wnd_dropped),
		T(test_established_data_ack_below_max_snd_wnd_dropped_scaled),
		T(test_established_data_ack_at_max_snd_wnd_edge_accepted),
		T(test_established_challenge_ack_rate_limited),
		T(test_established_challenge_ack_limit_spans_syn_and_rst),
		T(test_established_challenge_ack_interval_configurable),
		T(test_established_challenge_ack_limit_per_connection),
		T(test_established_data_beyond_window_acked_and_dropped),
		T(test_established_old_data_acked_and_dropped),
		T(test_established_old_pure_ack_gets_ack),
		T(test_established_pure_ack_beyond_window_gets_ack_ipv6),
		T(test_established_paws_old_tsval_dropped_with_ack),
		T(test_established_paws_tsval_wrap_dropped_with_ack),
		T(test_established_paws_rst_with_old_tsval_resets),
		T(test_established_paws_after_25_idle_days_accepts),
		T(test_established_paws_after_23_idle_days_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
