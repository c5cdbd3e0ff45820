/*
 * Connection establishment on the wire (RFC 9293 3.5, 3.10.7.1-3.10.7.4):
 * active, passive and simultaneous open, resets for segments that reach no
 * connection, old duplicates in SYN-SENT and SYN-RECEIVED, SYN and SYN-ACK
 * retransmission (RFC 6298, Linux's schedule), the listen backlog, and the
 * errors of connect and listen. Each test states the exact segments sent.
 */
#include <errno.h>

#include "harness.h"

#define PEER_ISS 0xfffffff0u    /* just below 2^32: every path crosses the wrap */
#define PEER_TS 100u            /* the peer's TSval in its SYN */

#define E_INVAL 22
#define E_ALREADY 114
#define E_ISCONN 106
#define E_ADDRINUSE 98
#define E_AGAIN 11
#define E_CONNREFUSED 111
#define E_TIMEDOUT 110

#define SEC 1000000ull

static const uint8_t families[] = { TW_AF_INET, TW_AF_INET6 };
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static uint16_t our_mss(uint8_t family) { return family == TW_AF_INET ? 1460 : 1440; }

/* --------------------------------------------------------------- helpers */

/* The next segment sent, to the peer's port `dport`, with these flags, seq and ack. */
static struct wire_tcp expect_to(struct harness *h, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct wire_tcp t = h_expect(h, flags, seq, ack);
	assert_int_equal(t.dport, dport);
	return t;
}

/* A RST answering a segment for no connection: no options, window 0 (RFC 9293 3.10.7.1). */
static void expect_bare_rst(struct harness *h, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct wire_tcp t = h_expect(h, flags, seq, ack);
	assert_int_equal(t.dport, PEER_PORT);
	assert_int_equal(t.wnd, 0);
	assert_int_equal(t.opt.count, 0);
	assert_int_equal(t.payload_len, 0);
}

/* The peer's SYN from `sport`, with the options Linux sends. */
static struct h_seg peer_syn(uint16_t sport, uint32_t iss)
{
	struct h_seg s = h_seg(WIRE_TCP_SYN, iss, 0);
	s.sport = sport;
	h_opt_linux_syn(&s, PEER_TS, 0);
	return s;
}

/* A segment of the peer's after the handshake: <nop,nop,TS> as Linux sends it. */
static struct h_seg peer_seg(uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t ts_ecr)
{
	struct h_seg s = h_seg(flags, seq, ack);
	s.sport = sport;
	s.wnd = 502;
	h_opt_nop(&s);
	h_opt_nop(&s);
	h_opt_ts(&s, PEER_TS + 1, ts_ecr);
	return s;
}

/* Feeds the peer's SYN to a listener; asserts the SYN-ACK and returns it. */
static struct wire_tcp syn_to_listener(struct harness *h, uint16_t sport, uint32_t peer_iss)
{
	struct h_seg s = peer_syn(sport, peer_iss);
	assert_int_equal(h_feed(h, &s), 0);
	struct wire_tcp sa = h_next(h);
	assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal(sa.ack, peer_iss + 1);
	assert_int_equal(sa.sport, OUR_PORT);
	assert_int_equal(sa.dport, sport);
	return sa;
}

/* The peer's third ACK for the SYN-ACK `sa`. */
static int ack_synack(struct harness *h, uint16_t sport, uint32_t peer_iss, const struct wire_tcp *sa)
{
	struct h_seg a = peer_seg(sport, WIRE_TCP_ACK, peer_iss + 1, sa->seq + 1, sa->opt.ts_val);
	return h_feed(h, &a);
}

/* A full passive open from `sport`; returns the accepted socket. */
static struct tw_sock *passive_open(struct harness *h, struct tw_sock *l, uint16_t sport, uint32_t peer_iss,
				    struct wire_tcp *sa_out)
{
	struct wire_tcp sa = syn_to_listener(h, sport, peer_iss);
	assert_int_equal(ack_synack(h, sport, peer_iss, &sa), 0);
	h_expect_none(h);
	int err = 0;
	struct tw_sock *c = tw_accept(l, NULL, &err);
	assert_non_null(c);
	assert_int_equal(h_state(c), TW_ESTABLISHED);
	if (sa_out)
		*sa_out = sa;
	return c;
}

/* A full active open; returns the socket in ESTABLISHED and our ISS. */
static struct tw_sock *active_open(struct harness *h, uint32_t peer_iss, uint32_t *iss_out)
{
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, iss, 0);
	struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, peer_iss, iss + 1);
	h_opt_linux_syn(&sa, PEER_TS, syn.opt.ts_val);
	assert_int_equal(h_feed(h, &sa), 0);
	h_expect(h, WIRE_TCP_ACK, iss + 1, peer_iss + 1);
	assert_int_equal(h_state(s), TW_ESTABLISHED);
	*iss_out = iss;
	return s;
}

/*
 * Asserts that nothing is sent until `t0 + at` and that a segment with
 * `flags`, `seq` and `ack` goes at exactly that time.
 */
static void expect_at(struct harness *h, uint64_t t0, uint64_t at, uint8_t flags, uint32_t seq, uint32_t ack)
{
	assert_true(t0 + at - 1000 > h->now);
	h_advance(h, t0 + at - 1000 - h->now);
	h_expect_none(h);
	h_advance(h, 1000);
	h_expect(h, flags, seq, ack);
	assert_int_equal(h->out[h->next_out - 1].at - t0, at);
}

static struct tw_endpoint peer_endpoint(const struct harness *h, uint16_t port)
{
	struct tw_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	ep.addr = h->peer;
	ep.port = port;
	return ep;
}

/* ------------------------------------------------------------ active open */

static void test_syn_sent_synack_established(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *s = h_connect(h);
		struct tw_conn_info ci = h_info(s);
		assert_int_equal(ci.state, TW_SYN_SENT);
		uint32_t iss = ci.iss;

		/* The SYN: <mss,sackOK,TS val X ecr 0,nop,wscale 8>, win 64240 (whole MSS multiples). */
		struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, iss, 0);
		char lay[128];
		assert_string_equal(h_opt_layout(&syn, lay, sizeof(lay)), "mss,sackOK,TS,nop,wscale");
		assert_int_equal(syn.opt.mss, our_mss(families[f]));
		assert_int_equal(syn.opt.ts_ecr, 0);
		assert_int_equal(syn.opt.wscale, 8);
		assert_int_equal(syn.wnd, families[f] == TW_AF_INET ? 64240 : 64800);
		assert_int_equal(syn.dport, PEER_PORT);
		h_expect_none(h);
		assert_false(tw_events(s) & TW_POLLOUT);

		struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, iss + 1);
		h_opt_linux_syn(&sa, PEER_TS, syn.opt.ts_val);
		assert_int_equal(h_feed(h, &sa), 0);
		/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>: our SYN and theirs each took one number. */
		struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
		assert_string_equal(h_opt_layout(&a, lay, sizeof(lay)), "nop,nop,TS");
		assert_int_equal(a.opt.ts_ecr, PEER_TS);
		assert_int_equal(a.payload_len, 0);
		h_expect_none(h);

		ci = h_info(s);
		assert_int_equal(ci.state, TW_ESTABLISHED);
		assert_int_equal(ci.iss, iss);
		assert_int_equal(ci.irs, PEER_ISS);
		assert_int_equal(ci.snd_una, iss + 1);
		assert_int_equal(ci.snd_nxt, iss + 1);
		assert_int_equal(ci.rcv_nxt, PEER_ISS + 1);
		assert_true(tw_events(s) & TW_POLLOUT);
		assert_false(tw_events(s) & TW_POLLERR);
		assert_int_equal(tw_sock_error(s), 0);

		tw_abort(s);
		h_expect(h, WIRE_TCP_RST | WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_sent_synack_ack_window_any_peer_isn(void **state)
{
	(void)state;
	/*
	 * The window of the handshake's ACK cannot depend on where the peer's
	 * ISN lies: it is a right edge RCV.NXT + RCV.WND (RFC 9293 3.3.1) over
	 * our receive buffer, never 0 and never more than the buffer holds.
	 */
	static const uint32_t isns[] = { 0xfffffff0u, 0x00000100u, 0x40000000u, 0x7fff0000u,
					 0x80000000u, 0x80001000u, 0x90000000u, 0xc0000000u };
	int ref = -1;
	for (size_t i = 0; i < sizeof(isns) / sizeof(isns[0]); i++) {
		struct harness *h = h_new(TW_AF_INET);
		struct tw_sock *s = h_connect(h);
		uint32_t iss = h_info(s).iss;
		struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, iss, 0);
		struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, isns[i], iss + 1);
		h_opt_linux_syn(&sa, PEER_TS, syn.opt.ts_val);
		assert_int_equal(h_feed(h, &sa), 0);
		struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, iss + 1, isns[i] + 1);
		uint32_t bytes = (uint32_t)a.wnd << 8;
		if (ref < 0)
			ref = a.wnd;
		if (a.wnd != ref)
			fprintf(stderr, "peer ISN %#x: ACK window %u, %u with peer ISN %#x\n", isns[i], a.wnd,
				(unsigned)ref, isns[0]);
		assert_true(bytes >= syn.wnd);            /* not shrunk below what the SYN offered */
		assert_true(bytes <= 131072);             /* not beyond the receive buffer */
		assert_int_equal(a.wnd, ref);
		assert_int_equal(h_info(s).rcv_wnd, bytes);
		tw_abort(s);
		h_free(h);
	}
}

static void test_established_syn_consumed_one_seq(void **state)
{
	(void)state;
	/* A SYN occupies one sequence number (RFC 9293 3.4): data starts at ISN + 1, both ways. */
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	assert_int_equal(h_info(s).snd_nxt, iss + 1);
	struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, iss, 0);
	struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, iss + 1);
	h_opt_linux_syn(&sa, PEER_TS, syn.opt.ts_val);
	assert_int_equal(h_feed(h, &sa), 0);
	h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);

	assert_int_equal(tw_send(s, "abc", 3, 0), 3);
	struct wire_tcp d = h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, iss + 1, PEER_ISS + 1);
	assert_int_equal(d.payload_len, 3);

	/* The peer's first byte is at PEER_ISS + 1 = 0xfffffff1; four bytes cross 2^32. */
	struct h_seg pd = peer_seg(PEER_PORT, WIRE_TCP_ACK | WIRE_TCP_PSH, PEER_ISS + 1, iss + 4, d.opt.ts_val);
	pd.data = "wxyz";
	pd.len = 4;
	assert_int_equal(h_feed(h, &pd), 0);
	h_expect(h, WIRE_TCP_ACK, iss + 4, PEER_ISS + 5);
	char buf[8];
	assert_int_equal(tw_recv(s, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "wxyz", 4);
	tw_abort(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* ----------------------------------------------------------- passive open */

static void test_listen_syn_synack_then_ack_established(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		assert_int_equal(h_state(l), TW_LISTEN);

		struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
		char lay[128];
		assert_string_equal(h_opt_layout(&sa, lay, sizeof(lay)), "mss,sackOK,TS,nop,wscale");
		assert_int_equal(sa.opt.mss, our_mss(families[f]));
		assert_int_equal(sa.opt.ts_ecr, PEER_TS);
		assert_int_equal(sa.opt.wscale, 8);
		/* Whole segments of MSS less the 12 bytes of TS: 45 x 1448 (IPv4), 45 x 1428 (IPv6). */
		assert_int_equal(sa.wnd, families[f] == TW_AF_INET ? 65160 : 64260);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 2);

		/* Nothing to accept before the third ACK. */
		int err = 0;
		assert_null(tw_accept(l, NULL, &err));
		assert_int_equal(err, -E_AGAIN);
		assert_false(tw_events(l) & TW_POLLIN);

		assert_int_equal(ack_synack(h, PEER_PORT, PEER_ISS, &sa), 0);
		h_expect_none(h);
		assert_true(tw_events(l) & TW_POLLIN);
		struct tw_endpoint peer;
		struct tw_sock *c = tw_accept(l, &peer, &err);
		assert_non_null(c);
		assert_int_equal(peer.port, PEER_PORT);
		assert_memory_equal(peer.addr.bytes, h->peer.bytes, 16);
		struct tw_conn_info ci = h_info(c);
		assert_int_equal(ci.state, TW_ESTABLISHED);
		assert_int_equal(ci.iss, sa.seq);
		assert_int_equal(ci.irs, PEER_ISS);
		assert_int_equal(ci.snd_una, sa.seq + 1);
		assert_int_equal(ci.rcv_nxt, PEER_ISS + 1);
		assert_true(tw_events(c) & TW_POLLOUT);
		assert_null(tw_accept(l, NULL, &err));

		tw_abort(c);
		h_expect(h, WIRE_TCP_RST | WIRE_TCP_ACK, sa.seq + 1, PEER_ISS + 1);
		tw_close(l);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

/* ------------------------------------------------------ simultaneous open */

static void test_syn_sent_syn_simultaneous_open(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *s = h_connect(h);
		uint32_t iss = h_info(s).iss;
		struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, iss, 0);

		/* Their SYN crosses ours: SYN-RECEIVED, <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
		struct h_seg ps = peer_syn(PEER_PORT, PEER_ISS);
		assert_int_equal(h_feed(h, &ps), 0);
		struct wire_tcp sa = h_expect(h, WIRE_TCP_SYN | WIRE_TCP_ACK, iss, PEER_ISS + 1);
		assert_true(sa.opt.has & WIRE_HAS_MSS);
		assert_int_equal(sa.opt.mss, our_mss(families[f]));
		h_expect_none(h);
		assert_int_equal(h_state(s), TW_SYN_RECEIVED);
		assert_int_equal(h_info(s).irs, PEER_ISS);

		/* Their SYN-ACK acknowledges our SYN: ESTABLISHED. */
		struct h_seg psa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, iss + 1);
		h_opt_linux_syn(&psa, PEER_TS, syn.opt.ts_val);
		assert_int_equal(h_feed(h, &psa), 0);
		assert_int_equal(h_state(s), TW_ESTABLISHED);
		/*
		 * Like Linux: its SYN repeats the one we have, so an ACK goes at once
		 * with a D-SACK block for it (RFC 2883).
		 */
		struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
		assert_int_equal(a.opt.sack_count, 1);
		assert_int_equal(a.opt.sack[0].left, PEER_ISS);
		assert_int_equal(a.opt.sack[0].right, PEER_ISS + 1);
		h_expect_none(h);
		struct tw_conn_info ci = h_info(s);
		assert_int_equal(ci.snd_una, iss + 1);
		assert_int_equal(ci.rcv_nxt, PEER_ISS + 1);
		assert_true(tw_events(s) & TW_POLLOUT);

		/* And it carries data. */
		assert_int_equal(tw_send(s, "hi", 2, 0), 2);
		h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, iss + 1, PEER_ISS + 1);
		tw_abort(s);
		h_expect(h, WIRE_TCP_RST | WIRE_TCP_ACK, iss + 3, PEER_ISS + 1);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

/*
 * Like Linux: after the RST for an unacceptable SYN-ACK, a SYN not yet resent
 * goes again almost at once (TCP_TIMEOUT_MIN, 2 ms), in case the RST cleared
 * a stale connection at the peer; after that, the usual backed-off schedule.
 */
static void test_syn_sent_bad_synack_resends_syn_quickly(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *s = h_connect(h);
		uint32_t iss = h_info(s).iss;
		struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, iss, 0);
		h_advance(h, 10000);
		struct h_seg old = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, 0x12345678u, iss + 1000);
		h_opt_linux_syn(&old, 7, syn.opt.ts_val);
		assert_true(h_feed(h, &old) < 0);
		expect_bare_rst(h, WIRE_TCP_RST, iss + 1000, 0);
		h_advance(h, 1999);
		h_expect_none(h);
		h_advance(h, 1);
		h_expect(h, WIRE_TCP_SYN, iss, 0);
		/* Resent once now: another bad SYN-ACK brings no quick SYN; the next waits 2 s. */
		struct h_seg old2 = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, 0x12345678u, iss);
		h_opt_linux_syn(&old2, 8, syn.opt.ts_val);
		assert_true(h_feed(h, &old2) < 0);
		expect_bare_rst(h, WIRE_TCP_RST, iss, 0);
		h_advance(h, 2 * SEC - 1);
		h_expect_none(h);
		h_advance(h, 1);
		h_expect(h, WIRE_TCP_SYN, iss, 0);
		tw_close(s);
		h_free(h);
	}
}

/* ------------------------------------------------- CLOSED: no connection */

static void test_closed_syn_rst_ack(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct h_seg syn = peer_syn(PEER_PORT, PEER_ISS);
		assert_int_equal(h_feed(h, &syn), -TW_DROP_NO_SOCKET);
		/* <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>: the SYN counts one. */
		expect_bare_rst(h, WIRE_TCP_RST | WIRE_TCP_ACK, 0, PEER_ISS + 1);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_closed_ack_rst_seq_seg_ack(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct h_seg a = h_seg(WIRE_TCP_ACK, PEER_ISS, 0xfffffffau);
		assert_int_equal(h_feed(h, &a), -TW_DROP_NO_SOCKET);
		/* If the ACK bit is on: <SEQ=SEG.ACK><CTL=RST>, and no ACK of ours. */
		expect_bare_rst(h, WIRE_TCP_RST, 0xfffffffau, 0);
		/* With data too: still <SEQ=SEG.ACK><CTL=RST>. */
		struct h_seg d = h_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, PEER_ISS, 12345);
		d.data = "data";
		d.len = 4;
		assert_int_equal(h_feed(h, &d), -TW_DROP_NO_SOCKET);
		expect_bare_rst(h, WIRE_TCP_RST, 12345, 0);
		/* And with FIN: the ACK bit decides. */
		struct h_seg fa = h_seg(WIRE_TCP_ACK | WIRE_TCP_FIN, PEER_ISS, 777);
		assert_int_equal(h_feed(h, &fa), -TW_DROP_NO_SOCKET);
		expect_bare_rst(h, WIRE_TCP_RST, 777, 0);
		h_expect_none(h);
		h_free(h);
	}
}

static void test_closed_fin_rst_ack(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	/* FIN without ACK at 0xffffffff: the FIN counts one, the ACK wraps to 0. */
	struct h_seg fin = h_seg(WIRE_TCP_FIN, 0xffffffffu, 0);
	assert_int_equal(h_feed(h, &fin), -TW_DROP_NO_SOCKET);
	expect_bare_rst(h, WIRE_TCP_RST | WIRE_TCP_ACK, 0, 0);
	struct h_seg fin2 = h_seg(WIRE_TCP_FIN, PEER_ISS, 0);
	assert_int_equal(h_feed(h, &fin2), -TW_DROP_NO_SOCKET);
	expect_bare_rst(h, WIRE_TCP_RST | WIRE_TCP_ACK, 0, PEER_ISS + 1);
	h_expect_none(h);
	h_free(h);
}

static void test_closed_data_rst_ack(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		/* Data without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN>; five bytes from 2^32 - 2 wrap to 3. */
		struct h_seg d = h_seg(WIRE_TCP_PSH, 0xfffffffeu, 0);
		d.data = "hello";
		d.len = 5;
		assert_int_equal(h_feed(h, &d), -TW_DROP_NO_SOCKET);
		expect_bare_rst(h, WIRE_TCP_RST | WIRE_TCP_ACK, 0, 3);
		/* No flags at all. */
		struct h_seg n = h_seg(0, 1000, 0);
		n.data = "xy";
		n.len = 2;
		assert_int_equal(h_feed(h, &n), -TW_DROP_NO_SOCKET);
		expect_bare_rst(h, WIRE_TCP_RST | WIRE_TCP_ACK, 0, 1002);
		h_expect_none(h);
		h_free(h);
	}
}

static void test_closed_syn_data_fin_rst_ack(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	/* SYN + 10 bytes + FIN: SEG.LEN = 12. */
	struct h_seg s = h_seg(WIRE_TCP_SYN | WIRE_TCP_FIN, PEER_ISS, 0);
	s.data = "0123456789";
	s.len = 10;
	assert_int_equal(h_feed(h, &s), -TW_DROP_NO_SOCKET);
	expect_bare_rst(h, WIRE_TCP_RST | WIRE_TCP_ACK, 0, PEER_ISS + 12);
	h_expect_none(h);
	h_free(h);
}

static void test_closed_rst_not_answered(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		/* "An incoming segment containing a RST is discarded": never a RST for a RST. */
		struct h_seg r = h_seg(WIRE_TCP_RST, PEER_ISS, 0);
		assert_int_equal(h_feed(h, &r), -TW_DROP_NO_SOCKET);
		struct h_seg ra = h_seg(WIRE_TCP_RST | WIRE_TCP_ACK, PEER_ISS, 5);
		assert_int_equal(h_feed(h, &ra), -TW_DROP_NO_SOCKET);
		struct h_seg rs = h_seg(WIRE_TCP_RST | WIRE_TCP_SYN, PEER_ISS, 0);
		h_feed(h, &rs);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_sent_rst_ack_refused(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *s = h_connect(h);
		uint32_t iss = h_info(s).iss;
		h_expect(h, WIRE_TCP_SYN, iss, 0);
		/* The closed port's answer: <SEQ=0><ACK=ISS+1><CTL=RST,ACK>. */
		struct h_seg rst = h_seg(WIRE_TCP_RST | WIRE_TCP_ACK, 0, iss + 1);
		rst.wnd = 0;
		assert_int_equal(h_feed(h, &rst), 0);
		h_expect_none(h);
		assert_int_equal(h_state(s), TW_CLOSED);
		assert_true(tw_events(s) & TW_POLLERR);
		assert_false(tw_events(s) & TW_POLLOUT);
		assert_int_equal(tw_sock_error(s), -E_CONNREFUSED);
		assert_int_equal(tw_sock_error(s), 0);   /* read once, like SO_ERROR */
		/* No SYN retransmission afterwards. */
		h_advance(h, 200 * SEC);
		h_expect_none(h);
		tw_close(s);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

/* ----------------------------------------------------------------- LISTEN */

static void test_listen_ack_rst(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		/* RFC 9293 3.10.7.2, second: any ACK to a listener gets <SEQ=SEG.ACK><CTL=RST>. */
		struct h_seg a = h_seg(WIRE_TCP_ACK, PEER_ISS, 0xfffffffcu);
		assert_true(h_feed(h, &a) < 0);
		expect_bare_rst(h, WIRE_TCP_RST, 0xfffffffcu, 0);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 1);
		assert_int_equal(h_state(l), TW_LISTEN);
		tw_close(l);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_listen_rst_ignored(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg r = h_seg(WIRE_TCP_RST, PEER_ISS, 0);
	assert_true(h_feed(h, &r) < 0);
	struct h_seg ra = h_seg(WIRE_TCP_RST | WIRE_TCP_ACK, PEER_ISS, 1);
	assert_true(h_feed(h, &ra) < 0);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 1);
	/* The listener still answers a SYN. */
	syn_to_listener(h, PEER_PORT, PEER_ISS);
	tw_close(l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_listen_synack_rst(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		/* A SYN-ACK has the ACK bit: <SEQ=SEG.ACK><CTL=RST>, and no connection. */
		struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, 0x00000010u);
		h_opt_linux_syn(&sa, PEER_TS, 1);
		assert_true(h_feed(h, &sa) < 0);
		expect_bare_rst(h, WIRE_TCP_RST, 0x10, 0);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 1);
		tw_close(l);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_listen_no_flags_dropped(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	/* RFC 9293 3.10.7.2, fourth: other control or text without ACK is dropped, unanswered. */
	struct h_seg none = h_seg(0, PEER_ISS, 0);
	assert_true(h_feed(h, &none) < 0);
	struct h_seg data = h_seg(WIRE_TCP_PSH, PEER_ISS, 0);
	data.data = "abc";
	data.len = 3;
	assert_true(h_feed(h, &data) < 0);
	struct h_seg fin = h_seg(WIRE_TCP_FIN, PEER_ISS, 0);
	assert_true(h_feed(h, &fin) < 0);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 1);
	tw_close(l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* ------------------------------------------------ SYN-SENT: old duplicates */

static void test_syn_sent_synack_bad_ack_rst(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *s = h_connect(h);
		uint32_t iss = h_info(s).iss;
		struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, iss, 0);

		/* An old duplicate SYN-ACK: SEG.ACK =< ISS or > SND.NXT. <SEQ=SEG.ACK><CTL=RST>. */
		const uint32_t bad[] = { iss, iss - 1000, iss + 2, iss + 100000 };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct h_seg old = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, 0x12345678u, bad[i]);
			h_opt_linux_syn(&old, 7, syn.opt.ts_val);
			assert_true(h_feed(h, &old) < 0);
			expect_bare_rst(h, WIRE_TCP_RST, bad[i], 0);
			h_expect_none(h);
			assert_int_equal(h_state(s), TW_SYN_SENT);
			assert_int_equal(tw_sock_error(s), 0);
		}

		/* The real SYN-ACK still completes the handshake. */
		struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, iss + 1);
		h_opt_linux_syn(&sa, PEER_TS, syn.opt.ts_val);
		assert_int_equal(h_feed(h, &sa), 0);
		h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
		assert_int_equal(h_state(s), TW_ESTABLISHED);
		assert_int_equal(h_info(s).irs, PEER_ISS);
		tw_abort(s);
		h_expect(h, WIRE_TCP_RST | WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_sent_rst_without_ack_ignored(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, iss, 0);
	/* RFC 9293 3.10.7.3, second: a RST without ACK is dropped (it could be blind). */
	struct h_seg r = h_seg(WIRE_TCP_RST, 0, 0);
	assert_true(h_feed(h, &r) < 0);
	struct h_seg r2 = h_seg(WIRE_TCP_RST, PEER_ISS, iss + 1);   /* an ack field, but no ACK bit */
	assert_true(h_feed(h, &r2) < 0);
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_SYN_SENT);
	assert_int_equal(tw_sock_error(s), 0);

	struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, iss + 1);
	h_opt_linux_syn(&sa, PEER_TS, syn.opt.ts_val);
	assert_int_equal(h_feed(h, &sa), 0);
	h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(h_state(s), TW_ESTABLISHED);
	tw_abort(s);
	h_free(h);
}

static void test_syn_sent_rst_bad_ack_ignored(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *s = h_connect(h);
		uint32_t iss = h_info(s).iss;
		h_expect(h, WIRE_TCP_SYN, iss, 0);
		/* A RST whose ACK is not ISS+1 is dropped, unanswered: the connection waits on. */
		const uint32_t bad[] = { iss, iss + 2, iss - 5 };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct h_seg r = h_seg(WIRE_TCP_RST | WIRE_TCP_ACK, 0, bad[i]);
			assert_true(h_feed(h, &r) < 0);
			h_expect_none(h);
			assert_int_equal(h_state(s), TW_SYN_SENT);
			assert_int_equal(tw_sock_error(s), 0);
		}
		/* The SYN is still retransmitted on time. */
		h_advance(h, SEC);
		h_expect(h, WIRE_TCP_SYN, iss, 0);
		tw_close(s);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_sent_ack_without_syn_dropped(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	h_expect(h, WIRE_TCP_SYN, iss, 0);
	/* RFC 9293 3.10.7.3, fifth: neither SYN nor RST, even with a good ACK: drop. */
	struct h_seg a = h_seg(WIRE_TCP_ACK, PEER_ISS, iss + 1);
	assert_true(h_feed(h, &a) < 0);
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_SYN_SENT);
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* ------------------------------------------------------------ SYN-RECEIVED */

static void test_syn_received_rst_at_rcv_nxt_back_to_listen(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		syn_to_listener(h, PEER_PORT, PEER_ISS);
		assert_int_equal(h_conns(h), 2);
		/* RFC 9293 3.10.7.4, second: a passive open returns to LISTEN; nothing is sent. */
		struct h_seg r = h_seg(WIRE_TCP_RST, PEER_ISS + 1, 0);
		assert_int_equal(h_feed(h, &r), 0);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 1);
		int err = 0;
		assert_null(tw_accept(l, NULL, &err));
		assert_int_equal(err, -E_AGAIN);
		assert_int_equal(h_state(l), TW_LISTEN);
		/* No SYN-ACK retransmission for the dead connection. */
		h_advance(h, 2 * SEC);
		h_expect_none(h);
		/* The listener still listens: the same peer may try again. */
		struct tw_sock *c = passive_open(h, l, PEER_PORT, PEER_ISS + 5000, NULL);
		tw_abort(c);
		h_next(h);
		tw_close(l);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_received_rst_in_window_challenge_ack(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
		/* RFC 5961 3.2: in the window but not RCV.NXT: a challenge ACK, nothing else. */
		struct h_seg r = h_seg(WIRE_TCP_RST, PEER_ISS + 1 + 100, 0);
		assert_int_equal(h_feed(h, &r), -TW_DROP_RST_CHALLENGED);
		h_expect(h, WIRE_TCP_ACK, sa.seq + 1, PEER_ISS + 1);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 2);
		/* The connection lives on: the real ACK completes it. */
		assert_int_equal(ack_synack(h, PEER_PORT, PEER_ISS, &sa), 0);
		int err = 0;
		struct tw_sock *c = tw_accept(l, NULL, &err);
		assert_non_null(c);
		assert_int_equal(h_state(c), TW_ESTABLISHED);
		tw_abort(c);
		h_next(h);
		tw_close(l);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_received_rst_out_of_window_dropped(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
	/* Beyond the window we offered (65160): dropped silently. */
	struct h_seg r = h_seg(WIRE_TCP_RST, PEER_ISS + 1 + sa.wnd + 10, 0);
	assert_true(h_feed(h, &r) < 0);
	/* Before RCV.NXT: dropped silently too. */
	struct h_seg r2 = h_seg(WIRE_TCP_RST, PEER_ISS - 10, 0);
	assert_true(h_feed(h, &r2) < 0);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 2);
	tw_close(l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_syn_received_dup_syn_resends_synack(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
		h_advance(h, 300000);   /* before the SYN-ACK timer */
		h_expect_none(h);
		/* The peer's SYN again (its retransmission): the same SYN-ACK again. */
		struct h_seg syn = peer_syn(PEER_PORT, PEER_ISS);
		assert_int_equal(h_feed(h, &syn), 0);
		struct wire_tcp again = h_expect(h, WIRE_TCP_SYN | WIRE_TCP_ACK, sa.seq, PEER_ISS + 1);
		char a[128], b[128];
		assert_string_equal(h_opt_layout(&again, a, sizeof(a)), h_opt_layout(&sa, b, sizeof(b)));
		assert_int_equal(again.opt.mss, sa.opt.mss);
		assert_int_equal(again.opt.wscale, sa.opt.wscale);
		assert_int_equal(again.wnd, sa.wnd);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 2);   /* still one connection */
		assert_int_equal(ack_synack(h, PEER_PORT, PEER_ISS, &sa), 0);
		int err = 0;
		struct tw_sock *c = tw_accept(l, NULL, &err);
		assert_non_null(c);
		assert_null(tw_accept(l, NULL, &err));
		tw_abort(c);
		h_next(h);
		tw_close(l);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_received_ack_not_of_syn_rst(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
		/* SND.UNA < SEG.ACK =< SND.NXT fails: <SEQ=SEG.ACK><CTL=RST>. */
		const uint32_t bad[] = { sa.seq, sa.seq + 2, sa.seq - 100 };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct h_seg a = peer_seg(PEER_PORT, WIRE_TCP_ACK, PEER_ISS + 1, bad[i], sa.opt.ts_val);
			assert_true(h_feed(h, &a) < 0);
			expect_to(h, PEER_PORT, WIRE_TCP_RST, bad[i], 0);
			h_expect_none(h);
			assert_int_equal(h_conns(h), 2);
			int err = 0;
			assert_null(tw_accept(l, NULL, &err));
		}
		/* Still SYN-RECEIVED: the right ACK completes it. */
		assert_int_equal(ack_synack(h, PEER_PORT, PEER_ISS, &sa), 0);
		h_expect_none(h);
		int err = 0;
		struct tw_sock *c = tw_accept(l, NULL, &err);
		assert_non_null(c);
		tw_abort(c);
		h_next(h);
		tw_close(l);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

/* ---------------------------------------------------------- retransmission */

static void test_syn_sent_timeout_retransmits_then_etimedout(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *s = h_connect(h);
		uint32_t iss = h_info(s).iss;
		uint64_t t0 = h->now;
		h_expect(h, WIRE_TCP_SYN, iss, 0);
		/* RFC 6298: 1 s, then doubling: 1, 3, 7, 15, 31, 63 s (6 retries). */
		static const unsigned at[] = { 1, 3, 7, 15, 31, 63 };
		for (size_t i = 0; i < 6; i++) {
			expect_at(h, t0, at[i] * SEC, WIRE_TCP_SYN, iss, 0);
			assert_int_equal(h_state(s), TW_SYN_SENT);
		}
		/* Then the last 64 s run out: -ETIMEDOUT at 127 s, and nothing sent. */
		h_advance(h, t0 + 127 * SEC - 1000 - h->now);
		assert_int_equal(h_state(s), TW_SYN_SENT);
		assert_int_equal(tw_sock_error(s), 0);
		h_advance(h, 1000);
		h_expect_none(h);
		assert_int_equal(h_state(s), TW_CLOSED);
		assert_true(tw_events(s) & TW_POLLERR);
		assert_int_equal(tw_sock_error(s), -E_TIMEDOUT);
		h_advance(h, 300 * SEC);
		h_expect_none(h);
		tw_close(s);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_sent_timeout_syn_retries_config(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.syn_retries = 2;
	struct harness *h = h_new_cfg(&cfg);
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	uint64_t t0 = h->now;
	h_expect(h, WIRE_TCP_SYN, iss, 0);
	expect_at(h, t0, 1 * SEC, WIRE_TCP_SYN, iss, 0);
	expect_at(h, t0, 3 * SEC, WIRE_TCP_SYN, iss, 0);
	h_advance(h, t0 + 7 * SEC - 1000 - h->now);
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_SYN_SENT);
	h_advance(h, 1000);
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_CLOSED);
	assert_int_equal(tw_sock_error(s), -E_TIMEDOUT);
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_syn_sent_timeout_linear_retries(void **state)
{
	(void)state;
	/*
	 * Linux's tcp_syn_linear_timeouts = N: the first N retransmissions keep
	 * the initial RTO, then it doubles. With N = 4 and RTO 1 s the timeouts
	 * are 1, 1, 1, 1, 1, 2, 4 s: SYNs at 0, 1, 2, 3, 4, 5, 7 s, the end at 11 s.
	 */
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.syn_linear_retries = 4;
	struct harness *h = h_new_cfg(&cfg);
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	uint64_t t0 = h->now;
	h_expect(h, WIRE_TCP_SYN, iss, 0);
	static const unsigned at[] = { 1, 2, 3, 4, 5, 7 };
	for (size_t i = 0; i < 6; i++)
		expect_at(h, t0, at[i] * SEC, WIRE_TCP_SYN, iss, 0);
	h_advance(h, t0 + 11 * SEC - 1000 - h->now);
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_SYN_SENT);
	h_advance(h, 1000);
	assert_int_equal(h_state(s), TW_CLOSED);
	assert_int_equal(tw_sock_error(s), -E_TIMEDOUT);
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_syn_received_timeout_synack_retransmits_then_dropped(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		uint64_t t0 = h->now;
		struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
		/* synack_retries 5: after 1, 2, 4, 8 and 16 s, i.e. at 1, 3, 7, 15, 31 s. */
		static const unsigned at[] = { 1, 3, 7, 15, 31 };
		for (size_t i = 0; i < 5; i++) {
			expect_at(h, t0, at[i] * SEC, WIRE_TCP_SYN | WIRE_TCP_ACK, sa.seq, PEER_ISS + 1);
			assert_int_equal(h_conns(h), 2);
		}
		/* The last 32 s pass: the half-open connection goes, silently (no RST). */
		h_advance(h, t0 + 63 * SEC - 1000 - h->now);
		assert_int_equal(h_conns(h), 2);
		h_advance(h, 1000);
		h_expect_none(h);
		assert_int_equal(h_conns(h), 1);
		int err = 0;
		assert_null(tw_accept(l, NULL, &err));
		/* Its late ACK now finds the listener, which resets it. */
		struct h_seg a = peer_seg(PEER_PORT, WIRE_TCP_ACK, PEER_ISS + 1, sa.seq + 1, sa.opt.ts_val);
		assert_true(h_feed(h, &a) < 0);
		expect_bare_rst(h, WIRE_TCP_RST, sa.seq + 1, 0);
		tw_close(l);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_received_timeout_synack_retries_config(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.synack_retries = 2;
	struct harness *h = h_new_cfg(&cfg);
	struct tw_sock *l = h_listen(h, 8);
	uint64_t t0 = h->now;
	struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
	expect_at(h, t0, 1 * SEC, WIRE_TCP_SYN | WIRE_TCP_ACK, sa.seq, PEER_ISS + 1);
	expect_at(h, t0, 3 * SEC, WIRE_TCP_SYN | WIRE_TCP_ACK, sa.seq, PEER_ISS + 1);
	h_advance(h, t0 + 7 * SEC - 1000 - h->now);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 2);
	h_advance(h, 1000);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 1);
	tw_close(l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* ----------------------------------------------------------------- backlog */

static void test_listen_syn_queue_full_syn_dropped(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.syncookies = TW_SYNCOOKIES_OFF;   /* Linux with tcp_syncookies = 0 */
	struct harness *h = h_new_cfg(&cfg);
	struct tw_sock *l = h_listen(h, 1);
	struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
	/* The SYN queue holds one: a second SYN is dropped, unanswered (Linux without cookies). */
	struct h_seg s2 = peer_syn(PEER_PORT + 1, PEER_ISS);
	assert_int_equal(h_feed(h, &s2), -TW_DROP_SYN_QUEUE_FULL);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 2);
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	assert_int_equal(ss.drops[TW_DROP_SYN_QUEUE_FULL], 1);

	/* Once the first completes, the SYN queue has room: the retried SYN is answered. */
	assert_int_equal(ack_synack(h, PEER_PORT, PEER_ISS, &sa), 0);
	h_expect_none(h);
	syn_to_listener(h, PEER_PORT + 1, PEER_ISS);
	assert_int_equal(h_conns(h), 3);
	tw_close(l);   /* the queued connection is reset, the half-open one just goes */
	while (h_pending(h))
		assert_true(h_next(h).flags & WIRE_TCP_RST);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_listen_accept_queue_full_syn_dropped(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 1);
	int err = 0;
	/*
	 * Linux's sk_acceptq_is_full is "more than backlog waiting": with
	 * backlog 1 a second connection still completes, a third SYN is dropped.
	 */
	struct wire_tcp sa1 = syn_to_listener(h, PEER_PORT, PEER_ISS);
	assert_int_equal(ack_synack(h, PEER_PORT, PEER_ISS, &sa1), 0);
	struct wire_tcp sa2 = syn_to_listener(h, PEER_PORT + 1, PEER_ISS);
	assert_int_equal(ack_synack(h, PEER_PORT + 1, PEER_ISS, &sa2), 0);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 3);

	struct h_seg s3 = peer_syn(PEER_PORT + 2, PEER_ISS);
	assert_int_equal(h_feed(h, &s3), -TW_DROP_ACCEPT_QUEUE_FULL);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 3);

	/* accept() makes room: the peer's retried SYN is answered. */
	struct tw_sock *c1 = tw_accept(l, NULL, &err);
	assert_non_null(c1);
	syn_to_listener(h, PEER_PORT + 2, PEER_ISS);
	assert_int_equal(h_conns(h), 4);
	tw_abort(c1);
	tw_close(l);
	while (h_pending(h))
		assert_true(h_next(h).flags & WIRE_TCP_RST);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/*
 * Like Linux: a connection reset while it waits in the accept queue stays
 * there, counting against the backlog, until accept() hands it over with
 * its error.
 */
static void test_listen_reset_connection_stays_queued(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 0);
	int err = 0;
	struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
	assert_int_equal(ack_synack(h, PEER_PORT, PEER_ISS, &sa), 0);
	struct h_seg rst = peer_seg(PEER_PORT, WIRE_TCP_RST | WIRE_TCP_ACK, PEER_ISS + 1, sa.seq + 1, sa.opt.ts_val);
	assert_int_equal(h_feed(h, &rst), 0);
	h_expect_none(h);
	/* The queue is still over the backlog of 0: a new SYN is dropped. */
	struct h_seg s2 = peer_syn(PEER_PORT + 1, PEER_ISS);
	assert_int_equal(h_feed(h, &s2), -TW_DROP_ACCEPT_QUEUE_FULL);
	h_expect_none(h);
	assert_true(tw_events(l) & TW_POLLIN);
	struct tw_sock *c = tw_accept(l, NULL, &err);
	assert_non_null(c);
	char buf[8];
	assert_int_equal(tw_recv(c, buf, sizeof(buf), 0), -ECONNRESET);
	assert_int_equal(h_state(c), TW_CLOSED);
	tw_close(c);
	/* Now there is room. */
	syn_to_listener(h, PEER_PORT + 1, PEER_ISS);
	tw_close(l);
	while (h_pending(h))
		h_next(h);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* Closing the listener frees the ended connections still queued. */
static void test_listen_close_frees_reset_queued_connection(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 4);
	struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
	assert_int_equal(ack_synack(h, PEER_PORT, PEER_ISS, &sa), 0);
	struct h_seg rst = peer_seg(PEER_PORT, WIRE_TCP_RST | WIRE_TCP_ACK, PEER_ISS + 1, sa.seq + 1, sa.opt.ts_val);
	assert_int_equal(h_feed(h, &rst), 0);
	assert_int_equal(h_conns(h), 2);
	tw_close(l);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* Linux's inet_shutdown: SHUT_RD on a listener stops it (its port is closed); SHUT_WR does nothing. */
static void test_listen_shutdown_rd_stops_listening(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 4);
	struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
	assert_int_equal(ack_synack(h, PEER_PORT, PEER_ISS, &sa), 0);
	assert_int_equal(tw_shutdown(l, TW_SHUT_WR), 0);
	syn_to_listener(h, PEER_PORT + 1, PEER_ISS);   /* still listening */
	assert_int_equal(h_conns(h), 3);
	assert_int_equal(tw_shutdown(l, TW_SHUT_RD), 0);
	/* The queued connection is reset; the half-open one just goes. */
	struct wire_tcp r = h_next(h);
	assert_true(r.flags & WIRE_TCP_RST);
	assert_int_equal(r.dport, PEER_PORT);
	h_expect_none(h);
	assert_int_equal(h_state(l), TW_CLOSED);
	/* The port is closed now: a SYN gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>. */
	struct h_seg s3 = peer_syn(PEER_PORT + 2, PEER_ISS);
	assert_int_equal(h_feed(h, &s3), -TW_DROP_NO_SOCKET);
	struct wire_tcp rst = h_expect(h, WIRE_TCP_RST | WIRE_TCP_ACK, 0, PEER_ISS + 1);
	assert_int_equal(rst.dport, PEER_PORT + 2);
	assert_int_equal(rst.wnd, 0);
	int err = 0;
	assert_null(tw_accept(l, NULL, &err));
	assert_int_equal(err, -EINVAL);
	tw_close(l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* Linux's inet_shutdown: a connection still in SYN-SENT is abandoned, without a RST. */
static void test_syn_sent_shutdown_abandons(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *s = h_connect(h);
	h_expect(h, WIRE_TCP_SYN, h_info(s).iss, 0);
	assert_int_equal(tw_shutdown(s, TW_SHUT_WR), 0);
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_CLOSED);
	assert_int_equal(tw_sock_error(s), -ECONNRESET);
	h_advance(h, 10 * SEC);
	h_expect_none(h);   /* no SYN is resent */
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/*
 * Like Linux's tcp_select_initial_window: the SYN-ACK's window is the initial
 * receive space cut to whole segments, then to 16 bits; a buffer set with
 * SO_RCVBUF bounds it and sets the window scale (Linux's window_clamp).
 */
static void test_listen_synack_window_and_scale_from_buffers(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.rcv_space_initial = 270000;   /* packetdrill's defaults.sh: tcp_rmem[1] 540000 */
	struct harness *h = h_new_cfg(&cfg);
	h_listen(h, 4);
	struct wire_tcp sa = syn_to_listener(h, PEER_PORT, PEER_ISS);
	assert_int_equal(sa.wnd, 65535);   /* 269,808 in whole segments, then 16 bits */
	assert_int_equal(sa.opt.wscale, 8);

	int err = 0;
	struct tw_sock *l2 = tw_socket(h->st, &err);
	assert_int_equal(tw_setsockopt(l2, TW_SO_RCVBUF, 4096), 0);
	struct tw_endpoint ep = { .addr = h->ours, .port = OUR_PORT + 1 };
	assert_int_equal(tw_bind(l2, &ep), 0);
	assert_int_equal(tw_listen(l2, 4), 0);
	struct h_seg syn = peer_syn(PEER_PORT + 1, PEER_ISS);
	syn.dport = OUR_PORT + 1;
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa2 = h_next(h);
	assert_int_equal(sa2.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal(sa2.wnd, 4096 - 4096 % 1448);   /* two whole segments of MSS less TS */
	assert_int_equal(sa2.opt.wscale, 0);
	h_free(h);

	/* Linux's default tcp_rmem[1] of 131072 gives 65536 of space: win 64240 at MSS 1460. */
	h = h_new(TW_AF_INET);
	h_listen(h, 4);
	struct h_seg plain = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	plain.sport = PEER_PORT;
	h_opt_mss(&plain, 1460);
	assert_int_equal(h_feed(h, &plain), 0);
	assert_int_equal(h_next(h).wnd, 64240);
	h_free(h);
}

static void test_syn_received_ack_accept_queue_full_ignored(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 2);
	int err = 0;
	/* Two connections wait in accept; two more are half-open. */
	struct wire_tcp sa[4];
	for (uint16_t i = 0; i < 2; i++) {
		sa[i] = syn_to_listener(h, (uint16_t)(PEER_PORT + i), PEER_ISS);
		assert_int_equal(ack_synack(h, (uint16_t)(PEER_PORT + i), PEER_ISS, &sa[i]), 0);
	}
	uint64_t t_syn = h->now;
	sa[2] = syn_to_listener(h, PEER_PORT + 2, PEER_ISS);
	sa[3] = syn_to_listener(h, PEER_PORT + 3, PEER_ISS);
	/* The third completes (3 waiting: more than the backlog, the queue is now full). */
	assert_int_equal(ack_synack(h, PEER_PORT + 2, PEER_ISS, &sa[2]), 0);
	h_expect_none(h);

	/* The fourth's ACK finds the accept queue full: ignored, the connection stays half-open. */
	assert_true(ack_synack(h, PEER_PORT + 3, PEER_ISS, &sa[3]) < 0);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 5);

	/* Its SYN-ACK timer still runs: the SYN-ACK goes again 1 s after the SYN. */
	h_advance(h, t_syn + SEC - h->now);
	expect_to(h, PEER_PORT + 3, WIRE_TCP_SYN | WIRE_TCP_ACK, sa[3].seq, PEER_ISS + 1);
	h_expect_none(h);

	/* Once accept() makes room, the peer's ACK (answering that SYN-ACK) completes it. */
	struct tw_sock *c[4];
	c[0] = tw_accept(l, NULL, &err);
	c[1] = tw_accept(l, NULL, &err);
	c[2] = tw_accept(l, NULL, &err);
	assert_non_null(c[0]);
	assert_non_null(c[1]);
	assert_non_null(c[2]);
	assert_null(tw_accept(l, NULL, &err));
	assert_int_equal(ack_synack(h, PEER_PORT + 3, PEER_ISS, &sa[3]), 0);
	h_expect_none(h);
	c[3] = tw_accept(l, NULL, &err);
	assert_non_null(c[3]);
	assert_int_equal(h_state(c[3]), TW_ESTABLISHED);
	assert_int_equal(h_info(c[3]).remote.port, PEER_PORT + 3);
	for (int i = 0; i < 4; i++)
		tw_abort(c[i]);
	tw_close(l);
	while (h_pending(h))
		assert_true(h_next(h).flags & WIRE_TCP_RST);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* ------------------------------------------------------- connect and listen */

static void test_closed_connect_bad_args_einval(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	int err = 0;
	struct tw_sock *s = tw_socket(h->st, &err);
	assert_non_null(s);
	assert_int_equal(tw_connect(s, NULL), -E_INVAL);
	struct tw_endpoint ep = peer_endpoint(h, 0);
	assert_int_equal(tw_connect(s, &ep), -E_INVAL);      /* port 0 */
	ep = peer_endpoint(h, PEER_PORT);
	ep.addr.family = 5;
	assert_int_equal(tw_connect(s, &ep), -E_INVAL);      /* no such family */
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_CLOSED);
	/* The socket is still usable. */
	ep = peer_endpoint(h, PEER_PORT);
	assert_int_equal(tw_connect(s, &ep), -115);
	assert_int_equal(h_next(h).flags, WIRE_TCP_SYN);
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_syn_sent_connect_ealready(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	h_expect(h, WIRE_TCP_SYN, iss, 0);
	struct tw_endpoint ep = peer_endpoint(h, PEER_PORT);
	assert_int_equal(tw_connect(s, &ep), -E_ALREADY);
	h_expect_none(h);                       /* no second SYN */
	assert_int_equal(h_state(s), TW_SYN_SENT);
	assert_int_equal(h_info(s).iss, iss);
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_established_connect_eisconn(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	uint32_t iss;
	struct tw_sock *s = active_open(h, PEER_ISS, &iss);
	struct tw_endpoint ep = peer_endpoint(h, PEER_PORT);
	assert_int_equal(tw_connect(s, &ep), -E_ISCONN);
	ep.port = PEER_PORT + 1;
	assert_int_equal(tw_connect(s, &ep), -E_ISCONN);
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_ESTABLISHED);
	tw_abort(s);
	h_next(h);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_listen_twice_eaddrinuse(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		int err = 0;
		struct tw_endpoint ep;
		memset(&ep, 0, sizeof(ep));
		ep.addr = h->ours;
		ep.port = OUR_PORT;

		/* A second socket on the same address and port. */
		struct tw_sock *l2 = tw_socket(h->st, &err);
		assert_non_null(l2);
		assert_int_equal(tw_bind(l2, &ep), -E_ADDRINUSE);

		/* Even with SO_REUSEADDR, two listeners on one port cannot be. */
		struct tw_sock *l3 = tw_socket(h->st, &err);
		assert_non_null(l3);
		assert_int_equal(tw_setsockopt(l3, TW_SO_REUSEADDR, 1), 0);
		int r = tw_bind(l3, &ep);
		if (r == 0)
			assert_int_equal(tw_listen(l3, 8), -E_ADDRINUSE);
		else
			assert_int_equal(r, -E_ADDRINUSE);
		assert_int_equal(h_state(l3), TW_CLOSED);

		/* The wildcard address overlaps the bound one. */
		struct tw_sock *l4 = tw_socket(h->st, &err);
		assert_non_null(l4);
		struct tw_endpoint any;
		memset(&any, 0, sizeof(any));
		any.addr.family = families[f];
		any.port = OUR_PORT;
		assert_int_equal(tw_bind(l4, &any), -E_ADDRINUSE);

		/* The first listener is unaffected. */
		syn_to_listener(h, PEER_PORT, PEER_ISS);
		tw_close(l2);
		tw_close(l3);
		tw_close(l4);
		tw_close(l);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syn_sent_synack_established),
		cmocka_unit_test(test_syn_sent_synack_ack_window_any_peer_isn),
		cmocka_unit_test(test_established_syn_consumed_one_seq),
		cmocka_unit_test(test_listen_syn_synack_then_ack_established),
		cmocka_unit_test(test_syn_sent_syn_simultaneous_open),
		cmocka_unit_test(test_closed_syn_rst_ack),
		cmocka_unit_test(test_closed_ack_rst_seq_seg_ack),
		cmocka_unit_test(test_closed_fin_rst_ack),
		cmocka_unit_test(test_closed_data_rst_ack),
		cmocka_unit_test(test_closed_syn_data_fin_rst_ack),
		cmocka_unit_test(test_closed_rst_not_answered),
		cmocka_unit_test(test_syn_sent_rst_ack_refused),
		cmocka_unit_test(test_listen_ack_rst),
		cmocka_unit_test(test_listen_rst_ignored),
		cmocka_unit_test(test_listen_synack_rst),
		cmocka_unit_test(test_listen_no_flags_dropped),
		cmocka_unit_test(test_syn_sent_synack_bad_ack_rst),
		cmocka_unit_test(test_syn_sent_rst_without_ack_ignored),
		cmocka_unit_test(test_syn_sent_rst_bad_ack_ignored),
		cmocka_unit_test(test_syn_sent_bad_synack_resends_syn_quickly),
		cmocka_unit_test(test_syn_sent_ack_without_syn_dropped),
		cmocka_unit_test(test_syn_received_rst_at_rcv_nxt_back_to_listen),
		cmocka_unit_test(test_syn_received_rst_in_window_challenge_ack),
		cmocka_unit_test(test_syn_received_rst_out_of_window_dropped),
		cmocka_unit_test(test_syn_received_dup_syn_resends_synack),
		cmocka_unit_test(test_syn_received_ack_not_of_syn_rst),
		cmocka_unit_test(test_syn_sent_timeout_retransmits_then_etimedout),
		cmocka_unit_test(test_syn_sent_timeout_syn_retries_config),
		cmocka_unit_test(test_syn_sent_timeout_linear_retries),
		cmocka_unit_test(test_syn_received_timeout_synack_retransmits_then_dropped),
		cmocka_unit_test(test_syn_received_timeout_synack_retries_config),
		cmocka_unit_test(test_listen_syn_queue_full_syn_dropped),
		cmocka_unit_test(test_listen_accept_queue_full_syn_dropped),
		cmocka_unit_test(test_listen_reset_connection_stays_queued),
		cmocka_unit_test(test_listen_shutdown_rd_stops_listening),
		cmocka_unit_test(test_listen_synack_window_and_scale_from_buffers),
		cmocka_unit_test(test_syn_sent_shutdown_abandons),
		cmocka_unit_test(test_listen_close_frees_reset_queued_connection),
		cmocka_unit_test(test_syn_received_ack_accept_queue_full_ignored),
		cmocka_unit_test(test_closed_connect_bad_args_einval),
		cmocka_unit_test(test_syn_sent_connect_ealready),
		cmocka_unit_test(test_established_connect_eisconn),
		cmocka_unit_test(test_listen_twice_eaddrinuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
