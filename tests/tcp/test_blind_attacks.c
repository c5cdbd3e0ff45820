/*
 * Blind attacks at scale, through the real input path (tw_input): an
 * off-path attacker who knows the 4-tuple but not the sequence numbers.
 *
 * - RFC 5961 3.2 and 4.2: a sweep of RSTs over the whole sequence space at
 *   the receive window's stride, random in-window RSTs and random SYNs
 *   leave the connection established and working; each segment is dropped
 *   or answered with a challenge ACK, one per interval (RFC 5961 7), and
 *   the counters account for every one.
 * - CVE-2016-5696: the challenge ACKs one connection sends do not depend
 *   on the attack on another.
 * - RFC 6191: a SYN reopens a 4-tuple in TIME-WAIT only with a newer
 *   timestamp, or without timestamps a sequence number above RCV.NXT.
 * - Out-of-order data: a million 1-byte segments at random offsets hold no
 *   more than the receive buffer's worth of chunks; at the stack's buffer
 *   bound, out-of-order data gives way to the segment that fills the hole
 *   (Linux's tcp_prune_ofo_queue), and a write the bound refuses behaves as
 *   a full send buffer.
 */
#include <errno.h>

#include "scripted_conn.h"
#include "tcp/tcp.h"

/* ------------------------------------------------------------ the attacker */

/* xorshift64*: a fixed seed, so every run sends the same segments. */
static uint32_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 2685821657736338717ull) >> 32);
}

/* What the stack sent while the attack ran, by the peer's port. */
struct seen {
	uint64_t segs[2];           /* to PEER_PORT, PEER_PORT + 1 */
	uint64_t acks[2];           /* of those, bare ACKs <SEQ=want_seq><ACK=want_ack> */
	uint32_t want_seq[2], want_ack[2];
	uint64_t other;             /* anything to another port */
};

static void count_out(void *ctx, const uint8_t *pkt, size_t len)
{
	struct seen *w = ctx;
	struct wire_ipv4 ip;
	struct wire_pseudo ph;
	struct wire_tcp t;
	assert_int_equal(wire_ipv4_parse(&ip, pkt, len), 0);
	wire_ipv4_pseudo(&ip, &ph);
	assert_int_equal(wire_tcp_parse(&t, ip.payload, ip.payload_len, &ph), 0);
	unsigned i = t.dport - PEER_PORT;
	if (i > 1) {
		w->other++;
		return;
	}
	w->segs[i]++;
	if (t.flags == WIRE_TCP_ACK && !t.payload_len && t.seq == w->want_seq[i] && t.ack == w->want_ack[i])
		w->acks[i]++;
}

/* The stack's output goes to `w` (NULL: back to the harness's capture). */
static void watch(struct conn *c, struct seen *w)
{
	if (w)
		tw_stack_set_output(c->h->st, count_out, w);
	else
		tw_stack_set_output(c->h->st, h_capture, c->h);
}

static void expect_of(struct seen *w, unsigned i, const struct conn *c)
{
	w->want_seq[i] = c->snd_nxt;
	w->want_ack[i] = c->rcv_nxt;
}

/*
 * The per-connection limit of RFC 5961 7 as the stack promises it (Linux's
 * tcp_oow_rate_limited): an answer goes when none went in the last interval.
 */
struct limit {
	uint64_t last;
	uint64_t interval;
};

static bool limit_passes(struct limit *l, uint64_t now)
{
	if (l->last && now - l->last < l->interval)
		return false;
	l->last = now;
	return true;
}

static struct tw_stack_stats stats(const struct conn *c)
{
	struct tw_stack_stats s;
	tw_stack_stats(c->h->st, &s);
	return s;
}

/* A segment no one but the attacker sends: no options, the right 4-tuple. */
static int blind(struct conn *c, uint8_t flags, uint32_t seq)
{
	struct h_seg s = h_seg(flags, seq, 0);
	s.sport = c->port;
	return h_feed(c->h, &s);
}

static uint32_t rcv_wnd(const struct conn *c) { return h_info(c->s).rcv_wnd; }

static bool in_window(const struct conn *c, uint32_t wnd, uint32_t seq) { return seq - c->rcv_nxt < wnd; }

/* The connection still carries data both ways. */
static void expect_working(struct conn *c)
{
	struct tw_conn_info ci = h_info(c->s);
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_int_equal(ci.rcv_nxt, c->rcv_nxt);
	assert_int_equal(ci.snd_nxt, c->snd_nxt);
	assert_int_equal(tw_sock_error(c->s), 0);
	feed_data(c, c->rcv_nxt, c->snd_nxt, "still", 5);
	c->rcv_nxt += 5;
	h_advance(c->h, 200000);           /* the ACK, quick or delayed */
	expect_ack(c);
	char buf[8];
	assert_int_equal(tw_recv(c->s, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "still", 5);
	assert_int_equal(tw_send(c->s, "here", 4, 0), 4);
	struct wire_tcp t = expect_seg(c, WIRE_TCP_ACK | WIRE_TCP_PSH, c->snd_nxt, c->rcv_nxt);
	assert_int_equal(t.payload_len, 4);
	c->snd_nxt += 4;
	peer_acks_all(c);
}

/* ------------------------------------------------ RFC 5961 3.2, 4.2, 7 at scale */

#define SWEEP 65536u                /* 2^32 / 2^16: the space at a 64 KiB window's stride */
#define RANDOM_RSTS 100000u
#define RANDOM_SYNS 100000u

/*
 * Every attack segment is dropped, and answered with a challenge ACK exactly
 * when the per-connection limit lets one go: the ACKs on the wire, the
 * limit's model, stats.challenge_acks and the drop counters all agree.
 */
static void test_established_survives_blind_rsts_and_syns_at_scale(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE, PEER_ISS);   /* no timestamps: PAWS cannot help */
	uint32_t wnd = rcv_wnd(&c);
	assert_true(wnd > 1 && wnd <= SWEEP);
	struct seen w = { 0 };
	expect_of(&w, 0, &c);
	watch(&c, &w);
	struct limit lim = { .interval = 500000 };
	struct tw_stack_stats before = stats(&c);
	uint64_t seed = 0x5961;
	uint64_t challenged = 0, dropped = 0, syn_challenged = 0, want_acks = 0;

	/*
	 * The sweep: SEG.SEQ = base + i * 2^16 covers the space at the window's
	 * stride, so exactly one lands in the window, never at RCV.NXT itself.
	 */
	uint32_t base = c.rcv_nxt + 1 + rnd(&seed) % (wnd - 1) + (rnd(&seed) << 16);
	for (uint32_t i = 0; i < SWEEP; i++) {
		uint32_t seq = base + i * SWEEP;
		c.h->now += 13;
		bool in = in_window(&c, wnd, seq);
		assert_int_equal(blind(&c, WIRE_TCP_RST, seq), -(in ? TW_DROP_RST_CHALLENGED : TW_DROP_OUT_OF_WINDOW));
		if (in) {
			challenged++;
			want_acks += limit_passes(&lim, c.h->now);
		} else {
			dropped++;          /* RFC 9293 3.10.7.4: a RST outside the window draws nothing */
		}
		assert_int_equal(w.segs[0], want_acks);
	}
	assert_int_equal(challenged, 1);

	/* Random RSTs in the window, none at RCV.NXT: each a challenge, within the limit. */
	for (uint32_t i = 0; i < RANDOM_RSTS; i++) {
		c.h->now += 37;
		uint32_t seq = c.rcv_nxt + 1 + rnd(&seed) % (wnd - 1);
		assert_int_equal(blind(&c, WIRE_TCP_RST, seq), -TW_DROP_RST_CHALLENGED);
		challenged++;
		want_acks += limit_passes(&lim, c.h->now);
		assert_int_equal(w.segs[0], want_acks);
	}

	/* Random SYNs anywhere: in the window a challenge (4.2), outside an ACK (3.10.7.4 first); one limit. */
	for (uint32_t i = 0; i < RANDOM_SYNS; i++) {
		c.h->now += 41;
		uint32_t seq = rnd(&seed);
		bool in = in_window(&c, wnd, seq);
		assert_int_equal(blind(&c, WIRE_TCP_SYN, seq), -(in ? TW_DROP_SYN_CHALLENGED : TW_DROP_OUT_OF_WINDOW));
		if (in)
			syn_challenged++;
		else
			dropped++;
		want_acks += limit_passes(&lim, c.h->now);
		assert_int_equal(w.segs[0], want_acks);
	}

	struct tw_stack_stats after = stats(&c);
	uint64_t total = SWEEP + RANDOM_RSTS + RANDOM_SYNS;
	assert_int_equal(after.in_segs - before.in_segs, total);
	assert_int_equal(after.drops[TW_DROP_RST_CHALLENGED] - before.drops[TW_DROP_RST_CHALLENGED], challenged);
	assert_int_equal(after.drops[TW_DROP_SYN_CHALLENGED] - before.drops[TW_DROP_SYN_CHALLENGED], syn_challenged);
	assert_int_equal(after.drops[TW_DROP_OUT_OF_WINDOW] - before.drops[TW_DROP_OUT_OF_WINDOW], dropped);
	assert_int_equal(challenged + syn_challenged + dropped, total);
	/* Every segment sent was a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>, and counted as one. */
	assert_int_equal(w.acks[0], w.segs[0]);
	assert_int_equal(w.other + w.segs[1], 0);
	assert_int_equal(after.challenge_acks - before.challenge_acks, w.segs[0]);
	assert_int_equal(after.out_segs - before.out_segs, w.segs[0]);
	assert_int_equal(after.conns_reset, before.conns_reset);
	/* One per 500 ms of the 8.7 s the attack took. */
	assert_true(want_acks >= 17 && want_acks <= 18);
	print_message("# %llu attack segments: %llu challenge ACKs\n", (unsigned long long)total,
		      (unsigned long long)want_acks);

	watch(&c, NULL);
	expect_working(&c);
	conn_end(&c);
}

/* ---------------------------------------------------------- CVE-2016-5696 */

enum { ATTACK_A = 1, ATTACK_B = 2 };

/*
 * Two connections, A and B, on one stack; in-window RSTs at A, at B, or at
 * both, interleaved, 20,000 each over 5 s. Returns the challenge ACKs each
 * connection sent.
 */
static void challenge_two(unsigned attack, uint64_t out[2])
{
	struct conn a, b;
	conn_open(&a, M_PASSIVE | M_TS, PEER_ISS);
	conn_open_on(&b, a.h, a.l, PEER_PORT + 1, M_PASSIVE | M_TS, PEER_ISS - 0x10000);
	struct seen w = { 0 };
	expect_of(&w, 0, &a);
	expect_of(&w, 1, &b);
	watch(&a, &w);
	struct tw_stack_stats before = stats(&a);
	uint32_t wa = rcv_wnd(&a), wb = rcv_wnd(&b);
	uint64_t seed = 0xc0ffee;
	for (int i = 0; i < 20000; i++) {
		a.h->now += 250;
		uint32_t ra = rnd(&seed), rb = rnd(&seed);
		if (attack & ATTACK_A)
			assert_int_equal(blind(&a, WIRE_TCP_RST, a.rcv_nxt + 1 + ra % (wa - 1)), -TW_DROP_RST_CHALLENGED);
		if (attack & ATTACK_B)
			assert_int_equal(blind(&b, WIRE_TCP_RST, b.rcv_nxt + 1 + rb % (wb - 1)), -TW_DROP_RST_CHALLENGED);
	}
	struct tw_stack_stats after = stats(&a);
	assert_int_equal(w.acks[0], w.segs[0]);
	assert_int_equal(w.acks[1], w.segs[1]);
	assert_int_equal(w.other, 0);
	assert_int_equal(after.challenge_acks - before.challenge_acks, w.segs[0] + w.segs[1]);
	out[0] = w.segs[0];
	out[1] = w.segs[1];
	watch(&a, NULL);
	assert_int_equal(h_state(a.s), TW_ESTABLISHED);
	assert_int_equal(h_state(b.s), TW_ESTABLISHED);
	tw_abort(b.s);
	b.s = NULL;
	conn_end(&a);
}

/*
 * The attack of CVE-2016-5696 counts the challenge ACKs on its own
 * connection while it sends RSTs at another: with a counter shared between
 * connections, the count falls when a guess hits. Here each connection's
 * count is the same whether the other is attacked or not: one per 500 ms.
 */
static void test_established_challenge_acks_independent_of_other_connection(void **state)
{
	(void)state;
	uint64_t both[2], only_a[2], only_b[2];
	challenge_two(ATTACK_A | ATTACK_B, both);
	challenge_two(ATTACK_A, only_a);
	challenge_two(ATTACK_B, only_b);
	assert_int_equal(both[0], only_a[0]);
	assert_int_equal(both[1], only_b[1]);
	assert_int_equal(only_a[1], 0);
	assert_int_equal(only_b[0], 0);
	assert_int_equal(both[0], 10);      /* 5 s at one per 500 ms */
	assert_int_equal(both[1], 10);
}

/*
 * stats.challenge_acks counts challenge ACKs sent, not the segments that
 * might have drawn one: a SYN outside the window within the limit's
 * interval draws nothing and is not counted.
 */
static void test_established_out_of_window_syn_counted_only_when_answered(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	uint32_t far = c.rcv_nxt + 0x40000000u;
	struct tw_stack_stats s0 = stats(&c);
	struct h_seg syn = pseg(&c, WIRE_TCP_SYN, far, 0);
	assert_int_equal(feed(&c, &syn), -TW_DROP_OUT_OF_WINDOW);
	expect_ack(&c);
	struct tw_stack_stats s1 = stats(&c);
	assert_int_equal(s1.challenge_acks - s0.challenge_acks, 1);
	struct h_seg again = pseg(&c, WIRE_TCP_SYN, far, 0);
	assert_int_equal(feed(&c, &again), -TW_DROP_OUT_OF_WINDOW);
	h_expect_none(c.h);
	struct tw_stack_stats s2 = stats(&c);
	assert_int_equal(s2.challenge_acks, s1.challenge_acks);
	assert_int_equal(s2.drops[TW_DROP_OUT_OF_WINDOW] - s0.drops[TW_DROP_OUT_OF_WINDOW], 2);
	conn_end(&c);
}

/* ---------------------------------------------------- RFC 6191: TIME-WAIT reuse */

/* A connection opened passively (so a listener waits), driven into TIME-WAIT. */
static void time_wait_open(struct conn *c, unsigned mode)
{
	conn_open(c, M_PASSIVE | mode, PEER_ISS);
	drive(c, TW_TIME_WAIT);
}

/* The peer's SYN for the same 4-tuple; ts_val 0: without options but the MSS. */
static int tw_syn(struct conn *c, uint32_t seq, uint32_t ts_val)
{
	struct h_seg syn = h_seg(WIRE_TCP_SYN, seq, 0);
	syn.sport = c->port;
	if (ts_val)
		h_opt_linux_syn(&syn, ts_val, 0);
	else
		h_opt_mss(&syn, 1460);
	return h_feed(c->h, &syn);
}

/*
 * A SYN for the 4-tuple in TIME-WAIT, `seq` from RCV.NXT, its TSval `ts`
 * from TS.Recent (NO_TS: no timestamps): it opens a new incarnation (a
 * SYN-ACK from an ISS above the old one's, TIME-WAIT gone), or is refused
 * (TIME-WAIT answers with its ACK and stays).
 */
#define NO_TS INT32_MIN

static void check_time_wait_syn(unsigned mode, int32_t seq, int32_t ts, bool reopens)
{
	struct conn c;
	time_wait_open(&c, mode);
	uint32_t irs = c.rcv_nxt + (uint32_t)seq;
	assert_int_equal(tw_syn(&c, irs, ts == NO_TS ? 0 : c.peer_ts + (uint32_t)ts), 0);
	if (!reopens) {
		expect_ack(&c);
		h_expect_none(c.h);
		assert_int_equal(h_state(c.s), TW_TIME_WAIT);
		conn_end(&c);
		return;
	}
	struct wire_tcp sa = h_next(c.h);
	assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal(sa.ack, irs + 1);
	assert_true((int32_t)(sa.seq - c.snd_nxt) > 0);
	h_expect_none(c.h);
	assert_int_equal(h_state(c.s), TW_CLOSED);
	tw_close(c.s);
	c.s = NULL;
	tw_close(c.l);                      /* with the new half-open connection */
	c.l = NULL;
	conn_end(&c);
}

/* RFC 6191 2: with timestamps, a newer TSval reopens even below RCV.NXT. */
static void test_time_wait_syn_newer_ts_lower_seq_reopens(void **state)
{
	(void)state;
	check_time_wait_syn(M_TS, -100000, 1, true);
}

/* RFC 6191 2 / RFC 7323 5: an older TSval is refused (PAWS), however high its sequence number. */
static void test_time_wait_syn_older_ts_higher_seq_refused(void **state)
{
	(void)state;
	check_time_wait_syn(M_TS, 100000, -1, false);
}

/* The same TSval as TS.Recent is not newer: below RCV.NXT it is refused. */
static void test_time_wait_syn_equal_ts_lower_seq_refused(void **state)
{
	(void)state;
	check_time_wait_syn(M_TS, -1, 0, false);
}

/* The same TSval is not older either: PAWS lets it by, and a sequence number above RCV.NXT reopens. */
static void test_time_wait_syn_equal_ts_higher_seq_reopens(void **state)
{
	(void)state;
	check_time_wait_syn(M_TS, 1, 0, true);
}

/* A SYN without timestamps to a connection that had them: the sequence number decides (Linux). */
static void test_time_wait_syn_without_ts_higher_seq_reopens(void **state)
{
	(void)state;
	check_time_wait_syn(M_TS, 1, NO_TS, true);
}

static void test_time_wait_syn_without_ts_lower_seq_refused(void **state)
{
	(void)state;
	check_time_wait_syn(M_TS, -1, NO_TS, false);
}

/* RFC 6191 3: without timestamps the SYN must be above RCV.NXT; RCV.NXT itself is not. */
static void test_time_wait_syn_no_ts_at_rcv_nxt_refused(void **state)
{
	(void)state;
	check_time_wait_syn(0, 0, NO_TS, false);
}

static void test_time_wait_syn_no_ts_just_above_rcv_nxt_reopens(void **state)
{
	(void)state;
	check_time_wait_syn(0, 1, NO_TS, true);
}

/*
 * Refused SYNs are answered within the per-connection limit (Linux's
 * tcp_timewait_check_oow_rate_limit), so a flood of old SYNs draws one
 * ACK per interval; and a PAWS-refused SYN restarts the 2 MSL timer, an
 * ACK-less one below RCV.NXT does not (Linux's inet_twsk_reschedule).
 */
static void test_time_wait_refused_syns_rate_limited_paws_restarts_timer(void **state)
{
	(void)state;
	struct conn c;
	time_wait_open(&c, M_TS);
	assert_int_equal(tw_syn(&c, c.rcv_nxt - 5, 0), 0);
	expect_ack(&c);
	for (int i = 0; i < 100; i++)
		assert_int_equal(tw_syn(&c, c.rcv_nxt - 5 - (uint32_t)i, 0), 0);
	h_expect_none(c.h);
	h_advance(c.h, 30000000);
	assert_int_equal(tw_syn(&c, c.rcv_nxt + 5, c.peer_ts - 1), 0);   /* PAWS: restarts 2 MSL */
	expect_ack(&c);
	h_advance(c.h, 59000000);           /* 89 s after TIME-WAIT began, 59 s after the restart */
	assert_int_equal(h_state(c.s), TW_TIME_WAIT);
	h_advance(c.h, 1000000);
	assert_int_equal(h_state(c.s), TW_CLOSED);
	h_expect_none(c.h);
	tw_close(c.s);
	c.s = NULL;
	conn_end(&c);
}

/* --------------------------------------------------- out-of-order memory */

static uint8_t stream_byte(uint32_t off) { return (uint8_t)((off * 2654435761u) >> 24); }

static struct tcp_conn *conn_of(const struct conn *c) { return (struct tcp_conn *)c->s; }

/* Chunks the stack holds now: with one connection and nothing sent, its receive ring's. */
static uint32_t pool_in_use(const struct conn *c) { return conn_of(c)->stack->pool.in_use; }

static uint8_t fill_buf[65536];

/* The peer sends its stream bytes [off, off + len), off from its ISN + 1. */
static int peer_stream(struct conn *c, uint32_t off, uint32_t len)
{
	assert_true(len <= sizeof(fill_buf));
	for (uint32_t i = 0; i < len; i++)
		fill_buf[i] = stream_byte(off + i);
	return feed_data(c, PEER_ISS + 1 + off, c->snd_nxt, (const char *)fill_buf, len);
}

/* Reads what is readable and checks it is the stream from `*at` on. */
static void read_stream(struct conn *c, uint32_t *at)
{
	static uint8_t buf[262144];
	long n = tw_recv(c->s, buf, sizeof(buf), 0);
	if (n == -E_AGAIN)
		return;
	assert_true(n > 0);
	for (long i = 0; i < n; i++)
		assert_int_equal(buf[i], stream_byte(*at + (uint32_t)i));
	*at += (uint32_t)n;
}

/* The peer sends the stream in order from RCV.NXT up to `end`, in 1,000-byte segments; all of it is read. */
static void fill_to(struct conn *c, uint32_t end, uint32_t *read)
{
	for (;;) {
		uint32_t at = h_info(c->s).rcv_nxt - (PEER_ISS + 1);
		if (at >= end)
			break;
		uint32_t n = end - at < 1000 ? end - at : 1000;
		assert_int_equal(peer_stream(c, at, n), 0);
		read_stream(c, read);
	}
	c->rcv_nxt = h_info(c->s).rcv_nxt;
	read_stream(c, read);
	assert_int_equal(*read, end);
}

#define TINY_SEGS 1000000u

/*
 * A million 1-byte segments at random offsets in the window: the
 * connection never holds more than its receive buffer's worth of chunks,
 * and once the peer fills the holes the stream arrives whole.
 */
static void test_established_million_tiny_out_of_order_segments_bounded(void **state)
{
	(void)state;
	struct conn c;
	conn_open(&c, M_PASSIVE | M_TS, PEER_ISS);
	uint32_t wnd = rcv_wnd(&c);
	assert_true(wnd > 2);
	uint32_t bound = conn_of(&c)->sb->rcv.cap / TCP_CHUNK_SIZE + 3;   /* every chunk of the ring, and its slot array */
	struct seen w = { 0 };
	expect_of(&w, 0, &c);
	watch(&c, &w);
	uint64_t seed = 0x0f0;
	uint32_t most = 0;
	for (uint32_t i = 0; i < TINY_SEGS; i++) {
		uint32_t off = 1 + rnd(&seed) % (wnd - 1);      /* never at RCV.NXT: the hole stays */
		uint8_t b = stream_byte(off);
		struct h_seg s = pseg(&c, WIRE_TCP_ACK, c.rcv_nxt + off, c.snd_nxt);
		s.data = &b;
		s.len = 1;
		assert_int_equal(h_feed(c.h, &s), 0);
		uint32_t n = pool_in_use(&c);
		if (n > most)
			most = n;
	}
	assert_true(most <= bound);
	assert_true(conn_of(&c)->sb->n_ooo <= TCP_OOO_MAX);
	assert_int_equal(w.segs[0], TINY_SEGS);   /* each out-of-order segment is ACKed at once (RFC 5681 4.2) */
	assert_int_equal(h_info(c.s).rcv_nxt, c.rcv_nxt);
	print_message("# %u tiny segments: at most %u chunks held (bound %u), %u ranges kept\n", TINY_SEGS, most,
		      bound, conn_of(&c)->sb->n_ooo);

	/* The holes filled: every byte arrives once, in order, the pieces kept among them. */
	uint32_t read = 0;
	fill_to(&c, wnd, &read);
	watch(&c, NULL);
	assert_int_equal(pool_in_use(&c), 0);
	expect_working(&c);
	conn_end(&c);
}

/* ------------------------------------------------------ the buffer bound */

/* A stack whose buffers may hold `chunks` chunks in all. */
static void bounded_open(struct conn *c, uint32_t chunks)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.buffer_max_bytes = chunks * TCP_CHUNK_SIZE;
	conn_open_on(c, h_new_cfg(&cfg), NULL, PEER_PORT, M_PASSIVE | M_TS, PEER_ISS);
}

/*
 * Out-of-order data holds every chunk the bound allows; the segment that
 * fills the hole needs one more. Refusing it would wait forever: only
 * taking it lets the application read and free the rest. Like Linux's
 * tcp_prune_ofo_queue, the out-of-order data furthest out gives way, is
 * counted, and comes again.
 */
static void test_buffers_bound_hole_fill_prunes_far_out_of_order_data(void **state)
{
	(void)state;
	struct conn c;
	bounded_open(&c, 4);                /* a slot array and three chunks */
	assert_true(rcv_wnd(&c) >= 4 * TCP_CHUNK_SIZE);
	/* Three ranges in the chunks after the first: [2048, 3048), [4196, 4296), [6144, 7144). */
	assert_int_equal(peer_stream(&c, 2048, 1000), 0);
	assert_int_equal(peer_stream(&c, 6144, 1000), 0);
	assert_int_equal(peer_stream(&c, 4196, 100), 0);
	assert_int_equal(pool_in_use(&c), 4);
	assert_int_equal(conn_of(&c)->sb->n_ooo, 3);
	struct tw_stack_stats s0 = stats(&c);

	/* The hole: [0, 2048). Taken, at the cost of the range furthest out. */
	assert_int_equal(peer_stream(&c, 0, 1000), 0);
	assert_int_equal(peer_stream(&c, 1000, 1048), 0);
	struct tw_stack_stats s1 = stats(&c);
	assert_int_equal(s1.ooo_pruned - s0.ooo_pruned, 1);
	assert_int_equal(s1.ooo_pruned_bytes - s0.ooo_pruned_bytes, 1000);
	assert_true(s1.buffer_chunks <= 4);
	assert_int_equal(h_info(c.s).rcv_nxt, PEER_ISS + 1 + 3048);   /* the hole and the range after it */
	assert_int_equal(conn_of(&c)->sb->n_ooo, 1);                 /* [4196, 4296) stays */

	/* The application reads; the peer sends the rest again; the stream arrives whole. */
	uint32_t read = 0;
	read_stream(&c, &read);
	assert_int_equal(read, 3048);
	fill_to(&c, 8192, &read);
	h_advance(c.h, 200000);
	c.h->next_out = c.h->n_out;        /* the ACKs of all that */
	assert_int_equal(pool_in_use(&c), 0);
	expect_working(&c);
	conn_end(&c);
}

struct ready {
	unsigned events, calls;
};

static void on_ready(struct tw_sock *s, unsigned events, void *ctx)
{
	(void)s;
	struct ready *r = ctx;
	r->events = events;
	r->calls++;
}

/*
 * A write the stack's bound refuses is a full send buffer to the
 * application: -EAGAIN, not -ENOMEM; no POLLOUT; and the callback hears
 * POLLOUT again when chunks come back, whichever connection gives them
 * back. (Else a well-behaved application that writes while POLLOUT shows
 * would spin.)
 */
static void test_buffers_bound_write_refused_is_full_send_buffer(void **state)
{
	(void)state;
	struct conn a, b;
	bounded_open(&a, 4);
	conn_open_on(&b, a.h, a.l, PEER_PORT + 1, M_PASSIVE | M_TS, PEER_ISS - 0x10000);
	struct ready ra = { 0 }, rb = { 0 };
	tw_set_callback(a.s, on_ready, &ra);
	tw_set_callback(b.s, on_ready, &rb);
	static uint8_t data[32768];
	memset(data, 'x', sizeof(data));

	/* A takes every chunk there is; its buffer and B's still have room. */
	long n = tw_send(a.s, data, sizeof(data), 0);
	assert_true(n > 0 && n < 4 * (long)TCP_CHUNK_SIZE);
	assert_true(stats(&a).buffer_refusals > 0);
	assert_true(conn_of(&a)->sb->snd.bytes.len < conn_of(&a)->sb->snd.bytes.cap);
	assert_int_equal(tw_send(a.s, data, sizeof(data), 0), -E_AGAIN);
	assert_int_equal(tw_send(b.s, data, 100, 0), -E_AGAIN);
	assert_int_equal(tw_events(a.s) & TW_POLLOUT, 0);
	assert_int_equal(tw_events(b.s) & TW_POLLOUT, 0);

	/* What A took goes out; its peer ACKs it all, and the chunks come back. */
	uint32_t sent = 0;
	while (h_pending(a.h))
		sent += (uint32_t)expect_seg(&a, h_pending(a.h) == 1 ? WIRE_TCP_ACK | WIRE_TCP_PSH : WIRE_TCP_ACK,
					     a.snd_nxt + sent, a.rcv_nxt).payload_len;
	assert_int_equal(sent, n);
	a.snd_nxt += sent;
	ra.calls = rb.calls = 0;
	peer_acks_all(&a);
	assert_int_equal(stats(&a).buffer_chunks, 0);
	assert_true(ra.calls > 0 && (ra.events & TW_POLLOUT));
	assert_true(rb.calls > 0 && (rb.events & TW_POLLOUT));   /* B is told too: the chunks were A's */
	assert_true(tw_events(b.s) & TW_POLLOUT);

	/* B's write goes now. */
	assert_int_equal(tw_send(b.s, data, 100, 0), 100);
	expect_seg(&b, WIRE_TCP_ACK | WIRE_TCP_PSH, b.snd_nxt, b.rcv_nxt);
	b.snd_nxt += 100;
	peer_acks_all(&b);
	tw_abort(b.s);
	b.s = NULL;
	h_next(a.h);                        /* B's RST */
	conn_end(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_established_survives_blind_rsts_and_syns_at_scale),
		cmocka_unit_test(test_established_challenge_acks_independent_of_other_connection),
		cmocka_unit_test(test_established_out_of_window_syn_counted_only_when_answered),
		cmocka_unit_test(test_time_wait_syn_newer_ts_lower_seq_reopens),
		cmocka_unit_test(test_time_wait_syn_older_ts_higher_seq_refused),
		cmocka_unit_test(test_time_wait_syn_equal_ts_lower_seq_refused),
		cmocka_unit_test(test_time_wait_syn_equal_ts_higher_seq_reopens),
		cmocka_unit_test(test_time_wait_syn_without_ts_higher_seq_reopens),
		cmocka_unit_test(test_time_wait_syn_without_ts_lower_seq_refused),
		cmocka_unit_test(test_time_wait_syn_no_ts_at_rcv_nxt_refused),
		cmocka_unit_test(test_time_wait_syn_no_ts_just_above_rcv_nxt_reopens),
		cmocka_unit_test(test_time_wait_refused_syns_rate_limited_paws_restarts_timer),
		cmocka_unit_test(test_established_million_tiny_out_of_order_segments_bounded),
		cmocka_unit_test(test_buffers_bound_hole_fill_prunes_far_out_of_order_data),
		cmocka_unit_test(test_buffers_bound_write_refused_is_full_send_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
