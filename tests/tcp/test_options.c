/*
 * TCP options on the wire: the SYN-ACK layout Linux uses for each set of
 * options a peer offers, window scaling (RFC 7323 2: only when both SYNs
 * carry it, a shift of at most 14, never applied to a SYN's window), MSS
 * (RFC 9293 3.7.1, RFC 6691: from the MTU, the peer's honoured with a floor,
 * 536/1220 when absent), the window scale computed from the largest receive
 * buffer as Linux computes it, timestamps (RFC 7323 3, 4.3) and what
 * tw_conn_info reports of the negotiation.
 */
#include <unistd.h>   /* alarm */

#include "harness.h"

#define PEER_ISS 0xfffffff0u    /* just below 2^32: every path crosses the wrap */
#define PEER_TS 100u
#define PEER_WS 7

static const uint8_t families[] = { TW_AF_INET, TW_AF_INET6 };
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static uint16_t our_mss(uint8_t family) { return family == TW_AF_INET ? 1460 : 1440; }

/* --------------------------------------------------------------- helpers */

enum { O_SACK = 1, O_TS = 2, O_WS = 4, O_MSS = 8 };

/* The peer's SYN offering `what`, in the layouts Linux sends. */
static struct h_seg syn_offering(unsigned what, uint16_t mss, uint8_t ws)
{
	struct h_seg s = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	if (what & O_MSS)
		h_opt_mss(&s, mss);
	if (what & O_TS) {
		if (what & O_SACK) {
			h_opt_sackok(&s);
		} else {
			h_opt_nop(&s);
			h_opt_nop(&s);
		}
		h_opt_ts(&s, PEER_TS, 0);
	} else if (what & O_SACK) {
		h_opt_nop(&s);
		h_opt_nop(&s);
		h_opt_sackok(&s);
	}
	if (what & O_WS) {
		h_opt_nop(&s);
		h_opt_ws(&s, ws);
	}
	return s;
}

/* A segment of the peer's after the handshake, with <nop,nop,TS> when `ts`. */
static struct h_seg peer_seg(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t wnd, bool ts, uint32_t ts_val,
			     uint32_t ts_ecr)
{
	struct h_seg s = h_seg(flags, seq, ack);
	s.wnd = wnd;
	if (ts) {
		h_opt_nop(&s);
		h_opt_nop(&s);
		h_opt_ts(&s, ts_val, ts_ecr);
	}
	return s;
}

struct passive {
	struct harness *h;
	struct tw_sock *l, *c;
	struct wire_tcp synack;
	uint32_t iss;
};

/*
 * A passive open: the peer's SYN `syn` to a listener on a stack with
 * `cfg`, the SYN-ACK (returned unchecked but for flags and ack), then the
 * peer's ACK with window `ack_wnd`, with timestamps if `ts`.
 */
static void passive_open(struct passive *p, const struct tw_stack_config *cfg, const struct h_seg *syn,
			 bool ts, uint16_t ack_wnd)
{
	p->h = h_new_cfg(cfg);
	p->l = h_listen(p->h, 8);
	assert_int_equal(h_feed(p->h, syn), 0);
	p->synack = h_next(p->h);
	assert_int_equal(p->synack.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal(p->synack.ack, syn->seq + 1);
	assert_int_equal(p->synack.dport, PEER_PORT);
	p->iss = p->synack.seq;
	h_expect_none(p->h);
	struct h_seg a = peer_seg(WIRE_TCP_ACK, syn->seq + 1, p->iss + 1, ack_wnd, ts, PEER_TS + 1,
				  p->synack.opt.ts_val);
	assert_int_equal(h_feed(p->h, &a), 0);
	h_expect_none(p->h);
	int err = 0;
	p->c = tw_accept(p->l, NULL, &err);
	assert_non_null(p->c);
	assert_int_equal(h_state(p->c), TW_ESTABLISHED);
}

static void passive_done(struct passive *p)
{
	tw_abort(p->c);
	while (h_pending(p->h))
		assert_true(h_next(p->h).flags & WIRE_TCP_RST);
	tw_close(p->l);
	assert_int_equal(h_conns(p->h), 0);
	h_free(p->h);
}

/* An active open whose SYN-ACK is `sa` (seq, ack and options filled in here). */
static struct tw_sock *active_open(struct harness *h, struct h_seg *sa, struct wire_tcp *syn_out,
				   struct wire_tcp *ack_out)
{
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, iss, 0);
	sa->flags = WIRE_TCP_SYN | WIRE_TCP_ACK;
	sa->seq = PEER_ISS;
	sa->ack = iss + 1;
	sa->opt.ts_ecr = syn.opt.ts_val;
	assert_int_equal(h_feed(h, sa), 0);
	struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
	h_expect_none(h);
	assert_int_equal(h_state(s), TW_ESTABLISHED);
	if (syn_out)
		*syn_out = syn;
	if (ack_out)
		*ack_out = a;
	return s;
}

static void active_done(struct harness *h, struct tw_sock *s)
{
	tw_abort(s);
	while (h_pending(h))
		assert_true(h_next(h).flags & WIRE_TCP_RST);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* ------------------------------------------------------- SYN-ACK layouts */

/*
 * The peer offers `what`; the SYN-ACK answers in `layout`, Linux's
 * (tcp_options_write), with our values; the connection then runs with
 * exactly the options both offered.
 */
static void check_synack_layout(unsigned what, const char *layout)
{
	for (size_t f = 0; f < N_FAMILIES; f++) {
		uint8_t fam = families[f];
		bool sack = what & O_SACK, ts = what & O_TS, ws = what & O_WS;
		struct tw_stack_config cfg;
		h_config(&cfg, fam);
		struct h_seg syn = syn_offering(what | O_MSS, 1460, PEER_WS);
		struct passive p;
		passive_open(&p, &cfg, &syn, ts, 502);

		char lay[128];
		const struct wire_tcp *sa = &p.synack;
		assert_string_equal(h_opt_layout(sa, lay, sizeof(lay)), layout);
		assert_int_equal(sa->opt.mss, our_mss(fam));
		if (ws)
			assert_int_equal(sa->opt.wscale, 8);
		if (ts) {
			assert_int_equal(sa->opt.ts_ecr, PEER_TS);
			assert_true(sa->opt.ts_val != 0);
		}
		/* Whole segments of MSS (less TS's 12 bytes when on): Linux's initial window. */
		uint16_t seg = (uint16_t)(our_mss(fam) - (ts ? 12 : 0));
		assert_int_equal(sa->wnd, 65535 - 65535 % seg);

		struct tw_conn_info ci = h_info(p.c);
		assert_int_equal(ci.sack, sack);
		assert_int_equal(ci.timestamps, ts);
		assert_int_equal(ci.snd_wscale, ws ? PEER_WS : -1);
		assert_int_equal(ci.rcv_wscale, ws ? 8 : -1);
		assert_int_equal(ci.snd_mss, our_mss(fam) - (ts ? 12 : 0));
		assert_int_equal(ci.rcv_mss, our_mss(fam));
		assert_int_equal(ci.snd_wnd, ws ? 502u << PEER_WS : 502u);

		/* Established segments: <nop,nop,TS> with timestamps, no options without. */
		assert_int_equal(tw_send(p.c, "x", 1, 0), 1);
		struct wire_tcp d = h_expect(p.h, WIRE_TCP_ACK | WIRE_TCP_PSH, p.iss + 1, PEER_ISS + 1);
		assert_string_equal(h_opt_layout(&d, lay, sizeof(lay)), ts ? "nop,nop,TS" : "");
		if (ts)
			assert_int_equal(d.opt.ts_ecr, PEER_TS + 1);
		passive_done(&p);
	}
}

static void test_listen_syn_layout_sack_ts_ws(void **state)
{
	(void)state;
	check_synack_layout(O_SACK | O_TS | O_WS, "mss,sackOK,TS,nop,wscale");
}

static void test_listen_syn_layout_sack_ws(void **state)
{
	(void)state;
	check_synack_layout(O_SACK | O_WS, "mss,nop,nop,sackOK,nop,wscale");
}

static void test_listen_syn_layout_ws(void **state)
{
	(void)state;
	check_synack_layout(O_WS, "mss,nop,wscale");
}

static void test_listen_syn_layout_sack(void **state)
{
	(void)state;
	check_synack_layout(O_SACK, "mss,nop,nop,sackOK");
}

static void test_listen_syn_layout_ts_sack(void **state)
{
	(void)state;
	check_synack_layout(O_SACK | O_TS, "mss,sackOK,TS");
}

static void test_listen_syn_layout_none(void **state)
{
	(void)state;
	check_synack_layout(0, "mss");
}

static void test_listen_syn_layout_ts(void **state)
{
	(void)state;
	check_synack_layout(O_TS, "mss,nop,nop,TS");
}

static void test_listen_syn_layout_ts_ws(void **state)
{
	(void)state;
	check_synack_layout(O_TS | O_WS, "mss,nop,nop,TS,nop,wscale");
}

static void test_listen_syn_layout_any_offer_order(void **state)
{
	(void)state;
	/* What the peer offers counts, not the order it offers it in. */
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	h_opt_ws(&syn, 6);
	h_opt_ts(&syn, PEER_TS, 0);
	h_opt_nop(&syn);
	h_opt_sackok(&syn);
	h_opt_mss(&syn, 1400);
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	struct passive p;
	passive_open(&p, &cfg, &syn, true, 100);
	char lay[128];
	assert_string_equal(h_opt_layout(&p.synack, lay, sizeof(lay)), "mss,sackOK,TS,nop,wscale");
	struct tw_conn_info ci = h_info(p.c);
	assert_int_equal(ci.snd_wscale, 6);
	assert_int_equal(ci.snd_mss, 1400 - 12);
	assert_true(ci.sack);
	assert_true(ci.timestamps);
	passive_done(&p);
}

static void test_closed_connect_syn_layout_config(void **state)
{
	(void)state;
	/* Our SYN offers what the config enables, in Linux's layouts. */
	static const struct {
		bool sack, ts, ws;
		const char *layout;
	} cases[] = {
		{ true, true, true, "mss,sackOK,TS,nop,wscale" },
		{ true, false, true, "mss,nop,nop,sackOK,nop,wscale" },
		{ false, true, true, "mss,nop,nop,TS,nop,wscale" },
		{ true, true, false, "mss,sackOK,TS" },
		{ false, false, true, "mss,nop,wscale" },
		{ false, false, false, "mss" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tw_stack_config cfg;
		h_config(&cfg, TW_AF_INET);
		cfg.sack = cases[i].sack;
		cfg.timestamps = cases[i].ts;
		cfg.window_scaling = cases[i].ws;
		struct harness *h = h_new_cfg(&cfg);
		struct tw_sock *s = h_connect(h);
		struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, h_info(s).iss, 0);
		char lay[128];
		assert_string_equal(h_opt_layout(&syn, lay, sizeof(lay)), cases[i].layout);
		assert_int_equal(syn.opt.mss, 1460);
		tw_close(s);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

/* ------------------------------------------------------------ window scale */

static void test_listen_syn_without_wscale_unscaled(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct tw_stack_config cfg;
		h_config(&cfg, families[f]);
		struct h_seg syn = syn_offering(O_MSS | O_SACK | O_TS, 1460, 0);
		struct passive p;
		passive_open(&p, &cfg, &syn, true, 1000);
		/* No wscale in the SYN-ACK: the peer did not offer one (RFC 7323 2.2). */
		assert_false(p.synack.opt.has & WIRE_HAS_WSCALE);
		struct tw_conn_info ci = h_info(p.c);
		assert_int_equal(ci.snd_wscale, -1);
		assert_int_equal(ci.rcv_wscale, -1);
		/* The peer's windows are taken as they are. */
		assert_int_equal(ci.snd_wnd, 1000);
		struct h_seg d = peer_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, PEER_ISS + 1, p.iss + 1, 2000, true, PEER_TS + 2,
					  p.synack.opt.ts_val);
		d.data = "hello";
		d.len = 5;
		assert_int_equal(h_feed(p.h, &d), 0);
		assert_int_equal(h_info(p.c).snd_wnd, 2000);
		/* And ours go unscaled: the field is the window in bytes. */
		struct wire_tcp a = h_expect(p.h, WIRE_TCP_ACK, p.iss + 1, PEER_ISS + 6);
		ci = h_info(p.c);
		assert_true(a.wnd > 0);
		assert_int_equal(a.wnd, ci.rcv_wnd);
		passive_done(&p);
	}
}

static void test_syn_sent_synack_without_wscale_unscaled(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		/* Our SYN offers wscale 8; the SYN-ACK carries none: scaling is off both ways. */
		struct h_seg sa = syn_offering(O_MSS | O_SACK | O_TS, 1460, 0);
		sa.wnd = 30000;
		struct wire_tcp syn, ack;
		struct tw_sock *s = active_open(h, &sa, &syn, &ack);
		assert_true(syn.opt.has & WIRE_HAS_WSCALE);
		struct tw_conn_info ci = h_info(s);
		assert_int_equal(ci.snd_wscale, -1);
		assert_int_equal(ci.rcv_wscale, -1);
		assert_int_equal(ci.snd_wnd, 30000);
		assert_int_equal(ack.wnd, ci.rcv_wnd);
		assert_true(ack.wnd > 0);
		/* A later window from the peer, unscaled too. */
		struct h_seg a = peer_seg(WIRE_TCP_ACK, PEER_ISS + 1, ci.iss + 1, 1000, true, PEER_TS + 1, ack.opt.ts_val);
		assert_int_equal(h_feed(h, &a), 0);
		assert_int_equal(h_info(s).snd_wnd, 1000);
		/* Our data: the window field is bytes. */
		assert_int_equal(tw_send(s, "abc", 3, 0), 3);
		struct wire_tcp d = h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, ci.iss + 1, PEER_ISS + 1);
		assert_int_equal(d.wnd, h_info(s).rcv_wnd);
		active_done(h, s);
	}
}

static void test_listen_syn_wscale_config_off(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.window_scaling = false;
	struct h_seg syn = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, PEER_WS);
	struct passive p;
	passive_open(&p, &cfg, &syn, true, 1000);
	char lay[128];
	/* We do not offer it, so neither side scales, though the peer offered. */
	assert_string_equal(h_opt_layout(&p.synack, lay, sizeof(lay)), "mss,sackOK,TS");
	struct tw_conn_info ci = h_info(p.c);
	assert_int_equal(ci.snd_wscale, -1);
	assert_int_equal(ci.rcv_wscale, -1);
	assert_int_equal(ci.snd_wnd, 1000);
	passive_done(&p);
}

static void test_established_wscale_both_ways(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct tw_stack_config cfg;
		h_config(&cfg, families[f]);
		struct h_seg syn = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, 3);
		struct passive p;
		passive_open(&p, &cfg, &syn, true, 502);
		/* The peer's shift 3 applies to its windows, ours (8) to ours. */
		assert_int_equal(h_info(p.c).snd_wnd, 502u << 3);
		struct h_seg d = peer_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, PEER_ISS + 1, p.iss + 1, 700, true, PEER_TS + 2,
					  p.synack.opt.ts_val);
		d.data = "hello";
		d.len = 5;
		assert_int_equal(h_feed(p.h, &d), 0);
		assert_int_equal(h_info(p.c).snd_wnd, 700u << 3);
		struct wire_tcp a = h_expect(p.h, WIRE_TCP_ACK, p.iss + 1, PEER_ISS + 6);
		assert_true(a.wnd > 0);
		assert_true(a.wnd < 1024);   /* 128 KiB of buffer is 512 in units of 256 */
		assert_int_equal((uint32_t)a.wnd << 8, h_info(p.c).rcv_wnd);
		passive_done(&p);
	}
}

static void test_syn_sent_synack_window_not_scaled(void **state)
{
	(void)state;
	/* RFC 7323 2.2: "The window field in a segment where the SYN bit is set MUST NOT be scaled." */
	struct harness *h = h_new(TW_AF_INET);
	struct h_seg sa = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, PEER_WS);
	sa.wnd = 65535;
	struct wire_tcp ack;
	struct tw_sock *s = active_open(h, &sa, NULL, &ack);
	assert_int_equal(h_info(s).snd_wnd, 65535);
	assert_int_equal(h_info(s).snd_wscale, PEER_WS);
	/* The first segment without SYN is scaled. */
	struct h_seg a = peer_seg(WIRE_TCP_ACK, PEER_ISS + 1, h_info(s).iss + 1, 600, true, PEER_TS + 1, ack.opt.ts_val);
	assert_int_equal(h_feed(h, &a), 0);
	assert_int_equal(h_info(s).snd_wnd, 600u << PEER_WS);
	active_done(h, s);
}

static void test_listen_syn_window_not_scaled(void **state)
{
	(void)state;
	/* The window of the peer's SYN is not scaled either (before the third ACK moves it). */
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg syn = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, PEER_WS);
	syn.wnd = 1000;
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_next(h);
	assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	/* The third ACK carries the same field 1000: now scaled. */
	struct h_seg a = peer_seg(WIRE_TCP_ACK, PEER_ISS + 1, sa.seq + 1, 1000, true, PEER_TS + 1, sa.opt.ts_val);
	assert_int_equal(h_feed(h, &a), 0);
	int err = 0;
	struct tw_sock *c = tw_accept(l, NULL, &err);
	assert_non_null(c);
	assert_int_equal(h_info(c).snd_wnd, 1000u << PEER_WS);
	tw_abort(c);
	h_next(h);
	tw_close(l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_listen_syn_wscale_above_14_used_as_14(void **state)
{
	(void)state;
	/* RFC 7323 2.3: a shift over 14 "MUST use 14 instead". */
	static const uint8_t shifts[] = { 14, 15, 200 };
	for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++) {
		struct tw_stack_config cfg;
		h_config(&cfg, TW_AF_INET);
		struct h_seg syn = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, shifts[i]);
		struct passive p;
		passive_open(&p, &cfg, &syn, true, 3);
		struct tw_conn_info ci = h_info(p.c);
		assert_int_equal(ci.snd_wscale, 14);
		assert_int_equal(ci.snd_wnd, 3u << 14);
		/* Our own offer is unchanged. */
		assert_int_equal(p.synack.opt.wscale, 8);
		assert_int_equal(ci.rcv_wscale, 8);
		passive_done(&p);
	}
}

static void test_syn_sent_synack_wscale_15_used_as_14(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET6);
	struct h_seg sa = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, 15);
	struct wire_tcp ack;
	struct tw_sock *s = active_open(h, &sa, NULL, &ack);
	assert_int_equal(h_info(s).snd_wscale, 14);
	struct h_seg a = peer_seg(WIRE_TCP_ACK, PEER_ISS + 1, h_info(s).iss + 1, 5, true, PEER_TS + 1, ack.opt.ts_val);
	assert_int_equal(h_feed(h, &a), 0);
	assert_int_equal(h_info(s).snd_wnd, 5u << 14);
	active_done(h, s);
}

static void test_closed_connect_wscale_from_rcvbuf_max(void **state)
{
	(void)state;
	/* Linux's tcp_select_initial_window: wscale = clamp(ilog2(max) - 15, 0, 14). */
	static const struct {
		uint32_t max;
		uint8_t ws;
	} cases[] = {
		{ 15u << 20, 8 },       /* the default: ilog2 = 23 */
		{ 6u << 20, 7 },        /* Linux's tcp_rmem[2] default */
		{ 4u << 20, 7 },
		{ (4u << 20) - 1, 6 },
		{ 1u << 20, 5 },
		{ 65536, 1 },
		{ 65535, 0 },
		{ 32768, 0 },
		{ 1u << 30, 14 },       /* ilog2 = 30: 15, clamped */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t f = 0; f < N_FAMILIES; f++) {
			struct tw_stack_config cfg;
			h_config(&cfg, families[f]);
			cfg.rcvbuf_max = cases[i].max;
			if (cfg.rcvbuf > cfg.rcvbuf_max)
				cfg.rcvbuf = cfg.rcvbuf_max;
			struct harness *h = h_new_cfg(&cfg);
			/* Active: the SYN offers it (even a shift of 0). */
			struct tw_sock *s = h_connect(h);
			struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, h_info(s).iss, 0);
			assert_true(syn.opt.has & WIRE_HAS_WSCALE);
			if (syn.opt.wscale != cases[i].ws)
				fprintf(stderr, "rcvbuf_max %u: wscale %u, want %u\n", cases[i].max, syn.opt.wscale,
					cases[i].ws);
			assert_int_equal(syn.opt.wscale, cases[i].ws);
			tw_close(s);
			/* Passive: the SYN-ACK offers the same. */
			struct tw_sock *l = h_listen(h, 8);
			struct h_seg ps = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, PEER_WS);
			assert_int_equal(h_feed(h, &ps), 0);
			struct wire_tcp sa = h_next(h);
			assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
			assert_int_equal(sa.opt.wscale, cases[i].ws);
			tw_close(l);
			assert_int_equal(h_conns(h), 0);
			h_free(h);
		}
	}
}

static void test_closed_connect_wscale_rcvbuf_max_2g(void **state)
{
	(void)state;
	/*
	 * The largest values the field holds: refused as a bad config, or
	 * offered as a shift of 14. (Last in the list: a shift past 31 bits in
	 * the engine would stop the sanitizer build here; the alarm ends a
	 * build without sanitizers that would loop instead of hanging the run.)
	 */
	static const uint32_t maxes[] = { 0x80000000u, 0xffffffffu };
	alarm(30);
	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		struct tw_stack_config cfg;
		h_config(&cfg, TW_AF_INET);
		cfg.rcvbuf_max = maxes[i];
		int err = 0;
		struct tw_stack *st = tw_stack_new(&cfg, &err);
		if (!st) {
			assert_int_equal(err, -22 /* EINVAL */);
			continue;
		}
		h_stack_free(st, 0);
		struct harness *h = h_new_cfg(&cfg);
		struct tw_sock *s = h_connect(h);
		struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, h_info(s).iss, 0);
		assert_int_equal(syn.opt.wscale, 14);
		tw_close(s);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
	alarm(0);
}

/* --------------------------------------------------------------------- MSS */

static void test_closed_connect_mss_from_mtu(void **state)
{
	(void)state;
	/* MSS = MTU - 40 (IPv4: 20 + 20) or MTU - 60 (IPv6: 40 + 20). */
	static const uint32_t mtus[] = { 1280, 1400, 1500, 9000 };
	for (size_t i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
		for (size_t f = 0; f < N_FAMILIES; f++) {
			struct tw_stack_config cfg;
			h_config(&cfg, families[f]);
			cfg.mtu = mtus[i];
			uint32_t want = mtus[i] - (families[f] == TW_AF_INET ? 40 : 60);
			struct harness *h = h_new_cfg(&cfg);
			struct tw_sock *s = h_connect(h);
			struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, h_info(s).iss, 0);
			assert_int_equal(syn.opt.mss, want);
			assert_int_equal(h_info(s).rcv_mss, want);
			tw_close(s);
			struct tw_sock *l = h_listen(h, 8);
			struct h_seg ps = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, PEER_WS);
			assert_int_equal(h_feed(h, &ps), 0);
			struct wire_tcp sa = h_next(h);
			assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
			assert_int_equal(sa.opt.mss, want);
			tw_close(l);
			assert_int_equal(h_conns(h), 0);
			h_free(h);
		}
	}
}

/* Sends `len` bytes with no-delay and asserts the payload sizes of the segments that go. */
static void expect_segments(struct harness *h, struct tw_sock *s, uint32_t seq, uint32_t ack, uint32_t len,
			    const uint32_t *sizes, size_t n)
{
	static uint8_t data[8192];
	assert_true(len <= sizeof(data));
	assert_int_equal(tw_setsockopt(s, TW_TCP_NODELAY, 1), 0);
	assert_int_equal(tw_send(s, data, len, 0), (long)len);
	for (size_t i = 0; i < n; i++) {
		struct wire_tcp t = h_next(h);
		assert_true(t.flags & WIRE_TCP_ACK);
		assert_int_equal(t.seq, seq);
		assert_int_equal(t.ack, ack);
		if (t.payload_len != sizes[i])
			fprintf(stderr, "segment %zu: %zu bytes, want %u\n", i, t.payload_len, sizes[i]);
		assert_int_equal(t.payload_len, sizes[i]);
		seq += sizes[i];
	}
	h_expect_none(h);
}

static void test_established_peer_mss_536_segments(void **state)
{
	(void)state;
	for (int ts = 0; ts < 2; ts++) {
		struct tw_stack_config cfg;
		h_config(&cfg, TW_AF_INET);
		struct h_seg syn = syn_offering(O_MSS | O_SACK | O_WS | (ts ? O_TS : 0), 536, PEER_WS);
		struct passive p;
		passive_open(&p, &cfg, &syn, ts, 1000);
		/* Our MSS option stays ours: the two directions are independent (RFC 9293 3.7.1). */
		assert_int_equal(p.synack.opt.mss, 1460);
		/* RFC 6691: the MSS counts no options; with TS each segment carries 536 - 12. */
		uint32_t seg = ts ? 524 : 536;
		assert_int_equal(h_info(p.c).snd_mss, seg);
		const uint32_t sizes[] = { seg, seg, 1200 - 2 * seg };
		expect_segments(p.h, p.c, p.iss + 1, PEER_ISS + 1, 1200, sizes, 3);
		passive_done(&p);
	}
}

static void test_syn_sent_synack_peer_mss_honoured(void **state)
{
	(void)state;
	/* IPv6: the peer's 1300 below our 1440; with TS 1288 a segment. */
	struct harness *h = h_new(TW_AF_INET6);
	struct h_seg sa = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1300, PEER_WS);
	struct tw_sock *s = active_open(h, &sa, NULL, NULL);
	assert_int_equal(h_info(s).snd_mss, 1288);
	assert_int_equal(h_info(s).rcv_mss, 1440);
	const uint32_t sizes[] = { 1288, 1288, 3000 - 2 * 1288 };
	expect_segments(h, s, h_info(s).iss + 1, PEER_ISS + 1, 3000, sizes, 3);
	active_done(h, s);
}

static void test_listen_syn_peer_mss_above_ours(void **state)
{
	(void)state;
	/* What we send is bounded by our own MSS too. */
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	struct h_seg syn = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 8960, PEER_WS);
	struct passive p;
	passive_open(&p, &cfg, &syn, true, 1000);
	assert_int_equal(h_info(p.c).snd_mss, 1448);
	passive_done(&p);
}

static void test_listen_syn_no_mss_default(void **state)
{
	(void)state;
	/* RFC 9293 3.7.1: without the option, 536 (IPv4); RFC 8200 5: 1220 for IPv6. */
	for (size_t f = 0; f < N_FAMILIES; f++) {
		for (int ts = 0; ts < 2; ts++) {
			struct tw_stack_config cfg;
			h_config(&cfg, families[f]);
			struct h_seg syn = syn_offering(ts ? O_TS : 0, 0, 0);
			struct passive p;
			passive_open(&p, &cfg, &syn, ts, 5000);
			uint32_t base = families[f] == TW_AF_INET ? 536 : 1220;
			assert_int_equal(h_info(p.c).snd_mss, base - (ts ? 12 : 0));
			/* Our SYN-ACK still says our MSS. */
			assert_int_equal(p.synack.opt.mss, our_mss(families[f]));
			passive_done(&p);
		}
	}
}

static void test_syn_sent_synack_no_mss_default(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct h_seg sa = syn_offering(0, 0, 0);
		struct tw_sock *s = active_open(h, &sa, NULL, NULL);
		uint32_t base = families[f] == TW_AF_INET ? 536 : 1220;
		assert_int_equal(h_info(s).snd_mss, base);
		const uint32_t sizes[] = { base, 100 };
		expect_segments(h, s, h_info(s).iss + 1, PEER_ISS + 1, base + 100, sizes, 2);
		active_done(h, s);
	}
}

static void test_listen_syn_tiny_mss_raised_to_floor(void **state)
{
	(void)state;
	/* A peer's MSS of 1 would mean a segment per byte: it is raised to min_snd_mss (48). */
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	struct h_seg syn = syn_offering(O_MSS | O_SACK | O_WS, 1, PEER_WS);
	struct passive p;
	passive_open(&p, &cfg, &syn, false, 1000);
	assert_int_equal(h_info(p.c).snd_mss, 48);
	const uint32_t sizes[] = { 48, 48, 4 };
	expect_segments(p.h, p.c, p.iss + 1, PEER_ISS + 1, 100, sizes, 3);
	passive_done(&p);
}

static void test_listen_syn_tiny_mss_floor_with_ts(void **state)
{
	(void)state;
	/*
	 * With timestamps the floor applies to the MSS before the 12 bytes of
	 * TS come off, as in Linux's __tcp_mtu_to_mss and tcp_mtu_to_mss:
	 * 48 bytes of payload and options, 36 of data.
	 */
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET6);
	struct h_seg syn = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1, PEER_WS);
	struct passive p;
	passive_open(&p, &cfg, &syn, true, 1000);
	assert_int_equal(h_info(p.c).snd_mss, 36);
	const uint32_t sizes[] = { 36, 36, 28 };
	expect_segments(p.h, p.c, p.iss + 1, PEER_ISS + 1, 100, sizes, 3);
	passive_done(&p);
}

static void test_listen_syn_small_mss_floor_config(void **state)
{
	(void)state;
	/* The floor is a config field: 200 raises a peer's 100. */
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.min_snd_mss = 200;
	struct h_seg syn = syn_offering(O_MSS | O_SACK, 100, 0);
	struct passive p;
	passive_open(&p, &cfg, &syn, false, 5000);
	assert_int_equal(h_info(p.c).snd_mss, 200);
	/* A peer MSS above the floor is kept. */
	passive_done(&p);
	syn = syn_offering(O_MSS | O_SACK, 300, 0);
	passive_open(&p, &cfg, &syn, false, 5000);
	assert_int_equal(h_info(p.c).snd_mss, 300);
	passive_done(&p);
}

/* -------------------------------------------------------------- timestamps */

static void test_established_ts_echoes_peer_tsval(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct tw_stack_config cfg;
		h_config(&cfg, families[f]);
		struct h_seg syn = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, PEER_WS);
		struct passive p;
		passive_open(&p, &cfg, &syn, true, 1000);
		uint32_t our_ts0 = p.synack.opt.ts_val;
		uint32_t seq = PEER_ISS + 1;
		char lay[64];

		/* RFC 7323 3.2: every segment carries TS, TSecr = the peer's latest TSval (TS.Recent). */
		static const uint32_t peer_ts[] = { 5000, 5003, 0x80000010u };
		for (int i = 0; i < 3; i++) {
			h_advance(p.h, 250000);
			struct h_seg d = peer_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, seq, p.iss + 1, 1000, true, peer_ts[i],
						  our_ts0);
			d.data = "abcd";
			d.len = 4;
			assert_int_equal(h_feed(p.h, &d), 0);
			seq += 4;
			struct wire_tcp a = h_expect(p.h, WIRE_TCP_ACK, p.iss + 1, seq);
			assert_string_equal(h_opt_layout(&a, lay, sizeof(lay)), "nop,nop,TS");
			assert_int_equal(a.opt.ts_ecr, peer_ts[i]);
			/* Our TSval: the same offset, 1 ms ticks. */
			assert_int_equal(a.opt.ts_val - our_ts0, 250u * (unsigned)(i + 1));
		}
		/* Our data carries the same option. */
		assert_int_equal(tw_send(p.c, "z", 1, 0), 1);
		struct wire_tcp d = h_expect(p.h, WIRE_TCP_ACK | WIRE_TCP_PSH, p.iss + 1, seq);
		assert_string_equal(h_opt_layout(&d, lay, sizeof(lay)), "nop,nop,TS");
		assert_int_equal(d.opt.ts_ecr, 0x80000010u);
		passive_done(&p);
	}
}

static void test_syn_sent_synack_ts_echoed_in_ack(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct h_seg sa = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, PEER_WS);
	sa.opt.ts_val = 0xfffffff0u;
	struct wire_tcp syn, ack;
	struct tw_sock *s = active_open(h, &sa, &syn, &ack);
	char lay[64];
	assert_string_equal(h_opt_layout(&ack, lay, sizeof(lay)), "nop,nop,TS");
	assert_int_equal(ack.opt.ts_ecr, 0xfffffff0u);
	assert_int_equal(ack.opt.ts_val, syn.opt.ts_val);   /* no time has passed */
	assert_true(h_info(s).timestamps);
	active_done(h, s);
}

static void test_listen_syn_without_ts_no_ts(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct tw_stack_config cfg;
		h_config(&cfg, families[f]);
		struct h_seg syn = syn_offering(O_MSS | O_SACK | O_WS, 1460, PEER_WS);
		struct passive p;
		passive_open(&p, &cfg, &syn, false, 1000);
		assert_false(p.synack.opt.has & WIRE_HAS_TS);
		assert_false(h_info(p.c).timestamps);
		assert_int_equal(h_info(p.c).snd_mss, our_mss(families[f]));
		/* RFC 7323 3.2: TS on a later segment is ignored when not negotiated. */
		struct h_seg d = peer_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, PEER_ISS + 1, p.iss + 1, 1000, true, 777, 1);
		d.data = "abc";
		d.len = 3;
		assert_int_equal(h_feed(p.h, &d), 0);
		struct wire_tcp a = h_expect(p.h, WIRE_TCP_ACK, p.iss + 1, PEER_ISS + 4);
		assert_int_equal(a.opt.count, 0);
		assert_false(a.opt.has & WIRE_HAS_TS);
		passive_done(&p);
	}
}

static void test_syn_sent_synack_without_ts_no_ts(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct h_seg sa = syn_offering(O_MSS | O_SACK | O_WS, 1460, PEER_WS);
	struct wire_tcp syn, ack;
	struct tw_sock *s = active_open(h, &sa, &syn, &ack);
	assert_true(syn.opt.has & WIRE_HAS_TS);
	assert_int_equal(ack.opt.count, 0);
	assert_false(h_info(s).timestamps);
	assert_int_equal(h_info(s).snd_mss, 1460);
	assert_int_equal(tw_send(s, "q", 1, 0), 1);
	struct wire_tcp d = h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, h_info(s).iss + 1, PEER_ISS + 1);
	assert_int_equal(d.opt.count, 0);
	active_done(h, s);
}

static void test_syn_sent_synack_ts_config_off(void **state)
{
	(void)state;
	/* We did not offer TS: the peer's TS in its SYN-ACK does not turn it on. */
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.timestamps = false;
	cfg.sack = false;
	struct harness *h = h_new_cfg(&cfg);
	struct h_seg sa = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1460, PEER_WS);
	struct wire_tcp syn, ack;
	struct tw_sock *s = active_open(h, &sa, &syn, &ack);
	char lay[64];
	assert_string_equal(h_opt_layout(&syn, lay, sizeof(lay)), "mss,nop,wscale");
	assert_int_equal(ack.opt.count, 0);
	struct tw_conn_info ci = h_info(s);
	assert_false(ci.timestamps);
	assert_false(ci.sack);
	assert_int_equal(ci.snd_wscale, PEER_WS);
	assert_int_equal(ci.snd_mss, 1460);
	active_done(h, s);
}

/* ------------------------------------------------------------ conn_info */

static void test_established_conn_info_negotiated(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		uint8_t fam = families[f];
		/* Passive: the peer offers everything, MSS 1400 and shift 5. */
		struct tw_stack_config cfg;
		h_config(&cfg, fam);
		struct h_seg syn = syn_offering(O_MSS | O_SACK | O_TS | O_WS, 1400, 5);
		struct passive p;
		passive_open(&p, &cfg, &syn, true, 1000);
		struct tw_conn_info ci = h_info(p.c);
		assert_int_equal(ci.iss, p.synack.seq);
		assert_int_equal(ci.irs, PEER_ISS);
		assert_int_equal(ci.snd_mss, 1400 - 12);
		assert_int_equal(ci.rcv_mss, our_mss(fam));
		assert_int_equal(ci.snd_wscale, 5);
		assert_int_equal(ci.rcv_wscale, 8);
		assert_true(ci.sack);
		assert_true(ci.timestamps);
		assert_int_equal(ci.local.port, OUR_PORT);
		assert_int_equal(ci.remote.port, PEER_PORT);
		assert_int_equal(ci.local.addr.family, fam);
		assert_memory_equal(ci.remote.addr.bytes, p.h->peer.bytes, fam == TW_AF_INET ? 4 : 16);
		passive_done(&p);

		/* Active: the peer offers only MSS 1000 and SACK. */
		struct harness *h = h_new(fam);
		struct h_seg sa = syn_offering(O_MSS | O_SACK, 1000, 0);
		struct tw_sock *s = active_open(h, &sa, NULL, NULL);
		ci = h_info(s);
		assert_int_equal(ci.irs, PEER_ISS);
		assert_int_equal(ci.snd_mss, 1000);
		assert_int_equal(ci.rcv_mss, our_mss(fam));
		assert_int_equal(ci.snd_wscale, -1);
		assert_int_equal(ci.rcv_wscale, -1);
		assert_true(ci.sack);
		assert_false(ci.timestamps);
		active_done(h, s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_syn_layout_sack_ts_ws),
		cmocka_unit_test(test_listen_syn_layout_sack_ws),
		cmocka_unit_test(test_listen_syn_layout_ws),
		cmocka_unit_test(test_listen_syn_layout_sack),
		cmocka_unit_test(test_listen_syn_layout_ts_sack),
		cmocka_unit_test(test_listen_syn_layout_none),
		cmocka_unit_test(test_listen_syn_layout_ts),
		cmocka_unit_test(test_listen_syn_layout_ts_ws),
		cmocka_unit_test(test_listen_syn_layout_any_offer_order),
		cmocka_unit_test(test_closed_connect_syn_layout_config),
		cmocka_unit_test(test_listen_syn_without_wscale_unscaled),
		cmocka_unit_test(test_syn_sent_synack_without_wscale_unscaled),
		cmocka_unit_test(test_listen_syn_wscale_config_off),
		cmocka_unit_test(test_established_wscale_both_ways),
		cmocka_unit_test(test_syn_sent_synack_window_not_scaled),
		cmocka_unit_test(test_listen_syn_window_not_scaled),
		cmocka_unit_test(test_listen_syn_wscale_above_14_used_as_14),
		cmocka_unit_test(test_syn_sent_synack_wscale_15_used_as_14),
		cmocka_unit_test(test_closed_connect_wscale_from_rcvbuf_max),
		cmocka_unit_test(test_closed_connect_mss_from_mtu),
		cmocka_unit_test(test_established_peer_mss_536_segments),
		cmocka_unit_test(test_syn_sent_synack_peer_mss_honoured),
		cmocka_unit_test(test_listen_syn_peer_mss_above_ours),
		cmocka_unit_test(test_listen_syn_no_mss_default),
		cmocka_unit_test(test_syn_sent_synack_no_mss_default),
		cmocka_unit_test(test_listen_syn_tiny_mss_raised_to_floor),
		cmocka_unit_test(test_listen_syn_tiny_mss_floor_with_ts),
		cmocka_unit_test(test_listen_syn_small_mss_floor_config),
		cmocka_unit_test(test_established_ts_echoes_peer_tsval),
		cmocka_unit_test(test_syn_sent_synack_ts_echoed_in_ack),
		cmocka_unit_test(test_listen_syn_without_ts_no_ts),
		cmocka_unit_test(test_syn_sent_synack_without_ts_no_ts),
		cmocka_unit_test(test_syn_sent_synack_ts_config_off),
		cmocka_unit_test(test_established_conn_info_negotiated),
		cmocka_unit_test(test_closed_connect_wscale_rcvbuf_max_2g),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
