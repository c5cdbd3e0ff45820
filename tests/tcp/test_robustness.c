/*
 * Regression tests for the engine review: callbacks that close, abort or
 * open sockets from a timer or from input; the MSS floor; SACK blocks and
 * the MTU; a FIN behind a zero window and segments taken by a zero receive
 * window; the end of zero-window probing (user timeout, orphans); TS.Recent
 * only from accepted segments; out-of-window ACK rate limits as Linux;
 * congestion control after timeouts and resent SYNs; SYN+FIN to a
 * listener; SHUT_RD; keepalive with data in flight; config bounds.
 *
 * Each test would fail (or trip ASan) if its bug came back.
 */
#include <errno.h>

#include "harness.h"

#define PEER_ISS 0xffffff00u    /* 256 below 2^32: the peer's data crosses the wrap */
#define PEER_TS0 1000u          /* the peer's timestamp clock at its SYN */
#define POOL_MAX 4096           /* the engine keeps up to this many freed control blocks */

/* ------------------------------------------------------------------ helpers */

/* What the scripted peer offers in its SYN, and its handshake ACK's window. */
struct offer {
	bool ts, sack;
	int ws;             /* -1: no window scale option */
	uint16_t mss;       /* 0: no MSS option */
	uint16_t wnd;       /* window field of the handshake ACK */
};

static struct offer offer_plain(void)
{
	struct offer o;
	memset(&o, 0, sizeof(o));
	o.ws = -1;
	o.mss = 1460;
	o.wnd = 65535;
	return o;
}

static struct offer offer_linux(void)
{
	struct offer o = offer_plain();
	o.ts = true;
	o.sack = true;
	o.ws = 7;
	o.wnd = 502;
	return o;
}

/* One connection of the stack under test and the scripted peer's view of it. */
struct conn {
	struct harness *h;
	struct tw_sock *s;
	uint32_t iss;       /* our ISN */
	bool ts;
	uint32_t ts_val;    /* the peer's TSval for its next segment */
	uint32_t ts_ecr;    /* our last TSval, which the peer echoes */
};

/* A segment of the peer, with NOP NOP TS when timestamps were negotiated. */
static struct h_seg peer_seg(const struct conn *p, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct h_seg s = h_seg(flags, seq, ack);
	if (p->ts) {
		h_opt_nop(&s);
		h_opt_nop(&s);
		h_opt_ts(&s, p->ts_val, p->ts_ecr);
	}
	return s;
}

static void peer_syn_options(struct h_seg *syn, const struct offer *o)
{
	if (o->mss)
		h_opt_mss(syn, o->mss);
	if (o->sack && o->ts) {
		h_opt_sackok(syn);
		h_opt_ts(syn, PEER_TS0, 0);
	} else if (o->ts) {
		h_opt_nop(syn);
		h_opt_nop(syn);
		h_opt_ts(syn, PEER_TS0, 0);
	} else if (o->sack) {
		h_opt_nop(syn);
		h_opt_nop(syn);
		h_opt_sackok(syn);
	}
	if (o->ws >= 0) {
		h_opt_nop(syn);
		h_opt_ws(syn, (uint8_t)o->ws);
	}
}

/*
 * A passive open: the peer's SYN to a listener on OUR_PORT, our SYN-ACK, the
 * peer's ACK, accept. The listener is closed afterwards.
 */
static void open_passive(struct conn *p, struct harness *h, const struct offer *o)
{
	memset(p, 0, sizeof(*p));
	p->h = h;
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	peer_syn_options(&syn, o);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_next(h);
	assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal(sa.ack, PEER_ISS + 1);
	p->iss = sa.seq;
	p->ts = o->ts;
	p->ts_val = PEER_TS0 + 1;
	p->ts_ecr = sa.opt.ts_val;
	struct h_seg ack = peer_seg(p, WIRE_TCP_ACK, PEER_ISS + 1, p->iss + 1);
	ack.wnd = o->wnd;
	assert_int_equal(h_feed(h, &ack), 0);
	h_expect_none(h);
	int err = 0;
	p->s = tw_accept(l, NULL, &err);
	assert_non_null(p->s);
	assert_int_equal(h_state(p->s), TW_ESTABLISHED);
	tw_close(l);
}

/* Forgets every captured segment, so long runs never fill the capture array. */
static void h_drain(struct harness *h)
{
	h->n_out = 0;
	h->next_out = 0;
}

/*
 * Moves the clock to the next deadline (running it) if one is due by `end`;
 * else to `end`. Returns false when `end` was reached.
 */
static bool h_step(struct harness *h, uint64_t end)
{
	uint64_t next = tw_poll(h->st, h->now);
	if (next > end) {
		h->now = end;
		tw_poll(h->st, h->now);
		return false;
	}
	h->now = next > h->now ? next : h->now + 1;
	tw_poll(h->st, h->now);
	return true;
}

/* A zero-window or keepalive probe: SEG.SEQ = SND.UNA - 1, an ACK, no data. */
static bool is_probe(const struct wire_tcp *t, uint32_t snd_una)
{
	return t->flags == WIRE_TCP_ACK && t->seq == snd_una - 1 && t->payload_len == 0;
}

/* Makes the engine's pool of recycled control blocks full, so that every free is a real free(). */
static void fill_free_pool(struct harness *h)
{
	static struct tw_sock *tmp[POOL_MAX];
	int err = 0;
	for (int i = 0; i < POOL_MAX; i++) {
		tmp[i] = tw_socket(h->st, &err);
		assert_non_null(tmp[i]);
	}
	for (int i = 0; i < POOL_MAX; i++)
		tw_close(tmp[i]);
}

static struct tw_sock *connect_from(struct harness *h, uint16_t lport)
{
	return h_connect_ports(h, lport, PEER_PORT);
}

/* The next segment is a SYN of ours from `lport`. */
static void expect_syn_from(struct harness *h, uint16_t lport, uint32_t iss)
{
	struct wire_tcp t = h_next(h);
	assert_int_equal(t.flags, WIRE_TCP_SYN);
	assert_int_equal(t.sport, lport);
	assert_int_equal(t.seq, iss);
}

static uint64_t stat_timed_out(const struct harness *h)
{
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	return ss.conns_timed_out;
}

/* ------------------------------------------- 1. callbacks that free sockets */

static struct {
	struct harness *h;
	struct tw_sock *a, *b, *x, *y;
	uintptr_t closed;       /* the block of the socket a callback closed */
	int calls;
	uint64_t at;            /* when the first callback ran */
	size_t n_out_at_cb;     /* segments already sent when it ran */
} g;

/* On the first error, close the other of A and B. */
static void cb_close_other(struct tw_sock *s, unsigned ev, void *ctx)
{
	(void)ctx;
	if (!(ev & TW_POLLERR))
		return;
	g.calls++;
	g.at = g.h->now;
	struct tw_sock **other = s == g.a ? &g.b : &g.a;
	if (*other) {
		tw_close(*other);
		*other = NULL;
	}
}

/*
 * Two connects give up in the same timer tick (syn_retries 0); the first
 * callback closes the other socket, which the timer code had already picked
 * as due. With the pool full the close is a real free: ASan sees any use.
 */
static void test_syn_sent_timeout_callback_closes_other(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.syn_retries = 0;
	struct harness *h = h_new_cfg(&cfg);
	memset(&g, 0, sizeof(g));
	g.h = h;
	uint64_t t0 = h->now;
	g.a = connect_from(h, 1111);
	g.b = connect_from(h, 2222);
	tw_set_callback(g.a, cb_close_other, NULL);
	tw_set_callback(g.b, cb_close_other, NULL);
	fill_free_pool(h);

	h_advance(h, 2000000);
	assert_int_equal(g.calls, 1);              /* the closed one is told nothing */
	assert_int_equal(g.at, t0 + 1000000);      /* both gave up on time, at the initial RTO */
	assert_int_equal(stat_timed_out(h), 2);
	struct tw_sock *left = g.a ? g.a : g.b;
	assert_non_null(left);
	assert_int_equal(h_state(left), TW_CLOSED);
	assert_int_equal(tw_sock_error(left), -ETIMEDOUT);
	assert_int_equal(h_conns(h), 1);
	tw_close(left);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* On the first error: open Y, close the other of A and B, open X (which gets the closed block). */
static void cb_open_close_open(struct tw_sock *s, unsigned ev, void *ctx)
{
	(void)ctx;
	if (!(ev & TW_POLLERR) || g.y)
		return;
	g.calls++;
	g.at = g.h->now;
	struct tw_sock **other = s == g.a ? &g.b : &g.a;
	g.y = connect_from(g.h, 3333);
	g.closed = (uintptr_t)(void *)*other;
	tw_close(*other);
	*other = NULL;
	g.x = connect_from(g.h, 4444);
}

/*
 * The same from the timer, with block recycling: a socket opened by the
 * callback reuses the block of the one it closed. Both new connections must
 * still send their SYN and give up exactly one RTO later.
 */
static void test_syn_sent_timeout_callback_opens_and_closes(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.syn_retries = 0;
	struct harness *h = h_new_cfg(&cfg);
	memset(&g, 0, sizeof(g));
	g.h = h;
	uint64_t t0 = h->now;
	g.a = connect_from(h, 1111);
	g.b = connect_from(h, 2222);
	tw_set_callback(g.a, cb_open_close_open, NULL);
	tw_set_callback(g.b, cb_open_close_open, NULL);
	expect_syn_from(h, 1111, h_info(g.a).iss);
	expect_syn_from(h, 2222, h_info(g.b).iss);

	h_advance(h, 1000000);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.at, t0 + 1000000);
	assert_non_null(g.x);
	assert_non_null(g.y);
	/* The scenario needs the recycled block: X is where the closed socket was. */
	assert_true((uintptr_t)(void *)g.x == g.closed);
	expect_syn_from(h, 3333, h_info(g.y).iss);
	expect_syn_from(h, 4444, h_info(g.x).iss);
	h_expect_none(h);

	h_advance(h, 999999);
	assert_int_equal(h_state(g.x), TW_SYN_SENT);
	assert_int_equal(h_state(g.y), TW_SYN_SENT);
	h_advance(h, 1);
	assert_int_equal(h_state(g.x), TW_CLOSED);
	assert_int_equal(h_state(g.y), TW_CLOSED);
	assert_int_equal(tw_sock_error(g.x), -ETIMEDOUT);
	assert_int_equal(tw_sock_error(g.y), -ETIMEDOUT);
	assert_int_equal(stat_timed_out(h), 4);
	h_expect_none(h);

	tw_close(g.a ? g.a : g.b);
	tw_close(g.x);
	tw_close(g.y);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static struct tw_sock *g_listener;

static void cb_accept_abort(struct tw_sock *s, unsigned ev, void *ctx)
{
	(void)ctx;
	(void)ev;
	if (s != g_listener || g.calls)
		return;
	int err = 0;
	struct tw_sock *c = tw_accept(g_listener, NULL, &err);
	if (!c)
		return;
	g.calls++;
	g.n_out_at_cb = g.h->n_out;
	tw_abort(c);
}

/*
 * The handshake's ACK (with data) readies the listener; its callback accepts
 * and aborts the new connection. The engine has finished with the segment
 * (its ACK is out) before the callback runs, and the abort frees the block.
 */
static void test_syn_received_ack_listener_callback_accepts_and_aborts(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	memset(&g, 0, sizeof(g));
	g.h = h;
	g_listener = h_listen(h, 8);
	tw_set_callback(g_listener, cb_accept_abort, NULL);
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	h_opt_mss(&syn, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	uint32_t iss = h_next(h).seq;
	fill_free_pool(h);

	struct h_seg ack = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, iss + 1);
	ack.data = "hi";
	ack.len = 2;
	assert_int_equal(h_feed(h, &ack), 0);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.n_out_at_cb, 2);        /* SYN-ACK and the ACK of "hi": input was over */
	h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 3);
	h_expect(h, WIRE_TCP_RST | WIRE_TCP_ACK, iss + 1, PEER_ISS + 3);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 1);           /* the listener alone */

	/* The listener's counts are intact: another SYN gets its SYN-ACK. */
	struct h_seg syn2 = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	syn2.sport = PEER_PORT + 1;
	assert_int_equal(h_feed(h, &syn2), 0);
	assert_int_equal(h_next(h).flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	tw_close(g_listener);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static struct tw_sock *g_fw2;

static void cb_abort_on_fin_wait_2(struct tw_sock *s, unsigned ev, void *ctx)
{
	(void)ctx;
	(void)ev;
	if (s != g_fw2 || h_state(s) != TW_FIN_WAIT_2)
		return;
	g.calls++;
	g.n_out_at_cb = g.h->n_out;
	g_fw2 = NULL;
	tw_abort(s);
}

/*
 * A segment that ACKs our FIN and carries data: FIN-WAIT-1 -> FIN-WAIT-2
 * readies the socket, and its callback aborts it. The data is processed and
 * ACKed first; then the abort's RST; the freed block is never touched.
 */
static void test_fin_wait_1_ack_callback_aborts_on_fin_wait_2(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	memset(&g, 0, sizeof(g));
	g.h = h;
	struct conn p;
	struct offer o = offer_plain();
	open_passive(&p, h, &o);
	struct h_seg d0 = peer_seg(&p, WIRE_TCP_ACK, PEER_ISS + 1, p.iss + 1);
	d0.data = "abcd";   /* left unread */
	d0.len = 4;
	assert_int_equal(h_feed(h, &d0), 0);
	h_expect(h, WIRE_TCP_ACK, p.iss + 1, PEER_ISS + 5);
	assert_int_equal(tw_shutdown(p.s, TW_SHUT_WR), 0);
	h_expect(h, WIRE_TCP_ACK | WIRE_TCP_FIN, p.iss + 1, PEER_ISS + 5);
	g_fw2 = p.s;
	tw_set_callback(p.s, cb_abort_on_fin_wait_2, NULL);
	fill_free_pool(h);
	size_t before = h->n_out;

	struct h_seg d = peer_seg(&p, WIRE_TCP_ACK, PEER_ISS + 5, p.iss + 2);   /* ACKs our FIN */
	d.data = "data";
	d.len = 4;
	assert_int_equal(h_feed(h, &d), 0);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.n_out_at_cb, before + 1);
	h_expect(h, WIRE_TCP_ACK, p.iss + 2, PEER_ISS + 9);
	h_expect(h, WIRE_TCP_RST | WIRE_TCP_ACK, p.iss + 2, PEER_ISS + 9);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 0);
	h_advance(h, 120000000);
	h_expect_none(h);
	h_free(h);
}

/* ------------------------------------------------------------- 2. MSS floor */

static void test_config_min_snd_mss_below_48_refused(void **state)
{
	(void)state;
	static const uint16_t bad[] = { 0, 8, 40, 47 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tw_stack_config cfg;
		h_config(&cfg, TW_AF_INET);
		cfg.min_snd_mss = bad[i];
		int err = 0;
		assert_null(tw_stack_new(&cfg, &err));
		assert_int_equal(err, -EINVAL);
	}
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.min_snd_mss = 48;
	int err = 0;
	struct tw_stack *st = tw_stack_new(&cfg, &err);
	assert_non_null(st);
	h_stack_free(st, 0);
}

/*
 * The peer's MSS 8 is raised to the floor 48; timestamps take 12 of it, so
 * segments carry 36 bytes: 88-byte packets, never a 65532-byte MSS.
 */
static void test_listen_syn_tiny_mss_with_timestamps(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	struct offer o = offer_plain();
	o.mss = 8;
	o.ts = true;
	open_passive(&p, h, &o);
	struct tw_conn_info ci = h_info(p.s);
	assert_true(ci.timestamps);
	assert_int_equal(ci.snd_mss, 36);
	assert_int_equal(ci.cwnd, 10 * 36);

	static uint8_t buf[3000];
	assert_int_equal(tw_send(p.s, buf, sizeof(buf), 0), sizeof(buf));
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(h->out[h->next_out].len, 20 + 20 + 12 + 36);
		struct wire_tcp t = h_expect(h, WIRE_TCP_ACK, p.iss + 1 + 36 * i, PEER_ISS + 1);
		assert_int_equal(t.payload_len, 36);
	}
	h_expect_none(h);   /* the initial window: 10 segments */
	h_free(h);
}

/* ------------------------------------------------------- 3. SACK and the MTU */

/*
 * With three out-of-order pieces held, a SACK option takes 28 bytes: full
 * data segments (1448 + 12 of TS) leave it off and stay at 1500 bytes; a
 * smaller segment and pure ACKs carry it.
 */
static void test_established_ooo_held_full_segments_fit_mtu(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	struct offer o = offer_linux();
	open_passive(&p, h, &o);
	static uint8_t piece[100];
	for (uint32_t i = 0; i < 3; i++) {
		uint32_t left = PEER_ISS + 1 + 200 * (i + 1);
		struct h_seg d = peer_seg(&p, WIRE_TCP_ACK, left, p.iss + 1);
		d.data = piece;
		d.len = sizeof(piece);
		d.wnd = 1000;
		assert_int_equal(h_feed(h, &d), 0);
		struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, p.iss + 1, PEER_ISS + 1);
		assert_int_equal(a.opt.sack_count, i + 1);
		assert_int_equal(a.opt.sack[0].left, left);
		assert_int_equal(a.opt.sack[0].right, left + 100);
	}

	static uint8_t data[4000];
	assert_int_equal(tw_send(p.s, data, sizeof(data), 0), sizeof(data));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(h->out[h->next_out].len, 1500);
		struct wire_tcp t = h_expect(h, WIRE_TCP_ACK, p.iss + 1 + 1448 * (uint32_t)i, PEER_ISS + 1);
		assert_int_equal(t.payload_len, 1448);
		assert_false(t.opt.has & WIRE_HAS_SACK);
	}
	assert_int_equal(h->out[h->next_out].len, 20 + 20 + 12 + 28 + 1104);
	struct wire_tcp t = h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, p.iss + 1 + 2896, PEER_ISS + 1);
	assert_int_equal(t.payload_len, 1104);
	assert_int_equal(t.opt.sack_count, 3);
	h_expect_none(h);

	/* A fourth piece: the pure ACK still carries three blocks, the newest first. */
	struct h_seg d = peer_seg(&p, WIRE_TCP_ACK, PEER_ISS + 801, p.iss + 1);
	d.data = piece;
	d.len = sizeof(piece);
	d.wnd = 1000;
	assert_int_equal(h_feed(h, &d), 0);
	struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, p.iss + 4001, PEER_ISS + 1);
	assert_int_equal(a.payload_len, 0);
	assert_int_equal(a.opt.sack_count, 3);
	assert_int_equal(a.opt.sack[0].left, PEER_ISS + 801);
	assert_int_equal(a.opt.sack[0].right, PEER_ISS + 901);
	h_expect_none(h);
	h_free(h);
}

/* ------------------------------------------------------ 4. zero windows, FIN */

/*
 * The peer's window is 0 and it answers every probe. Our FIN waits behind
 * the window (never sent into it, never retransmitted by the RTO timer); the
 * persist timer probes for an hour and the connection stays in FIN-WAIT-1.
 * When the window opens, the FIN goes at once.
 */
static void test_fin_wait_1_zero_window_holds_fin(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	struct offer o = offer_plain();
	o.wnd = 0;
	open_passive(&p, h, &o);
	uint32_t rto = h_info(p.s).rto_us;
	uint64_t t0 = h->now;
	assert_int_equal(tw_shutdown(p.s, TW_SHUT_WR), 0);
	assert_int_equal(h_state(p.s), TW_FIN_WAIT_1);
	h_expect_none(h);

	unsigned probes = 0;
	uint64_t first = 0, last = t0, max_gap = 0;
	uint64_t end = t0 + 3600ull * 1000000;
	while (h_step(h, end)) {
		while (h_pending(h)) {
			struct wire_tcp t = h_next(h);
			assert_true(is_probe(&t, p.iss + 1));   /* never the FIN */
			probes++;
			if (!first)
				first = h->now;
			if (h->now - last > max_gap)
				max_gap = h->now - last;
			last = h->now;
			struct h_seg a = peer_seg(&p, WIRE_TCP_ACK, PEER_ISS + 1, p.iss + 1);
			a.wnd = 0;
			assert_int_equal(h_feed(h, &a), 0);
		}
		h_drain(h);
		assert_int_equal(h_state(p.s), TW_FIN_WAIT_1);
	}
	assert_true(first >= t0 + rto && first <= t0 + rto + 1000);   /* the persist timer, at one RTO */
	assert_true(max_gap <= 120000000 + 1000);                     /* backed off to probe_max at most */
	assert_true(probes >= 30);
	assert_int_equal(h_state(p.s), TW_FIN_WAIT_1);
	assert_int_equal(tw_sock_error(p.s), 0);
	assert_int_equal(stat_timed_out(h), 0);

	struct h_seg open = peer_seg(&p, WIRE_TCP_ACK, PEER_ISS + 1, p.iss + 1);
	open.wnd = 1000;
	assert_int_equal(h_feed(h, &open), 0);
	h_expect(h, WIRE_TCP_ACK | WIRE_TCP_FIN, p.iss + 1, PEER_ISS + 1);
	h_expect_none(h);
	struct h_seg fin_ack = peer_seg(&p, WIRE_TCP_ACK, PEER_ISS + 1, p.iss + 2);
	assert_int_equal(h_feed(h, &fin_ack), 0);
	assert_int_equal(h_state(p.s), TW_FIN_WAIT_2);
	h_free(h);
}

/*
 * A connection whose receive window we have closed: rcvbuf 2920 is two
 * segments of 1460, both filled by the peer and unread. Before that we sent
 * 100 bytes the peer has not yet acknowledged.
 */
static void open_zero_rcv_window(struct conn *p, struct harness **hp)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.rcvbuf = 2920;
	struct harness *h = h_new_cfg(&cfg);
	*hp = h;
	struct offer o = offer_plain();
	open_passive(p, h, &o);
	static uint8_t ours[100], theirs[1460];
	assert_int_equal(tw_send(p->s, ours, sizeof(ours), 0), sizeof(ours));
	h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, p->iss + 1, PEER_ISS + 1);
	for (uint32_t i = 0; i < 2; i++) {
		struct h_seg d = peer_seg(p, WIRE_TCP_ACK, PEER_ISS + 1 + 1460 * i, p->iss + 1);
		d.data = theirs;
		d.len = sizeof(theirs);
		assert_int_equal(h_feed(h, &d), 0);
		struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, p->iss + 101, PEER_ISS + 1 + 1460 * (i + 1));
		assert_int_equal(a.wnd, i == 0 ? 1460 : 0);
	}
	h_expect_none(h);
	assert_int_equal(h_info(p->s).rcv_wnd, 0);
	assert_int_equal(tw_readable(p->s), 2920);
}

/* Data at RCV.NXT into our zero window: its ACK counts, its data and FIN do not; we ACK at once. */
static void test_established_zero_rcv_window_takes_ack_not_data(void **state)
{
	(void)state;
	struct harness *h;
	struct conn p;
	open_zero_rcv_window(&p, &h);
	struct h_seg d = peer_seg(&p, WIRE_TCP_ACK | WIRE_TCP_FIN, PEER_ISS + 2921, p.iss + 101);
	d.data = "xyz";
	d.len = 3;
	assert_int_equal(h_feed(h, &d), 0);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.snd_una, p.iss + 101);     /* the ACK of our 100 bytes was taken */
	assert_int_equal(ci.rcv_nxt, PEER_ISS + 2921);  /* the data (and the FIN after it) were not */
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_int_equal(tw_readable(p.s), 2920);
	struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, p.iss + 101, PEER_ISS + 2921);
	assert_int_equal(a.wnd, 0);
	h_expect_none(h);
	h_free(h);
}

/* A zero-length FIN at RCV.NXT into our zero window is taken: CLOSE-WAIT, and it is ACKed. */
static void test_established_zero_rcv_window_takes_fin(void **state)
{
	(void)state;
	struct harness *h;
	struct conn p;
	open_zero_rcv_window(&p, &h);
	struct h_seg fin = peer_seg(&p, WIRE_TCP_ACK | WIRE_TCP_FIN, PEER_ISS + 2921, p.iss + 101);
	assert_int_equal(h_feed(h, &fin), 0);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.state, TW_CLOSE_WAIT);
	assert_int_equal(ci.snd_una, p.iss + 101);
	assert_int_equal(ci.rcv_nxt, PEER_ISS + 2922);
	assert_true(tw_events(p.s) & TW_POLLRDHUP);
	h_advance(h, 40000);   /* the FIN's ACK waits the delayed-ACK time, as Linux */
	struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, p.iss + 101, PEER_ISS + 2922);
	assert_int_equal(a.wnd, 0);
	h_expect_none(h);
	h_free(h);
}

/* ------------------------------------------------ 5. the end of window probes */

/* The peer's window is 0 from the handshake on; we queue one byte, which only probing can move. */
static void open_zero_window_with_byte(struct conn *p, struct harness *h)
{
	struct offer o = offer_plain();
	o.wnd = 0;
	open_passive(p, h, &o);
	assert_int_equal(tw_send(p->s, "x", 1, 0), 1);
	h_expect_none(h);
}

/* Answers our probes with a zero window until `end` or until `s` is freed or closed. */
static unsigned answer_probes(struct conn *p, uint64_t end, uint64_t *first, uint64_t *last, bool orphan)
{
	struct harness *h = p->h;
	unsigned probes = 0;
	while (h_step(h, end)) {
		while (h_pending(h)) {
			struct wire_tcp t = h_next(h);
			assert_true(is_probe(&t, p->iss + 1));
			probes++;
			if (first && !*first)
				*first = h->now;
			if (last)
				*last = h->now;
			struct h_seg a = peer_seg(p, WIRE_TCP_ACK, PEER_ISS + 1, p->iss + 1);
			a.wnd = 0;
			assert_int_equal(h_feed(h, &a), 0);
		}
		h_drain(h);
		if (orphan ? h_conns(h) == 0 : h_state(p->s) == TW_CLOSED)
			break;
	}
	return probes;
}

/*
 * TCP_USER_TIMEOUT 5 s: answered probes do not keep the connection alive
 * past it. As Linux's tcp_probe_timer, the check is made when the probe
 * timer fires, so the end comes at the first probe time 5 s or more after
 * the first probe: probes at 0.2, 0.6, 1.4, 3.0 s, then the end at 6.2 s.
 */
static void test_established_zero_window_probe_user_timeout(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	open_zero_window_with_byte(&p, h);
	assert_int_equal(tw_setsockopt(p.s, TW_TCP_USER_TIMEOUT, 5000), 0);
	uint64_t t0 = h->now, first = 0, last = 0;
	unsigned probes = answer_probes(&p, t0 + 1800ull * 1000000, &first, &last, false);
	uint64_t end = h->now;
	fprintf(stderr, "user timeout 5 s: %u probes, first at +%llu us, end at +%llu us\n", probes,
		(unsigned long long)(first - t0), (unsigned long long)(end - t0));
	assert_int_equal(h_state(p.s), TW_CLOSED);
	assert_int_equal(tw_sock_error(p.s), -ETIMEDOUT);
	assert_int_equal(stat_timed_out(h), 1);
	assert_int_equal(probes, 4);
	assert_true(last - first < 5000000);        /* no probe after the timeout had passed */
	assert_true(end - first >= 5000000);        /* and no end before it */
	assert_true(end - t0 <= 7000000);
	tw_close(p.s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* An orphan probing a zero window gives up after data_retries probes, answered or not. */
static void test_fin_wait_1_orphan_zero_window_probes_end(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	open_zero_window_with_byte(&p, h);
	assert_int_equal(tw_close(p.s), 0);   /* FIN queued behind the byte */
	h_expect_none(h);
	uint64_t t0 = h->now;
	unsigned probes = answer_probes(&p, t0 + 3600ull * 1000000, NULL, NULL, true);
	fprintf(stderr, "orphan: %u probes, freed after %llu s\n", probes,
		(unsigned long long)((h->now - t0) / 1000000));
	assert_int_equal(probes, 15);   /* data_retries, Linux's tcp_retries2 default */
	assert_int_equal(h_conns(h), 0);
	assert_int_equal(stat_timed_out(h), 1);
	h_free(h);
}

/* ------------------------------------------------------- 6. TS.Recent poisoning */

enum forged { FORGED_ACK_ABOVE_SND_NXT, FORGED_SYN_IN_WINDOW, FORGED_RST_IN_WINDOW };

/*
 * A segment RFC 5961 drops carries a TSval far in the future. Our challenge
 * ACK still echoes the real peer's TSval, and the real peer's next segment
 * (a normal TSval) is taken, its data delivered.
 */
static void ts_recent_not_poisoned_by(enum forged kind)
{
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	struct offer o = offer_linux();
	open_passive(&p, h, &o);
	uint32_t real_ts = p.ts_val;

	struct conn forger = p;
	forger.ts_val = real_ts + 0x40000000u;
	struct h_seg bad;
	switch (kind) {
	case FORGED_ACK_ABOVE_SND_NXT:
		bad = peer_seg(&forger, WIRE_TCP_ACK, PEER_ISS + 1, p.iss + 1 + 0x40000000u);
		bad.data = "EVIL";
		bad.len = 4;
		break;
	case FORGED_SYN_IN_WINDOW:
		/* At RCV.NXT (= Last.ACK.sent), where RFC 7323 4.3 would take its TSval. */
		bad = peer_seg(&forger, WIRE_TCP_SYN, PEER_ISS + 1, 0);
		break;
	default:
		/* From RCV.NXT - 1 with 2 bytes: in the window, not at RCV.NXT, so challenged. */
		bad = peer_seg(&forger, WIRE_TCP_RST, PEER_ISS, 0);
		bad.data = "!!";
		bad.len = 2;
		break;
	}
	h_feed(h, &bad);
	struct wire_tcp ch = h_expect(h, WIRE_TCP_ACK, p.iss + 1, PEER_ISS + 1);   /* the challenge ACK */
	assert_int_equal(ch.opt.ts_ecr, real_ts);
	h_expect_none(h);
	assert_int_equal(h_state(p.s), TW_ESTABLISHED);
	assert_int_equal(tw_readable(p.s), 0);

	h_advance(h, 1000000);
	p.ts_val = real_ts + 1000;
	struct h_seg d = peer_seg(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, PEER_ISS + 1, p.iss + 1);
	d.data = "good";
	d.len = 4;
	assert_int_equal(h_feed(h, &d), 0);
	struct wire_tcp a = h_expect(h, WIRE_TCP_ACK, p.iss + 1, PEER_ISS + 5);
	assert_int_equal(a.opt.ts_ecr, real_ts + 1000);
	char buf[8];
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "good", 4);
	h_free(h);
}

static void test_established_ack_above_snd_nxt_future_tsval_ignored(void **state)
{
	(void)state;
	ts_recent_not_poisoned_by(FORGED_ACK_ABOVE_SND_NXT);
}

static void test_established_syn_in_window_future_tsval_ignored(void **state)
{
	(void)state;
	ts_recent_not_poisoned_by(FORGED_SYN_IN_WINDOW);
}

static void test_established_rst_in_window_future_tsval_ignored(void **state)
{
	(void)state;
	ts_recent_not_poisoned_by(FORGED_RST_IN_WINDOW);
}

/* ------------------------------------------------ 7. out-of-window ACK limits */

/*
 * 100 pure ACKs with an old TSval (PAWS), 10 ms apart, anywhere in sequence
 * space: answered at most once per challenge_ack_interval (500 ms), at 0 and
 * 500 ms, as Linux's tcp_oow_rate_limited.
 */
static void test_established_paws_reject_flood_rate_limited(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	struct offer o = offer_linux();
	open_passive(&p, h, &o);
	uint64_t t0 = h->now;
	struct conn forger = p;
	forger.ts_val = PEER_TS0 - 500;
	for (uint32_t i = 0; i < 100; i++) {
		if (i)
			h_advance(h, 10000);
		struct h_seg s = peer_seg(&forger, WIRE_TCP_ACK, 0x12345678u + i * 100000u, 0x9abcdef0u);
		assert_int_equal(h_feed(h, &s), -TW_DROP_PAWS);
	}
	assert_int_equal(h_pending(h), 2);
	assert_int_equal(h->out[h->next_out].at, t0);
	h_expect(h, WIRE_TCP_ACK, p.iss + 1, PEER_ISS + 1);
	assert_int_equal(h->out[h->next_out].at, t0 + 500000);
	h_expect(h, WIRE_TCP_ACK, p.iss + 1, PEER_ISS + 1);
	assert_int_equal(h_state(p.s), TW_ESTABLISHED);
	h_free(h);
}

/* A connection in TIME-WAIT: we closed first, the peer's FIN came, our ACK went. */
static void open_time_wait(struct conn *p, struct harness *h)
{
	struct offer o = offer_linux();
	open_passive(p, h, &o);
	assert_int_equal(tw_close(p->s), 0);
	p->s = NULL;
	h_expect(h, WIRE_TCP_ACK | WIRE_TCP_FIN, p->iss + 1, PEER_ISS + 1);
	struct h_seg fin = peer_seg(p, WIRE_TCP_ACK | WIRE_TCP_FIN, PEER_ISS + 1, p->iss + 2);
	assert_int_equal(h_feed(h, &fin), 0);
	h_expect(h, WIRE_TCP_ACK, p->iss + 2, PEER_ISS + 2);
	assert_int_equal(h_conns(h), 1);
}

/* The peer's FIN, resent three times 200 ms apart (our ACKs lost): each gets its ACK. */
static void test_time_wait_fin_retransmits_each_acked(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	open_time_wait(&p, h);
	for (int i = 0; i < 3; i++) {
		h_advance(h, 200000);
		p.ts_val += 200;
		struct h_seg fin = peer_seg(&p, WIRE_TCP_ACK | WIRE_TCP_FIN, PEER_ISS + 1, p.iss + 2);
		h_feed(h, &fin);
		h_expect(h, WIRE_TCP_ACK, p.iss + 2, PEER_ISS + 2);
		h_expect_none(h);
	}
	assert_int_equal(h_conns(h), 1);
	h_advance(h, 60000000);   /* 2 MSL from the last FIN */
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/*
 * An old SYN to a TIME-WAIT connection, no listener: TIME-WAIT stays, and the
 * SYN is a stray segment like any other: right after a stray ACK used up the
 * out-of-window ACK limit, it draws no ACK (Linux's
 * tcp_timewait_check_oow_rate_limit). A newer SYN is ACKed at once.
 */
static void test_time_wait_old_syn_no_listener_limited(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	open_time_wait(&p, h);
	h_advance(h, 1000);
	struct h_seg stray = peer_seg(&p, WIRE_TCP_ACK, PEER_ISS - 5000, p.iss + 2);
	h_feed(h, &stray);
	h_expect(h, WIRE_TCP_ACK, p.iss + 2, PEER_ISS + 2);
	h_expect_none(h);
	h_advance(h, 1000);
	h_feed(h, &stray);
	h_expect_none(h);   /* the limit is in force */

	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS - 1000, 0);
	h_opt_mss(&syn, 1460);
	h_feed(h, &syn);
	h_expect_none(h);   /* an older SYN is a stray segment: limited like any other (as Linux) */
	assert_int_equal(h_conns(h), 1);
	h_advance(h, 60000000);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

/* ------------------------------------------------ 8. congestion control, RTT */

/*
 * RFC 5681 3.1 (eq. 4): ssthresh is set by the first timeout of a segment,
 * not again when the same data times out a second time.
 */
static void test_established_second_rto_keeps_ssthresh(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	struct offer o = offer_plain();
	open_passive(&p, h, &o);
	static uint8_t buf[100000];
	assert_true(tw_send(p.s, buf, sizeof(buf), 0) > 0);
	struct tw_conn_info ci = h_info(p.s);
	assert_int_equal(ci.snd_mss, 1460);
	assert_int_equal(ci.snd_nxt - ci.snd_una, 10 * 1460);
	h_drain(h);

	h_advance(h, ci.rto_us + 1000);   /* deadlines round up to the 1 ms tick */
	struct tw_conn_info c1 = h_info(p.s);
	assert_int_equal(c1.retransmits, 1);
	assert_int_equal(c1.ssthresh, 5 * 1460);   /* FlightSize / 2 */
	assert_int_equal(c1.cwnd, 1460);
	assert_int_equal(c1.rto_us, 2 * ci.rto_us);

	h_advance(h, c1.rto_us + 1000);
	struct tw_conn_info c2 = h_info(p.s);
	assert_int_equal(c2.retransmits, 2);
	assert_int_equal(c2.ssthresh, 5 * 1460);   /* not max(1460 / 2, 2 * SMSS) */
	assert_int_equal(c2.cwnd, 1460);
	h_free(h);
}

/* RFC 5681 3.1, RFC 6928 2: after a resent SYN the initial window is one segment. */
static void test_syn_sent_synack_after_syn_retransmit_iw_one_segment(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *s = h_connect(h);
	uint32_t iss = h_info(s).iss;
	h_expect(h, WIRE_TCP_SYN, iss, 0);
	h_advance(h, 1000000);
	h_expect(h, WIRE_TCP_SYN, iss, 0);   /* resent once */
	struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, iss + 1);
	h_opt_mss(&sa, 1460);
	assert_int_equal(h_feed(h, &sa), 0);
	h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
	struct tw_conn_info ci = h_info(s);
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_int_equal(ci.cwnd, ci.snd_mss);

	static uint8_t buf[20000];
	assert_true(tw_send(s, buf, sizeof(buf), 0) > 0);
	struct wire_tcp t = h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(t.payload_len, 1460);
	h_expect_none(h);
	h_free(h);
}

static void test_syn_received_ack_after_synack_retransmit_iw_one_segment(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	h_opt_mss(&syn, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	uint32_t iss = h_next(h).seq;
	h_advance(h, 1000000);
	h_expect(h, WIRE_TCP_SYN | WIRE_TCP_ACK, iss, PEER_ISS + 1);   /* resent by the timer */
	struct h_seg ack = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, iss + 1);
	assert_int_equal(h_feed(h, &ack), 0);
	int err = 0;
	struct tw_sock *s = tw_accept(l, NULL, &err);
	assert_non_null(s);
	struct tw_conn_info ci = h_info(s);
	assert_int_equal(ci.cwnd, ci.snd_mss);
	assert_int_equal(ci.srtt_us, 0);   /* Karn: no sample from a resent SYN-ACK */

	static uint8_t buf[20000];
	assert_true(tw_send(s, buf, sizeof(buf), 0) > 0);
	struct wire_tcp t = h_expect(h, WIRE_TCP_ACK, iss + 1, PEER_ISS + 1);
	assert_int_equal(t.payload_len, 1460);
	h_expect_none(h);
	h_free(h);
}

/*
 * The peer's SYN is resent and crosses our SYN-ACK; we send the SYN-ACK
 * again. Its ACK gives no RTT sample (Karn: which SYN-ACK does it answer?),
 * and the RTO for data is 3 s (RFC 6298 5.7), not collapsed to a bogus 1 ms
 * sample. A later sample from data is clean.
 */
static void test_syn_received_dup_syn_synack_gives_no_rtt_sample(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	h_opt_mss(&syn, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	uint32_t iss = h_next(h).seq;
	h_advance(h, 900000);
	assert_int_equal(h_feed(h, &syn), 0);
	h_expect(h, WIRE_TCP_SYN | WIRE_TCP_ACK, iss, PEER_ISS + 1);
	h_advance(h, 1000);
	struct h_seg ack = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, iss + 1);
	assert_int_equal(h_feed(h, &ack), 0);
	int err = 0;
	struct tw_sock *s = tw_accept(l, NULL, &err);
	assert_non_null(s);
	struct tw_conn_info ci = h_info(s);
	assert_int_equal(ci.srtt_us, 0);
	assert_int_equal(ci.rto_us, 3000000);

	assert_int_equal(tw_send(s, "abc", 3, 0), 3);
	h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, iss + 1, PEER_ISS + 1);
	h_advance(h, 100000);
	struct h_seg a = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, iss + 4);
	assert_int_equal(h_feed(h, &a), 0);
	ci = h_info(s);
	assert_int_equal(ci.srtt_us, 100000);
	assert_int_equal(ci.rto_us, 100000 + 200000);   /* SRTT + max(4 RTTVAR, rto_min) */
	h_free(h);
}

/* ------------------------------------------------------ 9. SYN+FIN, listener */

/* A SYN with FIN to a listener is dropped silently: no SYN-ACK, no half-open connection. */
static void test_listen_syn_fin_dropped(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 1);   /* room for one half-open connection */
	struct h_seg sf = h_seg(WIRE_TCP_SYN | WIRE_TCP_FIN, PEER_ISS, 0);
	h_opt_mss(&sf, 1460);
	assert_int_equal(h_feed(h, &sf), -TW_DROP_LISTEN_NOT_SYN);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 1);
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	assert_int_equal(ss.passive_opens, 0);

	/* The one SYN-queue place is still free. */
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	syn.sport = PEER_PORT + 1;
	h_opt_mss(&syn, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	assert_int_equal(h_next(h).flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	tw_close(l);
	h_free(h);
}

/* --------------------------------------------------------------- 10. SHUT_RD */

static void test_established_shutdown_rd_reads_queued_data(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	struct offer o = offer_plain();
	open_passive(&p, h, &o);
	struct h_seg d = peer_seg(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, PEER_ISS + 1, p.iss + 1);
	d.data = "hello";
	d.len = 5;
	assert_int_equal(h_feed(h, &d), 0);
	assert_int_equal(tw_shutdown(p.s, TW_SHUT_RD), 0);
	assert_int_equal(tw_readable(p.s), 5);
	char buf[16];
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), 0), 0);   /* then end of stream */
	h_free(h);
}

/* ------------------------------------------------- 11. keepalive and flight */

/*
 * Keepalive after 1 s idle, but our data is in flight unacknowledged: only
 * retransmissions go out, no keepalive probe. Once the data is ACKed, the
 * probe comes after the idle time.
 */
static void test_established_keepalive_not_sent_with_data_in_flight(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct conn p;
	struct offer o = offer_plain();
	open_passive(&p, h, &o);
	assert_int_equal(tw_setsockopt(p.s, TW_TCP_KEEPIDLE, 1), 0);
	assert_int_equal(tw_setsockopt(p.s, TW_TCP_KEEPINTVL, 1), 0);
	assert_int_equal(tw_setsockopt(p.s, TW_SO_KEEPALIVE, 1), 0);
	assert_int_equal(tw_send(p.s, "data", 4, 0), 4);
	h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, p.iss + 1, PEER_ISS + 1);

	unsigned rtx = 0;
	uint64_t end = h->now + 10000000;
	while (h_step(h, end)) {
		while (h_pending(h)) {
			struct wire_tcp t = h_next(h);
			assert_int_equal(t.seq, p.iss + 1);      /* never SND.UNA - 1 */
			assert_int_equal(t.payload_len, 4);
			rtx++;
		}
	}
	assert_true(rtx >= 4);
	assert_int_equal(h_state(p.s), TW_ESTABLISHED);

	struct h_seg a = peer_seg(&p, WIRE_TCP_ACK, PEER_ISS + 1, p.iss + 5);
	assert_int_equal(h_feed(h, &a), 0);
	h_expect_none(h);
	h_advance(h, 1000000);
	struct wire_tcp t = h_next(h);
	assert_true(is_probe(&t, p.iss + 5));
	h_free(h);
}

/* ------------------------------------------------------ 12. config bounds */

static void expect_config(const struct tw_stack_config *cfg, bool ok)
{
	int err = 0;
	struct tw_stack *st = tw_stack_new(cfg, &err);
	if (ok) {
		assert_non_null(st);
		h_stack_free(st, 0);
	} else {
		assert_null(st);
		assert_int_equal(err, -EINVAL);
	}
}

/* Retransmission counters are 8 bits wide (127 at most), quick ACKs 255. */
static void test_config_retries_and_quickacks_bounds(void **state)
{
	(void)state;
	for (int field = 0; field < 4; field++) {
		uint32_t max = field == 3 ? 255 : 127;
		for (uint32_t v = max; v <= max + 1; v++) {
			struct tw_stack_config cfg;
			h_config(&cfg, TW_AF_INET);
			switch (field) {
			case 0: cfg.syn_retries = v; break;
			case 1: cfg.synack_retries = v; break;
			case 2: cfg.data_retries = v; break;
			default: cfg.quickack_segs = v; break;
			}
			expect_config(&cfg, v == max);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syn_sent_timeout_callback_closes_other),
		cmocka_unit_test(test_syn_sent_timeout_callback_opens_and_closes),
		cmocka_unit_test(test_syn_received_ack_listener_callback_accepts_and_aborts),
		cmocka_unit_test(test_fin_wait_1_ack_callback_aborts_on_fin_wait_2),
		cmocka_unit_test(test_config_min_snd_mss_below_48_refused),
		cmocka_unit_test(test_listen_syn_tiny_mss_with_timestamps),
		cmocka_unit_test(test_established_ooo_held_full_segments_fit_mtu),
		cmocka_unit_test(test_fin_wait_1_zero_window_holds_fin),
		cmocka_unit_test(test_established_zero_rcv_window_takes_ack_not_data),
		cmocka_unit_test(test_established_zero_rcv_window_takes_fin),
		cmocka_unit_test(test_established_zero_window_probe_user_timeout),
		cmocka_unit_test(test_fin_wait_1_orphan_zero_window_probes_end),
		cmocka_unit_test(test_established_ack_above_snd_nxt_future_tsval_ignored),
		cmocka_unit_test(test_established_syn_in_window_future_tsval_ignored),
		cmocka_unit_test(test_established_rst_in_window_future_tsval_ignored),
		cmocka_unit_test(test_established_paws_reject_flood_rate_limited),
		cmocka_unit_test(test_time_wait_fin_retransmits_each_acked),
		cmocka_unit_test(test_time_wait_old_syn_no_listener_limited),
		cmocka_unit_test(test_established_second_rto_keeps_ssthresh),
		cmocka_unit_test(test_syn_sent_synack_after_syn_retransmit_iw_one_segment),
		cmocka_unit_test(test_syn_received_ack_after_synack_retransmit_iw_one_segment),
		cmocka_unit_test(test_syn_received_dup_syn_synack_gives_no_rtt_sample),
		cmocka_unit_test(test_listen_syn_fin_dropped),
		cmocka_unit_test(test_established_shutdown_rd_reads_queued_data),
		cmocka_unit_test(test_established_keepalive_not_sent_with_data_in_flight),
		cmocka_unit_test(test_config_retries_and_quickacks_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
