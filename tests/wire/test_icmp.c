/*
 * ICMP (RFC 792) and ICMPv6 (RFC 4443) echo messages: parse, emit, and the
 * checksum, which for ICMPv4 covers the message alone and for ICMPv6 the
 * pseudo-header too (RFC 4443 2.3, RFC 8200 8.1). The known answers are
 * Linux's own: `ping -c1 127.0.0.1` and `ping -6 -c1 ::1` captured with
 * tcpdump on lo, request and the kernel's reply, checksums as the kernel
 * computed them.
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

/* Linux ping's 56 data bytes: a struct timeval, then 0x10, 0x11, ... 0x37. */
#define PING_DATA                                                                                  \
	0x3f, 0x18, 0x06, 0x6b, 0x00, 0x00, 0x00, 0x00, 0xbf, 0xfb, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, \
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, \
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, \
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37

#define PING6_DATA                                                                                 \
	0x3f, 0x18, 0x06, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x13, 0x03, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, \
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, \
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, \
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37

/* 127.0.0.1 > 127.0.0.1: ICMP echo request, id 12850, seq 1, length 64 */
static const uint8_t PING_REQ[64] = { 0x08, 0x00, 0xf9, 0x7a, 0x32, 0x32, 0x00, 0x01, PING_DATA };
/* 127.0.0.1 > 127.0.0.1: ICMP echo reply, id 12850, seq 1, length 64 */
static const uint8_t PING_REPLY[64] = { 0x00, 0x00, 0x01, 0x7b, 0x32, 0x32, 0x00, 0x01, PING_DATA };
/* ::1 > ::1: ICMP6, echo request, id 12851, seq 1, length 64 */
static const uint8_t PING6_REQ[64] = { 0x80, 0x00, 0x2c, 0xf6, 0x32, 0x33, 0x00, 0x01, PING6_DATA };
/* ::1 > ::1: ICMP6, echo reply, id 12851, seq 1, length 64 */
static const uint8_t PING6_REPLY[64] = { 0x81, 0x00, 0x2b, 0xf6, 0x32, 0x33, 0x00, 0x01, PING6_DATA };

static const uint8_t SRC6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t DST6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* The pseudo-header of a message between ::1 and ::1 (RFC 8200 8.1). */
static struct wire_pseudo loopback6(uint32_t len)
{
	struct wire_pseudo ph;
	memset(&ph, 0, sizeof(ph));
	ph.family = 6;
	ph.proto = WIRE_PROTO_ICMPV6;
	ph.src[15] = 1;
	ph.dst[15] = 1;
	ph.len = len;
	return ph;
}

static struct wire_pseudo doc6(uint32_t len)
{
	struct wire_pseudo ph;
	memset(&ph, 0, sizeof(ph));
	ph.family = 6;
	ph.proto = WIRE_PROTO_ICMPV6;
	memcpy(ph.src, SRC6, 16);
	memcpy(ph.dst, DST6, 16);
	ph.len = len;
	return ph;
}

/*
 * RFC 1071 done the slow, obvious way, independent of wire_csum: big-endian
 * 16-bit words, an odd last byte padded with a zero low byte, end-around
 * carry, complement. With `ph`, the IPv6 pseudo-header of RFC 8200 8.1 first.
 */
static uint16_t ref_csum(const uint8_t *msg, size_t len, const struct wire_pseudo *ph)
{
	uint32_t sum = 0;
	if (ph) {
		for (int i = 0; i < 16; i += 2)
			sum += (uint32_t)(ph->src[i] << 8 | ph->src[i + 1]) + (uint32_t)(ph->dst[i] << 8 | ph->dst[i + 1]);
		sum += ph->len >> 16;
		sum += ph->len & 0xffff;
		sum += ph->proto;
	}
	for (size_t i = 0; i < len; i++)
		sum += i % 2 ? msg[i] : (uint32_t)msg[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A copy of `len` bytes on the heap, exactly that size, so ASan sees any read past it. */
static uint8_t *heap_copy(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

/* ---------------------------------------------------------- known answers */

static void test_icmp_parse_linux_echo_request(void **state)
{
	(void)state;
	struct wire_icmp m;
	assert_int_equal(wire_icmp_parse(&m, PING_REQ, sizeof(PING_REQ), NULL), 0);
	assert_int_equal(m.type, WIRE_ICMP_ECHO_REQUEST);
	assert_int_equal(m.code, 0);
	assert_int_equal(m.csum, 0xf97a);
	assert_int_equal(m.id, 12850);
	assert_int_equal(m.seq, 1);
	assert_ptr_equal(m.data, PING_REQ + 8);
	assert_int_equal(m.data_len, 56);
}

static void test_icmp_parse_linux_echo_reply(void **state)
{
	(void)state;
	struct wire_icmp m;
	assert_int_equal(wire_icmp_parse(&m, PING_REPLY, sizeof(PING_REPLY), NULL), 0);
	assert_int_equal(m.type, WIRE_ICMP_ECHO_REPLY);
	assert_int_equal(m.csum, 0x017b);
	assert_int_equal(m.id, 12850);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.data_len, 56);
}

/* The reply emitted from the parsed request, its data in the request's buffer: Linux's reply. */
static void test_icmp_emit_linux_echo_reply_data_elsewhere(void **state)
{
	(void)state;
	struct wire_icmp m;
	uint8_t buf[80];
	assert_int_equal(wire_icmp_parse(&m, PING_REQ, sizeof(PING_REQ), NULL), 0);
	m.type = WIRE_ICMP_ECHO_REPLY;
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_icmp_emit(&m, buf, sizeof(buf), NULL), 64);
	assert_memory_equal(buf, PING_REPLY, 64);
	for (size_t i = 64; i < sizeof(buf); i++)
		assert_int_equal(buf[i], PATTERN);
}

/* The reply built over the request, in the same buffer, as a responder does it. */
static void test_icmp_emit_linux_echo_reply_data_in_place(void **state)
{
	(void)state;
	struct wire_icmp m;
	uint8_t buf[80];
	memset(buf, PATTERN, sizeof(buf));
	memcpy(buf, PING_REQ, sizeof(PING_REQ));
	assert_int_equal(wire_icmp_parse(&m, buf, sizeof(PING_REQ), NULL), 0);
	assert_ptr_equal(m.data, buf + WIRE_ICMP_HDR_LEN);
	m.type = WIRE_ICMP_ECHO_REPLY;
	assert_int_equal(wire_icmp_emit(&m, buf, sizeof(buf), NULL), 64);
	assert_memory_equal(buf, PING_REPLY, 64);
	assert_int_equal(buf[64], PATTERN);
}

static void test_icmp6_parse_linux_echo_request(void **state)
{
	(void)state;
	struct wire_icmp m;
	struct wire_pseudo ph = loopback6(64);
	assert_int_equal(wire_icmp_parse(&m, PING6_REQ, sizeof(PING6_REQ), &ph), 0);
	assert_int_equal(m.type, WIRE_ICMP6_ECHO_REQUEST);
	assert_int_equal(m.code, 0);
	assert_int_equal(m.csum, 0x2cf6);
	assert_int_equal(m.id, 12851);
	assert_int_equal(m.seq, 1);
	assert_ptr_equal(m.data, PING6_REQ + 8);
	assert_int_equal(m.data_len, 56);
	/* The parser reads the pseudo-header and leaves it be. */
	struct wire_pseudo same = loopback6(64);
	assert_memory_equal(&ph, &same, sizeof(ph));
}

static void test_icmp6_parse_linux_echo_reply(void **state)
{
	(void)state;
	struct wire_icmp m;
	struct wire_pseudo ph = loopback6(64);
	assert_int_equal(wire_icmp_parse(&m, PING6_REPLY, sizeof(PING6_REPLY), &ph), 0);
	assert_int_equal(m.type, WIRE_ICMP6_ECHO_REPLY);
	assert_int_equal(m.csum, 0x2bf6);
}

static void test_icmp6_emit_linux_echo_reply(void **state)
{
	(void)state;
	struct wire_icmp m;
	struct wire_pseudo ph = loopback6(64);
	uint8_t buf[80];
	assert_int_equal(wire_icmp_parse(&m, PING6_REQ, sizeof(PING6_REQ), &ph), 0);
	m.type = WIRE_ICMP6_ECHO_REPLY;
	ph.len = 0xdeadbeef;   /* set by the emitter */
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_icmp_emit(&m, buf, sizeof(buf), &ph), 64);
	assert_int_equal(ph.len, 64);
	assert_memory_equal(buf, PING6_REPLY, 64);
	assert_int_equal(buf[64], PATTERN);
}

static void test_icmp6_emit_linux_echo_reply_in_place(void **state)
{
	(void)state;
	struct wire_icmp m;
	struct wire_pseudo ph = loopback6(64);
	uint8_t buf[64];
	memcpy(buf, PING6_REQ, sizeof(buf));
	assert_int_equal(wire_icmp_parse(&m, buf, sizeof(buf), &ph), 0);
	m.type = WIRE_ICMP6_ECHO_REPLY;
	assert_int_equal(wire_icmp_emit(&m, buf, sizeof(buf), &ph), 64);
	assert_memory_equal(buf, PING6_REPLY, 64);
}

/* ------------------------------------------------- which checksum is which */

/* RFC 792: no pseudo-header; RFC 4443 2.3: one. Each message fails the other's rule. */
static void test_icmp_checksum_rules_do_not_mix(void **state)
{
	(void)state;
	struct wire_icmp m;
	struct wire_pseudo ph = loopback6(64);
	assert_int_equal(wire_icmp_parse(&m, PING6_REQ, sizeof(PING6_REQ), NULL), -WIRE_E_CHECKSUM);
	assert_int_equal(wire_icmp_parse(&m, PING_REQ, sizeof(PING_REQ), &ph), -WIRE_E_CHECKSUM);
}

/* Every field of the pseudo-header counts: addresses, length, next header. */
static void test_icmp6_checksum_covers_pseudo_header(void **state)
{
	(void)state;
	struct wire_icmp m;
	struct wire_pseudo ph;

	for (int i = 0; i < 16; i++) {
		ph = loopback6(64);
		ph.src[i] ^= 0x40;
		assert_int_equal(wire_icmp_parse(&m, PING6_REQ, sizeof(PING6_REQ), &ph), -WIRE_E_CHECKSUM);
		ph = loopback6(64);
		ph.dst[i] ^= 0x02;
		assert_int_equal(wire_icmp_parse(&m, PING6_REQ, sizeof(PING6_REQ), &ph), -WIRE_E_CHECKSUM);
	}
	ph = loopback6(65);
	assert_int_equal(wire_icmp_parse(&m, PING6_REQ, sizeof(PING6_REQ), &ph), -WIRE_E_CHECKSUM);
	ph = loopback6(64 + 0x10000);   /* the upper half of the 32-bit length counts too */
	assert_int_equal(wire_icmp_parse(&m, PING6_REQ, sizeof(PING6_REQ), &ph), -WIRE_E_CHECKSUM);
	ph = loopback6(64);
	ph.proto = WIRE_PROTO_TCP;
	assert_int_equal(wire_icmp_parse(&m, PING6_REQ, sizeof(PING6_REQ), &ph), -WIRE_E_CHECKSUM);
}

/* Swapping source and destination keeps the sum: the reply's pseudo-header may be either way. */
static void test_icmp6_emit_checksum_matches_reference(void **state)
{
	(void)state;
	static const uint8_t data[] = "the quick brown fox";
	struct wire_icmp m = { .type = WIRE_ICMP6_ECHO_REQUEST, .id = 0xbeef, .seq = 0xfffe,
			       .data = data, .data_len = sizeof(data) - 1 };
	struct wire_pseudo ph = doc6(0);
	uint8_t buf[64];
	size_t n = wire_icmp_emit(&m, buf, sizeof(buf), &ph);
	assert_int_equal(n, 8 + sizeof(data) - 1);
	assert_int_equal(ph.len, n);
	uint8_t zeroed[64];
	memcpy(zeroed, buf, n);
	zeroed[2] = zeroed[3] = 0;
	assert_int_equal(wire_get16(buf + 2), ref_csum(zeroed, n, &ph));
	assert_int_equal(ref_csum(buf, n, &ph), 0);
}

/* -------------------------------------------------------------- odd lengths */

/*
 * RFC 1071 4.1: an odd last byte is the high byte of a word padded with
 * zero. By hand: 0x0800 + 0x1234 + 0x0001 + 0xab00 = 0xc535, ~ = 0x3aca.
 * (Padding on the wrong side would give 0xe51f.)
 */
static void test_icmp_emit_odd_length_known_answer(void **state)
{
	(void)state;
	static const uint8_t data[] = { 0xab };
	static const uint8_t want[] = { 0x08, 0x00, 0x3a, 0xca, 0x12, 0x34, 0x00, 0x01, 0xab };
	struct wire_icmp m = { .type = WIRE_ICMP_ECHO_REQUEST, .id = 0x1234, .seq = 1, .data = data, .data_len = 1 };
	uint8_t buf[16];
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_icmp_emit(&m, buf, sizeof(buf), NULL), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[sizeof(want)], PATTERN);

	uint8_t *exact = heap_copy(want, sizeof(want));
	struct wire_icmp p;
	assert_int_equal(wire_icmp_parse(&p, exact, sizeof(want), NULL), 0);
	assert_int_equal(p.data_len, 1);
	assert_int_equal(p.data[0], 0xab);
	free(exact);
}

/* The same for ICMPv6: 2001:db8::1 > 2001:db8::2, data "abc" (computed by an independent RFC 1071 sum). */
static void test_icmp6_emit_odd_length_known_answer(void **state)
{
	(void)state;
	static const uint8_t want[] = { 0x80, 0x00, 0x4d, 0xad, 0x12, 0x34, 0x00, 0x01, 'a', 'b', 'c' };
	struct wire_icmp m = { .type = WIRE_ICMP6_ECHO_REQUEST, .id = 0x1234, .seq = 1,
			       .data = (const uint8_t *)"abc", .data_len = 3 };
	struct wire_pseudo ph = doc6(0);
	uint8_t buf[16];
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_icmp_emit(&m, buf, sizeof(buf), &ph), sizeof(want));
	assert_int_equal(ph.len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[sizeof(want)], PATTERN);

	uint8_t *exact = heap_copy(want, sizeof(want));
	struct wire_icmp p;
	assert_int_equal(wire_icmp_parse(&p, exact, sizeof(want), &ph), 0);
	assert_int_equal(p.data_len, 3);
	free(exact);
}

/* Every data length from 0 to 64, odd and even, both families, against the reference sum. */
static void test_icmp_emit_every_small_length_matches_reference(void **state)
{
	(void)state;
	uint8_t data[64], buf[80];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xff - i * 13);
	for (size_t len = 0; len <= sizeof(data); len++) {
		for (int v6 = 0; v6 <= 1; v6++) {
			struct wire_icmp m = { .type = v6 ? WIRE_ICMP6_ECHO_REPLY : WIRE_ICMP_ECHO_REPLY,
					       .id = (uint16_t)(0x8000 + len), .seq = (uint16_t)len,
					       .data = data, .data_len = len };
			struct wire_pseudo ph = doc6(0);
			memset(buf, PATTERN, sizeof(buf));
			size_t n = wire_icmp_emit(&m, buf, sizeof(buf), v6 ? &ph : NULL);
			assert_int_equal(n, 8 + len);
			assert_int_equal(buf[n], PATTERN);
			uint16_t got = wire_get16(buf + 2);
			buf[2] = buf[3] = 0;
			assert_int_equal(got, ref_csum(buf, n, v6 ? &ph : NULL));
			wire_put16(buf + 2, got);

			uint8_t *exact = heap_copy(buf, n);
			struct wire_icmp p;
			assert_int_equal(wire_icmp_parse(&p, exact, n, v6 ? &ph : NULL), 0);
			assert_int_equal(p.data_len, len);
			assert_memory_equal(p.data, data, len);
			free(exact);
		}
	}
}

/* ------------------------------------------------------------- truncation */

/* 0 to 7 bytes hold no header; each prefix from a buffer of exactly its size. */
static void test_icmp_parse_truncated_header(void **state)
{
	(void)state;
	for (size_t len = 0; len < WIRE_ICMP_HDR_LEN; len++) {
		struct wire_pseudo ph = loopback6((uint32_t)len);
		uint8_t *p = heap_copy(PING_REQ, len);
		struct wire_icmp m;
		memset(&m, PATTERN, sizeof(m));
		assert_int_equal(wire_icmp_parse(&m, p, len, NULL), -WIRE_E_TRUNCATED);
		free(p);
		p = heap_copy(PING6_REQ, len);
		assert_int_equal(wire_icmp_parse(&m, p, len, &ph), -WIRE_E_TRUNCATED);
		free(p);
	}
}

/* 8 to 63 bytes of a 64-byte request: a header and some data, whose checksum no longer adds up. */
static void test_icmp_parse_every_shortened_request(void **state)
{
	(void)state;
	for (size_t len = WIRE_ICMP_HDR_LEN; len < sizeof(PING_REQ); len++) {
		struct wire_icmp m;
		uint8_t *p = heap_copy(PING_REQ, len);
		assert_int_equal(wire_icmp_parse(&m, p, len, NULL), -WIRE_E_CHECKSUM);
		free(p);
		struct wire_pseudo ph = loopback6((uint32_t)len);
		p = heap_copy(PING6_REQ, len);
		assert_int_equal(wire_icmp_parse(&m, p, len, &ph), -WIRE_E_CHECKSUM);
		free(p);
	}
}

/* The smallest message: 8 bytes, no data (an echo reply, all zero but its checksum, 0xffff). */
static void test_icmp_parse_header_only(void **state)
{
	(void)state;
	static const uint8_t msg[8] = { 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00 };
	uint8_t *p = heap_copy(msg, sizeof(msg));
	struct wire_icmp m;
	assert_int_equal(wire_icmp_parse(&m, p, sizeof(msg), NULL), 0);
	assert_int_equal(m.type, WIRE_ICMP_ECHO_REPLY);
	assert_int_equal(m.data_len, 0);
	assert_ptr_equal(m.data, p + 8);
	free(p);
}

/* ----------------------------------------------------------- bad checksums */

/* One flipped bit anywhere, checksum field included, is caught; the fields read are kept. */
static void test_icmp_parse_every_single_bit_error(void **state)
{
	(void)state;
	uint8_t buf[64];
	for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
		struct wire_icmp m;
		memcpy(buf, PING_REQ, sizeof(buf));
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(wire_icmp_parse(&m, buf, sizeof(buf), NULL), -WIRE_E_CHECKSUM);
		/* The checksum is verified last: the fields are there for a printer. */
		assert_int_equal(m.type, buf[0]);
		assert_int_equal(m.code, buf[1]);
		assert_int_equal(m.csum, wire_get16(buf + 2));
		assert_int_equal(m.id, wire_get16(buf + 4));
		assert_int_equal(m.seq, wire_get16(buf + 6));
		assert_ptr_equal(m.data, buf + 8);
		assert_int_equal(m.data_len, 56);

		struct wire_pseudo ph = loopback6(64);
		memcpy(buf, PING6_REQ, sizeof(buf));
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(wire_icmp_parse(&m, buf, sizeof(buf), &ph), -WIRE_E_CHECKSUM);
	}
}

/* A zero checksum field is no "no checksum" (unlike UDP's): it must verify like any other. */
static void test_icmp_parse_zero_checksum_is_checked(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_icmp m;
	memcpy(buf, PING_REQ, sizeof(buf));
	buf[2] = buf[3] = 0;
	assert_int_equal(wire_icmp_parse(&m, buf, sizeof(buf), NULL), -WIRE_E_CHECKSUM);
	/* All zero: the sum is +0, not -0 (RFC 1071). */
	static const uint8_t zero[8];
	assert_int_equal(wire_icmp_parse(&m, zero, sizeof(zero), NULL), -WIRE_E_CHECKSUM);
}

/* Where the other words sum to 0, the checksum is ~0 = 0xffff, never 0 (which would not verify). */
static void test_icmp_emit_checksum_ffff(void **state)
{
	(void)state;
	static const uint8_t want[8] = { 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00 };
	struct wire_icmp m = { .type = WIRE_ICMP_ECHO_REPLY };
	uint8_t buf[8];
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_icmp_emit(&m, buf, sizeof(buf), NULL), 8);
	assert_memory_equal(buf, want, 8);
	/* And where they sum to 0xffff, whatever is written verifies. */
	struct wire_icmp all = { .type = 0xff, .code = 0xff };
	assert_int_equal(wire_icmp_emit(&all, buf, sizeof(buf), NULL), 8);
	/* (0x0000 or 0xffff: both verify, as 0xffff + 0xffff folds to 0xffff.) */
	struct wire_icmp p;
	assert_int_equal(wire_icmp_parse(&p, buf, 8, NULL), 0);
}

/* ------------------------------------------------------------- emitting */

static void test_icmp_emit_parse_round_trip(void **state)
{
	(void)state;
	const uint8_t types[] = { WIRE_ICMP_ECHO_REPLY, 3, WIRE_ICMP_ECHO_REQUEST, 11,
				  WIRE_ICMP6_ECHO_REQUEST, WIRE_ICMP6_ECHO_REPLY, 135, 255 };
	const uint8_t codes[] = { 0, 1, 4, 255 };
	const uint16_t ids[] = { 0, 1, 0x1234, 0xffff };
	const uint16_t seqs[] = { 0, 1, 0x8000, 0xffff };
	const size_t lens[] = { 0, 1, 2, 7, 56, 1452 };
	static uint8_t data[1452], buf[1500];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);

	for (size_t t = 0; t < sizeof(types); t++)
	for (size_t c = 0; c < sizeof(codes); c++)
	for (size_t k = 0; k < 4; k++)
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
	for (int v6 = 0; v6 <= 1; v6++) {
		struct wire_icmp m = { .type = types[t], .code = codes[c], .id = ids[k], .seq = seqs[3 - k],
				       .data = data, .data_len = lens[l] };
		struct wire_pseudo ph = doc6(0);
		memset(buf, PATTERN, sizeof(buf));
		size_t n = wire_icmp_emit(&m, buf, sizeof(buf), v6 ? &ph : NULL);
		assert_int_equal(n, 8 + lens[l]);
		if (v6)
			assert_int_equal(ph.len, n);

		struct wire_icmp p;
		assert_int_equal(wire_icmp_parse(&p, buf, n, v6 ? &ph : NULL), 0);
		assert_int_equal(p.type, m.type);
		assert_int_equal(p.code, m.code);
		assert_int_equal(p.id, m.id);
		assert_int_equal(p.seq, m.seq);
		assert_int_equal(p.csum, wire_get16(buf + 2));
		assert_ptr_equal(p.data, buf + 8);
		assert_int_equal(p.data_len, lens[l]);
		assert_memory_equal(p.data, data, lens[l]);
	}
}

/*
 * The data in the same buffer, after the header but not in place, overlapping
 * where it goes: a memmove, not a memcpy (ASan reports an overlapping memcpy).
 */
static void test_icmp_emit_data_overlapping_destination(void **state)
{
	(void)state;
	uint8_t buf[64], want[30];
	for (size_t off = WIRE_ICMP_HDR_LEN + 1; off <= 34; off++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(i + 1);
		memcpy(want, buf + off, sizeof(want));
		struct wire_icmp m = { .type = WIRE_ICMP_ECHO_REQUEST, .id = 7, .seq = 9,
				       .data = buf + off, .data_len = sizeof(want) };
		assert_int_equal(wire_icmp_emit(&m, buf, sizeof(buf), NULL), 8 + sizeof(want));
		assert_memory_equal(buf + 8, want, sizeof(want));
		struct wire_icmp p;
		assert_int_equal(wire_icmp_parse(&p, buf, 8 + sizeof(want), NULL), 0);
		assert_int_equal(p.type, WIRE_ICMP_ECHO_REQUEST);
		assert_int_equal(p.id, 7);
		assert_int_equal(p.seq, 9);
	}
}

/* No data, and a NULL data pointer: the header alone. */
static void test_icmp_emit_no_data(void **state)
{
	(void)state;
	uint8_t buf[9];
	struct wire_icmp m = { .type = WIRE_ICMP_ECHO_REQUEST, .id = 1, .seq = 2, .data = NULL, .data_len = 0 };
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_icmp_emit(&m, buf, sizeof(buf), NULL), 8);
	assert_int_equal(buf[8], PATTERN);
	/* 0x0800 + 0x0001 + 0x0002 = 0x0803, ~ = 0xf7fc */
	static const uint8_t want[8] = { 0x08, 0x00, 0xf7, 0xfc, 0x00, 0x01, 0x00, 0x02 };
	assert_memory_equal(buf, want, 8);
}

/* Too small a buffer: 0, and nothing written. Exactly big enough: written, and not a byte more. */
static void test_icmp_emit_buffer_too_small(void **state)
{
	(void)state;
	struct wire_icmp m;
	uint8_t buf[80];
	assert_int_equal(wire_icmp_parse(&m, PING_REQ, sizeof(PING_REQ), NULL), 0);
	m.type = WIRE_ICMP_ECHO_REPLY;
	for (size_t cap = 0; cap < 64; cap++) {
		struct wire_pseudo ph = loopback6(1234);
		memset(buf, PATTERN, sizeof(buf));
		assert_int_equal(wire_icmp_emit(&m, buf, cap, NULL), 0);
		assert_int_equal(wire_icmp_emit(&m, buf, cap, &ph), 0);
		for (size_t i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], PATTERN);
	}
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_icmp_emit(&m, buf, 64, NULL), 64);
	assert_memory_equal(buf, PING_REPLY, 64);
	assert_int_equal(buf[64], PATTERN);
}

/* An ICMP message fits in one IP packet: 65,535 bytes at most (and the IPv4 total length is less). */
static void test_icmp_emit_too_long(void **state)
{
	(void)state;
	size_t cap = 70000;
	uint8_t *buf = malloc(cap);
	uint8_t *data = calloc(1, cap);
	assert_non_null(buf);
	assert_non_null(data);
	struct wire_icmp m = { .type = WIRE_ICMP_ECHO_REPLY, .data = data, .data_len = 65535 - 8 };
	assert_int_equal(wire_icmp_emit(&m, buf, cap, NULL), 65535);
	struct wire_icmp p;
	assert_int_equal(wire_icmp_parse(&p, buf, 65535, NULL), 0);
	m.data_len++;
	assert_int_equal(wire_icmp_emit(&m, buf, cap, NULL), 0);
	free(buf);
	free(data);
}

/* RFC 792's error types and RFC 4443 2.1's below 128 are errors; echo and the rest are not. */
static void test_icmp_is_error_types(void **state)
{
	(void)state;
	const uint8_t v4_errors[] = { 3, 4, 5, 11, 12 }, v4_not[] = { 0, 8, 13, 14, 255 };
	const uint8_t v6_errors[] = { 1, 2, 3, 4, 127 }, v6_not[] = { 128, 129, 133, 255 };
	for (size_t i = 0; i < sizeof(v4_errors); i++)
		assert_true(wire_icmp_is_error(&v4_errors[i], 1, false));
	for (size_t i = 0; i < sizeof(v4_not); i++)
		assert_false(wire_icmp_is_error(&v4_not[i], 1, false));
	for (size_t i = 0; i < sizeof(v6_errors); i++)
		assert_true(wire_icmp_is_error(&v6_errors[i], 1, true));
	for (size_t i = 0; i < sizeof(v6_not); i++)
		assert_false(wire_icmp_is_error(&v6_not[i], 1, true));
	assert_false(wire_icmp_is_error(v4_errors, 0, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_icmp_is_error_types),
		cmocka_unit_test(test_icmp_parse_linux_echo_request),
		cmocka_unit_test(test_icmp_parse_linux_echo_reply),
		cmocka_unit_test(test_icmp_emit_linux_echo_reply_data_elsewhere),
		cmocka_unit_test(test_icmp_emit_linux_echo_reply_data_in_place),
		cmocka_unit_test(test_icmp6_parse_linux_echo_request),
		cmocka_unit_test(test_icmp6_parse_linux_echo_reply),
		cmocka_unit_test(test_icmp6_emit_linux_echo_reply),
		cmocka_unit_test(test_icmp6_emit_linux_echo_reply_in_place),
		cmocka_unit_test(test_icmp_checksum_rules_do_not_mix),
		cmocka_unit_test(test_icmp6_checksum_covers_pseudo_header),
		cmocka_unit_test(test_icmp6_emit_checksum_matches_reference),
		cmocka_unit_test(test_icmp_emit_odd_length_known_answer),
		cmocka_unit_test(test_icmp6_emit_odd_length_known_answer),
		cmocka_unit_test(test_icmp_emit_every_small_length_matches_reference),
		cmocka_unit_test(test_icmp_parse_truncated_header),
		cmocka_unit_test(test_icmp_parse_every_shortened_request),
		cmocka_unit_test(test_icmp_parse_header_only),
		cmocka_unit_test(test_icmp_parse_every_single_bit_error),
		cmocka_unit_test(test_icmp_parse_zero_checksum_is_checked),
		cmocka_unit_test(test_icmp_emit_checksum_ffff),
		cmocka_unit_test(test_icmp_emit_parse_round_trip),
		cmocka_unit_test(test_icmp_emit_data_overlapping_destination),
		cmocka_unit_test(test_icmp_emit_no_data),
		cmocka_unit_test(test_icmp_emit_buffer_too_small),
		cmocka_unit_test(test_icmp_emit_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
