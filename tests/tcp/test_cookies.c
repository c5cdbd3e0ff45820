/*
 * SYN cookies (RFC 4987 3.6) in Linux's layout: a listener whose SYN queue
 * is full answers with a cookie and keeps nothing; the third segment brings
 * the connection back, with its options when both SYNs carried timestamps.
 */
#include "harness.h"
#include "tcp/tcp.h"

#define PEER_ISS 0xfffff000u
#define PEER_TS 5000u

/* A SYN from `port` with Linux's options, or with `ts` false none but MSS, SACK-permitted and window scale. */
static struct h_seg syn_from(uint16_t port, bool ts, uint16_t mss)
{
	struct h_seg s = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	s.sport = port;
	s.wnd = 64240;
	h_opt_mss(&s, mss);
	if (ts) {
		h_opt_sackok(&s);
		h_opt_ts(&s, PEER_TS, 0);
	} else {
		h_opt_nop(&s);
		h_opt_nop(&s);
		h_opt_sackok(&s);
	}
	h_opt_nop(&s);
	h_opt_ws(&s, 7);
	return s;
}

/* The third segment: ACK of `synack`, echoing its TSval when `ts`. */
static struct h_seg third(uint16_t port, const struct wire_tcp *synack, bool ts)
{
	struct h_seg a = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, synack->seq + 1);
	a.sport = port;
	a.wnd = 502;   /* scaled by 7: 64256 bytes */
	if (ts) {
		h_opt_nop(&a);
		h_opt_nop(&a);
		h_opt_ts(&a, PEER_TS + 1, synack->opt.ts_val);
	}
	return a;
}

static struct tw_stack_stats stats_of(const struct harness *h)
{
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	return ss;
}

static struct harness *harness_with_cookies(uint8_t family, uint8_t cookies)
{
	struct tw_stack_config cfg;
	h_config(&cfg, family);
	cfg.syncookies = cookies;
	return h_new_cfg(&cfg);
}

static struct tw_sock *accept_one(struct tw_sock *l)
{
	int err = 0;
	struct tw_sock *c = tw_accept(l, NULL, &err);
	assert_non_null(c);
	return c;
}

/*
 * With the SYN queue full, a SYN is answered with a cookie and nothing is
 * kept; its third segment makes the connection, with the window scale,
 * SACK and timestamps both SYNs offered, and it carries data both ways.
 */
static void cookie_connection(uint8_t family, uint16_t mss, uint16_t want_mss)
{
	struct harness *h = harness_with_cookies(family, TW_SYNCOOKIES_ON_OVERFLOW);
	struct tw_sock *l = h_listen(h, 1);
	struct h_seg first = syn_from(PEER_PORT, true, 1460);
	assert_int_equal(h_feed(h, &first), 0);
	h_expect_synack(h, PEER_PORT, PEER_ISS);
	assert_int_equal(h_conns(h), 2);

	struct h_seg syn = syn_from(PEER_PORT + 1, true, mss);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_expect_synack(h, PEER_PORT + 1, PEER_ISS);
	char layout[64];
	assert_string_equal(h_opt_layout(&sa, layout, sizeof(layout)), "mss,sackOK,TS,nop,wscale");
	assert_int_equal(sa.opt.ts_ecr, PEER_TS);
	assert_int_equal(sa.opt.ts_val & 63, 7 | 16);   /* the peer's window scale, and SACK-permitted */
	assert_int_equal(h_conns(h), 2);                /* nothing kept for it */
	struct tw_stack_stats ss = stats_of(h);
	assert_int_equal(ss.syns_received, 2);
	assert_int_equal(ss.syn_queue_overflows, 1);
	assert_int_equal(ss.cookies_sent, 1);

	struct h_seg ack = third(PEER_PORT + 1, &sa, true);
	assert_int_equal(h_feed(h, &ack), 0);
	h_expect_none(h);
	assert_int_equal(stats_of(h).cookies_valid, 1);
	struct tw_sock *c = accept_one(l);
	struct tw_conn_info ci = h_info(c);
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_int_equal(ci.iss, sa.seq);
	assert_int_equal(ci.irs, PEER_ISS);
	assert_int_equal(ci.remote.port, PEER_PORT + 1);
	assert_int_equal(ci.snd_wscale, 7);
	assert_int_equal(ci.rcv_wscale, sa.opt.wscale);
	assert_true(ci.sack);
	assert_true(ci.timestamps);
	assert_int_equal(ci.snd_mss, want_mss - 12);
	assert_int_equal(ci.snd_wnd, 502u << 7);

	/* Data both ways on the cookie's sequence numbers. */
	struct h_seg d = h_seg(WIRE_TCP_ACK | WIRE_TCP_PSH, PEER_ISS + 1, sa.seq + 1);
	d.sport = PEER_PORT + 1;
	d.wnd = 502;
	h_opt_nop(&d);
	h_opt_nop(&d);
	h_opt_ts(&d, PEER_TS + 2, sa.opt.ts_val);
	d.data = "request";
	d.len = 7;
	assert_int_equal(h_feed(h, &d), 0);
	char buf[16];
	assert_int_equal(tw_recv(c, buf, sizeof(buf), 0), 7);
	assert_memory_equal(buf, "request", 7);
	assert_int_equal(tw_send(c, "answer", 6, 0), 6);
	struct wire_tcp out;
	do
		out = h_next(h);
	while (out.payload_len == 0);
	assert_int_equal(out.seq, sa.seq + 1);
	assert_int_equal(out.ack, PEER_ISS + 8);
	assert_true(out.opt.ts_val - sa.opt.ts_val < 64 + 1000);   /* the clock runs on from the cookie's */
	h_free(h);
}

static void test_listen_syn_queue_full_cookie_connection(void **state)
{
	(void)state;
	cookie_connection(TW_AF_INET, 1460, 1460);
	cookie_connection(TW_AF_INET, 1400, 1300);   /* the largest of Linux's MSS table it allows */
	cookie_connection(TW_AF_INET6, 1440, 1440);
}

/* Without timestamps the cookie's SYN-ACK offers the MSS alone, and the connection has no window scale or SACK. */
static void test_cookie_without_timestamps_has_no_options(void **state)
{
	(void)state;
	struct harness *h = harness_with_cookies(TW_AF_INET, TW_SYNCOOKIES_ALWAYS);
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg syn = syn_from(PEER_PORT, false, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_expect_synack(h, PEER_PORT, PEER_ISS);
	char layout[64];
	assert_string_equal(h_opt_layout(&sa, layout, sizeof(layout)), "mss");
	struct h_seg ack = third(PEER_PORT, &sa, false);
	ack.wnd = 64256;
	assert_int_equal(h_feed(h, &ack), 0);
	struct tw_conn_info ci = h_info(accept_one(l));
	assert_int_equal(ci.state, TW_ESTABLISHED);
	assert_int_equal(ci.snd_wscale, -1);
	assert_false(ci.sack);
	assert_false(ci.timestamps);
	assert_int_equal(ci.snd_mss, 1460);
	assert_int_equal(ci.snd_wnd, 64256);
	h_free(h);
}

/* Always on: no SYN leaves any state behind (zero bytes per half-open connection). */
static void test_cookies_always_keep_no_half_open_state(void **state)
{
	(void)state;
	struct harness *h = harness_with_cookies(TW_AF_INET, TW_SYNCOOKIES_ALWAYS);
	h_listen(h, 8);
	for (uint16_t i = 0; i < 100; i++) {
		struct h_seg syn = syn_from((uint16_t)(PEER_PORT + i), true, 1460);
		assert_int_equal(h_feed(h, &syn), 0);
		h_expect_synack(h, (uint16_t)(PEER_PORT + i), PEER_ISS);
	}
	assert_int_equal(h_conns(h), 1);   /* the listener alone */
	assert_int_equal(stats_of(h).cookies_sent, 100);
	h_advance(h, 10000000);
	h_expect_none(h);                  /* and nothing to retransmit */
	h_free(h);
}

/* An ACK whose cookie does not check is answered as Linux answers any ACK to a listener, and makes nothing. */
static void test_cookie_invalid_ack_answered_with_rst(void **state)
{
	(void)state;
	struct harness *h = harness_with_cookies(TW_AF_INET, TW_SYNCOOKIES_ALWAYS);
	h_listen(h, 8);
	struct h_seg syn = syn_from(PEER_PORT, true, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_expect_synack(h, PEER_PORT, PEER_ISS);
	struct h_seg ack = third(PEER_PORT, &sa, true);
	ack.ack += 1;   /* one off */
	assert_int_equal(h_feed(h, &ack), -TW_DROP_LISTEN_ACK);
	h_expect(h, WIRE_TCP_RST, ack.ack, 0);
	struct h_seg other = third(PEER_PORT, &sa, true);
	/*
	 * A different peer ISN than the cookie was made for. (As in Linux's
	 * layout, an ISN a few below it only moves the MSS index: the sequence
	 * number is added to the cookie, the index is its low bits.)
	 */
	other.seq += 1000;
	assert_int_equal(h_feed(h, &other), -TW_DROP_LISTEN_ACK);
	h_expect(h, WIRE_TCP_RST, other.ack, 0);
	assert_int_equal(h_conns(h), 1);
	assert_int_equal(stats_of(h).cookies_invalid, 2);
	assert_int_equal(stats_of(h).cookies_valid, 0);
	h_free(h);
}

/* A cookie is good for its minute and the next (Linux's MAX_SYNCOOKIE_AGE); later it is refused. */
static void test_cookie_stale_after_two_minutes(void **state)
{
	(void)state;
	struct harness *h = harness_with_cookies(TW_AF_INET, TW_SYNCOOKIES_ALWAYS);
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg syn = syn_from(PEER_PORT, true, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_expect_synack(h, PEER_PORT, PEER_ISS);
	h_advance(h, 150000000);   /* 2.5 minutes */
	/* Another SYN keeps the listener checking ACKs for cookies. */
	struct h_seg syn2 = syn_from(PEER_PORT + 1, true, 1460);
	assert_int_equal(h_feed(h, &syn2), 0);
	struct wire_tcp sa2 = h_expect_synack(h, PEER_PORT + 1, PEER_ISS);
	struct h_seg ack = third(PEER_PORT, &sa, true);
	assert_int_equal(h_feed(h, &ack), -TW_DROP_LISTEN_ACK);
	h_expect(h, WIRE_TCP_RST, ack.ack, 0);
	assert_int_equal(stats_of(h).cookies_invalid, 1);
	/* A cookie of this minute still works. */
	struct h_seg ack2 = third(PEER_PORT + 1, &sa2, true);
	assert_int_equal(h_feed(h, &ack2), 0);
	assert_int_equal(h_info(accept_one(l)).state, TW_ESTABLISHED);
	h_free(h);
}

/* The third segment may carry data, and a FIN: both are taken with the connection. */
static void test_cookie_third_segment_with_data_and_fin(void **state)
{
	(void)state;
	struct harness *h = harness_with_cookies(TW_AF_INET, TW_SYNCOOKIES_ALWAYS);
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg syn = syn_from(PEER_PORT, true, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_expect_synack(h, PEER_PORT, PEER_ISS);
	struct h_seg ack = third(PEER_PORT, &sa, true);
	ack.flags |= WIRE_TCP_PSH | WIRE_TCP_FIN;
	ack.data = "GET /";
	ack.len = 5;
	assert_int_equal(h_feed(h, &ack), 0);
	struct tw_sock *c = accept_one(l);
	char buf[8];
	assert_int_equal(tw_recv(c, buf, sizeof(buf), 0), 5);
	assert_int_equal(tw_recv(c, buf, sizeof(buf), 0), 0);   /* then the end of the stream */
	assert_int_equal(h_info(c).state, TW_CLOSE_WAIT);
	h_free(h);
}

/* A listener that has sent no cookie lately does not look for one: an ACK is answered with RST at once. */
static void test_cookie_not_checked_without_recent_cookies(void **state)
{
	(void)state;
	struct harness *h = harness_with_cookies(TW_AF_INET, TW_SYNCOOKIES_ON_OVERFLOW);
	h_listen(h, 8);
	struct h_seg ack = h_seg(WIRE_TCP_ACK, 1, 2);
	assert_int_equal(h_feed(h, &ack), -TW_DROP_LISTEN_ACK);
	h_expect(h, WIRE_TCP_RST, 2, 0);
	assert_int_equal(stats_of(h).cookies_invalid, 0);
	h_free(h);
}

static void count_out(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)pkt;
	(void)len;
	(*(uint64_t *)ctx)++;
}

/* 100,000 forged third segments, random sequence and acknowledgment numbers: not one connection. */
static void test_forged_cookie_acks_make_nothing(void **state)
{
	(void)state;
	struct harness *h = harness_with_cookies(TW_AF_INET, TW_SYNCOOKIES_ALWAYS);
	h_listen(h, 8);
	struct h_seg syn = syn_from(PEER_PORT, true, 1460);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_expect_synack(h, PEER_PORT, PEER_ISS);
	uint64_t sent = 0;
	tw_stack_set_output(h->st, count_out, &sent);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	const uint32_t n = 100000;
	for (uint32_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		struct h_seg a = third((uint16_t)(PEER_PORT + (x >> 48) % 512), &sa, true);
		a.seq = (uint32_t)x;
		a.ack = (uint32_t)(x >> 32);
		tw_input(h->st, (const uint8_t *)NULL, 0, h->now);   /* a malformed packet between, as noise */
		uint8_t buf[128];
		size_t len = h_build(h, &a, buf, sizeof(buf));
		assert_int_equal(tw_input(h->st, buf, len, h->now), -TW_DROP_LISTEN_ACK);
	}
	assert_int_equal(h_conns(h), 1);
	struct tw_stack_stats ss = stats_of(h);
	assert_int_equal(ss.cookies_valid, 0);
	assert_int_equal(ss.cookies_invalid, n);
	assert_int_equal(sent, n);   /* each answered with one RST */
	h_free(h);
}

/*
 * Without cookies, a SYN costs a half-open entry of at most 64 bytes and no
 * control block; the third segment makes the connection.
 */
static void test_half_open_entries_are_small(void **state)
{
	(void)state;
	struct harness *h = harness_with_cookies(TW_AF_INET, TW_SYNCOOKIES_OFF);
	struct tw_sock *l = h_listen(h, 1000);
	uint64_t sent = 0;
	tw_stack_set_output(h->st, count_out, &sent);
	for (uint16_t i = 0; i < 1000; i++) {
		struct h_seg syn = syn_from((uint16_t)(PEER_PORT + i), true, 1460);
		assert_int_equal(h_feed(h, &syn), 0);
	}
	assert_int_equal(sent, 1000);             /* a SYN-ACK each */
	assert_int_equal(h_conns(h), 1001);       /* counted as connections, as Linux's SYN-RECV */
	assert_true(sizeof(struct tcp_req) <= 64);
	assert_int_equal(h->st->table_count, 0);  /* and not one control block */
	tw_stack_set_output(h->st, h_capture, h);
	/* The peer of one of them answers: its connection is made, and only its. */
	struct h_seg syn = syn_from(PEER_PORT + 7, true, 1460);
	assert_int_equal(h_feed(h, &syn), 0);    /* a repeated SYN: the SYN-ACK again */
	struct wire_tcp sa = h_expect_synack(h, PEER_PORT + 7, PEER_ISS);
	struct h_seg ack = third(PEER_PORT + 7, &sa, true);
	assert_int_equal(h_feed(h, &ack), 0);
	assert_int_equal(h_info(accept_one(l)).state, TW_ESTABLISHED);
	assert_int_equal(h->st->table_count, 1);
	assert_int_equal(h_conns(h), 1001);
	/* The others go after their SYN-ACK retransmissions, as half-open connections do. */
	sent = 0;
	tw_stack_set_output(h->st, count_out, &sent);
	h_advance(h, 70000000);
	assert_int_equal(sent, 999 * 5);          /* synack_retries, each */
	assert_int_equal(h_conns(h), 2);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_syn_queue_full_cookie_connection),
		cmocka_unit_test(test_cookie_without_timestamps_has_no_options),
		cmocka_unit_test(test_cookies_always_keep_no_half_open_state),
		cmocka_unit_test(test_cookie_invalid_ack_answered_with_rst),
		cmocka_unit_test(test_cookie_stale_after_two_minutes),
		cmocka_unit_test(test_cookie_third_segment_with_data_and_fin),
		cmocka_unit_test(test_cookie_not_checked_without_recent_cookies),
		cmocka_unit_test(test_forged_cookie_acks_make_nothing),
		cmocka_unit_test(test_half_open_entries_are_small),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
