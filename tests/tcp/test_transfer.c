/*
 * Byte-exact transfers between two stacks over the in-memory link: 50 MB
 * each way at once, clean and impaired, checked by hash; then connection
 * churn with nothing leaked.
 */
#include "harness.h"

#define MB (1024u * 1024u)

struct stream {
	uint64_t sent, received, total;
	uint64_t hash_out, hash_in;   /* FNV-1a of the bytes sent and received */
	bool shut;
	bool eof;
};

struct side {
	struct tw_stack *st;
	struct tw_sock *listener, *sock;
	struct stream s;
};

struct world {
	struct side a, b;
	struct tw_pipe *pipe;
};

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* The byte at offset i of a side's stream: a pattern no shift or repeat preserves. */
static uint8_t pattern(uint64_t i, uint8_t salt)
{
	uint64_t x = (i + salt) * 0x9e3779b97f4a7c15ull;
	return (uint8_t)(x >> 56);
}

/* The last packets on the link (headers only), printed when a transfer fails. */
#define RECENT 64
#define RECENT_BYTES 120
static struct {
	uint8_t bytes[RECENT_BYTES];
	size_t caplen, len;
	uint64_t at;
	bool from_a;
} recent[RECENT];
static size_t n_recent;

static void tap(void *ctx, uint64_t now, bool from_a, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	size_t i = n_recent++ % RECENT;
	recent[i].caplen = len < RECENT_BYTES ? len : RECENT_BYTES;
	memcpy(recent[i].bytes, pkt, recent[i].caplen);
	recent[i].len = len;
	recent[i].at = now;
	recent[i].from_a = from_a;
}

static void dump_recent(void)
{
	struct tw_trace_config tc = { .time = TW_TIME_EPOCH, .absolute_seq = true };
	struct tw_tracer *tr = tw_tracer_new(&tc);
	size_t start = n_recent > RECENT ? n_recent - RECENT : 0;
	for (size_t i = start; i < n_recent; i++) {
		size_t k = i % RECENT;
		const char *line = tw_trace_render(tr, (int64_t)(recent[k].at / 1000000), (uint32_t)(recent[k].at % 1000000),
						   TW_LINK_RAW, recent[k].bytes, recent[k].caplen, recent[k].len);
		fprintf(stderr, "%s %s", recent[k].from_a ? "a>" : "b>", line ? line : "?\n");
	}
	tw_tracer_free(tr);
}

static void pump(struct side *sd, uint8_t salt)
{
	uint8_t buf[16384];
	struct stream *s = &sd->s;
	if (!sd->sock)
		return;
	while (s->sent < s->total) {
		size_t n = sizeof(buf);
		if (n > s->total - s->sent)
			n = (size_t)(s->total - s->sent);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(s->sent + i, salt);
		long w = tw_send(sd->sock, buf, n, 0);
		if (w <= 0)
			break;
		s->hash_out = fnv(s->hash_out, buf, (size_t)w);
		s->sent += (uint64_t)w;
	}
	if (s->sent == s->total && !s->shut) {
		assert_int_equal(tw_shutdown(sd->sock, TW_SHUT_WR), 0);
		s->shut = true;
	}
	for (;;) {
		long r = tw_recv(sd->sock, buf, sizeof(buf), 0);
		if (r == 0) {
			s->eof = true;
			break;
		}
		if (r < 0) {
			if (r != -11) {
				struct tw_conn_info ci;
				struct tw_stack_stats ss;
				tw_conn_info(sd->sock, &ci);
				tw_stack_stats(sd->st, &ss);
				fprintf(stderr, "# side %u: recv %ld in %s, resets %llu, timeouts %llu, sent %llu recvd %llu\n", salt, r,
					tw_state_name(ci.state), (unsigned long long)ss.conns_reset,
					(unsigned long long)ss.conns_timed_out, (unsigned long long)s->sent, (unsigned long long)s->received);
			}
			if (r != -11)
				dump_recent();
			assert_int_equal(r, -11 /* EAGAIN */);
			break;
		}
		for (long i = 0; i < r; i++) {
			if (buf[i] != pattern(s->received + (uint64_t)i, salt == 1 ? 2 : 1)) {
				fprintf(stderr, "# side %u: byte %llu differs\n", salt, (unsigned long long)(s->received + (uint64_t)i));
				fail();
			}
		}
		s->hash_in = fnv(s->hash_in, buf, (size_t)r);
		s->received += (uint64_t)r;
	}
}

static bool step(void *ctx)
{
	struct world *w = ctx;
	if (!w->b.sock) {
		int err = 0;
		w->b.sock = tw_accept(w->b.listener, NULL, &err);
	}
	pump(&w->a, 1);
	pump(&w->b, 2);
	return w->a.s.eof && w->b.s.eof && w->a.s.shut && w->b.s.shut;
}

static void make_stack(struct side *sd, uint8_t family, uint8_t last, uint8_t seed)
{
	struct tw_stack_config cfg;
	h_config(&cfg, family);
	h_addr(&cfg.addrs[0], family, last);
	cfg.secret[0] = seed;
	int err = 0;
	sd->st = tw_stack_new(&cfg, &err);
	assert_non_null(sd->st);
	sd->s.hash_out = sd->s.hash_in = 0xcbf29ce484222325ull;
}

static void transfer_family(uint8_t family, const struct tw_impairment *imp, uint64_t bytes, uint64_t seed)
{
	struct world w;
	memset(&w, 0, sizeof(w));
	make_stack(&w.a, family, 1, 1);
	make_stack(&w.b, family, 2, 2);
	struct tw_pipe_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.seed = seed;
	if (imp) {
		pc.a_to_b = *imp;
		pc.b_to_a = *imp;
	}
	pc.a_to_b.delay_us = pc.b_to_a.delay_us = 1000;
	w.pipe = tw_pipe_new(&pc, w.a.st, w.b.st);
	assert_non_null(w.pipe);
	n_recent = 0;
	tw_pipe_set_tap(w.pipe, tap, NULL);

	int err = 0;
	w.b.listener = tw_socket(w.b.st, &err);
	struct tw_endpoint ep = { .port = 80 };
	h_addr(&ep.addr, family, 2);
	assert_int_equal(tw_bind(w.b.listener, &ep), 0);
	assert_int_equal(tw_listen(w.b.listener, 16), 0);
	w.a.sock = tw_socket(w.a.st, &err);
	assert_int_equal(tw_connect(w.a.sock, &ep), -115);
	w.a.s.total = w.b.s.total = bytes;

	if (!tw_pipe_run(w.pipe, UINT64_MAX, step, &w)) {
		dump_recent();
		fail_msg("the transfer stopped before its end");
	}
	assert_int_equal(w.a.s.received, bytes);
	assert_int_equal(w.b.s.received, bytes);
	assert_true(w.a.s.hash_out == w.b.s.hash_in);
	assert_true(w.b.s.hash_out == w.a.s.hash_in);

	struct tw_conn_info ci;
	tw_conn_info(w.a.sock, &ci);
	struct tw_stack_stats sta;
	tw_stack_stats(w.a.st, &sta);
	fprintf(stderr, "# a: srtt %u us, %llu retransmissions, %llu timeouts, %llu recoveries; virtual time %.1f s\n",
		ci.srtt_us, (unsigned long long)ci.retransmits, (unsigned long long)sta.timeouts,
		(unsigned long long)sta.recoveries, tw_pipe_now(w.pipe) / 1e6);
	tw_close(w.a.sock);
	tw_close(w.b.sock);
	tw_close(w.b.listener);
	/* After TIME-WAIT nothing is left on either side. */
	tw_pipe_run(w.pipe, tw_pipe_now(w.pipe) + 200000000ull, NULL, NULL);
	struct tw_stack_stats sa, sb;
	tw_stack_stats(w.a.st, &sa);
	tw_stack_stats(w.b.st, &sb);
	assert_int_equal(sa.conns, 0);
	assert_int_equal(sb.conns, 0);
	h_free_joined(w.pipe, w.a.st, w.b.st);
}

static void transfer(const struct tw_impairment *imp, uint64_t bytes, uint64_t seed)
{
	transfer_family(TW_AF_INET, imp, bytes, seed);
}

/* IPv6: MSS 1428 with timestamps, the same impairments. */
static void test_transfer_ipv6_lossy(void **state)
{
	(void)state;
	struct tw_impairment imp = { .loss = 0.05, .reorder = 0.05, .duplicate = 0.02, .jitter_us = 200 };
	transfer_family(TW_AF_INET6, &imp, 8 * MB, 11);
}

static void test_transfer_50mb_each_way_clean(void **state)
{
	(void)state;
	transfer(NULL, 50 * MB, 1);
}

static void test_transfer_50mb_each_way_lossy(void **state)
{
	(void)state;
	struct tw_impairment imp = { .loss = 0.05, .reorder = 0.05, .duplicate = 0.02, .jitter_us = 200 };
	transfer(&imp, 50 * MB, 7);
}

static void test_transfer_corruption_is_caught(void **state)
{
	(void)state;
	struct tw_impairment imp = { .corrupt = 0.05 };
	transfer(&imp, 4 * MB, 3);
}

static void test_transfer_loss_only(void **state)
{
	(void)state;
	struct tw_impairment imp = { .loss = 0.05 };
	transfer(&imp, 2 * MB, 5);
}

static void test_transfer_reorder_only(void **state)
{
	(void)state;
	struct tw_impairment imp = { .reorder = 0.05 };
	transfer(&imp, 2 * MB, 5);
}

static void test_transfer_duplicate_only(void **state)
{
	(void)state;
	struct tw_impairment imp = { .duplicate = 0.05 };
	transfer(&imp, 2 * MB, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfer_loss_only),
		cmocka_unit_test(test_transfer_reorder_only),
		cmocka_unit_test(test_transfer_duplicate_only),
		cmocka_unit_test(test_transfer_50mb_each_way_clean),
		cmocka_unit_test(test_transfer_50mb_each_way_lossy),
		cmocka_unit_test(test_transfer_corruption_is_caught),
		cmocka_unit_test(test_transfer_ipv6_lossy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
