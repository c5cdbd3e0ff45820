/*
 * Regression tests for the second review's findings: loss recovery after 2^31
 * bytes, SACK recovery's pipe, retransmissions that stop at SACKed data,
 * reneging, and receive windows that never promise more than the ring holds.
 * Each test is the reviewer's reproducer turned into exact assertions; each
 * fails on the engine before the fix it guards (commits 8a60d1a, dd372cb).
 */
#include "harness.h"
#include "tcp/seq.h"
/*
 * White-box: TCP_RCV_SLACK (the receive ring's room beyond SO_RCVBUF) and,
 * in one test, the control block behind a tw_sock, to set Minshall's mark
 * to where 2^31 bytes of full-sized segments would leave it.
 */
#include "tcp/tcp.h"

#define PEER_ISS 5000u
#define MSS 1000u
#define RTT_US 10000u

/* ------------------------------------------------------------------ helpers */

/*
 * What a test allocates, freed by its teardown, also when a failed
 * assertion ends the test early: ASan's leak check then reports only what
 * the engine itself lost. The harness gets the teardown check there; the
 * stacks in st[] run on a clock of the test's own, so each test checks
 * them itself at its end (leak_check.h).
 */
static struct {
	struct harness *h;
	struct tw_pipe *pipe;
	struct tw_stack *st[2];
	void *mem[2];
} owned;

static int free_owned(void **state)
{
	(void)state;
	struct harness *h = owned.h;
	if (owned.pipe)
		tw_pipe_free(owned.pipe);
	for (int i = 0; i < 2; i++) {
		if (owned.st[i])
			tw_stack_free(owned.st[i]);
		free(owned.mem[i]);
	}
	memset(&owned, 0, sizeof(owned));
	/* Last, with everything else released: the check may end the teardown. */
	if (h)
		h_free(h);
	return 0;
}

/* The byte at stream offset i: a prime period, so no segment or buffer size lines up with it. */
#define PAT_PERIOD 65521u
static uint8_t pat[PAT_PERIOD];

static void pat_init(void)
{
	for (uint32_t i = 0; i < PAT_PERIOD; i++)
		pat[i] = (uint8_t)((i * 0x9e3779b1u) >> 24);
}

/* Queues the stream's bytes from offset *sent up to `total`; returns false when the buffer is full. */
static bool pat_send(struct tw_sock *s, uint64_t *sent, uint64_t total)
{
	while (*sent < total) {
		uint32_t off = (uint32_t)(*sent % PAT_PERIOD);
		uint64_t n = PAT_PERIOD - off;
		if (n > total - *sent)
			n = total - *sent;
		long w = tw_send(s, pat + off, (size_t)n, 0);
		if (w <= 0)
			return false;
		*sent += (uint64_t)w;
	}
	return true;
}

/* Checks `n` received bytes against the stream at offset `at`. */
static void pat_check(const uint8_t *buf, size_t n, uint64_t at)
{
	while (n) {
		uint32_t off = (uint32_t)(at % PAT_PERIOD);
		size_t k = PAT_PERIOD - off < n ? PAT_PERIOD - off : n;
		if (memcmp(buf, pat + off, k) != 0)
			fail_msg("received bytes differ from what was sent, near offset %llu", (unsigned long long)at);
		buf += k;
		at += k;
		n -= k;
	}
}

/* Reads everything readable, checking it; returns the new count of bytes received. */
static uint64_t pat_drain(struct tw_sock *s, uint64_t received)
{
	static uint8_t buf[65536];
	long r;
	while ((r = tw_recv(s, buf, sizeof(buf), 0)) > 0) {
		pat_check(buf, (size_t)r, received);
		received += (uint64_t)r;
	}
	return received;
}

/* Forgets what the stack sent so far (the capture holds H_MAX_OUT segments). */
static void forget_sent(struct harness *h)
{
	h->n_out = h->next_out = 0;
}

/* One SACK option with up to four blocks (no timestamps: four fit). */
static void put_sacks(struct h_seg *s, const struct wire_sack_block *b, size_t n)
{
	if (!n)
		return;
	h_opt_nop(s);
	h_opt_nop(s);
	for (size_t i = 0; i < n; i++)
		s->opt.sack[i] = b[i];
	s->opt.sack_count = (uint8_t)n;
	assert_true(wire_tcp_opt_push(&s->opt, WIRE_OPT_SACK, (uint8_t)(2 + 8 * n), NULL));
}

static void put_sack(struct h_seg *s, uint32_t left, uint32_t right)
{
	struct wire_sack_block b = { .left = left, .right = right };
	put_sacks(s, &b, 1);
}

/*
 * An active open against the scripted peer: MSS 1000, SACK (or not),
 * window scale 7, a 10 ms RTT. Returns the socket in ESTABLISHED with
 * *base = ISS + 1, the first data byte.
 */
static struct tw_sock *open_sender(struct harness *h, bool sack, uint32_t *base)
{
	struct tw_sock *s = h_connect(h);
	struct wire_tcp syn = h_expect(h, WIRE_TCP_SYN, h_info(s).iss, 0);
	*base = syn.seq + 1;
	struct h_seg sa = h_seg(WIRE_TCP_SYN | WIRE_TCP_ACK, PEER_ISS, *base);
	h_opt_mss(&sa, MSS);
	if (sack) {
		h_opt_nop(&sa);
		h_opt_nop(&sa);
		h_opt_sackok(&sa);
	}
	h_opt_nop(&sa);
	h_opt_ws(&sa, 7);
	h_advance(h, RTT_US);
	assert_int_equal(h_feed(h, &sa), 0);
	h_expect(h, WIRE_TCP_ACK, *base, PEER_ISS + 1);
	assert_int_equal(h_state(s), TW_ESTABLISHED);
	/*
	 * The window of a SYN is never scaled (RFC 7323 2.2): the peer's first
	 * ACK opens its scaled window, so later ACKs count as duplicates.
	 */
	struct h_seg up = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, *base);
	assert_int_equal(h_feed(h, &up), 0);
	h_expect_none(h);
	assert_int_equal(h_info(s).snd_wnd, 65535u << 7);
	assert_int_equal(h_info(s).sack, sack);
	return s;
}

static struct tw_stack_stats stats_of(struct tw_stack *st)
{
	struct tw_stack_stats ss;
	tw_stack_stats(st, &ss);
	return ss;
}

/*
 * A scripted receiver that holds no data, only which stream bytes it has:
 * it answers each arrival with the cumulative ACK and SACK blocks, and can
 * renege (forget everything above its cumulative ACK).
 */
#define PEER_STREAM 32768u

struct peer {
	uint32_t base;              /* the sender's ISS + 1: stream offset 0 */
	uint32_t ack;               /* stream offset acknowledged */
	uint8_t got[PEER_STREAM];   /* 1: the byte at this offset is held */
};

static void peer_init(struct peer *p, uint32_t base)
{
	memset(p, 0, sizeof(*p));
	p->base = base;
}

static void peer_take(struct peer *p, uint32_t seq, uint32_t len)
{
	uint32_t off = seq - p->base;
	assert_true(off + len <= PEER_STREAM);
	memset(p->got + off, 1, len);
	while (p->ack < PEER_STREAM && p->got[p->ack])
		p->ack++;
}

/* Discards every byte held above the cumulative ACK (RFC 2018 8: reneging). */
static void peer_renege(struct peer *p)
{
	memset(p->got + p->ack, 0, PEER_STREAM - p->ack);
}

/* The peer's ACK now: cumulative, with the blocks it holds above it, lowest first. */
static void peer_ack(struct harness *h, const struct peer *p)
{
	struct h_seg a = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, p->base + p->ack);
	struct wire_sack_block b[4];
	size_t n = 0;
	for (uint32_t i = p->ack; i < PEER_STREAM && n < 4; i++) {
		if (!p->got[i])
			continue;
		uint32_t j = i;
		while (j < PEER_STREAM && p->got[j])
			j++;
		b[n].left = p->base + i;
		b[n].right = p->base + j;
		n++;
		i = j;
	}
	put_sacks(&a, b, n);
	assert_int_equal(h_feed(h, &a), 0);
}

/* Collects the data segments sent since the last call into `seg` (at most `cap`). */
static size_t sent_data(struct harness *h, struct wire_sack_block *seg, size_t cap)
{
	size_t n = 0;
	while (h_pending(h)) {
		struct wire_tcp t = h_next(h);
		if (!t.payload_len)
			continue;
		assert_true(n < cap);
		seg[n].left = t.seq;
		seg[n].right = t.seq + (uint32_t)t.payload_len;
		n++;
	}
	forget_sent(h);
	return n;
}

/*
 * Runs the connection to the end of `total` bytes: each round trip the peer
 * receives what was sent (in order, one ACK each); when nothing is in the
 * air, time passes in 1 ms steps until the stack sends (a timeout). Gives
 * up after `limit_us`.
 */
static void peer_run(struct harness *h, struct peer *p, uint32_t total, uint64_t limit_us)
{
	uint64_t t0 = h->now;
	struct wire_sack_block seg[64];
	while (p->ack < total && h->now - t0 < limit_us) {
		while (!h_pending(h) && h->now - t0 < limit_us)
			h_advance(h, 1000);
		size_t n = sent_data(h, seg, 64);
		h_advance(h, RTT_US);
		for (size_t i = 0; i < n; i++) {
			peer_take(p, seg[i].left, seg[i].right - seg[i].left);
			peer_ack(h, p);
		}
	}
	assert_int_equal(p->ack, total);
}

/* --------------------------------------- 1. after 2^31 bytes without loss */

/*
 * Two stacks over a minimal link of their own (1 ms each way, FIFO) that
 * drops exactly one a->b data segment: the first whose stream offset is at
 * least `drop_off`. tw_pipe's loss is random; this one is placed.
 */
#define LQ_CAP 4096u
#define LQ_PKT 1600u
#define LINK_DELAY_US 1000u

struct lq_pkt {
	uint8_t b[LQ_PKT];
	size_t len;
	uint64_t due;
};

struct lq {
	struct lq_pkt *p;
	size_t head, n;
};

struct wrap_link {
	struct tw_stack *st[2];     /* a, b */
	struct lq q[2];             /* q[0]: a->b */
	uint64_t now;
	uint32_t base;              /* a's ISS + 1, once known */
	bool base_known;
	uint32_t drop_off;          /* stream offset of the segment to drop */
	bool dropped;
	uint32_t drop_seq;
	uint32_t rtx_of_drop;       /* a's data segments at drop_seq after the drop */
	uint64_t data_segs_after_drop;
};

static void lq_push(struct wrap_link *l, int dir, const uint8_t *pkt, size_t len)
{
	struct lq *q = &l->q[dir];
	assert_true(q->n < LQ_CAP);
	assert_true(len <= LQ_PKT);
	struct lq_pkt *p = &q->p[(q->head + q->n++) % LQ_CAP];
	memcpy(p->b, pkt, len);
	p->len = len;
	p->due = l->now + LINK_DELAY_US;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wrap_out_a(void *ctx, const uint8_t *pkt, size_t len)
{
	struct wrap_link *l = ctx;
	size_t ihl = (size_t)(pkt[0] & 0xf) * 4;
	size_t doff = (size_t)(pkt[ihl + 12] >> 4) * 4;
	size_t payload = len - ihl - doff;
	uint32_t seq = be32(pkt + ihl + 4);
	if (payload && l->base_known) {
		if (!l->dropped && seq - l->base >= l->drop_off) {
			l->dropped = true;
			l->drop_seq = seq;
			return;
		}
		if (l->dropped) {
			l->data_segs_after_drop++;
			if (seq == l->drop_seq)
				l->rtx_of_drop++;
		}
	}
	lq_push(l, 0, pkt, len);
}

static void wrap_out_b(void *ctx, const uint8_t *pkt, size_t len)
{
	lq_push(ctx, 1, pkt, len);
}

static struct tw_stack *wrap_stack(uint8_t last, bool sack)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	h_addr(&cfg.addrs[0], TW_AF_INET, last);
	cfg.secret[0] = last;
	cfg.rcvbuf = 1u << 20;
	cfg.sndbuf = 1u << 20;
	cfg.sack = sack;
	int err = 0;
	struct tw_stack *st = tw_stack_new(&cfg, &err);
	assert_non_null(st);
	return st;
}

static void wrap_deliver(struct wrap_link *l, int dir)
{
	struct lq *q = &l->q[dir];
	while (q->n && q->p[q->head].due <= l->now) {
		struct lq_pkt *p = &q->p[q->head];
		q->head = (q->head + 1) % LQ_CAP;
		q->n--;
		tw_input(l->st[dir == 0 ? 1 : 0], p->b, p->len, l->now);
	}
}

/*
 * The recovery point starts at the ISS; before the fix it moved only with a
 * recovery or a timeout, so after 2^31 loss-free bytes seq_leq(SND.UNA,
 * recover) held modulo 2^32 and fast retransmit was refused: the first
 * loss cost a timeout. Only the distance from the ISS matters, so no choice
 * of ISN shortens the run: 2^31 + 4 MiB go before the drop.
 */
static void wrap_single_loss(bool sack)
{
	pat_init();
	static struct wrap_link l;
	memset(&l, 0, sizeof(l));
	l.drop_off = 0x80000000u + (4u << 20);
	uint64_t total = (uint64_t)l.drop_off + (8u << 20);
	l.now = 1000000;
	for (int d = 0; d < 2; d++) {
		l.q[d].p = owned.mem[d] = calloc(LQ_CAP, sizeof(struct lq_pkt));
		assert_non_null(l.q[d].p);
	}
	l.st[0] = owned.st[0] = wrap_stack(1, sack);
	l.st[1] = owned.st[1] = wrap_stack(2, sack);
	tw_stack_set_output(l.st[0], wrap_out_a, &l);
	tw_stack_set_output(l.st[1], wrap_out_b, &l);
	tw_poll(l.st[0], l.now);
	tw_poll(l.st[1], l.now);

	int err = 0;
	struct tw_sock *lis = tw_socket(l.st[1], &err);
	assert_non_null(lis);
	struct tw_endpoint ep = { .port = 80 };
	h_addr(&ep.addr, TW_AF_INET, 2);
	assert_int_equal(tw_bind(lis, &ep), 0);
	assert_int_equal(tw_listen(lis, 4), 0);
	struct tw_sock *a = tw_socket(l.st[0], &err), *b = NULL;
	assert_non_null(a);
	assert_int_equal(tw_connect(a, &ep), -115);
	l.base = h_info(a).iss + 1;
	l.base_known = true;

	uint64_t sent = 0, received = 0;
	while (received < total) {
		wrap_deliver(&l, 0);
		wrap_deliver(&l, 1);
		if (!b)
			b = tw_accept(lis, NULL, &err);
		pat_send(a, &sent, total);
		if (b)
			received = pat_drain(b, received);
		uint64_t t1 = tw_poll(l.st[0], l.now), t2 = tw_poll(l.st[1], l.now);
		uint64_t next = t1 < t2 ? t1 : t2;
		for (int d = 0; d < 2; d++)
			if (l.q[d].n && l.q[d].p[l.q[d].head].due < next)
				next = l.q[d].p[l.q[d].head].due;
		assert_true(next != UINT64_MAX);
		l.now = next > l.now ? next : l.now + 1;
	}
	assert_int_equal(received, total);
	assert_true(l.dropped);
	assert_true(l.data_segs_after_drop > 3);   /* the loss was followed by enough to draw dupacks */

	/* The link lost nothing else: the whole connection's counts are the repair's. */
	struct tw_stack_stats sa = stats_of(l.st[0]);
	struct tw_conn_info ci = h_info(a);
	fprintf(stderr, "# sack %d: %llu bytes, iss %#x, dropped seq %#x; recoveries %llu, timeouts %llu, retransmits %llu\n",
		sack, (unsigned long long)received, ci.iss, l.drop_seq, (unsigned long long)sa.recoveries,
		(unsigned long long)sa.timeouts, (unsigned long long)ci.retransmits);
	assert_int_equal(ci.sack, sack);
	assert_true(ci.snd_una - l.base > 0x80000000u);   /* SND.UNA ran more than 2^31 past the ISS */
	assert_int_equal(sa.recoveries, 1);
	assert_int_equal(sa.timeouts, 0);
	assert_int_equal(ci.retransmits, 1);   /* the lost segment, once */
	assert_int_equal(l.rtx_of_drop, 1);

	tw_close(a);
	tw_close(b);
	tw_close(lis);
	h_assert_no_leaks(l.st[0], l.now);
	h_assert_no_leaks(l.st[1], l.now);
}

static void test_established_loss_after_2gib_fast_retransmit_sack(void **state)
{
	(void)state;
	wrap_single_loss(true);
}

static void test_established_loss_after_2gib_fast_retransmit_nosack(void **state)
{
	(void)state;
	wrap_single_loss(false);
}

/* ------------------------------------ 2. SACK recovery keeps the pipe full */

struct flight {
	struct harness *h;
	struct tw_sock *s;
	uint32_t una, nxt;          /* what the peer has ACKed; the next new byte */
	uint32_t segs;              /* segments in flight when the loss happens */
	int new_in_recovery;        /* new segments sent after recovery began */
	int most_per_ack;           /* most new segments one duplicate ACK released */
	uint32_t cwnd_in_recovery;  /* cwnd at the last duplicate ACK */
};

/*
 * Slow start to 40 segments in flight (the peer ACKs every segment), then
 * the first of them is lost and the other 39 arrive: one duplicate ACK each,
 * SACKing them. The retransmission is not yet ACKed.
 */
static void sack_flight_with_one_loss(struct flight *f)
{
	memset(f, 0, sizeof(*f));
	f->h = owned.h = h_new(TW_AF_INET);
	struct harness *h = f->h;
	uint32_t base;
	f->s = open_sender(h, true, &base);
	static uint8_t data[120000];
	memset(data, 'd', sizeof(data));
	assert_int_equal(tw_send(f->s, data, sizeof(data), 0), (long)sizeof(data));
	f->una = f->nxt = base;
	for (int round = 0; round < 10; round++) {
		while (h_pending(h)) {
			struct wire_tcp t = h_next(h);
			assert_int_equal(t.payload_len, MSS);
			f->nxt = t.seq + MSS;
		}
		forget_sent(h);
		if ((f->nxt - f->una) / MSS >= 40)
			break;
		h_advance(h, RTT_US);
		uint32_t upto = f->nxt;
		for (uint32_t a = f->una + MSS; seq_leq(a, upto); a += MSS) {
			struct h_seg k = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, a);
			assert_int_equal(h_feed(h, &k), 0);
		}
		f->una = upto;
	}
	f->segs = (f->nxt - f->una) / MSS;
	assert_true(f->segs >= 40);
	assert_true(f->segs * MSS <= h_info(f->s).cwnd);
	h_advance(h, RTT_US);

	int rtx = 0;
	uint64_t recoveries = stats_of(h->st).recoveries;
	for (uint32_t i = 1; i < f->segs; i++) {
		struct h_seg d = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, f->una);
		put_sack(&d, f->una + MSS, f->una + MSS * (i + 1));
		assert_int_equal(h_feed(h, &d), 0);
		bool in_recovery = stats_of(h->st).recoveries > recoveries;
		int fresh = 0;
		while (h_pending(h)) {
			struct wire_tcp t = h_next(h);
			if (t.seq == f->una) {
				rtx++;
				continue;
			}
			assert_true(t.seq == f->nxt);   /* nothing SACKed or in flight is resent */
			f->nxt += (uint32_t)t.payload_len;
			fresh++;
		}
		forget_sent(h);
		if (in_recovery)
			f->new_in_recovery += fresh;
		if (fresh > f->most_per_ack)
			f->most_per_ack = fresh;
	}
	assert_int_equal(stats_of(h->st).recoveries, recoveries + 1);
	assert_int_equal(rtx, 1);
	f->cwnd_in_recovery = h_info(f->s).cwnd;
}

/*
 * RFC 6675 5 (C), NextSeg rule 3: while the pipe is under cwnd, new data
 * goes. Before the fix the sender counted SACKed bytes as outstanding and
 * sent nothing new in recovery but the two Limited Transmit segments.
 * By the last duplicate ACK the pipe is full again: the retransmission and
 * the new segments above the highest SACK make up cwnd.
 */
static void test_sack_recovery_dupacks_send_new_data(void **state)
{
	(void)state;
	struct flight f;
	sack_flight_with_one_loss(&f);
	uint32_t high_sack = f.una + MSS * f.segs;
	uint32_t pipe_segs = (f.nxt - high_sack) / MSS + 1;
	fprintf(stderr, "# %u in flight; in recovery %d new segments, cwnd %u segments, pipe %u\n", f.segs,
		f.new_in_recovery, f.cwnd_in_recovery / MSS, pipe_segs);
	assert_true(f.new_in_recovery > 2);
	assert_true(pipe_segs + 1 >= f.cwnd_in_recovery / MSS);
	assert_true(pipe_segs <= f.cwnd_in_recovery / MSS + 1);
	assert_true(f.most_per_ack <= 2);   /* a segment or two per ACK: the ACK clock, no bursts */
}

/*
 * The ACK that ends recovery (for the retransmission: everything is ACKed)
 * sets cwnd to ssthresh; with the pipe kept full during recovery there is
 * little room left, so no burst follows. Before the fix some 19 segments
 * left back to back here. At most three (Linux's tcp_max_burst) may go.
 */
static void test_sack_recovery_full_ack_sends_no_burst(void **state)
{
	(void)state;
	struct flight f;
	sack_flight_with_one_loss(&f);
	struct harness *h = f.h;
	h_advance(h, RTT_US);
	struct h_seg k = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, f.una + MSS * f.segs);
	assert_int_equal(h_feed(h, &k), 0);
	size_t burst = h_pending(h);
	struct tw_conn_info ci = h_info(f.s);
	fprintf(stderr, "# the ACK ending recovery released %zu segments (cwnd %u, ssthresh %u segments)\n", burst,
		ci.cwnd / MSS, ci.ssthresh / MSS);
	assert_int_equal(ci.cwnd, ci.ssthresh);
	assert_true(burst <= 3);
}

/* ------------------------------- 3. the first retransmission stops at SACKed data */

/*
 * Eight 100-byte segments (TCP_NODELAY); the first is lost, the other seven
 * SACKed over three duplicate ACKs. The fast retransmission carries the
 * hole, 100 bytes, not a full MSS from SND.UNA (which resent 700 SACKed
 * bytes before the fix); nothing else is resent.
 */
static void test_established_dupacks_retransmit_only_hole(void **state)
{
	(void)state;
	struct harness *h = owned.h = h_new(TW_AF_INET);
	uint32_t base;
	struct tw_sock *s = open_sender(h, true, &base);
	assert_int_equal(tw_setsockopt(s, TW_TCP_NODELAY, 1), 0);
	uint8_t m[100];
	memset(m, 'm', sizeof(m));
	for (int i = 0; i < 8; i++)
		assert_int_equal(tw_send(s, m, sizeof(m), 0), 100);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, base + 100 * i, PEER_ISS + 1).payload_len, 100);
	h_expect_none(h);
	h_advance(h, RTT_US);
	for (uint32_t i = 0; i < 3; i++) {
		struct h_seg d = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, base);
		put_sack(&d, base + 100, base + 100 * (6 + i));
		assert_int_equal(h_feed(h, &d), 0);
	}
	struct wire_tcp r = h_next(h);
	assert_int_equal(r.seq, base);
	assert_int_equal(r.payload_len, 100);
	h_expect_none(h);
	assert_int_equal(stats_of(h->st).recoveries, 1);
	assert_int_equal(h_info(s).retransmits, 1);

	/* The hole arrives: all is ACKed, and nothing more goes. */
	h_advance(h, RTT_US);
	struct h_seg k = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, base + 800);
	assert_int_equal(h_feed(h, &k), 0);
	h_expect_none(h);
	assert_int_equal(h_info(s).snd_una, base + 800);
	h_advance(h, 5000000);
	h_expect_none(h);
	assert_int_equal(stats_of(h->st).timeouts, 0);
}

/* ------------------- 4. a reader that does not read: the window closes at the ring */

/*
 * SO_RCVBUF 4096 and an application that never reads. The peer sends
 * 200-byte segments (under the 2^8 scale unit) inside the advertised
 * window, one per delayed-ACK period. Every one of them is taken and ACKed;
 * unread bytes plus the window never exceed the ring (SO_RCVBUF +
 * TCP_RCV_SLACK); and the window closes. Before the fix repeated rounding
 * crept the edge past the ring and in-window data was dropped.
 */
static void test_established_never_read_window_within_ring(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.rcvbuf = 4096;
	struct harness *h = owned.h = h_new_cfg(&cfg);
	struct tw_sock *l = h_listen(h, 8);
	const uint32_t irs = 0xfffff000u;   /* the peer's data crosses 2^32 */
	struct h_seg syn = h_seg(WIRE_TCP_SYN, irs, 0);
	h_opt_mss(&syn, 1460);
	h_opt_nop(&syn);
	h_opt_nop(&syn);
	h_opt_sackok(&syn);
	h_opt_nop(&syn);
	h_opt_ws(&syn, 7);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_next(h);
	assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	uint32_t iss = sa.seq;
	uint8_t ws = sa.opt.wscale;
	struct h_seg ack = h_seg(WIRE_TCP_ACK, irs + 1, iss + 1);
	ack.wnd = 1000;
	assert_int_equal(h_feed(h, &ack), 0);
	int err = 0;
	struct tw_sock *c = tw_accept(l, NULL, &err);
	assert_non_null(c);
	const uint32_t ring = cfg.rcvbuf + TCP_RCV_SLACK;

	uint32_t seq = irs + 1;
	uint32_t right = irs + 1 + sa.wnd;   /* the advertised right edge */
	uint8_t data[200];
	memset(data, 'x', sizeof(data));
	uint32_t most = 0;
	int round;
	for (round = 0; round < 400 && seq_lt(seq, right); round++) {
		uint32_t n = right - seq < sizeof(data) ? right - seq : (uint32_t)sizeof(data);
		struct h_seg d = h_seg(WIRE_TCP_ACK, seq, iss + 1);
		d.wnd = 1000;
		d.data = data;
		d.len = n;
		assert_int_equal(h_feed(h, &d), 0);
		h_advance(h, 50000);   /* past the delayed ACK */
		assert_true(h_pending(h) > 0);
		while (h_pending(h)) {
			struct wire_tcp t = h_next(h);
			assert_int_equal(t.ack, seq + n);   /* in-window data is taken, never dropped */
			uint32_t edge = t.ack + ((uint32_t)t.wnd << ws);
			/*
			 * Where rounding up to the scale unit would pass the ring, the
			 * advertised edge is rounded down: a retraction of less than
			 * one unit (data already sent into that sliver is still taken).
			 */
			if (seq_lt(edge, right))
				assert_true(right - edge < (1u << ws));
			right = edge;
		}
		forget_sent(h);
		seq += n;
		assert_int_equal(tw_readable(c), seq - irs - 1);
		uint32_t promised = (uint32_t)tw_readable(c) + (right - seq);
		if (promised > most)
			most = promised;
		assert_true(promised <= ring);
	}
	fprintf(stderr, "# window closed after %d segments, %zu unread bytes; most ever promised %u (ring %u)\n", round,
		tw_readable(c), most, ring);
	assert_true(round < 400);
	assert_int_equal(right, seq);   /* closed */
	assert_true(tw_readable(c) >= cfg.rcvbuf);

	/*
	 * A byte at the advertised edge: the stack still accepts what it once
	 * offered (the edge rounded down by less than a unit), or refuses it;
	 * either way the answer offers nothing more.
	 */
	struct h_seg probe = h_seg(WIRE_TCP_ACK, seq, iss + 1);
	probe.data = data;
	probe.len = 1;
	h_feed(h, &probe);
	h_advance(h, 50000);
	struct wire_tcp t = h_next(h);
	assert_true(t.ack == seq || t.ack == seq + 1);
	assert_int_equal(t.wnd, 0);
}

/*
 * Two stacks: a sends `msg`-byte messages (TCP_NODELAY) every `interval_us`
 * over a link of `delay_us` each way; b's application (SO_RCVBUF 4096) reads
 * nothing for 30 minutes. b's window closes, a probes it for as long as it
 * takes and never times out, and when b reads again everything arrives.
 * Before the fix b dropped in-window data, a retransmitted into the closed
 * window and gave up with ETIMEDOUT.
 */
struct pause_world {
	struct tw_pipe *p;
	struct tw_sock *lis, *a, *b;
	uint32_t msg, interval_us;
	uint64_t next_send, sent, received;
	bool sending, reading;
};

static bool pause_step(void *ctx)
{
	struct pause_world *w = ctx;
	int err;
	if (!w->b)
		w->b = tw_accept(w->lis, NULL, &err);
	uint64_t now = tw_pipe_now(w->p);
	if (w->sending && now >= w->next_send) {
		pat_send(w->a, &w->sent, w->sent + w->msg);
		w->next_send = now + w->interval_us;
	}
	if (w->reading && w->b)
		w->received = pat_drain(w->b, w->received);
	return !w->sending && w->received == w->sent;
}

static void reader_pause(uint32_t msg, uint32_t interval_us, uint32_t delay_us)
{
	pat_init();
	struct pause_world w;
	memset(&w, 0, sizeof(w));
	w.msg = msg;
	w.interval_us = interval_us;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	h_addr(&cfg.addrs[0], TW_AF_INET, 1);
	int err = 0;
	struct tw_stack *sa = owned.st[0] = tw_stack_new(&cfg, &err);
	assert_non_null(sa);
	h_config(&cfg, TW_AF_INET);
	h_addr(&cfg.addrs[0], TW_AF_INET, 2);
	cfg.secret[0] = 9;
	cfg.rcvbuf = 4096;
	struct tw_stack *sb = owned.st[1] = tw_stack_new(&cfg, &err);
	assert_non_null(sb);
	struct tw_pipe_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.a_to_b.delay_us = pc.b_to_a.delay_us = delay_us;
	w.p = owned.pipe = tw_pipe_new(&pc, sa, sb);
	assert_non_null(w.p);
	w.lis = tw_socket(sb, &err);
	struct tw_endpoint ep = { .port = 80 };
	h_addr(&ep.addr, TW_AF_INET, 2);
	assert_int_equal(tw_bind(w.lis, &ep), 0);
	assert_int_equal(tw_listen(w.lis, 4), 0);
	w.a = tw_socket(sa, &err);
	assert_int_equal(tw_setsockopt(w.a, TW_TCP_NODELAY, 1), 0);
	assert_int_equal(tw_connect(w.a, &ep), -115);
	w.sending = true;

	/* 30 minutes; the loop wakes for each message (the pipe runs only on events). */
	uint64_t start = tw_pipe_now(w.p);
	for (uint64_t t = interval_us; t <= 1800000000ull; t += interval_us)
		tw_pipe_run(w.p, start + t, pause_step, &w);
	struct tw_conn_info ci = h_info(w.a);
	struct tw_stack_stats ss = stats_of(sa);
	fprintf(stderr, "# %u-byte messages every %u ms, %u ms each way: after 30 min a is %s, %llu bytes written, "
		"b unread %zu; a timeouts %llu, retransmits %llu\n", msg, interval_us / 1000, delay_us / 1000,
		tw_state_name(ci.state), (unsigned long long)w.sent, tw_readable(w.b), (unsigned long long)ss.timeouts,
		(unsigned long long)ci.retransmits);
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_int_equal(ss.timeouts, 0);
	assert_int_equal(ss.conns_timed_out, 0);
	assert_int_equal(ci.snd_wnd, 0);   /* b's window is closed: a is probing it */
	assert_true(tw_readable(w.b) <= cfg.rcvbuf + TCP_RCV_SLACK);

	w.sending = false;
	w.reading = true;
	assert_true(tw_pipe_run(w.p, tw_pipe_now(w.p) + 600000000ull, pause_step, &w));
	assert_int_equal(w.received, w.sent);
	assert_true(w.sent > cfg.rcvbuf + TCP_RCV_SLACK);   /* more than the ring: the window reopened */
	assert_int_equal(stats_of(sa).timeouts, 0);
	assert_int_equal(h_info(w.a).state, TW_ESTABLISHED);
	tw_close(w.a);
	tw_close(w.b);
	tw_close(w.lis);
	h_assert_no_leaks(sa, tw_pipe_now(w.p));
	h_assert_no_leaks(sb, tw_pipe_now(w.p));
}

/* The reviewer's case: 100 bytes every 50 ms, 1 ms each way. */
static void test_established_reader_paused_30min_no_timeout(void **state)
{
	(void)state;
	reader_pause(100, 50000, 1000);
}

/*
 * The same over 20 ms each way: data in flight meets a closing window, the
 * advertised edge rounds down by less than a unit while what was offered is
 * still taken, and the sender's retransmissions into the zero window are
 * probes that do not time the connection out while the peer answers.
 */
static void test_established_reader_paused_30min_long_delay_no_timeout(void **state)
{
	(void)state;
	reader_pause(100, 50000, 20000);
}

/* ----------------------------------------------------- 5. a peer that reneges */

/*
 * Ten segments; the first is lost, the other nine arrive and are SACKed,
 * and the fast retransmission repairs the hole. Then the peer reneges: it
 * takes the retransmission and throws away the nine it SACKed. RFC 2018 8:
 * after a timeout the sender MUST ignore prior SACK information; before the
 * fix every reneged segment cost one timeout (9 timeouts, 107 s). Now one
 * timeout at most, then go-back-N delivers the rest within a second.
 */
static void test_sack_recovery_peer_reneges_one_timeout_at_most(void **state)
{
	(void)state;
	struct harness *h = owned.h = h_new(TW_AF_INET);
	uint32_t base;
	struct tw_sock *s = open_sender(h, true, &base);
	static struct peer p;
	peer_init(&p, base);
	static uint8_t data[10 * MSS];
	memset(data, 'd', sizeof(data));
	assert_int_equal(tw_send(s, data, sizeof(data), 0), (long)sizeof(data));
	struct wire_sack_block seg[16];
	assert_int_equal(sent_data(h, seg, 16), 10);
	h_advance(h, RTT_US);
	for (size_t i = 1; i < 10; i++) {   /* S0 is lost */
		peer_take(&p, seg[i].left, MSS);
		peer_ack(h, &p);
	}
	assert_int_equal(stats_of(h->st).recoveries, 1);
	assert_int_equal(sent_data(h, seg, 16), 1);
	assert_int_equal(seg[0].left, base);
	uint64_t t0 = h->now;
	h_advance(h, RTT_US);
	peer_renege(&p);   /* S1..S9 are thrown away, then S0 arrives */
	peer_take(&p, seg[0].left, seg[0].right - seg[0].left);
	assert_int_equal(p.ack, MSS);
	peer_ack(h, &p);   /* ACK S1: inside what was SACKed */

	peer_run(h, &p, 10 * MSS, 10000000);
	struct tw_stack_stats ss = stats_of(h->st);
	fprintf(stderr, "# reneged data delivered %.3f s after the renege, %llu timeout(s)\n", (h->now - t0) / 1e6,
		(unsigned long long)ss.timeouts);
	assert_true(ss.timeouts <= 1);
	assert_true(h->now - t0 < 1000000);
	assert_int_equal(h_info(s).snd_una, base + 10 * MSS);
}

/*
 * Outside recovery: S0 is delayed, S1 and S2 arrive and are SACKed (two
 * duplicate ACKs, two Limited Transmit segments). Then S0 arrives but the
 * peer has thrown S1 and S2 away: its ACK for S1 lands inside the SACKed
 * block. That ACK alone shows the reneging (as Linux's
 * tcp_check_sack_reneging): the scoreboard is forgotten, so when S3 on are
 * SACKed, fast retransmit resends S1 and S2 and nothing waits for a
 * timeout. Before the fix the stale block hid S1 and S2 from recovery
 * (the fast retransmission was empty) until a timeout.
 */
static void test_established_ack_inside_sacked_block_forgets_scoreboard(void **state)
{
	(void)state;
	struct harness *h = owned.h = h_new(TW_AF_INET);
	uint32_t base;
	struct tw_sock *s = open_sender(h, true, &base);
	static struct peer p;
	peer_init(&p, base);
	static uint8_t data[20 * MSS];
	memset(data, 'd', sizeof(data));
	assert_int_equal(tw_send(s, data, sizeof(data), 0), (long)sizeof(data));
	struct wire_sack_block seg[64];
	assert_int_equal(sent_data(h, seg, 64), 10);   /* the initial window */
	h_advance(h, RTT_US);
	peer_take(&p, seg[1].left, MSS);
	peer_ack(h, &p);
	peer_take(&p, seg[2].left, MSS);
	peer_ack(h, &p);
	assert_int_equal(stats_of(h->st).recoveries, 0);
	peer_renege(&p);   /* S1 and S2 are thrown away, then S0 arrives */
	peer_take(&p, seg[0].left, MSS);
	assert_int_equal(p.ack, MSS);
	peer_ack(h, &p);   /* ACK S1, inside the SACKed [S1, S3) */
	for (size_t i = 3; i < 10; i++) {
		peer_take(&p, seg[i].left, MSS);
		peer_ack(h, &p);
	}
	assert_int_equal(stats_of(h->st).recoveries, 1);

	/* S1 and S2 go again during recovery, before any timer could fire. */
	size_t n = sent_data(h, seg + 10, 54);
	bool s1 = false, s2 = false;
	for (size_t i = 10; i < 10 + n; i++) {
		s1 |= seg[i].left == base + MSS;
		s2 |= seg[i].left == base + 2 * MSS;
		assert_true(seg[i].right != seg[i].left);
	}
	assert_true(s1 && s2);
	/* They arrive a round trip later, with the rest. */
	uint64_t t0 = h->now;
	h_advance(h, RTT_US);
	for (size_t i = 10; i < 10 + n; i++) {
		peer_take(&p, seg[i].left, seg[i].right - seg[i].left);
		peer_ack(h, &p);
	}
	peer_run(h, &p, 20 * MSS, 10000000);
	struct tw_stack_stats ss = stats_of(h->st);
	fprintf(stderr, "# delivered %.3f s after the repair; %llu recoveries, %llu timeouts\n", (h->now - t0) / 1e6,
		(unsigned long long)ss.recoveries, (unsigned long long)ss.timeouts);
	assert_int_equal(ss.timeouts, 0);
	assert_int_equal(h_info(s).snd_una, base + 20 * MSS);
}

/* ------------------------------------------ 6. SO_RCVBUF lowered under a window */

/*
 * The SYN-ACK offers 64240 bytes; the application then lowers SO_RCVBUF
 * to 2048. The offered window is a promise: the peer's 44 full segments
 * inside it are all taken and ACKed (before the fix the ring shrank and
 * all but 18432 bytes were dropped).
 */
static void test_established_rcvbuf_lowered_offered_window_honoured(void **state)
{
	(void)state;
	pat_init();
	struct harness *h = owned.h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	const uint32_t irs = 0xffffff00u;
	struct h_seg syn = h_seg(WIRE_TCP_SYN, irs, 0);
	h_opt_mss(&syn, 1460);
	h_opt_nop(&syn);
	h_opt_nop(&syn);
	h_opt_sackok(&syn);
	h_opt_nop(&syn);
	h_opt_ws(&syn, 7);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_next(h);
	uint32_t iss = sa.seq;
	assert_int_equal(sa.wnd, 64240);
	struct h_seg ack = h_seg(WIRE_TCP_ACK, irs + 1, iss + 1);
	assert_int_equal(h_feed(h, &ack), 0);
	int err = 0;
	struct tw_sock *c = tw_accept(l, NULL, &err);
	assert_non_null(c);
	assert_int_equal(tw_setsockopt(c, TW_SO_RCVBUF, 2048), 0);

	uint32_t seq = irs + 1, off = 0;
	while (off + 1460 <= sa.wnd) {
		struct h_seg d = h_seg(WIRE_TCP_ACK, seq, iss + 1);
		d.data = pat + off;
		d.len = 1460;
		assert_int_equal(h_feed(h, &d), 0);
		seq += 1460;
		off += 1460;
	}
	assert_int_equal(off, 64240);
	uint32_t last_ack = irs + 1;
	while (h_pending(h)) {
		struct wire_tcp t = h_next(h);
		assert_true(seq_geq(t.ack, last_ack));
		last_ack = t.ack;
	}
	assert_int_equal(last_ack, seq);
	assert_int_equal(tw_readable(c), 64240);
	static uint8_t buf[65536];
	assert_int_equal(tw_recv(c, buf, sizeof(buf), 0), 64240);
	pat_check(buf, 64240, 0);
}

/* ------------------------------------------------- 7. Minshall's mark after 2^31 */

/*
 * Nagle as Linux (Minshall): a small segment waits only while an earlier
 * small one is unacknowledged. After 2^31 bytes of full-sized segments the
 * mark of the last small one lies "ahead" of SND.UNA modulo 2^32; it must
 * not count. White-box: the mark is set directly in the control block (a
 * tw_sock is its tcp_conn) rather than by sending 2 GiB.
 */
static void test_established_stale_minshall_mark_small_write_goes(void **state)
{
	(void)state;
	struct harness *h = owned.h = h_new(TW_AF_INET);
	uint32_t base;
	struct tw_sock *s = open_sender(h, false, &base);
	struct tcp_conn *c = (struct tcp_conn *)s;
	c->snd_sml = c->snd.una - 0x80000001u;   /* the last small segment 2^31 + 1 bytes ago */
	assert_int_equal(tw_send(s, "hello", 5, 0), 5);
	struct wire_tcp t = h_expect(h, WIRE_TCP_ACK | WIRE_TCP_PSH, base, PEER_ISS + 1);
	assert_int_equal(t.payload_len, 5);
	assert_memory_equal(t.payload, "hello", 5);
	h_expect_none(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_established_loss_after_2gib_fast_retransmit_sack, free_owned),
		cmocka_unit_test_teardown(test_established_loss_after_2gib_fast_retransmit_nosack, free_owned),
		cmocka_unit_test_teardown(test_sack_recovery_dupacks_send_new_data, free_owned),
		cmocka_unit_test_teardown(test_sack_recovery_full_ack_sends_no_burst, free_owned),
		cmocka_unit_test_teardown(test_established_dupacks_retransmit_only_hole, free_owned),
		cmocka_unit_test_teardown(test_established_never_read_window_within_ring, free_owned),
		cmocka_unit_test_teardown(test_established_reader_paused_30min_no_timeout, free_owned),
		cmocka_unit_test_teardown(test_established_reader_paused_30min_long_delay_no_timeout, free_owned),
		cmocka_unit_test_teardown(test_sack_recovery_peer_reneges_one_timeout_at_most, free_owned),
		cmocka_unit_test_teardown(test_established_ack_inside_sacked_block_forgets_scoreboard, free_owned),
		cmocka_unit_test_teardown(test_established_rcvbuf_lowered_offered_window_honoured, free_owned),
		cmocka_unit_test_teardown(test_established_stale_minshall_mark_small_write_goes, free_owned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
