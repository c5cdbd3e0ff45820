/*
 * The Internet checksum: RFC 1071 (computing it), RFC 1624 (updating it), and
 * the pseudo-headers of RFC 9293 3.1 (IPv4) and RFC 8200 8.1 (IPv6).
 *
 * Every result is checked against a plain 16-bit loop written here, which adds
 * big-endian words one at a time and folds the carries back in at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"

/* ------------------------------------------------------------------ helpers */

static uint32_t rng_state = 0x2545f491u;

/* xorshift32: deterministic, so a failure reproduces. */
static uint32_t rnd(void)
{
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static void fill_random(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd();
}

/* The one's-complement sum of big-endian 16-bit words, folded; odd byte padded. */
static uint16_t ref_sum(const uint8_t *p, size_t len)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t ref_csum(const uint8_t *p, size_t len)
{
	return (uint16_t)~ref_sum(p, len);
}

/* ------------------------------------------------------------- RFC 1071 */

/* RFC 1071 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; the checksum is 220d. */
static void test_csum_rfc1071_example(void **state)
{
	(void)state;
	const uint8_t bytes[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	assert_int_equal(wire_csum(bytes, sizeof(bytes)), 0x220d);
	assert_int_equal((uint16_t)~wire_csum(bytes, sizeof(bytes)), 0xddf2);
	assert_int_equal(wire_csum_finish(wire_csum_add(0, bytes, sizeof(bytes))), 0x220d);
}

/* The checksum is a host-order number: stored with wire_put16, the whole sums to zero. */
static void test_csum_rfc1071_example_verifies_when_stored(void **state)
{
	(void)state;
	uint8_t bytes[10] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0xa5, 0xa5 };

	wire_put16(bytes + 8, wire_csum(bytes, 8));
	assert_int_equal(bytes[8], 0x22);
	assert_int_equal(bytes[9], 0x0d);
	assert_int_equal(wire_csum(bytes, sizeof(bytes)), 0);
}

/* RFC 1071 4.1: an odd last byte is the high byte of a word padded with zero. */
static void test_csum_odd_length(void **state)
{
	(void)state;
	const uint8_t one[1] = { 0x12 };
	const uint8_t three[3] = { 0x00, 0x01, 0xf2 };
	const uint8_t seven[7] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6 };

	assert_int_equal(wire_csum(one, 1), (uint16_t)~0x1200);
	assert_int_equal(wire_csum(three, 3), (uint16_t)~(0x0001 + 0xf200));
	/* 0001 + f203 + f4f5 + f600 = 2dcf9, folded dcfb, complemented 2304. */
	assert_int_equal(wire_csum(seven, 7), 0x2304);
}

static void test_csum_empty_is_all_ones(void **state)
{
	(void)state;
	const uint8_t none[1] = { 0xa5 };

	assert_int_equal(wire_csum(none, 0), 0xffff);
	assert_int_equal(wire_csum_finish(0), 0xffff);
}

/* Every length 0..64 at every offset 0..7 from an aligned address, random bytes. */
static void test_csum_every_length_and_alignment(void **state)
{
	(void)state;
	_Alignas(16) uint8_t buf[64 + 8 + 8];

	for (int round = 0; round < 16; round++) {
		fill_random(buf, sizeof(buf));
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len <= 64; len++)
				assert_int_equal(wire_csum(buf + off, len), ref_csum(buf + off, len));
	}
}

/* The same with all-ones bytes and with the largest words, where every add carries. */
static void test_csum_every_length_and_alignment_all_carries(void **state)
{
	(void)state;
	_Alignas(16) uint8_t buf[64 + 8 + 8];
	const uint8_t patterns[] = { 0xff, 0xfe, 0x80, 0x01, 0x00 };

	for (size_t k = 0; k < sizeof(patterns); k++) {
		memset(buf, patterns[k], sizeof(buf));
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len <= 64; len++)
				assert_int_equal(wire_csum(buf + off, len), ref_csum(buf + off, len));
	}
}

/* Long buffers: the 64-bit accumulator must fold every carry back in. */
static void test_csum_long_buffers(void **state)
{
	(void)state;
	static uint8_t buf[65536 + 8];

	memset(buf, 0xff, sizeof(buf));
	/* A sum of ffff words is ffff (negative zero): the checksum is 0. */
	assert_int_equal(wire_csum(buf, 65536), 0x0000);
	assert_int_equal(wire_csum(buf + 1, 65535), ref_csum(buf + 1, 65535));

	fill_random(buf, sizeof(buf));
	const size_t lens[] = { 1499, 1500, 9000, 65535, 65536 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t off = 0; off < 8; off++)
			assert_int_equal(wire_csum(buf + off, lens[i]), ref_csum(buf + off, lens[i]));
}

/*
 * Past 256 MiB: the accumulator is folded between blocks of that size, so
 * lengths just around and beyond a block are compared with the plain loop.
 */
static void test_csum_longer_than_a_fold_block(void **state)
{
	(void)state;
	const size_t block = (size_t)1 << 28;
	size_t cap = block + 64;
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	for (size_t i = 0; i + 4 <= cap; i += 4) {
		uint32_t r = rnd() | 0xf0f0f0f0u; /* big words: many carries */
		memcpy(buf + i, &r, 4);
	}
	const size_t offs[] = { 0, 3 };
	const size_t lens[] = { block - 8, block, block + 8, block + 61 };
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++)
			assert_int_equal(wire_csum(buf + offs[i], lens[j]), ref_csum(buf + offs[i], lens[j]));
	free(buf);
}

/* A sum fed back in many times over stays exact (it is folded on the way in). */
static void test_csum_add_many_times_over(void **state)
{
	(void)state;
	uint8_t piece[8];
	uint64_t sum = 0;
	uint64_t ref = 0;

	for (long i = 0; i < 1000000; i++) {
		fill_random(piece, sizeof(piece));
		piece[0] |= 0xf0;
		sum = wire_csum_add(sum, piece, sizeof(piece));
		ref += ref_sum(piece, sizeof(piece));
	}
	while (ref >> 16)
		ref = (ref & 0xffff) + (ref >> 16);
	assert_int_equal(wire_csum_finish(sum), (uint16_t)~ref);
}

/* A partial sum carries across buffers when every buffer but the last is even. */
static void test_csum_add_carries_across_buffers(void **state)
{
	(void)state;
	uint8_t buf[97];

	for (int round = 0; round < 8; round++) {
		fill_random(buf, sizeof(buf));
		for (size_t n = 0; n <= sizeof(buf); n++) {
			uint16_t whole = ref_csum(buf, n);
			for (size_t k = 0; k <= n; k += 2) {
				uint64_t sum = wire_csum_add(0, buf, k);
				assert_int_equal(wire_csum_finish(wire_csum_add(sum, buf + k, n - k)), whole);
			}
		}
	}
}

/* Three pieces, the middle one starting at an odd address: only even lengths matter. */
static void test_csum_add_three_pieces(void **state)
{
	(void)state;
	uint8_t buf[80];

	fill_random(buf, sizeof(buf));
	for (size_t a = 0; a <= 24; a += 2)
		for (size_t b = 0; b <= 24; b += 2) {
			const uint8_t *p = buf + 1;
			size_t n = 77;
			uint64_t sum = wire_csum_add(0, p, a);
			sum = wire_csum_add(sum, p + a, b);
			sum = wire_csum_add(sum, p + a + b, n - a - b);
			assert_int_equal(wire_csum_finish(sum), ref_csum(p, n));
		}
}

/* --------------------------------------------------------------- RFC 1624 */

/*
 * RFC 1624 4: the fields other than the checksum sum to cd7a, a field goes from
 * 5555 to 3285. HC = dd2f; eqn. 3 gives 0000, what recomputing gives, where
 * eqn. 2 of RFC 1141 would give ffff.
 */
static void test_csum_update16_rfc1624_example(void **state)
{
	(void)state;
	const uint8_t before[4] = { 0xcd, 0x7a, 0x55, 0x55 };
	const uint8_t after[4] = { 0xcd, 0x7a, 0x32, 0x85 };

	assert_int_equal(wire_csum(before, 4), 0xdd2f);
	assert_int_equal(wire_csum(after, 4), 0x0000);
	assert_int_equal(wire_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

/*
 * A field changed to the value it had leaves the checksum as it was. (ffff is
 * left out: only all-zero data has that checksum, RFC 1624 3.)
 */
static void test_csum_update16_same_value_keeps_checksum(void **state)
{
	(void)state;
	const uint16_t values[] = { 0x0000, 0x0001, 0x5555, 0x8000, 0xfffe, 0xffff };
	const uint16_t sums[] = { 0x0000, 0x0001, 0x220d, 0x8000, 0xfffe };

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		for (size_t j = 0; j < sizeof(sums) / sizeof(sums[0]); j++)
			assert_int_equal(wire_csum_update16(sums[j], values[i], values[i]), sums[j]);
}

static const uint16_t corner16[] = { 0x0000, 0xffff, 0x0001, 0xfffe, 0x8000, 0x7fff, 0x00ff, 0xff00 };

static uint16_t pick16(void)
{
	uint32_t r = rnd();
	if (r % 3 == 0)
		return corner16[(r >> 8) % (sizeof(corner16) / sizeof(corner16[0]))];
	return (uint16_t)(r >> 8);
}

/*
 * A 20-byte header with a checksum at 10 and a changed 16-bit field: the
 * incremental update equals a full recomputation. Byte 0 is 0x45 so the data is
 * never all zero (the one case where the two zeros of one's complement differ).
 */
static void test_csum_update16_matches_recompute(void **state)
{
	(void)state;
	uint8_t h[20];

	for (int round = 0; round < 20000; round++) {
		fill_random(h, sizeof(h));
		h[0] = 0x45;
		if (round % 4 == 0)
			memset(h + 2, round % 8 == 0 ? 0x00 : 0xff, 8);
		size_t at = 2 + 2 * (rnd() % 4); /* 2, 4, 6 or 8: never the checksum */
		uint16_t old_val = pick16(), new_val = pick16();

		wire_put16(h + at, old_val);
		wire_put16(h + 10, 0);
		uint16_t csum = wire_csum(h, sizeof(h));
		wire_put16(h + 10, csum);

		wire_put16(h + at, new_val);
		wire_put16(h + 10, 0);
		uint16_t want = wire_csum(h, sizeof(h));
		assert_int_equal(want, ref_csum(h, sizeof(h)));
		assert_int_equal(wire_csum_update16(csum, old_val, new_val), want);

		wire_put16(h + 10, wire_csum_update16(csum, old_val, new_val));
		assert_int_equal(wire_csum(h, sizeof(h)), 0);
	}
}

/* The same for 32-bit fields such as a TCP sequence number. */
static void test_csum_update32_matches_recompute(void **state)
{
	(void)state;
	static const uint32_t corner32[] = { 0x00000000, 0xffffffff, 0x0000ffff, 0xffff0000,
					     0x00000001, 0xfffffffe, 0x80000000, 0x7fffffff };
	uint8_t seg[20];

	for (int round = 0; round < 20000; round++) {
		fill_random(seg, sizeof(seg));
		seg[13] = WIRE_TCP_ACK;
		size_t at = rnd() % 2 ? 4 : 8; /* seq or ack */
		uint32_t old_val = rnd(), new_val = rnd();
		if (round % 3 == 0)
			old_val = corner32[rnd() % 8];
		if (round % 5 == 0)
			new_val = corner32[rnd() % 8];

		wire_put32(seg + at, old_val);
		wire_put16(seg + 16, 0);
		uint16_t csum = wire_csum(seg, sizeof(seg));

		wire_put32(seg + at, new_val);
		uint16_t want = wire_csum(seg, sizeof(seg));
		assert_int_equal(want, ref_csum(seg, sizeof(seg)));
		assert_int_equal(wire_csum_update32(csum, old_val, new_val), want);
	}
}

/* ----------------------------------------------------------- pseudo-headers */

/* RFC 9293 3.1: source, destination, zero, PTCL, TCP length; 12 bytes. */
static uint16_t ref_l4_csum_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
			       uint16_t len, const uint8_t *seg, size_t seg_len)
{
	uint8_t all[12 + 128];

	assert_true(seg_len <= 128);
	memcpy(all, src, 4);
	memcpy(all + 4, dst, 4);
	all[8] = 0;
	all[9] = proto;
	all[10] = (uint8_t)(len >> 8);
	all[11] = (uint8_t)len;
	memcpy(all + 12, seg, seg_len);
	return ref_csum(all, 12 + seg_len);
}

/* RFC 8200 8.1: source, destination, 32-bit length, three zeros, next header; 40 bytes. */
static uint16_t ref_l4_csum_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t next,
			       uint32_t len, const uint8_t *seg, size_t seg_len)
{
	uint8_t all[40 + 128];

	assert_true(seg_len <= 128);
	memcpy(all, src, 16);
	memcpy(all + 16, dst, 16);
	all[32] = (uint8_t)(len >> 24);
	all[33] = (uint8_t)(len >> 16);
	all[34] = (uint8_t)(len >> 8);
	all[35] = (uint8_t)len;
	all[36] = all[37] = all[38] = 0;
	all[39] = next;
	memcpy(all + 40, seg, seg_len);
	return ref_csum(all, 40 + seg_len);
}

static void test_csum_l4_ipv4_pseudo_header(void **state)
{
	(void)state;
	uint8_t seg[128];

	for (size_t len = 20; len <= sizeof(seg); len++) {
		struct wire_pseudo ph;
		memset(&ph, 0xa5, sizeof(ph)); /* bytes past the first 4 of each address are unused */
		ph.family = 4;
		ph.proto = WIRE_PROTO_TCP;
		fill_random(ph.src, 4);
		fill_random(ph.dst, 4);
		ph.len = (uint32_t)len;
		fill_random(seg, len);
		wire_put16(seg + 16, 0);

		uint16_t want = ref_l4_csum_v4(ph.src, ph.dst, ph.proto, (uint16_t)len, seg, len);
		assert_int_equal(wire_l4_csum(&ph, seg, len), want);

		/* Stored in the segment, the checksum verifies: the sum is 0. */
		wire_put16(seg + 16, want);
		assert_int_equal(wire_l4_csum(&ph, seg, len), 0);
	}
}

static void test_csum_l4_ipv4_pseudo_header_covers_every_field(void **state)
{
	(void)state;
	uint8_t seg[24];
	struct wire_pseudo ph = { .family = 4, .proto = WIRE_PROTO_TCP, .src = { 10, 0, 0, 1 },
				  .dst = { 10, 0, 0, 2 }, .len = sizeof(seg) };

	fill_random(seg, sizeof(seg));
	wire_put16(seg + 16, 0);
	wire_put16(seg + 16, wire_l4_csum(&ph, seg, sizeof(seg)));
	assert_int_equal(wire_l4_csum(&ph, seg, sizeof(seg)), 0);

	struct wire_pseudo other = ph;
	other.src[3] = 3;
	assert_int_not_equal(wire_l4_csum(&other, seg, sizeof(seg)), 0);
	other = ph;
	other.dst[0] = 11;
	assert_int_not_equal(wire_l4_csum(&other, seg, sizeof(seg)), 0);
	other = ph;
	other.proto = WIRE_PROTO_UDP;
	assert_int_not_equal(wire_l4_csum(&other, seg, sizeof(seg)), 0);
	other = ph;
	other.len = sizeof(seg) + 1;
	assert_int_not_equal(wire_l4_csum(&other, seg, sizeof(seg)), 0);
}

static void test_csum_l4_ipv6_pseudo_header(void **state)
{
	(void)state;
	uint8_t seg[128];

	for (size_t len = 20; len <= sizeof(seg); len++) {
		struct wire_pseudo ph = { .family = 6, .proto = WIRE_PROTO_TCP };
		fill_random(ph.src, 16);
		fill_random(ph.dst, 16);
		ph.len = (uint32_t)len;
		fill_random(seg, len);
		wire_put16(seg + 16, 0);

		uint16_t want = ref_l4_csum_v6(ph.src, ph.dst, ph.proto, (uint32_t)len, seg, len);
		assert_int_equal(wire_l4_csum(&ph, seg, len), want);
		wire_put16(seg + 16, want);
		assert_int_equal(wire_l4_csum(&ph, seg, len), 0);
	}
}

/* RFC 8200 8.1: the upper-layer length is 32 bits; its high half is summed too. */
static void test_csum_l4_ipv6_length_is_32_bits(void **state)
{
	(void)state;
	uint8_t seg[20];
	struct wire_pseudo ph = { .family = 6, .proto = WIRE_PROTO_TCP, .len = 0x00012345 };

	fill_random(ph.src, 16);
	fill_random(ph.dst, 16);
	fill_random(seg, sizeof(seg));
	assert_int_equal(wire_l4_csum(&ph, seg, sizeof(seg)),
			 ref_l4_csum_v6(ph.src, ph.dst, ph.proto, ph.len, seg, sizeof(seg)));
}

/* ------------------------------------------------------------ wire_strerror */

static void test_csum_strerror_names_every_reason(void **state)
{
	(void)state;
	for (int e = 0; e < WIRE_E_COUNT; e++) {
		const char *name = wire_strerror(-e);
		assert_non_null(name);
		assert_true(strlen(name) > 0);
		assert_string_equal(wire_strerror(e), name);
		assert_string_not_equal(name, "unknown error");
		for (int f = 0; f < e; f++)
			assert_string_not_equal(wire_strerror(-f), name);
	}
	assert_string_equal(wire_strerror(-WIRE_E_COUNT), "unknown error");
	assert_string_equal(wire_strerror(1000), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_rfc1071_example),
		cmocka_unit_test(test_csum_rfc1071_example_verifies_when_stored),
		cmocka_unit_test(test_csum_odd_length),
		cmocka_unit_test(test_csum_empty_is_all_ones),
		cmocka_unit_test(test_csum_every_length_and_alignment),
		cmocka_unit_test(test_csum_every_length_and_alignment_all_carries),
		cmocka_unit_test(test_csum_long_buffers),
		cmocka_unit_test(test_csum_longer_than_a_fold_block),
		cmocka_unit_test(test_csum_add_many_times_over),
		cmocka_unit_test(test_csum_add_carries_across_buffers),
		cmocka_unit_test(test_csum_add_three_pieces),
		cmocka_unit_test(test_csum_update16_rfc1624_example),
		cmocka_unit_test(test_csum_update16_same_value_keeps_checksum),
		cmocka_unit_test(test_csum_update16_matches_recompute),
		cmocka_unit_test(test_csum_update32_matches_recompute),
		cmocka_unit_test(test_csum_l4_ipv4_pseudo_header),
		cmocka_unit_test(test_csum_l4_ipv4_pseudo_header_covers_every_field),
		cmocka_unit_test(test_csum_l4_ipv6_pseudo_header),
		cmocka_unit_test(test_csum_l4_ipv6_length_is_32_bits),
		cmocka_unit_test(test_csum_strerror_names_every_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
