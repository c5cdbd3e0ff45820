/*
 * IPv4 header (RFC 791 3.1): emit, parse, and every reason a header is refused.
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

static const uint8_t SRC[4] = { 192, 0, 2, 1 };
static const uint8_t DST[4] = { 198, 51, 100, 7 };

/* A header as RFC 791 draws it: 45 00 0073 0000 4000 40 11 b861 c0a80001 c0a800c7. */
static const uint8_t UDP_HDR[20] = {
	0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
	0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
};

/* A TCP packet from SRC to DST, ttl 64, with `opts_len` bytes of options; adjust after. */
static struct wire_ipv4 ip_hdr(uint16_t total_len, const uint8_t *opts, uint8_t opts_len)
{
	struct wire_ipv4 ip = { .hdr_len = (uint8_t)(20 + opts_len), .total_len = total_len, .ttl = 64,
				.proto = WIRE_PROTO_TCP, .opts = opts, .opts_len = opts_len };
	memcpy(ip.src, SRC, 4);
	memcpy(ip.dst, DST, 4);
	return ip;
}

/* Emits `ip` into a 0xa5-filled buffer, followed by `payload_len` payload bytes. */
static size_t emit_packet(const struct wire_ipv4 *ip, uint8_t *buf, size_t cap, size_t payload_len)
{
	memset(buf, PATTERN, cap);
	size_t n = wire_ipv4_emit(ip, buf, cap);
	assert_int_equal(n, ip->hdr_len);
	assert_true(n + payload_len <= cap);
	/* Nothing past the header is written. */
	for (size_t i = n; i < cap; i++)
		assert_int_equal(buf[i], PATTERN);
	for (size_t i = 0; i < payload_len; i++)
		buf[n + i] = (uint8_t)(i * 7 + 1);
	return n + payload_len;
}

static void expect_same_header(const struct wire_ipv4 *got, const struct wire_ipv4 *want)
{
	assert_int_equal(got->hdr_len, want->hdr_len);
	assert_int_equal(got->tos, want->tos);
	assert_int_equal(got->total_len, want->total_len);
	assert_int_equal(got->id, want->id);
	assert_int_equal(got->frag, want->frag);
	assert_int_equal(got->ttl, want->ttl);
	assert_int_equal(got->proto, want->proto);
	assert_memory_equal(got->src, want->src, 4);
	assert_memory_equal(got->dst, want->dst, 4);
	assert_int_equal(got->opts_len, want->opts_len);
}

/* --------------------------------------------------------------- emitting */

static void test_ipv4_emit_rfc791_example_bytes(void **state)
{
	(void)state;
	struct wire_ipv4 ip = { .hdr_len = 20, .total_len = 0x73, .frag = WIRE_IPV4_FLAG_DF, .ttl = 64,
				.proto = WIRE_PROTO_UDP, .src = { 192, 168, 0, 1 }, .dst = { 192, 168, 0, 199 } };
	uint8_t buf[24];

	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_ipv4_emit(&ip, buf, sizeof(buf)), 20);
	assert_memory_equal(buf, UDP_HDR, 20);
	assert_int_equal(buf[20], PATTERN);
}

static void test_ipv4_parse_rfc791_example(void **state)
{
	(void)state;
	uint8_t pkt[0x73];
	struct wire_ipv4 ip;

	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, UDP_HDR, 20);
	assert_int_equal(wire_ipv4_parse(&ip, pkt, sizeof(pkt)), 0);
	assert_int_equal(ip.hdr_len, 20);
	assert_int_equal(ip.total_len, 0x73);
	assert_true(wire_ipv4_df(&ip));
	assert_false(wire_ipv4_mf(&ip));
	assert_int_equal(wire_ipv4_frag_offset(&ip), 0);
	assert_int_equal(ip.ttl, 64);
	assert_int_equal(ip.proto, WIRE_PROTO_UDP);
	assert_int_equal(ip.csum, 0xb861);
	assert_int_equal(ip.opts_len, 0);
	assert_ptr_equal(ip.payload, pkt + 20);
	assert_int_equal(ip.payload_len, 0x73 - 20);
	assert_int_equal(ip.missing, 0);
}

static void test_ipv4_emit_parse_every_field(void **state)
{
	(void)state;
	const uint8_t tos[] = { 0x00, 0x01, 0x02, 0x03, 0xb8, 0xfc, 0xff };
	const uint16_t ids[] = { 0x0000, 0x0001, 0x1234, 0x8000, 0xffff };
	const uint16_t frags[] = {
		0,
		WIRE_IPV4_FLAG_DF,
		WIRE_IPV4_FLAG_MF,
		WIRE_IPV4_FLAG_RES,
		WIRE_IPV4_FLAG_MF | 1,
		WIRE_IPV4_FLAG_MF | 185,           /* 1480 bytes in */
		WIRE_IPV4_OFFMASK,                 /* the last possible fragment */
		WIRE_IPV4_FLAG_RES | WIRE_IPV4_FLAG_DF | WIRE_IPV4_FLAG_MF | WIRE_IPV4_OFFMASK,
	};
	const uint8_t ttls[] = { 0, 1, 64, 255 };
	const uint8_t protos[] = { WIRE_PROTO_TCP, WIRE_PROTO_UDP, WIRE_PROTO_ICMP, 255 };
	uint8_t buf[64];

	for (size_t a = 0; a < sizeof(tos); a++)
		for (size_t b = 0; b < sizeof(ids) / sizeof(ids[0]); b++)
			for (size_t c = 0; c < sizeof(frags) / sizeof(frags[0]); c++)
				for (size_t d = 0; d < sizeof(ttls); d++) {
					struct wire_ipv4 ip = ip_hdr(28, NULL, 0);
					ip.tos = tos[a];
					ip.id = ids[b];
					ip.frag = frags[c];
					ip.ttl = ttls[d];
					ip.proto = protos[(a + b + c + d) % 4];
					ip.src[3] = (uint8_t)(a * 16 + b);
					ip.dst[0] = (uint8_t)(c * 16 + d);
					size_t n = emit_packet(&ip, buf, sizeof(buf), 8);

					struct wire_ipv4 got;
					assert_int_equal(wire_ipv4_parse(&got, buf, n), 0);
					expect_same_header(&got, &ip);
					assert_int_equal(got.csum, wire_get16(buf + 10));
					assert_ptr_equal(got.payload, buf + 20);
					assert_int_equal(got.payload_len, 8);
					assert_int_equal(got.missing, 0);
					assert_int_equal(wire_ipv4_df(&got), !!(frags[c] & WIRE_IPV4_FLAG_DF));
					assert_int_equal(wire_ipv4_mf(&got), !!(frags[c] & WIRE_IPV4_FLAG_MF));
					assert_int_equal(wire_ipv4_frag_offset(&got),
							 (frags[c] & WIRE_IPV4_OFFMASK) * 8);
				}
}

/* The flags and offset share one 16-bit field: bit 0 reserved, DF, MF, 13 bits of offset. */
static void test_ipv4_emit_flags_and_offset_bytes(void **state)
{
	(void)state;
	uint8_t buf[20];

	struct wire_ipv4 ip = ip_hdr(20, NULL, 0);

	ip.frag = WIRE_IPV4_FLAG_DF;
	wire_ipv4_emit(&ip, buf, sizeof(buf));
	assert_int_equal(buf[6], 0x40);
	assert_int_equal(buf[7], 0x00);

	ip.frag = WIRE_IPV4_FLAG_MF | 185;
	wire_ipv4_emit(&ip, buf, sizeof(buf));
	assert_int_equal(buf[6], 0x20);
	assert_int_equal(buf[7], 0xb9);

	ip.frag = WIRE_IPV4_FLAG_RES;
	wire_ipv4_emit(&ip, buf, sizeof(buf));
	assert_int_equal(buf[6], 0x80);
	assert_int_equal(buf[7], 0x00);
}

/* RFC 791 3.1: options fill the header up to IHL words, 4 to 40 bytes. */
static void test_ipv4_emit_parse_options_4_to_40(void **state)
{
	(void)state;
	uint8_t opts[40];
	uint8_t buf[60 + 4];

	for (size_t i = 0; i < sizeof(opts); i++)
		opts[i] = (uint8_t)(0x80 + i);
	for (uint8_t olen = 4; olen <= 40; olen += 4) {
		struct wire_ipv4 ip = ip_hdr((uint16_t)(20 + olen + 4), opts, olen);
		size_t n = emit_packet(&ip, buf, sizeof(buf), 4);

		assert_int_equal(buf[0], 0x40 | (20 + olen) / 4);
		assert_memory_equal(buf + 20, opts, olen);
		assert_int_equal(wire_csum(buf, ip.hdr_len), 0);

		struct wire_ipv4 got;
		assert_int_equal(wire_ipv4_parse(&got, buf, n), 0);
		expect_same_header(&got, &ip);
		assert_ptr_equal(got.opts, buf + 20);
		assert_memory_equal(got.opts, opts, olen);
		assert_ptr_equal(got.payload, buf + 20 + olen);
		assert_int_equal(got.payload_len, 4);
	}
}

/* RFC 791 3.1: the checksum is the complement of the sum of the header's words. */
static void test_ipv4_emit_header_checksum_verifies(void **state)
{
	(void)state;
	uint8_t buf[24];
	struct wire_ipv4 ip = ip_hdr(1500, NULL, 0);

	ip.tos = 0x10;
	ip.id = 0xbeef;
	ip.frag = WIRE_IPV4_FLAG_DF;

	wire_ipv4_emit(&ip, buf, sizeof(buf));
	uint16_t stored = wire_get16(buf + 10);
	assert_int_equal(wire_csum(buf, 20), 0);
	wire_put16(buf + 10, 0);
	assert_int_equal(wire_csum(buf, 20), stored);
}

static void test_ipv4_emit_refuses_what_cannot_be_encoded(void **state)
{
	(void)state;
	uint8_t opts[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };
	uint8_t buf[64];

	memset(buf, PATTERN, sizeof(buf));
	/* Too little room. */
	struct wire_ipv4 ip = ip_hdr(20, NULL, 0);
	assert_int_equal(wire_ipv4_emit(&ip, buf, 19), 0);
	ip = ip_hdr(28, opts, 8);
	assert_int_equal(wire_ipv4_emit(&ip, buf, 27), 0);
	/* Options that do not match the header length. */
	ip = ip_hdr(28, opts, 8);
	ip.opts_len = 4;
	assert_int_equal(wire_ipv4_emit(&ip, buf, sizeof(buf)), 0);
	/* A header length that is not a whole number of words, or above 60. */
	ip = ip_hdr(22, opts, 2);
	assert_int_equal(wire_ipv4_emit(&ip, buf, sizeof(buf)), 0);
	ip = ip_hdr(64, opts, 44);
	assert_int_equal(wire_ipv4_emit(&ip, buf, sizeof(buf)), 0);
	/* A total length below the header. */
	ip = ip_hdr(19, NULL, 0);
	assert_int_equal(wire_ipv4_emit(&ip, buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], PATTERN);
}

/* ------------------------------------------------------------ malformed */

/* A valid 24-byte header (4 option bytes) carrying 12 bytes, to be broken below. */
static size_t good_packet(uint8_t *buf, size_t cap)
{
	static const uint8_t opts[4] = { 0x94, 0x04, 0x00, 0x00 }; /* router alert */
	struct wire_ipv4 ip = ip_hdr(36, opts, 4);

	ip.id = 0x4242;
	ip.tos = 0x2e;
	return emit_packet(&ip, buf, cap, 12);
}

/* Sets a byte and refreshes the checksum, so only the intended defect remains. */
static void set_byte(uint8_t *buf, size_t at, uint8_t v)
{
	buf[at] = v;
	size_t hl = (size_t)(buf[0] & 0x0f) * 4;
	if (hl >= 20) {
		wire_put16(buf + 10, 0);
		wire_put16(buf + 10, wire_csum(buf, hl));
	}
}

static void test_ipv4_parse_truncated(void **state)
{
	(void)state;
	uint8_t buf[64];
	good_packet(buf, sizeof(buf));

	for (size_t len = 0; len < WIRE_IPV4_HDR_MIN; len++) {
		struct wire_ipv4 ip;
		assert_int_equal(wire_ipv4_parse(&ip, buf, len), -WIRE_E_TRUNCATED);
	}
}

static void test_ipv4_parse_version_not_4(void **state)
{
	(void)state;
	uint8_t buf[64];
	const uint8_t versions[] = { 0, 1, 5, 6, 15 };

	for (size_t i = 0; i < sizeof(versions); i++) {
		size_t n = good_packet(buf, sizeof(buf));
		set_byte(buf, 0, (uint8_t)(versions[i] << 4 | 6));
		struct wire_ipv4 ip;
		assert_int_equal(wire_ipv4_parse(&ip, buf, n), -WIRE_E_VERSION);
	}
}

/* RFC 791 3.1: the minimum value for a correct header is 5. */
static void test_ipv4_parse_ihl_below_5(void **state)
{
	(void)state;
	uint8_t buf[64];

	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		size_t n = good_packet(buf, sizeof(buf));
		set_byte(buf, 0, (uint8_t)(0x40 | ihl));
		struct wire_ipv4 ip;
		assert_int_equal(wire_ipv4_parse(&ip, buf, n), -WIRE_E_IHL);
		/* The fixed fields before the problem are there for a printer. */
		assert_int_equal(ip.tos, 0x2e);
		assert_int_equal(ip.total_len, 36);
		assert_int_equal(ip.id, 0x4242);
		assert_memory_equal(ip.src, SRC, 4);
		assert_memory_equal(ip.dst, DST, 4);
	}
}

static void test_ipv4_parse_ihl_past_buffer(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_ipv4 ip;

	/* IHL 6 (24 bytes) with only 20..23 bytes at hand. */
	good_packet(buf, sizeof(buf));
	for (size_t len = 20; len < 24; len++)
		assert_int_equal(wire_ipv4_parse(&ip, buf, len), -WIRE_E_HDR_PAST_END);

	/* IHL 15 (60 bytes) in a 36-byte packet. */
	size_t n = good_packet(buf, sizeof(buf));
	buf[0] = 0x4f;
	assert_int_equal(wire_ipv4_parse(&ip, buf, n), -WIRE_E_HDR_PAST_END);
	assert_int_equal(ip.hdr_len, 60);
	assert_int_equal(ip.id, 0x4242);
}

static void test_ipv4_parse_total_len_below_header(void **state)
{
	(void)state;
	uint8_t buf[64];
	const uint16_t lens[] = { 0, 19, 20, 23 }; /* the header is 24 bytes */

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = good_packet(buf, sizeof(buf));
		wire_put16(buf + 2, lens[i]);
		set_byte(buf, 1, buf[1]);
		struct wire_ipv4 ip;
		assert_int_equal(wire_ipv4_parse(&ip, buf, n), -WIRE_E_TOTAL_LEN);
		assert_int_equal(ip.total_len, lens[i]);
		assert_int_equal(ip.hdr_len, 24);
		assert_int_equal(ip.id, 0x4242);
	}
}

/* A total length past the buffer: a truncated capture. What is there is described. */
static void test_ipv4_parse_total_len_past_buffer(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = good_packet(buf, sizeof(buf));
	struct wire_ipv4 ip;

	wire_put16(buf + 2, 100);
	set_byte(buf, 1, buf[1]);
	assert_int_equal(wire_ipv4_parse(&ip, buf, n), -WIRE_E_TOTAL_LEN);
	assert_int_equal(ip.total_len, 100);
	assert_int_equal(ip.missing, 100 - n);
	assert_ptr_equal(ip.payload, buf + 24);
	assert_int_equal(ip.payload_len, n - 24);
	assert_int_equal(ip.id, 0x4242);
	assert_int_equal(ip.ttl, 64);
	assert_int_equal(ip.proto, WIRE_PROTO_TCP);
	assert_memory_equal(ip.src, SRC, 4);
	assert_memory_equal(ip.dst, DST, 4);
	assert_int_equal(ip.opts_len, 4);

	/* One byte short. */
	n = good_packet(buf, sizeof(buf));
	assert_int_equal(wire_ipv4_parse(&ip, buf, n - 1), -WIRE_E_TOTAL_LEN);
	assert_int_equal(ip.missing, 1);
	assert_int_equal(ip.payload_len, 11);
}

static void test_ipv4_parse_bad_checksum(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_ipv4 ip;

	/* Any single flipped bit in the header is caught. */
	for (size_t bit = 0; bit < 24 * 8; bit++) {
		size_t n = good_packet(buf, sizeof(buf));
		size_t at = bit / 8;
		/* Leave alone the bits whose defect is reported first for another reason. */
		if (at == 0 || at == 2 || at == 3)
			continue;
		buf[at] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(wire_ipv4_parse(&ip, buf, n), -WIRE_E_CHECKSUM);
		assert_int_equal(ip.hdr_len, 24);
	}
}

/* The checksum covers the header only: the payload may be anything. */
static void test_ipv4_parse_checksum_ignores_payload(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_ipv4 ip;
	size_t n = good_packet(buf, sizeof(buf));

	buf[30] ^= 0xff;
	assert_int_equal(wire_ipv4_parse(&ip, buf, n), 0);
}

/* A total length equal to the header: no payload, and nothing wrong. */
static void test_ipv4_parse_header_only(void **state)
{
	(void)state;
	uint8_t opts[4] = { 1, 1, 1, 0 };
	uint8_t buf[24];
	struct wire_ipv4 got;

	for (uint8_t olen = 0; olen <= 4; olen += 4) {
		struct wire_ipv4 ip = ip_hdr((uint16_t)(20 + olen), opts, olen);
		size_t n = emit_packet(&ip, buf, sizeof(buf), 0);
		assert_int_equal(wire_ipv4_parse(&got, buf, n), 0);
		assert_int_equal(got.payload_len, 0);
		assert_ptr_equal(got.payload, buf + n);
		assert_int_equal(got.missing, 0);
	}
}

/* Ethernet pads short frames to 46 bytes of payload; that padding is not IP payload. */
static void test_ipv4_parse_link_padding_is_not_payload(void **state)
{
	(void)state;
	uint8_t buf[46];
	struct wire_ipv4 ip = ip_hdr(26, NULL, 0);
	size_t n = emit_packet(&ip, buf, sizeof(buf), 6);
	struct wire_ipv4 got;

	assert_int_equal(n, 26);
	memset(buf + n, 0, sizeof(buf) - n);
	assert_int_equal(wire_ipv4_parse(&got, buf, sizeof(buf)), 0);
	assert_int_equal(got.total_len, 26);
	assert_ptr_equal(got.payload, buf + 20);
	assert_int_equal(got.payload_len, 6);
	assert_int_equal(got.missing, 0);
}

/* RFC 9293 3.1: the pseudo-header's TCP length is the IP length less the IP header. */
static void test_ipv4_pseudo(void **state)
{
	(void)state;
	uint8_t buf[64];
	size_t n = good_packet(buf, sizeof(buf));
	struct wire_ipv4 ip;
	struct wire_pseudo ph;

	assert_int_equal(wire_ipv4_parse(&ip, buf, n), 0);
	memset(&ph, PATTERN, sizeof(ph));
	wire_ipv4_pseudo(&ip, &ph);
	assert_int_equal(ph.family, 4);
	assert_int_equal(ph.proto, WIRE_PROTO_TCP);
	assert_memory_equal(ph.src, SRC, 4);
	assert_memory_equal(ph.dst, DST, 4);
	assert_int_equal(ph.len, 36 - 24);
}

/* ------------------------------------------------------------ no overreads */

static int parse_exact_copy(struct wire_ipv4 *ip, const uint8_t *bytes, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, bytes, len);
	int err = wire_ipv4_parse(ip, copy + (len ? 0 : 1), len);
	free(copy);
	return err;
}

/*
 * Every prefix of a valid packet, in a heap buffer of exactly that size: the
 * parser returns an error or 0 and never reads a byte more (ASan would see it).
 */
static void test_ipv4_parse_every_prefix_stays_in_bounds(void **state)
{
	(void)state;
	uint8_t opts[40];
	uint8_t buf[60 + 16];

	memset(opts, 1, sizeof(opts));
	for (uint8_t olen = 0; olen <= 40; olen += 20) {
		struct wire_ipv4 ip = ip_hdr((uint16_t)(20 + olen + 16), opts, olen);
		size_t n = emit_packet(&ip, buf, sizeof(buf), 16);
		for (size_t len = 0; len <= n; len++) {
			struct wire_ipv4 got;
			int err = parse_exact_copy(&got, buf, len);
			assert_true(err <= 0 && err > -WIRE_E_COUNT);
			assert_int_equal(err == 0, len == n);
		}
	}
}

/* Random bytes, with a plausible first byte half the time. */
static void test_ipv4_parse_random_bytes_stay_in_bounds(void **state)
{
	(void)state;
	uint32_t x = 12345;
	uint8_t bytes[80];

	for (int round = 0; round < 20000; round++) {
		size_t len = 0;
		for (size_t i = 0; i < sizeof(bytes); i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			bytes[i] = (uint8_t)x;
		}
		len = x % (sizeof(bytes) + 1);
		if (round % 2)
			bytes[0] = (uint8_t)(0x40 | (bytes[0] & 0x0f));
		struct wire_ipv4 got;
		int err = parse_exact_copy(&got, bytes, len);
		assert_true(err <= 0 && err > -WIRE_E_COUNT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_emit_rfc791_example_bytes),
		cmocka_unit_test(test_ipv4_parse_rfc791_example),
		cmocka_unit_test(test_ipv4_emit_parse_every_field),
		cmocka_unit_test(test_ipv4_emit_flags_and_offset_bytes),
		cmocka_unit_test(test_ipv4_emit_parse_options_4_to_40),
		cmocka_unit_test(test_ipv4_emit_header_checksum_verifies),
		cmocka_unit_test(test_ipv4_emit_refuses_what_cannot_be_encoded),
		cmocka_unit_test(test_ipv4_parse_truncated),
		cmocka_unit_test(test_ipv4_parse_version_not_4),
		cmocka_unit_test(test_ipv4_parse_ihl_below_5),
		cmocka_unit_test(test_ipv4_parse_ihl_past_buffer),
		cmocka_unit_test(test_ipv4_parse_total_len_below_header),
		cmocka_unit_test(test_ipv4_parse_total_len_past_buffer),
		cmocka_unit_test(test_ipv4_parse_bad_checksum),
		cmocka_unit_test(test_ipv4_parse_checksum_ignores_payload),
		cmocka_unit_test(test_ipv4_parse_header_only),
		cmocka_unit_test(test_ipv4_parse_link_padding_is_not_payload),
		cmocka_unit_test(test_ipv4_pseudo),
		cmocka_unit_test(test_ipv4_parse_every_prefix_stays_in_bounds),
		cmocka_unit_test(test_ipv4_parse_random_bytes_stay_in_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
