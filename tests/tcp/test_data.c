/*
 * Data transfer on the wire: segmentation to the effective MSS, PSH, the
 * initial window, the peer's window, our advertised window (scaling, silly
 * window avoidance, never shrinking), cumulative and selective ACKs, the
 * out-of-order queue, delayed ACKs, Nagle, cork, the send buffer and
 * readiness. Every test drives one connection against a scripted peer whose
 * ISN lies just below 2^32, so its data crosses the wrap.
 */
#include <errno.h>

#include "peer.h"

/* ------------------------------------------------------------------ helpers */

/* A bare ACK of ours, acknowledging `ack`. */
static struct wire_tcp expect_ack(struct peer *p, uint32_t ack)
{
	return expect_seg(p, WIRE_TCP_ACK, p->iss + 1 + p->wrote, ack, 0);
}

/* The application reads `len` bytes and checks they are the peer's stream from `off`. */
static void app_read(struct peer *p, uint32_t off, size_t len)
{
	uint8_t buf[8192];
	assert_true(len <= sizeof(buf));
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(tw_recv(p->s, buf, len, 0), (long)len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], pat(off + (uint32_t)i, PEER_SALT));
}

/* ------------------------------------------------------------ segmentation */

/* RFC 6691 / RFC 7323 3.2: with timestamps, a segment carries MSS - 12 bytes. */
static void test_established_write_segments_to_mss_ts(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(h_info(p.s).snd_mss, 1448);
	assert_int_equal(app_write(&p, 2 * 1448, 0), 2 * 1448);
	expect_data(&p, WIRE_TCP_ACK, 0, 1448);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 1448, 1448);
	h_expect_none(h);
	done(state);
}

static void test_established_write_segments_to_mss_no_ts(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(h_info(p.s).snd_mss, 1460);
	assert_int_equal(app_write(&p, 2 * 1460, 0), 2 * 1460);
	struct wire_tcp t = expect_data(&p, WIRE_TCP_ACK, 0, 1460);
	assert_int_equal(t.opt.count, 0);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 1460, 1460);
	h_expect_none(h);
	done(state);
}

/* IPv6: MSS = MTU - 60 = 1440, less 12 for timestamps. */
static void test_established_write_segments_to_mss_ipv6(void **state)
{
	struct harness *h = h_new(TW_AF_INET6);
	*state = h;
	struct est e = est_default();
	e.mss = 1440;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(h_info(p.s).snd_mss, 1428);
	assert_int_equal(app_write(&p, 2 * 1428, 0), 2 * 1428);
	expect_data(&p, WIRE_TCP_ACK, 0, 1428);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 1428, 1428);
	h_expect_none(h);
	done(state);
}

/* The peer's smaller MSS is what we send. */
static void test_established_write_segments_to_peer_mss(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	e.mss = 1000;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(h_info(p.s).snd_mss, 1000);
	assert_int_equal(app_write(&p, 3000, 0), 3000);
	expect_data(&p, WIRE_TCP_ACK, 0, 1000);
	expect_data(&p, WIRE_TCP_ACK, 1000, 1000);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 2000, 1000);
	h_expect_none(h);
	done(state);
}

static void test_established_write_segments_to_peer_mss_ts(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.mss = 1000;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(h_info(p.s).snd_mss, 988);
	assert_int_equal(app_write(&p, 3 * 988, 0), 3 * 988);
	expect_data(&p, WIRE_TCP_ACK, 0, 988);
	expect_data(&p, WIRE_TCP_ACK, 988, 988);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 2 * 988, 988);
	h_expect_none(h);
	done(state);
}

/* Like Linux: a 4000-byte write goes as 1448, 1448, 1104, PSH only on the last. */
static void test_established_write_psh_on_last_segment(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 4000, 0), 4000);
	expect_data(&p, WIRE_TCP_ACK, 0, 1448);
	expect_data(&p, WIRE_TCP_ACK, 1448, 1448);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 2896, 1104);
	h_expect_none(h);
	done(state);
}

/* Each write's last segment carries PSH, a one-segment write too. */
static void test_established_write_psh_on_each_write(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 1448, 0), 1448);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 1448);
	peer_ack(&p, p.iss + 1 + 1448);
	h_expect_none(h);
	assert_int_equal(app_write(&p, 2896, 0), 2896);
	expect_data(&p, WIRE_TCP_ACK, 1448, 1448);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 2896, 1448);
	h_expect_none(h);
	done(state);
}

/* ---------------------------------------------------------------- windows */

/* RFC 6928: ten full segments go before any ACK; each ACK in slow start adds one. */
static void test_established_write_initial_window_10_segments(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 100000, 0), 100000);
	for (uint32_t i = 0; i < 10; i++)
		expect_data(&p, WIRE_TCP_ACK, i * 1448, 1448);
	h_expect_none(h);
	assert_int_equal(h_info(p.s).cwnd, 10 * 1448);
	/* One segment ACKed: the window is one larger and one smaller in flight. */
	peer_ack(&p, p.iss + 1 + 1448);
	expect_data(&p, WIRE_TCP_ACK, 10 * 1448, 1448);
	expect_data(&p, WIRE_TCP_ACK, 11 * 1448, 1448);
	h_expect_none(h);
	done(state);
}

static void test_established_write_initial_window_cfg(void **state)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.init_cwnd = 4;
	struct harness *h = h_new_cfg(&cfg);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 100000, 0), 100000);
	for (uint32_t i = 0; i < 4; i++)
		expect_data(&p, WIRE_TCP_ACK, i * 1448, 1448);
	h_expect_none(h);
	done(state);
}

/* The peer's window bounds what is in flight; its ACK moves the right edge on. */
static void test_established_write_limited_by_peer_window(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ws = -1;
	e.wnd = 2896;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(h_info(p.s).snd_wnd, 2896);
	assert_int_equal(app_write(&p, 10000, 0), 10000);
	expect_data(&p, WIRE_TCP_ACK, 0, 1448);
	/* Past half the peer's largest window since the last push: PSH, as Linux's forced_push. */
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 1448, 1448);
	h_expect_none(h);
	peer_ack(&p, p.iss + 1 + 1448);
	expect_data(&p, WIRE_TCP_ACK, 2896, 1448);
	h_expect_none(h);
	done(state);
}

/* RFC 7323 2.3: the peer's window field is shifted by its scale: 10 << 7 = 1280 bytes. */
static void test_established_write_limited_by_scaled_peer_window(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.ws = 7;
	e.wnd = 10;
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(h_info(p.s).snd_wnd, 1280);
	assert_int_equal(app_write(&p, 10000, 0), 10000);
	uint32_t off = 0;
	while (h_pending(h)) {
		struct wire_tcp t = h_next(h);
		assert_int_equal(t.seq, p.iss + 1 + off);
		assert_true(t.payload_len > 0);
		off += (uint32_t)t.payload_len;
	}
	assert_int_equal(off, 1280);
	done(state);
}

/*
 * Our window field is the open window shifted by our scale (8), rounded up
 * to the unit (Linux's __tcp_select_window). As Linux, the window starts at
 * what the SYN-ACK offered (65160) and opens by two segments (2 x 1460) for
 * each segment that arrives (tcp_grow_window), never past the free space.
 */
static void test_established_data_window_scaled_in_ack(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(h_info(p.s).rcv_wscale, 8);
	for (uint32_t i = 0; i < 3; i++) {
		peer_data(&p, i * 1024, 1024);
		p.seq += 1024;
		struct wire_tcp a = expect_ack(&p, p.seq);
		uint32_t open = 65160 + (i + 1) * 2 * 1460;
		assert_int_equal(a.wnd, (open + 255) >> 8);
		assert_true(((uint32_t)a.wnd << 8) <= 131072 - (i + 1) * 1024 + 255);
	}
	done(state);
}

/*
 * RFC 9293 3.8.6 (SHLD-14: the window SHOULD NOT shrink): the right edge
 * (ACK + WND << scale) never moves left, even when the free space is not a
 * multiple of the scale unit; Linux's tcp_select_window rounds the window
 * up to the unit then.
 */
static void test_established_data_window_right_edge_never_moves_left(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	uint32_t edge = 0;
	for (uint32_t i = 0; i < 6; i++) {
		peer_data(&p, i * 1000, 1000);
		p.seq += 1000;
		struct wire_tcp a = expect_ack(&p, p.seq);
		uint32_t right = a.ack + ((uint32_t)a.wnd << 8);
		if (i && (int32_t)(right - edge) < 0)
			fprintf(stderr, "segment %u: right edge %u moved left of %u (win %u << 8, ack %u)\n",
				i, right, edge, a.wnd, a.ack);
		if (i)
			assert_true((int32_t)(right - edge) >= 0);
		edge = right;
		/* It never promises more than the free space, rounded up to the unit. */
		assert_true(((uint32_t)a.wnd << 8) <= 131072 - (i + 1) * 1000 + 255);
	}
	done(state);
}

/*
 * A receive buffer of 4096 bytes and no scaling: two segments of 1460 close
 * the window (the last 1176 bytes are less than an MSS, so not offered).
 */
static void zero_window_setup(void **state, struct harness **hp, struct peer *p)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.rcvbuf = 4096;
	struct harness *h = h_new_cfg(&cfg);
	*state = h;
	struct est e = est_default();
	e.ts = false;
	e.ws = -1;
	e.wnd = 65535;
	est_open(p, h, &e);
	peer_data(p, 0, 1460);
	p->seq += 1460;
	assert_int_equal(expect_ack(p, p->seq).wnd, 1460);
	peer_data(p, 1460, 1460);
	p->seq += 1460;
	assert_int_equal(expect_ack(p, p->seq).wnd, 0);
	*hp = h;
}

/* RFC 9293 3.8.6.2.2: reading a few bytes does not reopen a zero window. */
static void test_established_read_zero_window_few_bytes_stays_closed(void **state)
{
	struct harness *h;
	struct peer p;
	zero_window_setup(state, &h, &p);
	app_read(&p, 0, 100);
	h_expect_none(h);
	/* A window probe from the peer is answered: the window is still 0. */
	assert_true(peer_send(&p, WIRE_TCP_ACK, p.seq - 1, p.ack, NULL, 0) < 0);
	assert_int_equal(expect_ack(&p, p.seq).wnd, 0);
	h_expect_none(h);
	done(state);
}

/* Reading an MSS or more reopens it, and the update is sent at once. */
static void test_established_read_zero_window_mss_sends_update(void **state)
{
	struct harness *h;
	struct peer p;
	zero_window_setup(state, &h, &p);
	app_read(&p, 0, 100);
	h_expect_none(h);
	app_read(&p, 100, 1360);
	assert_int_equal(expect_ack(&p, p.seq).wnd, 4096 - 2920 + 1460);
	h_expect_none(h);
	done(state);
}

/* ------------------------------------------------------------------- ACKs */

/* One ACK covers every segment below it: nothing is sent again. */
static void test_established_ack_cumulative(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 3 * 1448, 0), 3 * 1448);
	drain(h);
	h_advance(h, 10000);
	peer_ack(&p, p.iss + 1 + 3 * 1448);
	assert_int_equal(h_info(p.s).snd_una, p.iss + 1 + 3 * 1448);
	h_advance(h, 10000000);
	h_expect_none(h);
	done(state);
}

/*
 * RFC 5681 4.2, RFC 2018 4: data beyond a hole is held, not readable, and
 * ACKed at once with a SACK block for it.
 */
static void test_established_data_out_of_order_held_with_sack(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 1000, 1000);   /* [irs+1001, irs+2001): crosses 2^32 */
	struct wire_tcp a = expect_ack(&p, p.seq);
	char lay[128];
	assert_string_equal(h_opt_layout(&a, lay, sizeof(lay)), "nop,nop,TS,nop,nop,sack");
	assert_int_equal(a.opt.sack_count, 1);
	assert_int_equal(a.opt.sack[0].left, p.irs + 1 + 1000);
	assert_int_equal(a.opt.sack[0].right, p.irs + 1 + 2000);
	uint8_t buf[16];
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), 0), -EAGAIN);
	assert_int_equal(tw_readable(p.s), 0);
	assert_false(tw_events(p.s) & TW_POLLIN);
	h_expect_none(h);
	done(state);
}

/* RFC 2018 4: the block holding the most recent segment comes first. */
static void test_established_data_out_of_order_two_blocks_recent_first(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 1000, 500);
	expect_ack(&p, p.seq);
	peer_data(&p, 3000, 500);
	struct wire_tcp a = expect_ack(&p, p.seq);
	assert_int_equal(a.opt.sack_count, 2);
	assert_int_equal(a.opt.sack[0].left, p.irs + 1 + 3000);
	assert_int_equal(a.opt.sack[0].right, p.irs + 1 + 3500);
	assert_int_equal(a.opt.sack[1].left, p.irs + 1 + 1000);
	assert_int_equal(a.opt.sack[1].right, p.irs + 1 + 1500);
	done(state);
}

/* Without SACK-permitted in both SYNs, no SACK option. */
static void test_established_data_out_of_order_no_sack_unless_negotiated(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.sack = false;
	struct peer p;
	est_open(&p, h, &e);
	assert_false(h_info(p.s).sack);
	peer_data(&p, 1000, 1000);
	struct wire_tcp a = expect_ack(&p, p.seq);
	char lay[128];
	assert_string_equal(h_opt_layout(&a, lay, sizeof(lay)), "nop,nop,TS");
	assert_int_equal(tw_readable(p.s), 0);
	done(state);
}

/* The segment that fills the hole delivers everything, ACKed at once, without SACK. */
static void test_established_data_hole_filled_delivers_all(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 1000, 1000);
	expect_ack(&p, p.seq);
	peer_data(&p, 0, 1000);
	p.seq += 2000;
	struct wire_tcp a = expect_ack(&p, p.seq);
	char lay[128];
	assert_string_equal(h_opt_layout(&a, lay, sizeof(lay)), "nop,nop,TS");
	assert_int_equal(tw_readable(p.s), 2000);
	app_read(&p, 0, 2000);
	uint8_t buf[16];
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), 0), -EAGAIN);
	done(state);
}

/* A duplicate is ACKed at once and not delivered twice. */
static void test_established_data_duplicate_acked_not_delivered(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 0, 1000);
	p.seq += 1000;
	expect_ack(&p, p.seq);
	const uint8_t *d = fill(0, 1000, PEER_SALT);
	assert_true(peer_send(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, p.irs + 1, p.ack, d, 1000) < 0);
	/* RFC 2883: the ACK reports the duplicate in a D-SACK block, once (Linux's tcp_dsack_set). */
	struct wire_tcp a = expect_ack(&p, p.seq);
	assert_int_equal(a.opt.sack_count, 1);
	assert_int_equal(a.opt.sack[0].left, p.irs + 1);
	assert_int_equal(a.opt.sack[0].right, p.irs + 1 + 1000);
	h_expect_none(h);
	peer_data(&p, 1000, 100);
	p.seq += 100;
	a = expect_ack(&p, p.seq);
	assert_int_equal(a.opt.sack_count, 0);
	assert_int_equal(tw_readable(p.s), 1100);
	app_read(&p, 0, 1100);
	done(state);
}

/* RFC 2883 4.2 (Linux's tcp_data_queue_ofo): out-of-order data we hold already is reported, then its block. */
static void test_established_data_ooo_duplicate_dsack_then_block(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 1000, 500);
	expect_ack(&p, p.seq);
	peer_data(&p, 1200, 500);    /* [1200, 1500) held already, [1500, 1700) new */
	struct wire_tcp a = expect_ack(&p, p.seq);
	assert_int_equal(a.opt.sack_count, 2);
	assert_int_equal(a.opt.sack[0].left, p.irs + 1 + 1200);
	assert_int_equal(a.opt.sack[0].right, p.irs + 1 + 1500);
	assert_int_equal(a.opt.sack[1].left, p.irs + 1 + 1000);
	assert_int_equal(a.opt.sack[1].right, p.irs + 1 + 1700);
	done(state);
}

/* RFC 7323 5.3 and RFC 2883: a retransmission refused by PAWS is still reported as a duplicate. */
static void test_established_data_paws_duplicate_dsack(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_true(p.ts);
	uint32_t old_ts = p.tsval;
	peer_data(&p, 0, 1000);
	p.seq += 1000;
	expect_ack(&p, p.seq);
	uint32_t now_ts = p.tsval;
	p.tsval = old_ts - 5;        /* peer_send takes the next value: older than TS.Recent */
	const uint8_t *d = fill(0, 1000, PEER_SALT);
	assert_true(peer_send(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, p.irs + 1, p.ack, d, 1000) < 0);
	p.tsval = now_ts;
	struct wire_tcp a = expect_ack(&p, p.seq);
	assert_int_equal(a.opt.sack_count, 1);
	assert_int_equal(a.opt.sack[0].left, p.irs + 1);
	assert_int_equal(a.opt.sack[0].right, p.irs + 1 + 1000);
	h_expect_none(h);
	done(state);
}

/* Without SACK there is no D-SACK: the duplicate gets a plain ACK at once. */
static void test_established_data_duplicate_no_dsack_without_sack(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	e.sack = false;
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 0, 1000);
	p.seq += 1000;
	expect_ack(&p, p.seq);
	const uint8_t *d = fill(0, 1000, PEER_SALT);
	assert_true(peer_send(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, p.irs + 1, p.ack, d, 1000) < 0);
	struct wire_tcp a = expect_ack(&p, p.seq);
	assert_false(a.opt.has & WIRE_HAS_SACK);
	h_expect_none(h);
	assert_int_equal(tw_readable(p.s), 1000);
	app_read(&p, 0, 1000);
	uint8_t buf[16];
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), 0), -EAGAIN);
	done(state);
}

/* A segment overlapping what arrived delivers only its new bytes. */
static void test_established_data_overlap_delivers_new_part(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 0, 1000);
	expect_ack(&p, p.seq + 1000);
	peer_data(&p, 500, 1000);
	p.seq += 1500;
	/* RFC 2883: the repeated front [500, 1000) is reported as a D-SACK block. */
	struct wire_tcp a = expect_ack(&p, p.seq);
	assert_int_equal(a.opt.sack_count, 1);
	assert_int_equal(a.opt.sack[0].left, p.irs + 1 + 500);
	assert_int_equal(a.opt.sack[0].right, p.irs + 1 + 1000);
	assert_int_equal(tw_readable(p.s), 1500);
	app_read(&p, 0, 1500);
	done(state);
}

/* ----------------------------------------------------------- delayed ACKs */

/* cfg.quickack_segs: the first segments are ACKed at once, then ACKs are delayed. */
/*
 * Like Linux's tcp_cleanup_rbuf: a read that empties the queue sends a
 * delayed ACK at once when a small segment was waiting; full-sized data
 * keeps its ACK delay.
 */
static void test_established_read_draining_small_segment_acks_now(void **state)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.quickack_segs = 0;
	struct harness *h = h_new_cfg(&cfg);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 0, 1448);       /* a full segment sets what "small" means */
	p.seq += 1448;
	h_expect_none(h);
	h_advance(h, 40000);
	expect_ack(&p, p.seq);
	app_read(&p, 0, 1448);
	h_expect_none(h);

	peer_data(&p, 1448, 100);
	p.seq += 100;
	h_expect_none(h);             /* delayed ... */
	h_advance(h, 10000);
	app_read(&p, 1448, 100);      /* ... until the read that empties the queue */
	expect_ack(&p, p.seq);
	h_expect_none(h);

	peer_data(&p, 1548, 100);
	p.seq += 100;
	peer_data(&p, 1648, 1448);
	p.seq += 1448;
	expect_ack(&p, p.seq);        /* RFC 5681 4.2: more than a full segment unacknowledged */
	peer_data(&p, 3096, 100);
	p.seq += 100;
	h_expect_none(h);
	app_read(&p, 1548, 100);      /* not emptied: the ACK stays delayed */
	h_expect_none(h);
	h_advance(h, 40000);
	expect_ack(&p, p.seq);
	done(state);
}

/*
 * Like Linux (pingpong mode): once we answer what arrives, reading a request
 * sends no ACK of its own; the answer carries it.
 */
static void test_established_request_response_ack_rides_on_answer(void **state)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.quickack_segs = 0;
	struct harness *h = h_new_cfg(&cfg);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 0, 1448);       /* a full segment: later requests are small */
	p.seq += 1448;
	h_advance(h, 40000);
	expect_ack(&p, p.seq);
	app_read(&p, 0, 1448);
	uint32_t in = 1448, out = 0;
	for (int i = 0; i < 5; i++) {
		peer_data(&p, in, 64);
		p.seq += 64;
		h_advance(h, 1000);
		app_read(&p, in, 64);
		in += 64;
		if (i > 0)
			h_expect_none(h);   /* in pingpong: no ACK on the read ... */
		else
			expect_ack(&p, p.seq);   /* the first exchange is not yet known to be one */
		assert_int_equal(app_write(&p, 32, 0), 32);
		expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, out, 32);   /* ... the answer carries it */
		out += 32;
		peer_ack(&p, p.iss + 1 + out);
		h_expect_none(h);
		h_advance(h, 1000);
	}
	done(state);
}

static void test_established_data_quickack_cfg(void **state)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.quickack_segs = 2;
	struct harness *h = h_new_cfg(&cfg);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	for (uint32_t i = 0; i < 2; i++) {
		peer_data(&p, i * 100, 100);
		p.seq += 100;
		expect_ack(&p, p.seq);
	}
	peer_data(&p, 200, 100);
	p.seq += 100;
	h_expect_none(h);
	h_advance(h, 40000);
	expect_ack(&p, p.seq);
	done(state);
}

/* Linux's default: 16 quick ACKs at connection start. */
static void test_established_data_quickack_default_16(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	for (uint32_t i = 0; i < 16; i++) {
		peer_data(&p, i * 1000, 1000);
		p.seq += 1000;
		expect_ack(&p, p.seq);
		h_advance(h, 1000);
	}
	peer_data(&p, 16000, 1000);
	p.seq += 1000;
	h_expect_none(h);
	done(state);
}

/* RFC 9293 3.8.6.3: a single segment is ACKed after the delayed-ACK time, 40 ms. */
static void test_established_data_delack_40ms(void **state)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.quickack_segs = 0;
	struct harness *h = h_new_cfg(&cfg);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	uint64_t t0 = h->now;
	peer_data(&p, 0, 1448);
	p.seq += 1448;
	h_expect_none(h);
	h_advance(h, 39999);
	h_expect_none(h);
	h_advance(h, 1);
	expect_ack(&p, p.seq);
	assert_int_equal(h->out[h->next_out - 1].at - t0, 40000);
	done(state);
}

/* RFC 5681 4.2: an ACK at least for every second full-sized segment, at once. */
static void test_established_data_delack_second_full_segment_acks_now(void **state)
{
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.quickack_segs = 0;
	struct harness *h = h_new_cfg(&cfg);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 0, 1448);
	h_expect_none(h);
	h_advance(h, 5000);
	peer_data(&p, 1448, 1448);
	p.seq += 2896;
	uint64_t t1 = h->now;
	expect_ack(&p, p.seq);   /* one ACK covers both */
	assert_int_equal(h->out[h->next_out - 1].at, t1);
	h_advance(h, 100000);
	h_expect_none(h);
	done(state);
}

/* ------------------------------------------------------ Nagle, cork, more */

/* RFC 9293 3.7.4: with a small segment unacknowledged, small writes wait for its ACK. */
static void test_established_write_nagle_holds_small_write(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	assert_int_equal(app_write(&p, 100, 0), 100);
	assert_int_equal(app_write(&p, 50, 0), 50);
	h_expect_none(h);
	h_advance(h, 20000);
	h_expect_none(h);
	peer_ack(&p, p.iss + 1 + 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 150);
	h_expect_none(h);
	done(state);
}

/*
 * Nagle as Linux applies it (Minshall's variant): only a small segment in
 * flight holds the next small one back; full-sized ones do not.
 */
static void test_established_write_nagle_small_after_full_not_held(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 1448, 0), 1448);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 1448);
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 1448, 100);
	h_expect_none(h);
	done(state);
}

/* TCP_NODELAY: small writes go at once. */
static void test_established_write_nodelay_sends_at_once(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(tw_setsockopt(p.s, TW_TCP_NODELAY, 1), 0);
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 100);
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 100, 100);
	h_expect_none(h);
	done(state);
}

/* TCP_CORK holds partial segments, even on an idle connection, until uncorked. */
static void test_established_write_cork_holds_partial(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(tw_setsockopt(p.s, TW_TCP_CORK, 1), 0);
	assert_int_equal(app_write(&p, 100, 0), 100);
	assert_int_equal(app_write(&p, 200, 0), 200);
	h_expect_none(h);
	assert_int_equal(tw_setsockopt(p.s, TW_TCP_CORK, 0), 0);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 300);
	h_expect_none(h);
	done(state);
}

/* Corked, full segments still go; the partial tail waits for the uncork. */
static void test_established_write_cork_full_segments_go(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(tw_setsockopt(p.s, TW_TCP_CORK, 1), 0);
	assert_int_equal(app_write(&p, 2000, 0), 2000);
	expect_data(&p, WIRE_TCP_ACK, 0, 1448);
	h_expect_none(h);
	peer_ack(&p, p.iss + 1 + 1448);
	h_expect_none(h);
	assert_int_equal(tw_setsockopt(p.s, TW_TCP_CORK, 0), 0);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 1448, 552);
	h_expect_none(h);
	done(state);
}

/* MSG_MORE: this write's partial segment waits for the next write. */
static void test_established_write_msg_more(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(app_write(&p, 100, TW_MSG_MORE), 100);
	h_expect_none(h);
	assert_int_equal(app_write(&p, 100, 0), 100);
	expect_data(&p, WIRE_TCP_ACK | WIRE_TCP_PSH, 0, 200);
	h_expect_none(h);
	done(state);
}

/* ------------------------------------------------------ buffers, readiness */

/* SO_SNDBUF bounds what is queued: a partial write, then -EAGAIN, no POLLOUT, until ACKs free room. */
static void test_established_write_sndbuf_full(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	assert_int_equal(tw_setsockopt(p.s, TW_SO_SNDBUF, 4096), 0);
	int v = 0;
	assert_int_equal(tw_getsockopt(p.s, TW_SO_SNDBUF, &v), 0);
	assert_int_equal(v, 4096);
	assert_true(tw_events(p.s) & TW_POLLOUT);
	assert_int_equal(app_write(&p, 10000, 0), 4096);
	assert_false(tw_events(p.s) & TW_POLLOUT);
	assert_int_equal(app_write(&p, 100, 0), -EAGAIN);
	drain(h);
	peer_ack(&p, p.iss + 1 + 1448);
	assert_true(tw_events(p.s) & TW_POLLOUT);
	assert_int_equal(app_write(&p, 2000, 0), 1448);
	assert_int_equal(app_write(&p, 1, 0), -EAGAIN);
	done(state);
}

static void test_established_read_nothing_eagain(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	uint8_t buf[16];
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), 0), -EAGAIN);
	assert_int_equal(tw_readable(p.s), 0);
	assert_false(tw_events(p.s) & TW_POLLIN);
	done(state);
}

/* Arriving data makes the socket readable (TW_POLLIN, tw_readable) until it is read. */
static void test_established_data_pollin_and_readable(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	peer_data(&p, 0, 300);
	p.seq += 300;
	assert_true(tw_events(p.s) & TW_POLLIN);
	assert_int_equal(tw_readable(p.s), 300);
	uint8_t buf[8];
	assert_int_equal(tw_recv(p.s, buf, sizeof(buf), TW_MSG_PEEK), 8);
	assert_int_equal(tw_readable(p.s), 300);
	app_read(&p, 0, 100);
	assert_int_equal(tw_readable(p.s), 200);
	assert_true(tw_events(p.s) & TW_POLLIN);
	app_read(&p, 100, 200);
	assert_int_equal(tw_readable(p.s), 0);
	assert_false(tw_events(p.s) & TW_POLLIN);
	done(state);
}

struct cb_log {
	struct tw_sock *s;
	unsigned calls;
	unsigned events;
};

static void on_event(struct tw_sock *s, unsigned events, void *ctx)
{
	struct cb_log *log = ctx;
	log->s = s;
	log->calls++;
	log->events = events;
}

/* The socket callback fires when data arrives, with TW_POLLIN. */
static void test_established_data_callback_fires(void **state)
{
	struct harness *h = h_new(TW_AF_INET);
	*state = h;
	struct est e = est_default();
	struct peer p;
	est_open(&p, h, &e);
	struct cb_log log;
	memset(&log, 0, sizeof(log));
	tw_set_callback(p.s, on_event, &log);
	assert_int_equal(log.calls, 0);
	peer_data(&p, 0, 300);
	assert_true(log.calls >= 1);
	assert_ptr_equal(log.s, p.s);
	assert_true(log.events & TW_POLLIN);
	unsigned before = log.calls;
	peer_data(&p, 300, 300);
	assert_true(log.calls > before);
	done(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_established_write_segments_to_mss_ts, teardown),
		cmocka_unit_test_teardown(test_established_write_segments_to_mss_no_ts, teardown),
		cmocka_unit_test_teardown(test_established_write_segments_to_mss_ipv6, teardown),
		cmocka_unit_test_teardown(test_established_write_segments_to_peer_mss, teardown),
		cmocka_unit_test_teardown(test_established_write_segments_to_peer_mss_ts, teardown),
		cmocka_unit_test_teardown(test_established_write_psh_on_last_segment, teardown),
		cmocka_unit_test_teardown(test_established_write_psh_on_each_write, teardown),
		cmocka_unit_test_teardown(test_established_write_initial_window_10_segments, teardown),
		cmocka_unit_test_teardown(test_established_write_initial_window_cfg, teardown),
		cmocka_unit_test_teardown(test_established_write_limited_by_peer_window, teardown),
		cmocka_unit_test_teardown(test_established_write_limited_by_scaled_peer_window, teardown),
		cmocka_unit_test_teardown(test_established_data_window_scaled_in_ack, teardown),
		cmocka_unit_test_teardown(test_established_data_window_right_edge_never_moves_left, teardown),
		cmocka_unit_test_teardown(test_established_read_zero_window_few_bytes_stays_closed, teardown),
		cmocka_unit_test_teardown(test_established_read_zero_window_mss_sends_update, teardown),
		cmocka_unit_test_teardown(test_established_ack_cumulative, teardown),
		cmocka_unit_test_teardown(test_established_data_out_of_order_held_with_sack, teardown),
		cmocka_unit_test_teardown(test_established_data_out_of_order_two_blocks_recent_first, teardown),
		cmocka_unit_test_teardown(test_established_data_out_of_order_no_sack_unless_negotiated, teardown),
		cmocka_unit_test_teardown(test_established_data_hole_filled_delivers_all, teardown),
		cmocka_unit_test_teardown(test_established_data_duplicate_acked_not_delivered, teardown),
		cmocka_unit_test_teardown(test_established_data_duplicate_no_dsack_without_sack, teardown),
		cmocka_unit_test_teardown(test_established_data_ooo_duplicate_dsack_then_block, teardown),
		cmocka_unit_test_teardown(test_established_data_paws_duplicate_dsack, teardown),
		cmocka_unit_test_teardown(test_established_data_overlap_delivers_new_part, teardown),
		cmocka_unit_test_teardown(test_established_data_quickack_cfg, teardown),
		cmocka_unit_test_teardown(test_established_read_draining_small_segment_acks_now, teardown),
		cmocka_unit_test_teardown(test_established_request_response_ack_rides_on_answer, teardown),
		cmocka_unit_test_teardown(test_established_data_quickack_default_16, teardown),
		cmocka_unit_test_teardown(test_established_data_delack_40ms, teardown),
		cmocka_unit_test_teardown(test_established_data_delack_second_full_segment_acks_now, teardown),
		cmocka_unit_test_teardown(test_established_write_nagle_holds_small_write, teardown),
		cmocka_unit_test_teardown(test_established_write_nagle_small_after_full_not_held, teardown),
		cmocka_unit_test_teardown(test_established_write_nodelay_sends_at_once, teardown),
		cmocka_unit_test_teardown(test_established_write_cork_holds_partial, teardown),
		cmocka_unit_test_teardown(test_established_write_cork_full_segments_go, teardown),
		cmocka_unit_test_teardown(test_established_write_msg_more, teardown),
		cmocka_unit_test_teardown(test_established_write_sndbuf_full, teardown),
		cmocka_unit_test_teardown(test_established_read_nothing_eagain, teardown),
		cmocka_unit_test_teardown(test_established_data_pollin_and_readable, teardown),
		cmocka_unit_test_teardown(test_established_data_callback_fires, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
