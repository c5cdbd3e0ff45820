/*
 * TCP header (RFC 9293 3.1): emit, parse, the checksum over the pseudo-header,
 * and every reason a header is refused. Options have their own file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"

#define PATTERN 0xa5

static const uint8_t PAYLOAD[100] = "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"
				    "0123456789012345678901234567890123456789012345678901234567890";

static struct wire_pseudo ph4(void)
{
	return (struct wire_pseudo){ .family = 4, .proto = WIRE_PROTO_TCP,
				     .src = { 192, 0, 2, 1 }, .dst = { 198, 51, 100, 7 } };
}

static struct wire_pseudo ph6(void)
{
	return (struct wire_pseudo){ .family = 6, .proto = WIRE_PROTO_TCP,
				     .src = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
				     .dst = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 } };
}

/* A segment from port 49152 to 80, ISN just below the wrap; adjust fields after. */
static struct wire_tcp seg_base(void)
{
	return (struct wire_tcp){ .sport = 49152, .dport = 80, .seq = 0xfffffff0, .ack = 0x00000010,
				  .flags = WIRE_TCP_ACK, .wnd = 64240 };
}

static void expect_same_segment(const struct wire_tcp *got, const struct wire_tcp *want)
{
	assert_int_equal(got->sport, want->sport);
	assert_int_equal(got->dport, want->dport);
	assert_int_equal(got->seq, want->seq);
	assert_int_equal(got->ack, want->ack);
	assert_int_equal(got->reserved, want->reserved);
	assert_int_equal(got->flags, want->flags);
	assert_int_equal(got->wnd, want->wnd);
	assert_int_equal(got->urp, want->urp);
	assert_int_equal(got->payload_len, want->payload_len);
	if (want->payload_len)
		assert_memory_equal(got->payload, want->payload, want->payload_len);
}

/* Emits into a 0xa5-filled buffer and checks nothing past the segment is written. */
static size_t emit(const struct wire_tcp *t, uint8_t *buf, size_t cap, struct wire_pseudo *ph)
{
	memset(buf, PATTERN, cap);
	size_t n = wire_tcp_emit(t, buf, cap, ph);
	assert_int_equal(n, WIRE_TCP_HDR_MIN + wire_tcp_opts_size(&t->opt) + t->payload_len);
	for (size_t i = n; i < cap; i++)
		assert_int_equal(buf[i], PATTERN);
	return n;
}

/* --------------------------------------------------------------- emitting */

/* RFC 9293 3.1, field by field: ports, seq, ack, offset|reserved, flags, window, checksum, urgent. */
/* The header length a first fragment must hold: its data offset, 20 at least, known from 13 bytes. */
static void test_tcp_header_len_from_data_offset(void **state)
{
	(void)state;
	uint8_t b[20] = { 0 };
	assert_int_equal(wire_tcp_header_len(b, 12), 0);
	b[12] = 5 << 4;
	assert_int_equal(wire_tcp_header_len(b, 13), 20);
	b[12] = 15 << 4;
	assert_int_equal(wire_tcp_header_len(b, 13), 60);
	b[12] = 2 << 4;                     /* too small to be right: the minimum */
	assert_int_equal(wire_tcp_header_len(b, 20), 20);
}

static void test_tcp_emit_syn_bytes(void **state)
{
	(void)state;
	struct wire_tcp t = seg_base();
	const uint8_t want[20] = {
		0xc0, 0x00, 0x00, 0x50,             /* 49152 -> 80 */
		0x01, 0x02, 0x03, 0x04,             /* seq */
		0x00, 0x00, 0x00, 0x00,             /* ack */
		0x50, 0x02,                         /* data offset 5, SYN */
		0xfa, 0xf0,                         /* window 64240 */
		0x12, 0x34,                         /* checksum, as set */
		0x00, 0x00,                         /* urgent pointer */
	};
	uint8_t buf[24];

	t.seq = 0x01020304;
	t.ack = 0;
	t.flags = WIRE_TCP_SYN;
	t.csum = 0x1234;
	assert_int_equal(emit(&t, buf, sizeof(buf), NULL), 20);
	assert_memory_equal(buf, want, 20);
}

/* The four reserved bits sit below the data offset; flags are the whole next byte. */
static void test_tcp_emit_reserved_and_flags_bytes(void **state)
{
	(void)state;
	struct wire_tcp t = seg_base();
	uint8_t buf[20];

	t.reserved = 0x0f;
	t.flags = 0xff;
	t.urp = 0xabcd;
	emit(&t, buf, sizeof(buf), NULL);
	assert_int_equal(buf[12], 0x5f);
	assert_int_equal(buf[13], 0xff);
	assert_int_equal(buf[18], 0xab);
	assert_int_equal(buf[19], 0xcd);

	t.reserved = 0x01; /* AE (RFC 9293 3.1, formerly NS) */
	t.flags = WIRE_TCP_CWR | WIRE_TCP_ECE;
	emit(&t, buf, sizeof(buf), NULL);
	assert_int_equal(buf[12], 0x51);
	assert_int_equal(buf[13], 0xc0);
}

static void test_tcp_emit_parse_every_field(void **state)
{
	(void)state;
	const uint16_t ports[][2] = { { 1, 65535 }, { 49152, 80 }, { 65535, 1 }, { 0, 0 } };
	const uint32_t seqs[][2] = { { 0, 0 }, { 0xffffffff, 1 }, { 0x7fffffff, 0x80000000 }, { 0xfffffff0, 0xffffffff } };
	const uint8_t flag_sets[] = { WIRE_TCP_FIN, WIRE_TCP_SYN, WIRE_TCP_RST, WIRE_TCP_PSH, WIRE_TCP_ACK,
				      WIRE_TCP_URG, WIRE_TCP_ECE, WIRE_TCP_CWR, 0, 0xff,
				      WIRE_TCP_SYN | WIRE_TCP_ACK, WIRE_TCP_FIN | WIRE_TCP_ACK | WIRE_TCP_PSH };
	const uint16_t wnds[] = { 0, 1, 65535 };
	const size_t payload_lens[] = { 0, 1, 3, 100 };
	uint8_t buf[20 + 100 + 4];

	for (size_t a = 0; a < 4; a++)
		for (size_t b = 0; b < 4; b++)
			for (size_t f = 0; f < sizeof(flag_sets); f++)
				for (uint8_t r = 0; r < 16; r++) {
					struct wire_tcp t = seg_base();
					t.sport = ports[a][0];
					t.dport = ports[a][1];
					t.seq = seqs[b][0];
					t.ack = seqs[b][1];
					t.flags = flag_sets[f];
					t.reserved = r;
					t.wnd = wnds[(a + f) % 3];
					t.urp = (uint16_t)(r * 4097);
					t.payload = PAYLOAD;
					t.payload_len = payload_lens[(b + r) % 4];
					t.csum = (uint16_t)(f * 0x1111);

					size_t n = emit(&t, buf, sizeof(buf), NULL);
					struct wire_tcp got;
					assert_int_equal(wire_tcp_parse(&got, buf, n, NULL), 0);
					expect_same_segment(&got, &t);
					assert_int_equal(got.hdr_len, 20);
					assert_int_equal(got.csum, t.csum);
					assert_ptr_equal(got.payload, buf + 20);
					assert_int_equal(got.opt.has, 0);
					assert_int_equal(got.opt.count, 0);
				}
}

/* RFC 9293 3.1: with the pseudo-header the checksum is computed and verifies. */
static void test_tcp_emit_parse_with_checksum(void **state)
{
	(void)state;
	uint8_t buf[20 + 100];

	for (int family = 4; family <= 6; family += 2)
		for (size_t len = 0; len <= 100; len++) {
			struct wire_pseudo ph = family == 4 ? ph4() : ph6();
			struct wire_tcp t = seg_base();
			t.flags = WIRE_TCP_ACK | WIRE_TCP_PSH;
			t.payload = PAYLOAD;
			t.payload_len = len;
			t.csum = 0xdead; /* ignored when a pseudo-header is given */

			size_t n = emit(&t, buf, sizeof(buf), &ph);
			assert_int_equal(ph.len, n);
			assert_int_equal(wire_l4_csum(&ph, buf, n), 0);

			struct wire_tcp got;
			assert_int_equal(wire_tcp_parse(&got, buf, n, &ph), 0);
			expect_same_segment(&got, &t);
			assert_int_equal(got.csum, wire_get16(buf + 16));
			assert_int_not_equal(got.csum, 0xdead);
		}
}

/* With the field zeroed, wire_l4_csum gives the value emit stores. */
static void test_tcp_emit_checksum_matches_l4_csum(void **state)
{
	(void)state;
	uint8_t buf[20 + 37];
	struct wire_pseudo ph = ph4();
	struct wire_tcp t = seg_base();

	t.payload = PAYLOAD;
	t.payload_len = 37;
	size_t n = emit(&t, buf, sizeof(buf), &ph);
	uint16_t stored = wire_get16(buf + 16);
	wire_put16(buf + 16, 0);
	assert_int_equal(wire_l4_csum(&ph, buf, n), stored);
}

static void test_tcp_emit_refuses_too_small_buffer(void **state)
{
	(void)state;
	uint8_t buf[20 + 10];
	struct wire_tcp t = seg_base();

	t.payload = PAYLOAD;
	t.payload_len = 10;
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_tcp_emit(&t, buf, sizeof(buf) - 1, NULL), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], PATTERN);
	assert_int_equal(wire_tcp_emit(&t, buf, sizeof(buf), NULL), sizeof(buf));
}

/* An IPv4 pseudo-header holds a 16-bit length: a larger segment cannot be checksummed. */
static void test_tcp_emit_refuses_ipv4_segment_over_65535(void **state)
{
	(void)state;
	size_t cap = 70000;
	uint8_t *buf = malloc(cap), *data = calloc(1, cap);
	assert_non_null(buf);
	assert_non_null(data);
	struct wire_tcp t = seg_base();
	struct wire_pseudo ph = ph4();

	t.payload = data;
	t.payload_len = 0xffff - 20 + 1;
	assert_int_equal(wire_tcp_emit(&t, buf, cap, &ph), 0);
	t.payload_len = 0xffff - 20;
	assert_int_equal(wire_tcp_emit(&t, buf, cap, &ph), 0xffff);
	free(buf);
	free(data);
}

/* ------------------------------------------------------------ malformed */

/* A valid segment with a checksum over ph4(), to be broken below. */
static size_t good_segment(uint8_t *buf, size_t cap, struct wire_pseudo *ph)
{
	struct wire_tcp t = seg_base();
	*ph = ph4();
	t.sport = 8080;
	t.dport = 5555;
	t.payload = PAYLOAD;
	t.payload_len = 12;
	return emit(&t, buf, cap, ph);
}

/* RFC 9293 3.10.7 (MUST-2, MUST-3): a segment whose checksum fails is dropped. */
static void test_tcp_parse_checksum_mismatch(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_pseudo ph;
	struct wire_tcp t;

	/* Any flipped bit in the header or the payload. */
	size_t n = good_segment(buf, sizeof(buf), &ph);
	for (size_t bit = 0; bit < n * 8; bit++) {
		size_t at = bit / 8;
		if (at == 12)
			continue; /* the data offset: reported for its own reason first */
		good_segment(buf, sizeof(buf), &ph);
		buf[at] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(wire_tcp_parse(&t, buf, n, &ph), -WIRE_E_CHECKSUM);
		/* The fields are there for a printer. */
		if (at >= 4)
			assert_int_equal(t.sport, 8080);
		assert_int_equal(t.payload_len, 12);
	}

	/* A pseudo-header that differs from the one the segment was sent with. */
	good_segment(buf, sizeof(buf), &ph);
	struct wire_pseudo other = ph;
	other.dst[3] ^= 1;
	assert_int_equal(wire_tcp_parse(&t, buf, n, &other), -WIRE_E_CHECKSUM);
	other = ph;
	other.len -= 1;
	assert_int_equal(wire_tcp_parse(&t, buf, n, &other), -WIRE_E_CHECKSUM);

	/* Without a pseudo-header the checksum is not looked at. */
	buf[30] ^= 0xff;
	assert_int_equal(wire_tcp_parse(&t, buf, n, NULL), 0);
	assert_int_equal(t.sport, 8080);
	assert_int_equal(t.dport, 5555);
}

/*
 * One's complement has two zeros. When the data sums to ffff the checksum is
 * 0000, but a field of ffff verifies too (RFC 1624 3); it is accepted, kept
 * as it came, and emitting with a pseudo-header writes the computed 0000.
 */
static void test_tcp_parse_checksum_ffff_for_zero(void **state)
{
	(void)state;
	uint8_t buf[20], out[20];
	struct wire_pseudo ph = ph4();
	struct wire_tcp t = seg_base();

	/* Pick the urgent pointer so that everything else sums to ffff. */
	ph.len = sizeof(buf);
	emit(&t, buf, sizeof(buf), NULL);
	wire_put16(buf + 16, 0);
	t.urp = wire_l4_csum(&ph, buf, sizeof(buf)); /* the complement of the rest's sum */
	emit(&t, buf, sizeof(buf), &ph);
	assert_int_equal(wire_get16(buf + 16), 0x0000);

	wire_put16(buf + 16, 0xffff);
	assert_int_equal(wire_l4_csum(&ph, buf, sizeof(buf)), 0);
	struct wire_tcp got;
	assert_int_equal(wire_tcp_parse(&got, buf, sizeof(buf), &ph), 0);
	assert_int_equal(got.csum, 0xffff);
	assert_int_equal(emit(&got, out, sizeof(out), NULL), 20);
	assert_memory_equal(out, buf, 20);
	assert_int_equal(emit(&got, out, sizeof(out), &ph), 20);
	assert_int_equal(wire_get16(out + 16), 0x0000);
}

/* RFC 9293 3.1: the data offset is at least 5 words. */
static void test_tcp_parse_data_offset_below_5(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_pseudo ph;
	struct wire_tcp t;

	for (uint8_t doff = 0; doff < 5; doff++) {
		size_t n = good_segment(buf, sizeof(buf), &ph);
		buf[12] = (uint8_t)(doff << 4);
		assert_int_equal(wire_tcp_parse(&t, buf, n, &ph), -WIRE_E_DOFF);
		assert_int_equal(t.hdr_len, doff * 4);
		assert_int_equal(t.sport, 8080);
		assert_int_equal(t.seq, 0xfffffff0);
		assert_int_equal(t.wnd, 64240);
	}
}

static void test_tcp_parse_data_offset_past_buffer(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_pseudo ph;
	struct wire_tcp t;

	/* Data offset 6 (24 bytes) in 20..23 bytes. */
	good_segment(buf, sizeof(buf), &ph);
	buf[12] = 0x60;
	for (size_t len = 20; len < 24; len++)
		assert_int_equal(wire_tcp_parse(&t, buf, len, NULL), -WIRE_E_HDR_PAST_END);

	/* Data offset 15 (60 bytes) in a 32-byte segment. */
	size_t n = good_segment(buf, sizeof(buf), &ph);
	buf[12] = 0xf0;
	assert_int_equal(wire_tcp_parse(&t, buf, n, &ph), -WIRE_E_HDR_PAST_END);
	assert_int_equal(t.hdr_len, 60);
	assert_int_equal(t.ack, 0x00000010);
}

static void test_tcp_parse_truncated(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_pseudo ph;

	good_segment(buf, sizeof(buf), &ph);
	for (size_t len = 0; len < WIRE_TCP_HDR_MIN; len++) {
		struct wire_tcp t;
		assert_int_equal(wire_tcp_parse(&t, buf, len, &ph), -WIRE_E_TRUNCATED);
		/* The ports are the first 4 bytes: filled as soon as they are there. */
		if (len >= 4) {
			assert_int_equal(t.sport, 8080);
			assert_int_equal(t.dport, 5555);
		}
	}
}

/* A zero-length payload after a full header is fine; the payload pointer marks the end. */
static void test_tcp_parse_header_only(void **state)
{
	(void)state;
	uint8_t buf[20];
	struct wire_tcp t = seg_base();
	struct wire_tcp got;

	t.flags = WIRE_TCP_RST;
	emit(&t, buf, sizeof(buf), NULL);
	assert_int_equal(wire_tcp_parse(&got, buf, sizeof(buf), NULL), 0);
	assert_int_equal(got.payload_len, 0);
	assert_ptr_equal(got.payload, buf + 20);
}

/* ------------------------------------------------------------ seg_len */

/* RFC 9293 3.4: SEG.LEN counts the data and one for each of SYN and FIN. */
static void test_tcp_seg_len_counts_syn_and_fin(void **state)
{
	(void)state;
	struct wire_tcp t = { .flags = WIRE_TCP_ACK };

	assert_int_equal(wire_tcp_seg_len(&t), 0);
	t.flags = WIRE_TCP_SYN;
	assert_int_equal(wire_tcp_seg_len(&t), 1);
	t.flags = WIRE_TCP_SYN | WIRE_TCP_ACK;
	assert_int_equal(wire_tcp_seg_len(&t), 1);
	t.flags = WIRE_TCP_FIN | WIRE_TCP_ACK;
	assert_int_equal(wire_tcp_seg_len(&t), 1);
	t.flags = WIRE_TCP_SYN | WIRE_TCP_FIN;
	assert_int_equal(wire_tcp_seg_len(&t), 2);
	t.flags = WIRE_TCP_RST | WIRE_TCP_PSH | WIRE_TCP_URG | WIRE_TCP_ECE | WIRE_TCP_CWR | WIRE_TCP_ACK;
	assert_int_equal(wire_tcp_seg_len(&t), 0);
	t.payload_len = 1460;
	assert_int_equal(wire_tcp_seg_len(&t), 1460);
	t.flags = WIRE_TCP_FIN | WIRE_TCP_ACK;
	assert_int_equal(wire_tcp_seg_len(&t), 1461);
	t.flags = 0xff;
	assert_int_equal(wire_tcp_seg_len(&t), 1462);
}

/* ------------------------------------------------------------ no overreads */

static int parse_exact_copy(struct wire_tcp *t, const uint8_t *bytes, size_t len, const struct wire_pseudo *ph)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, bytes, len);
	int err = wire_tcp_parse(t, copy + (len ? 0 : 1), len, ph);
	free(copy);
	return err;
}

/* Every prefix of a segment with options and data, in a buffer of exactly that size. */
static void test_tcp_parse_every_prefix_stays_in_bounds(void **state)
{
	(void)state;
	uint8_t buf[20 + 40 + 30];
	struct wire_pseudo ph = ph4();
	struct wire_tcp t = seg_base();

	t.flags = WIRE_TCP_SYN | WIRE_TCP_ACK;
	t.opt.mss = 1460;
	t.opt.wscale = 7;
	t.opt.ts_val = 1;
	t.opt.sack_count = 2;
	t.opt.sack[0] = (struct wire_sack_block){ 1, 2 };
	t.opt.sack[1] = (struct wire_sack_block){ 3, 4 };
	assert_true(wire_tcp_opt_push(&t.opt, WIRE_OPT_MSS, 4, NULL));
	assert_true(wire_tcp_opt_push(&t.opt, WIRE_OPT_NOP, 1, NULL));
	assert_true(wire_tcp_opt_push(&t.opt, WIRE_OPT_WSCALE, 3, NULL));
	assert_true(wire_tcp_opt_push(&t.opt, WIRE_OPT_TS, 10, NULL));
	assert_true(wire_tcp_opt_push(&t.opt, WIRE_OPT_SACK, 18, NULL));
	t.payload = PAYLOAD;
	t.payload_len = 30;
	size_t n = emit(&t, buf, sizeof(buf), &ph);
	assert_int_equal(n, 20 + 36 + 30);

	for (size_t len = 0; len <= n; len++) {
		struct wire_tcp got;
		int err = parse_exact_copy(&got, buf, len, NULL);
		assert_true(err <= 0 && err > -WIRE_E_COUNT);
		assert_int_equal(err == 0, len >= 56);
		err = parse_exact_copy(&got, buf, len, &ph);
		assert_true(err <= 0 && err > -WIRE_E_COUNT);
		assert_int_equal(err == 0, len == n);
	}
}

/* Random bytes with a random data offset; options included. */
static void test_tcp_parse_random_bytes_stay_in_bounds(void **state)
{
	(void)state;
	uint32_t x = 4242;
	uint8_t bytes[80];
	struct wire_pseudo ph = ph6();

	for (int round = 0; round < 20000; round++) {
		for (size_t i = 0; i < sizeof(bytes); i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			bytes[i] = (uint8_t)x;
			/* Mostly small option kinds and lengths, so options get framed. */
			if (i >= 20 && (x >> 8) % 2)
				bytes[i] = (uint8_t)((x >> 16) % 12);
		}
		size_t len = x % (sizeof(bytes) + 1);
		ph.len = (uint32_t)len;
		struct wire_tcp t;
		int err = parse_exact_copy(&t, bytes, len, round % 2 ? &ph : NULL);
		assert_true(err <= 0 && err > -WIRE_E_COUNT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_header_len_from_data_offset),
		cmocka_unit_test(test_tcp_emit_syn_bytes),
		cmocka_unit_test(test_tcp_emit_reserved_and_flags_bytes),
		cmocka_unit_test(test_tcp_emit_parse_every_field),
		cmocka_unit_test(test_tcp_emit_parse_with_checksum),
		cmocka_unit_test(test_tcp_emit_checksum_matches_l4_csum),
		cmocka_unit_test(test_tcp_emit_refuses_too_small_buffer),
		cmocka_unit_test(test_tcp_emit_refuses_ipv4_segment_over_65535),
		cmocka_unit_test(test_tcp_parse_checksum_mismatch),
		cmocka_unit_test(test_tcp_parse_checksum_ffff_for_zero),
		cmocka_unit_test(test_tcp_parse_data_offset_below_5),
		cmocka_unit_test(test_tcp_parse_data_offset_past_buffer),
		cmocka_unit_test(test_tcp_parse_truncated),
		cmocka_unit_test(test_tcp_parse_header_only),
		cmocka_unit_test(test_tcp_seg_len_counts_syn_and_fin),
		cmocka_unit_test(test_tcp_parse_every_prefix_stays_in_bounds),
		cmocka_unit_test(test_tcp_parse_random_bytes_stay_in_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
