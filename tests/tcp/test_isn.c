/*
 * Numbers an off-path attacker must not guess: SipHash-2-4 against the
 * vectors published with the SipHash paper, ISNs per RFC 6528 (a keyed hash
 * of the 4-tuple plus a clock ticking every 4 microseconds), and timestamp
 * values that start from a per-connection offset (RFC 7323 7.1).
 */
#include "harness.h"

#include "wire/siphash.h"

#define PEER_ISS 0xfffffff0u    /* just below 2^32: every path crosses the wrap */

/* ----------------------------------------------------------------- SipHash */

/*
 * SipHash-2-4 with key 00 01 .. 0f on the messages 00 01 .. (n-1), as the
 * authors publish them (vectors.h of the reference code, the 64-bit output
 * in little-endian byte order). n = 15 is the worked example of the
 * paper's Appendix A: a129ca6149be45e5.
 */
static const struct {
	size_t n;
	uint8_t out[8];
} sip_vectors[] = {
	{ 0, { 0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72 } },
	{ 1, { 0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74 } },
	{ 2, { 0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d } },
	{ 3, { 0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85 } },
	{ 7, { 0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab } },
	{ 8, { 0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93 } },
	{ 9, { 0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e } },
	{ 15, { 0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1 } },
	{ 16, { 0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f } },
	{ 17, { 0x94, 0x47, 0xbe, 0x2c, 0xf5, 0xe9, 0x9a, 0x69 } },
	{ 31, { 0x42, 0xc3, 0x41, 0xd8, 0xfa, 0x92, 0xd8, 0x32 } },
	{ 32, { 0xce, 0x7c, 0xf2, 0x72, 0x2f, 0x51, 0x27, 0x71 } },
	{ 33, { 0xe3, 0x78, 0x59, 0xf9, 0x46, 0x23, 0xf3, 0xa7 } },
	{ 62, { 0x57, 0x5f, 0xf2, 0x8e, 0x60, 0x38, 0x1b, 0xe5 } },
	{ 63, { 0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95 } },
};

static void key_00_0f(uint8_t key[16])
{
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
}

static void le64(uint64_t v, uint8_t out[8])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static void test_siphash_paper_vectors(void **state)
{
	(void)state;
	uint8_t key[16];
	key_00_0f(key);
	for (size_t i = 0; i < sizeof(sip_vectors) / sizeof(sip_vectors[0]); i++) {
		size_t n = sip_vectors[i].n;
		/* Exactly n bytes on the heap: ASan catches a read past the message. */
		uint8_t *msg = malloc(n ? n : 1);
		assert_non_null(msg);
		for (size_t j = 0; j < n; j++)
			msg[j] = (uint8_t)j;
		uint8_t got[8];
		le64(wire_siphash24(key, msg, n), got);
		if (memcmp(got, sip_vectors[i].out, 8) != 0)
			fprintf(stderr, "siphash vector n=%zu differs\n", n);
		assert_memory_equal(got, sip_vectors[i].out, 8);
		free(msg);
	}
}

static void test_siphash_appendix_a_example(void **state)
{
	(void)state;
	uint8_t key[16], msg[15];
	key_00_0f(key);
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_true(wire_siphash24(key, msg, sizeof(msg)) == 0xa129ca6149be45e5ull);
}

static void test_siphash_unaligned_input(void **state)
{
	(void)state;
	/* The message may start anywhere: an odd address gives the same value. */
	uint8_t key[16], buf[64 + 1];
	key_00_0f(key);
	for (int i = 0; i < 63; i++)
		buf[i + 1] = (uint8_t)i;
	uint8_t got[8];
	le64(wire_siphash24(key, buf + 1, 63), got);
	assert_memory_equal(got, sip_vectors[sizeof(sip_vectors) / sizeof(sip_vectors[0]) - 1].out, 8);
}

static void test_siphash_key_matters(void **state)
{
	(void)state;
	uint8_t key[16], msg[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	key_00_0f(key);
	uint64_t a = wire_siphash24(key, msg, sizeof(msg));
	for (int i = 0; i < 16; i++) {
		key[i] ^= 0x80;
		assert_true(wire_siphash24(key, msg, sizeof(msg)) != a);
		key[i] ^= 0x80;
	}
}

/* --------------------------------------------------------------------- ISN */

/* An active open from `lport` to the peer's `rport`; returns the socket, its SYN in *syn. */
static struct tw_sock *open_from(struct harness *h, uint16_t lport, uint16_t rport, struct wire_tcp *syn)
{
	int err = 0;
	struct tw_sock *s = tw_socket(h->st, &err);
	assert_non_null(s);
	struct tw_endpoint local, remote;
	memset(&local, 0, sizeof(local));
	memset(&remote, 0, sizeof(remote));
	local.addr = h->ours;
	local.port = lport;
	remote.addr = h->peer;
	remote.port = rport;
	/* Several connections share a local port here, as SO_REUSEADDR lets them. */
	assert_int_equal(tw_setsockopt(s, TW_SO_REUSEADDR, 1), 0);
	assert_int_equal(tw_bind(s, &local), 0);
	assert_int_equal(tw_connect(s, &remote), -115 /* EINPROGRESS */);
	*syn = h_next(h);
	assert_int_equal(syn->flags, WIRE_TCP_SYN);
	assert_int_equal(syn->sport, lport);
	assert_int_equal(syn->dport, rport);
	assert_int_equal(syn->seq, h_info(s).iss);
	assert_true(syn->opt.has & WIRE_HAS_TS);
	return s;
}

/* The ISS a fresh stack with `cfg` chooses for OUR_PORT -> PEER_PORT at the harness's start time. */
static uint32_t iss_with(const struct tw_stack_config *cfg)
{
	struct harness *h = h_new_cfg(cfg);
	struct wire_tcp syn;
	struct tw_sock *s = open_from(h, OUR_PORT, PEER_PORT, &syn);
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
	return syn.seq;
}

static void test_closed_connect_isn_advances_every_4us(void **state)
{
	(void)state;
	static const uint8_t families[] = { TW_AF_INET, TW_AF_INET6 };
	for (size_t f = 0; f < 2; f++) {
		struct harness *h = h_new(families[f]);
		struct wire_tcp syn;
		struct tw_sock *s = open_from(h, OUR_PORT, PEER_PORT, &syn);
		uint32_t first = syn.seq;
		tw_close(s);
		assert_int_equal(h_conns(h), 0);

		/* RFC 6528 3: M ticks every 4 us, so 4000 us later the ISN is 1000 higher. */
		h_advance(h, 4000);
		s = open_from(h, OUR_PORT, PEER_PORT, &syn);
		assert_int_equal((uint32_t)(syn.seq - first), 1000);
		tw_close(s);

		/* 4 us more: one more; 3 us more: not yet (the clock is M = floor(t / 4 us)). */
		h_advance(h, 4);
		s = open_from(h, OUR_PORT, PEER_PORT, &syn);
		assert_int_equal((uint32_t)(syn.seq - first), 1001);
		tw_close(s);
		h_advance(h, 3);
		s = open_from(h, OUR_PORT, PEER_PORT, &syn);
		assert_int_equal((uint32_t)(syn.seq - first), 1001);
		tw_close(s);

		/* Ten seconds after the first: 2.5 million ticks. */
		h_advance(h, 10000000 - 4007);
		s = open_from(h, OUR_PORT, PEER_PORT, &syn);
		assert_int_equal((uint32_t)(syn.seq - first), 2500000);
		tw_close(s);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_listen_syn_isn_advances_every_4us(void **state)
{
	(void)state;
	/* The passive side's ISS follows the same clock. */
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	struct h_seg syn = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	h_opt_linux_syn(&syn, 100, 0);
	assert_int_equal(h_feed(h, &syn), 0);
	struct wire_tcp sa = h_next(h);
	assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	uint32_t first = sa.seq;
	/* The peer resets the half-open connection (RST at RCV.NXT). */
	struct h_seg rst = h_seg(WIRE_TCP_RST, PEER_ISS + 1, 0);
	assert_int_equal(h_feed(h, &rst), 0);
	h_expect_none(h);
	assert_int_equal(h_conns(h), 1);

	h_advance(h, 4000);
	assert_int_equal(h_feed(h, &syn), 0);
	sa = h_next(h);
	assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
	assert_int_equal((uint32_t)(sa.seq - first), 1000);
	tw_close(l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static bool far_apart(uint32_t a, uint32_t b)
{
	/* Unrelated 32-bit values: neither is within a million ticks of the other. */
	uint32_t d = a - b;
	return d > 1000000u && d < 0u - 1000000u;
}

static void test_closed_connect_isn_differs_per_tuple(void **state)
{
	(void)state;
	static const uint8_t families[] = { TW_AF_INET, TW_AF_INET6 };
	for (size_t f = 0; f < 2; f++) {
		struct harness *h = h_new(families[f]);
		struct wire_tcp a, b, c;
		/* Same time, one port different: the hash, not the clock, sets the ISN apart. */
		struct tw_sock *sa = open_from(h, OUR_PORT, PEER_PORT, &a);
		struct tw_sock *sb = open_from(h, OUR_PORT, PEER_PORT + 1, &b);
		struct tw_sock *sc = open_from(h, OUR_PORT + 1, PEER_PORT, &c);
		assert_true(far_apart(a.seq, b.seq));
		assert_true(far_apart(a.seq, c.seq));
		assert_true(far_apart(b.seq, c.seq));
		/* Not the bare clock either. */
		uint32_t m = (uint32_t)(h->now / 4);
		assert_true(far_apart(a.seq, m));
		tw_close(sa);
		tw_close(sb);
		tw_close(sc);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_closed_connect_isn_keyed_by_secret(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	uint32_t base = iss_with(&cfg);
	/* The same secret, tuple and time give the same ISN: nothing else goes in. */
	assert_int_equal(iss_with(&cfg), base);
	/* Any bit of the secret changes it beyond recognition. */
	for (int i = 0; i < 16; i += 5) {
		struct tw_stack_config other = cfg;
		other.secret[i] ^= 0x01;
		assert_true(far_apart(iss_with(&other), base));
	}
}

/* -------------------------------------------------------------- timestamps */

static void test_closed_connect_ts_val_offset_per_connection(void **state)
{
	(void)state;
	static const uint8_t families[] = { TW_AF_INET, TW_AF_INET6 };
	for (size_t f = 0; f < 2; f++) {
		struct harness *h = h_new(families[f]);
		uint32_t now_ms = (uint32_t)(h->now / 1000);
		struct wire_tcp a, b;
		struct tw_sock *sa = open_from(h, OUR_PORT, PEER_PORT, &a);
		struct tw_sock *sb = open_from(h, OUR_PORT, PEER_PORT + 1, &b);
		/* RFC 7323 7.1: two connections at the same instant show unrelated TSvals ... */
		assert_true(far_apart(a.opt.ts_val, b.opt.ts_val));
		/* ... neither of which is the clock in milliseconds. */
		assert_true(far_apart(a.opt.ts_val, now_ms));
		assert_true(far_apart(b.opt.ts_val, now_ms));
		/* The offset is not the ISN's hash: one value must tell nothing of the other. */
		uint32_t isn_f = a.seq - (uint32_t)(h->now / 4);
		uint32_t ts_off = a.opt.ts_val - now_ms;
		assert_true(far_apart(isn_f, ts_off));
		assert_int_equal(a.opt.ts_ecr, 0);
		tw_close(sa);
		tw_close(sb);
		assert_int_equal(h_conns(h), 0);
		h_free(h);
	}
}

static void test_syn_sent_ts_val_ticks_per_ms(void **state)
{
	(void)state;
	/* RFC 7323 5.4: the TS clock ticks once per millisecond; the retransmitted SYN shows it. */
	struct harness *h = h_new(TW_AF_INET);
	struct wire_tcp syn;
	struct tw_sock *s = open_from(h, OUR_PORT, PEER_PORT, &syn);
	h_advance(h, 1000000);
	struct wire_tcp again = h_expect(h, WIRE_TCP_SYN, syn.seq, 0);
	assert_int_equal((uint32_t)(again.opt.ts_val - syn.opt.ts_val), 1000);
	tw_close(s);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

static void test_listen_syn_ts_val_offset_per_connection(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	struct tw_sock *l = h_listen(h, 8);
	uint32_t now_ms = (uint32_t)(h->now / 1000);
	struct h_seg s1 = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	h_opt_linux_syn(&s1, 100, 0);
	struct h_seg s2 = s1;
	s2.sport = PEER_PORT + 1;
	assert_int_equal(h_feed(h, &s1), 0);
	assert_int_equal(h_feed(h, &s2), 0);
	struct wire_tcp a = h_next(h), b = h_next(h);
	assert_true(a.opt.has & WIRE_HAS_TS);
	assert_true(b.opt.has & WIRE_HAS_TS);
	assert_int_equal(a.opt.ts_ecr, 100);
	assert_true(far_apart(a.opt.ts_val, b.opt.ts_val));
	assert_true(far_apart(a.opt.ts_val, now_ms));
	assert_true(far_apart(a.seq, b.seq));
	tw_close(l);
	assert_int_equal(h_conns(h), 0);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_paper_vectors),
		cmocka_unit_test(test_siphash_appendix_a_example),
		cmocka_unit_test(test_siphash_unaligned_input),
		cmocka_unit_test(test_siphash_key_matters),
		cmocka_unit_test(test_closed_connect_isn_advances_every_4us),
		cmocka_unit_test(test_listen_syn_isn_advances_every_4us),
		cmocka_unit_test(test_closed_connect_isn_differs_per_tuple),
		cmocka_unit_test(test_closed_connect_isn_keyed_by_secret),
		cmocka_unit_test(test_closed_connect_ts_val_offset_per_connection),
		cmocka_unit_test(test_syn_sent_ts_val_ticks_per_ms),
		cmocka_unit_test(test_listen_syn_ts_val_offset_per_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
