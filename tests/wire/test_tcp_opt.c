/*
 * TCP options (RFC 9293 3.2): each kind through wire_tcp_opt_push, wire_tcp_emit
 * and wire_tcp_parse; the byte layouts Linux sends; malformed option lists.
 *
 * MSS (RFC 9293 3.2), window scale and timestamps (RFC 7323 2.2, 3.2),
 * SACK-permitted and SACK (RFC 2018 2, 3), MD5 (RFC 2385 3.0), MPTCP (RFC 8684
 * 3), Fast Open (RFC 7413 4.1.1).
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
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t PAYLOAD[16] = "0123456789abcdef";

static struct wire_pseudo ph4(void)
{
	return (struct wire_pseudo){ .family = 4, .proto = WIRE_PROTO_TCP,
				     .src = { 192, 0, 2, 1 }, .dst = { 198, 51, 100, 7 } };
}

/* ------------------------------------------------------------- round trips */

/* One segment emitted from pushed options, and what parsing it gave back. */
struct round_trip {
	uint8_t buf[20 + 40 + sizeof(PAYLOAD) + 4];
	size_t n;
	struct wire_tcp got;
};

static void push(struct wire_tcp_opts *o, uint8_t kind, uint8_t len, const uint8_t *data)
{
	assert_true(wire_tcp_opt_push(o, kind, len, data));
}

/* Emits the segment into a fresh 0xa5 buffer and checks nothing past it is written. */
static size_t emit_segment(const struct wire_tcp *t, uint8_t *buf, size_t cap, struct wire_pseudo *ph)
{
	memset(buf, PATTERN, cap);
	size_t n = wire_tcp_emit(t, buf, cap, ph);
	for (size_t i = n; i < cap; i++)
		assert_int_equal(buf[i], PATTERN);
	return n;
}

/*
 * Emits an ACK carrying the options `o` and a little data, checks the options
 * area is exactly `want`, parses it back (checksum verified), and checks that
 * the parsed segment emits again byte for byte.
 */
static void round_trip(struct round_trip *r, const struct wire_tcp_opts *o, const uint8_t *want, size_t want_len)
{
	struct wire_tcp t = { .sport = 40000, .dport = 443, .seq = 0xfffffffe, .ack = 7,
			      .flags = WIRE_TCP_ACK, .wnd = 512, .payload = PAYLOAD, .payload_len = sizeof(PAYLOAD) };
	struct wire_pseudo ph = ph4();

	t.opt = *o;
	assert_int_equal(wire_tcp_opts_size(o), want_len);
	r->n = emit_segment(&t, r->buf, sizeof(r->buf), &ph);
	assert_int_equal(r->n, 20 + want_len + sizeof(PAYLOAD));
	assert_int_equal(r->buf[12] >> 4, (20 + want_len) / 4);
	if (want_len)
		assert_memory_equal(r->buf + 20, want, want_len);
	assert_memory_equal(r->buf + 20 + want_len, PAYLOAD, sizeof(PAYLOAD));

	assert_int_equal(wire_tcp_parse(&r->got, r->buf, r->n, &ph), 0);
	assert_int_equal(r->got.hdr_len, 20 + want_len);
	assert_ptr_equal(r->got.opt.raw, r->buf + 20);
	assert_int_equal(r->got.opt.raw_len, want_len);
	assert_int_equal(r->got.payload_len, sizeof(PAYLOAD));

	uint8_t again[sizeof(r->buf)];
	struct wire_pseudo ph2 = ph4();
	assert_int_equal(emit_segment(&r->got, again, sizeof(again), &ph2), r->n);
	assert_memory_equal(again, r->buf, r->n);
}

/* The parsed list, kind by kind, with offsets that follow from the lengths. */
static void expect_list(const struct wire_tcp_opts *o, const uint8_t *kinds, size_t n)
{
	size_t off = 0;

	assert_int_equal(o->count, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(o->list[i].kind, kinds[i]);
		assert_int_equal(o->list[i].off, off);
		assert_false(o->list[i].malformed);
		off += o->list[i].len;
	}
}

static void test_tcp_opt_eol(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { 0 };
	struct round_trip r;
	const uint8_t want[] = { 0x00, 0x00, 0x00, 0x00 };

	push(&o, WIRE_OPT_EOL, 1, NULL);
	round_trip(&r, &o, want, sizeof(want));
	assert_int_equal(r.got.opt.has, WIRE_HAS_EOL);
	expect_list(&r.got.opt, (const uint8_t[]){ WIRE_OPT_EOL }, 1);
	assert_int_equal(r.got.opt.list[0].len, 1);
}

static void test_tcp_opt_nop(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { 0 };
	struct round_trip r;
	const uint8_t want[] = { 0x01, 0x01, 0x01, 0x01 };

	for (int i = 0; i < 4; i++)
		push(&o, WIRE_OPT_NOP, 1, NULL);
	round_trip(&r, &o, want, sizeof(want));
	assert_int_equal(r.got.opt.has, 0);
	expect_list(&r.got.opt, (const uint8_t[]){ 1, 1, 1, 1 }, 4);
}

/* RFC 9293 3.2: kind 2, length 4, the MSS in 16 bits. */
static void test_tcp_opt_mss(void **state)
{
	(void)state;
	const uint16_t values[] = { 0, 536, 1220, 1460, 8960, 65535 };

	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		struct wire_tcp_opts o = { .mss = values[i] };
		struct round_trip r;
		const uint8_t want[] = { 0x02, 0x04, (uint8_t)(values[i] >> 8), (uint8_t)values[i] };
		push(&o, WIRE_OPT_MSS, 4, NULL);
		round_trip(&r, &o, want, sizeof(want));
		assert_int_equal(r.got.opt.has, WIRE_HAS_MSS);
		assert_int_equal(r.got.opt.mss, values[i]);
		expect_list(&r.got.opt, (const uint8_t[]){ WIRE_OPT_MSS }, 1);
		assert_int_equal(r.got.opt.list[0].len, 4);
	}
}

/* RFC 7323 2.2: kind 3, length 3, the shift count; kept as sent, even above 14. */
static void test_tcp_opt_window_scale(void **state)
{
	(void)state;
	const uint8_t values[] = { 0, 1, 7, 14, 15, 255 };

	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		struct wire_tcp_opts o = { .wscale = values[i] };
		struct round_trip r;
		const uint8_t want[] = { 0x01, 0x03, 0x03, values[i] };
		push(&o, WIRE_OPT_NOP, 1, NULL);
		push(&o, WIRE_OPT_WSCALE, 3, NULL);
		round_trip(&r, &o, want, sizeof(want));
		assert_int_equal(r.got.opt.has, WIRE_HAS_WSCALE);
		assert_int_equal(r.got.opt.wscale, values[i]);
		expect_list(&r.got.opt, (const uint8_t[]){ WIRE_OPT_NOP, WIRE_OPT_WSCALE }, 2);
	}
}

/* RFC 2018 2: kind 4, length 2. */
static void test_tcp_opt_sack_permitted(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { 0 };
	struct round_trip r;
	const uint8_t want[] = { 0x01, 0x01, 0x04, 0x02 };

	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_SACK_PERM, 2, NULL);
	round_trip(&r, &o, want, sizeof(want));
	assert_int_equal(r.got.opt.has, WIRE_HAS_SACK_PERM);
	expect_list(&r.got.opt, (const uint8_t[]){ 1, 1, WIRE_OPT_SACK_PERM }, 3);
}

/* RFC 2018 3: kind 5, length 8n + 2, n blocks of left and right edge; 4 at most in 40 bytes. */
static void test_tcp_opt_sack_1_to_4_blocks(void **state)
{
	(void)state;
	const struct wire_sack_block blocks[4] = {
		{ 0xfffffff0, 0x00000010 }, /* across the wrap */
		{ 0x00001000, 0x00002000 },
		{ 0x7fffffff, 0x80000001 },
		{ 0x01020304, 0x05060708 },
	};

	for (uint8_t n = 1; n <= WIRE_SACK_MAX; n++) {
		struct wire_tcp_opts o = { .sack_count = n };
		struct round_trip r;
		uint8_t want[40];
		size_t len = 4 + 8 * (size_t)n;

		memcpy(o.sack, blocks, sizeof(blocks));
		push(&o, WIRE_OPT_NOP, 1, NULL);
		push(&o, WIRE_OPT_NOP, 1, NULL);
		push(&o, WIRE_OPT_SACK, (uint8_t)(2 + 8 * n), NULL);
		want[0] = 0x01;
		want[1] = 0x01;
		want[2] = 0x05;
		want[3] = (uint8_t)(2 + 8 * n);
		for (size_t i = 0; i < n; i++) {
			wire_put32(want + 4 + 8 * i, blocks[i].left);
			wire_put32(want + 8 + 8 * i, blocks[i].right);
		}
		round_trip(&r, &o, want, len);
		assert_int_equal(r.got.opt.has, WIRE_HAS_SACK);
		assert_int_equal(r.got.opt.sack_count, n);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(r.got.opt.sack[i].left, blocks[i].left);
			assert_int_equal(r.got.opt.sack[i].right, blocks[i].right);
		}
		expect_list(&r.got.opt, (const uint8_t[]){ 1, 1, WIRE_OPT_SACK }, 3);
	}
}

/* RFC 7323 3.2: kind 8, length 10, TSval and TSecr. */
static void test_tcp_opt_timestamps(void **state)
{
	(void)state;
	const uint32_t values[][2] = { { 0, 0 }, { 1, 0xffffffff }, { 0xdeadbeef, 0x01020304 } };

	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		struct wire_tcp_opts o = { .ts_val = values[i][0], .ts_ecr = values[i][1] };
		struct round_trip r;
		uint8_t want[12] = { 0x01, 0x01, 0x08, 0x0a };
		wire_put32(want + 4, values[i][0]);
		wire_put32(want + 8, values[i][1]);
		push(&o, WIRE_OPT_NOP, 1, NULL);
		push(&o, WIRE_OPT_NOP, 1, NULL);
		push(&o, WIRE_OPT_TS, 10, NULL);
		round_trip(&r, &o, want, sizeof(want));
		assert_int_equal(r.got.opt.has, WIRE_HAS_TS);
		assert_int_equal(r.got.opt.ts_val, values[i][0]);
		assert_int_equal(r.got.opt.ts_ecr, values[i][1]);
	}
}

/* RFC 7413 4.1.1: kind 34 with no cookie is a cookie request. */
static void test_tcp_opt_tfo_cookie_request(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { 0 };
	struct round_trip r;
	const uint8_t want[] = { 0x22, 0x02, 0x00, 0x00 };

	push(&o, WIRE_OPT_TFO, 2, NULL);
	round_trip(&r, &o, want, sizeof(want));
	assert_int_equal(r.got.opt.has, WIRE_HAS_TFO | WIRE_HAS_EOL);
	assert_int_equal(r.got.opt.tfo_cookie_len, 0);
}

/* RFC 7413 4.1.1: a cookie of 4 to 16 bytes; the length is even. */
static void test_tcp_opt_tfo_cookies_4_to_16(void **state)
{
	(void)state;
	const uint8_t cookie[16] = { 0xc0, 0x0c, 0x1e, 0x5a, 0x11, 0x22, 0x33, 0x44,
				     0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc };

	for (uint8_t clen = 4; clen <= WIRE_TFO_COOKIE_MAX; clen += 2) {
		struct wire_tcp_opts o = { 0 };
		struct round_trip r;
		uint8_t want[20];
		size_t len = ((size_t)clen + 2 + 3) & ~(size_t)3;

		push(&o, WIRE_OPT_TFO, (uint8_t)(clen + 2), cookie);
		memset(want, 0, sizeof(want));
		want[0] = 0x22;
		want[1] = (uint8_t)(clen + 2);
		memcpy(want + 2, cookie, clen);
		round_trip(&r, &o, want, len);
		assert_true(r.got.opt.has & WIRE_HAS_TFO);
		assert_int_equal(r.got.opt.has & ~(uint32_t)WIRE_HAS_EOL, WIRE_HAS_TFO);
		assert_int_equal(r.got.opt.tfo_cookie_len, clen);
		/* The cookie stays in the options area, where the list points. */
		assert_memory_equal(r.got.opt.raw + r.got.opt.list[0].off + 2, cookie, clen);
	}
}

/* RFC 2385 3.0: kind 19, length 18, a 16-byte digest, carried opaque. */
static void test_tcp_opt_md5(void **state)
{
	(void)state;
	const uint8_t digest[WIRE_MD5_LEN] = { 0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
					       0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e };
	struct wire_tcp_opts o = { 0 };
	struct round_trip r;
	uint8_t want[20] = { 0x01, 0x01, 0x13, 0x12 };

	memcpy(want + 4, digest, 16);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_MD5, 2 + WIRE_MD5_LEN, digest);
	round_trip(&r, &o, want, sizeof(want));
	assert_int_equal(r.got.opt.has, WIRE_HAS_MD5);
	expect_list(&r.got.opt, (const uint8_t[]){ 1, 1, WIRE_OPT_MD5 }, 3);
	assert_int_equal(r.got.opt.list[2].len, 18);
}

/* RFC 8684 3.1: MP_CAPABLE in a SYN/ACK, 12 bytes, carried opaque. */
static void test_tcp_opt_mptcp_opaque(void **state)
{
	(void)state;
	const uint8_t data[10] = { 0x01, 0x81, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	struct wire_tcp_opts o = { 0 };
	struct round_trip r;
	uint8_t want[12] = { 0x1e, 0x0c };

	memcpy(want + 2, data, sizeof(data));
	push(&o, WIRE_OPT_MPTCP, 12, data);
	round_trip(&r, &o, want, sizeof(want));
	assert_int_equal(r.got.opt.has, WIRE_HAS_MPTCP);
	expect_list(&r.got.opt, (const uint8_t[]){ WIRE_OPT_MPTCP }, 1);
	assert_int_equal(r.got.opt.list[0].len, 12);
}

/* Kinds the stack does not know are carried opaque, any length >= 2. */
static void test_tcp_opt_unknown_kinds_opaque(void **state)
{
	(void)state;
	const uint8_t exp[4] = { 0xf9, 0x89, 0xab, 0xcd }; /* RFC 6994 ExID and data */
	const uint8_t echo[4] = { 1, 2, 3, 4 };
	struct wire_tcp_opts o = { 0 };
	struct round_trip r;
	const uint8_t want[16] = { 0xfd, 0x06, 0xf9, 0x89, 0xab, 0xcd,
				   0x06, 0x06, 0x01, 0x02, 0x03, 0x04,
				   0xc8, 0x02, 0x00, 0x00 };

	push(&o, 253, 6, exp);
	push(&o, 6, 6, echo); /* RFC 1072 echo, obsolete */
	push(&o, 200, 2, NULL);
	round_trip(&r, &o, want, sizeof(want));
	assert_int_equal(r.got.opt.has, WIRE_HAS_UNKNOWN | WIRE_HAS_EOL);
	expect_list(&r.got.opt, (const uint8_t[]){ 253, 6, 200, WIRE_OPT_EOL }, 4);
	assert_int_equal(r.got.opt.list[0].len, 6);
	assert_int_equal(r.got.opt.list[1].len, 6);
	assert_int_equal(r.got.opt.list[2].len, 2);
}

/* -------------------------------------------------------- Linux layouts */

#define MSS_1460 0x02, 0x04, 0x05, 0xb4
#define SACK_OK 0x04, 0x02
#define TS_SYN 0x08, 0x0a, 0x2b, 0x3c, 0x4d, 0x5e, 0x00, 0x00, 0x00, 0x00
#define TS_EST 0x08, 0x0a, 0x2b, 0x3c, 0x4e, 0x00, 0x11, 0x22, 0x33, 0x44
#define NOP 0x01
#define WSCALE_7 0x03, 0x03, 0x07

/* Options with the values the layouts below carry. */
static struct wire_tcp_opts linux_values(void)
{
	return (struct wire_tcp_opts){ .mss = 1460, .wscale = 7, .ts_val = 0x2b3c4d5e, .ts_ecr = 0 };
}

static void expect_linux_values(const struct wire_tcp_opts *o, uint32_t has)
{
	assert_int_equal(o->has, has);
	if (has & WIRE_HAS_MSS)
		assert_int_equal(o->mss, 1460);
	if (has & WIRE_HAS_WSCALE)
		assert_int_equal(o->wscale, 7);
	if (has & WIRE_HAS_TS)
		assert_int_equal(o->ts_val, 0x2b3c4d5e);
}

/* A Linux SYN: <mss 1460,sackOK,TS val 0x2b3c4d5e ecr 0,nop,wscale 7>. */
static void test_tcp_opt_linux_syn_mss_sackok_ts_nop_wscale(void **state)
{
	(void)state;
	struct wire_tcp_opts o = linux_values();
	struct round_trip r;
	const uint8_t want[20] = { MSS_1460, SACK_OK, TS_SYN, NOP, WSCALE_7 };

	push(&o, WIRE_OPT_MSS, 4, NULL);
	push(&o, WIRE_OPT_SACK_PERM, 2, NULL);
	push(&o, WIRE_OPT_TS, 10, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_WSCALE, 3, NULL);
	round_trip(&r, &o, want, sizeof(want));
	expect_linux_values(&r.got.opt, WIRE_HAS_MSS | WIRE_HAS_SACK_PERM | WIRE_HAS_TS | WIRE_HAS_WSCALE);
	assert_int_equal(r.got.opt.ts_ecr, 0);
	expect_list(&r.got.opt, (const uint8_t[]){ 2, 4, 8, 1, 3 }, 5);
}

/* Without timestamps: <mss,nop,nop,sackOK,nop,wscale>. */
static void test_tcp_opt_linux_syn_mss_nop_nop_sackok_nop_wscale(void **state)
{
	(void)state;
	struct wire_tcp_opts o = linux_values();
	struct round_trip r;
	const uint8_t want[12] = { MSS_1460, NOP, NOP, SACK_OK, NOP, WSCALE_7 };

	push(&o, WIRE_OPT_MSS, 4, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_SACK_PERM, 2, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_WSCALE, 3, NULL);
	round_trip(&r, &o, want, sizeof(want));
	expect_linux_values(&r.got.opt, WIRE_HAS_MSS | WIRE_HAS_SACK_PERM | WIRE_HAS_WSCALE);
	expect_list(&r.got.opt, (const uint8_t[]){ 2, 1, 1, 4, 1, 3 }, 6);
}

/* Without SACK and timestamps: <mss,nop,wscale>. */
static void test_tcp_opt_linux_syn_mss_nop_wscale(void **state)
{
	(void)state;
	struct wire_tcp_opts o = linux_values();
	struct round_trip r;
	const uint8_t want[8] = { MSS_1460, NOP, WSCALE_7 };

	push(&o, WIRE_OPT_MSS, 4, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_WSCALE, 3, NULL);
	round_trip(&r, &o, want, sizeof(want));
	expect_linux_values(&r.got.opt, WIRE_HAS_MSS | WIRE_HAS_WSCALE);
	expect_list(&r.got.opt, (const uint8_t[]){ 2, 1, 3 }, 3);
}

/* Without window scaling and timestamps: <mss,nop,nop,sackOK>. */
static void test_tcp_opt_linux_syn_mss_nop_nop_sackok(void **state)
{
	(void)state;
	struct wire_tcp_opts o = linux_values();
	struct round_trip r;
	const uint8_t want[8] = { MSS_1460, NOP, NOP, SACK_OK };

	push(&o, WIRE_OPT_MSS, 4, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_SACK_PERM, 2, NULL);
	round_trip(&r, &o, want, sizeof(want));
	expect_linux_values(&r.got.opt, WIRE_HAS_MSS | WIRE_HAS_SACK_PERM);
	expect_list(&r.got.opt, (const uint8_t[]){ 2, 1, 1, 4 }, 4);
}

/* Without window scaling: <mss,sackOK,TS>. */
static void test_tcp_opt_linux_syn_mss_sackok_ts(void **state)
{
	(void)state;
	struct wire_tcp_opts o = linux_values();
	struct round_trip r;
	const uint8_t want[16] = { MSS_1460, SACK_OK, TS_SYN };

	push(&o, WIRE_OPT_MSS, 4, NULL);
	push(&o, WIRE_OPT_SACK_PERM, 2, NULL);
	push(&o, WIRE_OPT_TS, 10, NULL);
	round_trip(&r, &o, want, sizeof(want));
	expect_linux_values(&r.got.opt, WIRE_HAS_MSS | WIRE_HAS_SACK_PERM | WIRE_HAS_TS);
	expect_list(&r.got.opt, (const uint8_t[]){ 2, 4, 8 }, 3);
}

/* Every extension off: <mss>. */
static void test_tcp_opt_linux_syn_mss(void **state)
{
	(void)state;
	struct wire_tcp_opts o = linux_values();
	struct round_trip r;
	const uint8_t want[4] = { MSS_1460 };

	push(&o, WIRE_OPT_MSS, 4, NULL);
	round_trip(&r, &o, want, sizeof(want));
	expect_linux_values(&r.got.opt, WIRE_HAS_MSS);
	expect_list(&r.got.opt, (const uint8_t[]){ 2 }, 1);
}

/* Established, timestamps on: <nop,nop,TS val 0x2b3c4e00 ecr 0x11223344>. */
static void test_tcp_opt_linux_established_nop_nop_ts(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { .ts_val = 0x2b3c4e00, .ts_ecr = 0x11223344 };
	struct round_trip r;
	const uint8_t want[12] = { NOP, NOP, TS_EST };

	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_NOP, 1, NULL);
	push(&o, WIRE_OPT_TS, 10, NULL);
	round_trip(&r, &o, want, sizeof(want));
	assert_int_equal(r.got.opt.has, WIRE_HAS_TS);
	assert_int_equal(r.got.opt.ts_val, 0x2b3c4e00);
	assert_int_equal(r.got.opt.ts_ecr, 0x11223344);
	expect_list(&r.got.opt, (const uint8_t[]){ 1, 1, 8 }, 3);
}

/* ---------------------------------------------------------------- padding */

/* RFC 9293 3.1: the header is padded with zeros to a 32-bit boundary; zero is EOL. */
static void test_tcp_opt_padding_with_eol(void **state)
{
	(void)state;
	struct wire_tcp_opts o = linux_values();
	struct round_trip r;
	const uint8_t want[8] = { MSS_1460, WSCALE_7, 0x00 };

	push(&o, WIRE_OPT_MSS, 4, NULL);
	push(&o, WIRE_OPT_WSCALE, 3, NULL);
	round_trip(&r, &o, want, sizeof(want));
	expect_linux_values(&r.got.opt, WIRE_HAS_MSS | WIRE_HAS_WSCALE | WIRE_HAS_EOL);
	expect_list(&r.got.opt, (const uint8_t[]){ 2, 3, 0 }, 3);

	struct wire_tcp_opts ts = linux_values();
	const uint8_t want_ts[12] = { TS_SYN, 0x00, 0x00 };
	push(&ts, WIRE_OPT_TS, 10, NULL);
	round_trip(&r, &ts, want_ts, sizeof(want_ts));
	expect_linux_values(&r.got.opt, WIRE_HAS_TS | WIRE_HAS_EOL);
}

static void test_tcp_opt_size_rounds_up_to_words(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { 0 };
	const size_t sizes[] = { 4, 4, 4, 4, 8, 8, 8, 8, 12 };

	assert_int_equal(wire_tcp_opts_size(&o), 0);
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		push(&o, WIRE_OPT_NOP, 1, NULL);
		assert_int_equal(wire_tcp_opts_size(&o), sizes[i]);
	}
}

/* No options: a 20-byte header, data offset 5. */
static void test_tcp_opt_none(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { 0 };
	struct round_trip r;

	round_trip(&r, &o, (const uint8_t[1]){ 0 }, 0);
	assert_int_equal(r.got.opt.has, 0);
	assert_int_equal(r.got.opt.count, 0);
}

/* wire_tcp_opts_emit alone writes the padded options and stops there. */
static void test_tcp_opt_emit_alone(void **state)
{
	(void)state;
	struct wire_tcp_opts o = linux_values();
	uint8_t buf[12];
	const uint8_t want[8] = { MSS_1460, WSCALE_7, 0x00 };

	push(&o, WIRE_OPT_MSS, 4, NULL);
	push(&o, WIRE_OPT_WSCALE, 3, NULL);
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_tcp_opts_emit(&o, buf, 7), 0);
	assert_int_equal(wire_tcp_opts_emit(&o, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, want, 8);
	for (size_t i = 8; i < sizeof(buf); i++)
		assert_int_equal(buf[i], PATTERN);
}

/* ----------------------------------------------------------- re-emitting */

/* A segment written out by hand; its checksum is filled in over ph4(). */
static size_t hand_segment(uint8_t *buf, const uint8_t *opts, size_t opts_len, size_t payload_len)
{
	const uint8_t hdr[20] = { 0x01, 0xbb, 0x9c, 0x40, 0x12, 0x34, 0x56, 0x78,
				  0x9a, 0xbc, 0xde, 0xf0, 0x00, 0x18, 0x01, 0xf5, 0x00, 0x00, 0x00, 0x00 };
	struct wire_pseudo ph = ph4();
	size_t n = 20 + opts_len + payload_len;

	memcpy(buf, hdr, 20);
	buf[12] = (uint8_t)((20 + opts_len) / 4 << 4);
	memcpy(buf + 20, opts, opts_len);
	memcpy(buf + 20 + opts_len, PAYLOAD, payload_len);
	ph.len = (uint32_t)n;
	wire_put16(buf + 16, wire_l4_csum(&ph, buf, n));
	return n;
}

/* A parsed segment emits again byte for byte, checksum and all. */
static void expect_reemits(const uint8_t *opts, size_t opts_len)
{
	uint8_t in[20 + 40 + sizeof(PAYLOAD)], out[sizeof(in) + 8];
	struct wire_pseudo ph = ph4();
	struct wire_tcp t;
	size_t n = hand_segment(in, opts, opts_len, sizeof(PAYLOAD));

	ph.len = (uint32_t)n;
	assert_int_equal(wire_tcp_parse(&t, in, n, &ph), 0);
	/* As it came, checksum field included... */
	assert_int_equal(emit_segment(&t, out, sizeof(out), NULL), n);
	assert_memory_equal(out, in, n);
	/* ...and with the checksum computed again. */
	assert_int_equal(emit_segment(&t, out, sizeof(out), &ph), n);
	assert_memory_equal(out, in, n);
}

static void test_tcp_opt_parsed_segment_reemits_byte_for_byte(void **state)
{
	(void)state;
	const uint8_t syn[] = { MSS_1460, SACK_OK, TS_SYN, NOP, WSCALE_7 };
	const uint8_t est[] = { NOP, NOP, TS_EST };
	const uint8_t sack[] = { NOP, NOP, 0x05, 0x1a, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
				 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0x10 };
	const uint8_t opaque[] = { 0x13, 0x12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				   0x22, 0x06, 0xaa, 0xbb, 0xcc, 0xdd,
				   0x1e, 0x04, 0x20, 0x01,
				   0xfd, 0x04, 0xf9, 0x89,
				   0xc8, 0x02, NOP, NOP };
	const uint8_t eol[] = { MSS_1460, 0x00, 0x00, 0x00, 0x00 };
	const uint8_t sack_perm_eol[] = { SACK_OK, 0x00, 0x00 };

	expect_reemits(syn, sizeof(syn));
	expect_reemits(est, sizeof(est));
	expect_reemits(sack, sizeof(sack));
	expect_reemits(opaque, sizeof(opaque));
	expect_reemits(eol, sizeof(eol));
	expect_reemits(sack_perm_eol, sizeof(sack_perm_eol));
	expect_reemits((const uint8_t[1]){ 0 }, 0);
}

/* EOL followed by more than a word of zero padding: the header keeps its length. */
static void test_tcp_opt_parsed_segment_reemits_long_eol_padding(void **state)
{
	(void)state;
	const uint8_t eol_12[] = { MSS_1460, 0x00, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t eol_first[] = { 0x00, 0, 0, 0, 0, 0, 0, 0 };

	expect_reemits(eol_12, sizeof(eol_12));
	expect_reemits(eol_first, sizeof(eol_first));
}

/* An option wrong for its kind is carried through as it came. */
static void test_tcp_opt_parsed_segment_reemits_malformed_option(void **state)
{
	(void)state;
	const uint8_t mss_3[] = { 0x02, 0x03, 0x05, NOP };
	const uint8_t sack_11[] = { NOP, 0x05, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8, 9 };

	expect_reemits(mss_3, sizeof(mss_3));
	expect_reemits(sack_11, sizeof(sack_11));
}

/*
 * The same kind twice: the parse takes the last value (as Linux does), and
 * both still go out as they came.
 */
static void test_tcp_opt_parsed_duplicates_reemit_byte_for_byte(void **state)
{
	(void)state;
	const uint8_t mss_twice[] = { MSS_1460, 0x02, 0x04, 0x02, 0x18 };
	const uint8_t ts_twice[] = { NOP, NOP, TS_SYN, NOP, NOP, TS_EST };
	const uint8_t ws_twice[] = { NOP, 0x03, 0x03, 0x0e, NOP, WSCALE_7 };
	const uint8_t sack_twice[] = { NOP, NOP, 0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2,
				       NOP, NOP, 0x05, 0x0a, 0, 0, 0, 3, 0, 0, 0, 4 };
	struct wire_tcp_opts o;

	assert_int_equal(wire_tcp_opts_parse(&o, mss_twice, sizeof(mss_twice)), 0);
	assert_int_equal(o.mss, 0x0218);
	assert_int_equal(wire_tcp_opts_parse(&o, ts_twice, sizeof(ts_twice)), 0);
	assert_int_equal(o.ts_val, 0x2b3c4e00);
	assert_int_equal(wire_tcp_opts_parse(&o, sack_twice, sizeof(sack_twice)), 0);
	assert_int_equal(o.sack_count, 1);
	assert_int_equal(o.sack[0].left, 3);

	expect_reemits(mss_twice, sizeof(mss_twice));
	expect_reemits(ts_twice, sizeof(ts_twice));
	expect_reemits(ws_twice, sizeof(ws_twice));
	expect_reemits(sack_twice, sizeof(sack_twice));
}

/* A value changed in a parsed struct goes out changed (an MSS clamp, say); the rest as it came. */
static void test_tcp_opt_parsed_value_changed_reemits_new_value(void **state)
{
	(void)state;
	const uint8_t syn[20] = { MSS_1460, SACK_OK, TS_SYN, NOP, WSCALE_7 };
	const uint8_t want[20] = { 0x02, 0x04, 0x04, 0xb0, SACK_OK, TS_SYN, NOP, WSCALE_7 };
	uint8_t in[20 + 20], out[20 + 20 + 4];
	struct wire_tcp t;
	size_t n = hand_segment(in, syn, sizeof(syn), 0);

	assert_int_equal(wire_tcp_parse(&t, in, n, NULL), 0);
	t.opt.mss = 1200;
	assert_int_equal(emit_segment(&t, out, sizeof(out), NULL), n);
	assert_memory_equal(out, in, 20);
	assert_memory_equal(out + 20, want, sizeof(want));
}

/* wire_tcp_opts_parse alone may be given an area that is not whole words: emitting pads it. */
static void test_tcp_opt_parsed_area_of_odd_length_is_padded(void **state)
{
	(void)state;
	const uint8_t area[7] = { MSS_1460, 0x00, NOP, NOP };
	const uint8_t want[8] = { MSS_1460, 0x00, NOP, NOP, 0x00 };
	const uint8_t nops[5] = { NOP, NOP, NOP, NOP, NOP };
	const uint8_t want_nops[8] = { NOP, NOP, NOP, NOP, NOP, 0x00, 0x00, 0x00 };
	struct wire_tcp_opts o;
	uint8_t buf[12];

	assert_int_equal(wire_tcp_opts_parse(&o, area, sizeof(area)), 0);
	assert_int_equal(wire_tcp_opts_size(&o), 8);
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_tcp_opts_emit(&o, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, want, 8);
	assert_int_equal(buf[8], PATTERN);

	assert_int_equal(wire_tcp_opts_parse(&o, nops, sizeof(nops)), 0);
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_tcp_opts_emit(&o, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, want_nops, 8);
}

/* -------------------------------------------------------------- malformed */

/* Parses `opts` as the options of a whole segment (the TCP parser's path) and directly. */
static int parse_opts(struct wire_tcp *t, const uint8_t *opts, size_t len)
{
	uint8_t buf[20 + 40];
	struct wire_tcp_opts direct;

	assert_true(len % 4 == 0 && len <= 40);
	size_t n = hand_segment(buf, opts, len, 0);
	int err = wire_tcp_parse(t, buf, n, NULL);
	assert_int_equal(wire_tcp_opts_parse(&direct, opts, len), err);
	assert_int_equal(direct.has, t->opt.has);
	assert_int_equal(direct.count, t->opt.count);
	return err;
}

/* RFC 9293 3.1 (MUST-64): an option length of zero (or one) is illegal. */
static void test_tcp_opt_length_0_or_1(void **state)
{
	(void)state;
	const uint8_t cases[][8] = {
		{ 0x02, 0x00, 0x05, 0xb4 },
		{ 0x02, 0x01, 0x05, 0xb4 },
		{ NOP, NOP, 0x08, 0x00 },
		{ NOP, NOP, 0x08, 0x01 },
		{ MSS_1460, 0xfd, 0x00, 0x00, 0x00 },
		{ MSS_1460, 0xfd, 0x01, 0x00, 0x00 },
		{ 0x04, 0x00, 0x00, 0x00 },
	};
	const size_t lens[] = { 4, 4, 4, 4, 8, 8, 4 };

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct wire_tcp t;
		assert_int_equal(parse_opts(&t, cases[i], lens[i]), -WIRE_E_OPT_LEN);
	}
}

/* An option whose length runs past the header. */
static void test_tcp_opt_runs_past_header(void **state)
{
	(void)state;
	const uint8_t cases[][12] = {
		{ 0x08, 0x0a, 0x00, 0x00 },                                 /* TS in 4 bytes */
		{ NOP, 0x02, 0x04, 0x05 },                                  /* MSS one byte short */
		{ MSS_1460, NOP, NOP, 0x08, 0x0a, 0, 0, 0, 0 },             /* TS in 6 bytes */
		{ 0xfd, 0x05, 0xf9, 0x89 },
		{ 0x05, 0x0a, 0, 0, 0, 0, 0, 0 },                           /* SACK of 10 in 8 */
		{ MSS_1460, 0x13, 0x12, 0, 0, 0, 0, 0, 0 },                 /* MD5 of 18 in 8 */
	};
	const size_t lens[] = { 4, 4, 12, 4, 8, 12 };

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct wire_tcp t;
		assert_int_equal(parse_opts(&t, cases[i], lens[i]), -WIRE_E_OPT_PAST_END);
	}
}

/* A kind byte with no room for its length byte. */
static void test_tcp_opt_kind_alone_at_end(void **state)
{
	(void)state;
	const uint8_t cases[][8] = {
		{ NOP, NOP, NOP, 0x02 },
		{ NOP, NOP, NOP, 0x08 },
		{ MSS_1460, NOP, NOP, NOP, 0xfd },
	};
	const size_t lens[] = { 4, 4, 8 };

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct wire_tcp t;
		assert_int_equal(parse_opts(&t, cases[i], lens[i]), -WIRE_E_OPT_PAST_END);
	}
}

/*
 * The framing fits but the length is wrong for the kind: the option is listed
 * as malformed, its value is not taken, and the segment is still accepted.
 */
static void test_tcp_opt_wrong_length_for_kind(void **state)
{
	(void)state;
	const struct {
		uint8_t opts[20];
		uint8_t opts_len;
		uint8_t at;                   /* the malformed option's index in the list */
		uint8_t kind, len;
	} cases[] = {
		{ { 0x02, 0x03, 0x05, NOP }, 4, 0, WIRE_OPT_MSS, 3 },
		{ { 0x02, 0x06, 0x05, 0xb4, 0, 0, NOP, NOP }, 8, 0, WIRE_OPT_MSS, 6 },
		{ { 0x02, 0x02, NOP, NOP }, 4, 0, WIRE_OPT_MSS, 2 },
		{ { 0x03, 0x02, NOP, NOP }, 4, 0, WIRE_OPT_WSCALE, 2 },
		{ { 0x03, 0x04, 0x07, 0x00 }, 4, 0, WIRE_OPT_WSCALE, 4 },
		{ { 0x04, 0x03, 0x00, NOP }, 4, 0, WIRE_OPT_SACK_PERM, 3 },
		{ { 0x05, 0x02, NOP, NOP }, 4, 0, WIRE_OPT_SACK, 2 },
		{ { NOP, 0x05, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 12, 1, WIRE_OPT_SACK, 11 },
		{ { NOP, 0x05, 0x13, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 }, 20, 1, WIRE_OPT_SACK, 19 },
		{ { 0x08, 0x08, 1, 2, 3, 4, 5, 6 }, 8, 0, WIRE_OPT_TS, 8 },
		{ { 0x08, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 12, 0, WIRE_OPT_TS, 12 },
		{ { NOP, NOP, NOP, 0x13, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 }, 20, 3, WIRE_OPT_MD5, 17 },
		{ { 0x22, 0x03, 0xaa, NOP }, 4, 0, WIRE_OPT_TFO, 3 },      /* cookie of 1 */
		{ { 0x22, 0x04, 0xaa, 0xbb }, 4, 0, WIRE_OPT_TFO, 4 },     /* cookie of 2: below 4 */
		{ { 0x22, 0x07, 1, 2, 3, 4, 5, NOP }, 8, 0, WIRE_OPT_TFO, 7 }, /* odd length */
		{ { 0x22, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18 }, 20, 0, WIRE_OPT_TFO, 20 },
		{ { 0x1e, 0x02, NOP, NOP }, 4, 0, WIRE_OPT_MPTCP, 2 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct wire_tcp t;
		assert_int_equal(parse_opts(&t, cases[i].opts, cases[i].opts_len), 0);
		const struct wire_tcp_opt *e = &t.opt.list[cases[i].at];
		assert_int_equal(e->kind, cases[i].kind);
		assert_int_equal(e->len, cases[i].len);
		assert_true(e->malformed);
		for (size_t j = 0; j < t.opt.count; j++)
			if (j != cases[i].at)
				assert_false(t.opt.list[j].malformed);
		/* No value taken: no `has` bit and the value fields left at zero. */
		assert_int_equal(t.opt.has & ~(uint32_t)WIRE_HAS_EOL, 0);
		assert_int_equal(t.opt.mss, 0);
		assert_int_equal(t.opt.wscale, 0);
		assert_int_equal(t.opt.sack_count, 0);
		assert_int_equal(t.opt.ts_val, 0);
		assert_int_equal(t.opt.ts_ecr, 0);
		assert_int_equal(t.opt.tfo_cookie_len, 0);
	}
}

/* A malformed option does not hide the well-formed ones around it. */
static void test_tcp_opt_wrong_length_then_good_option(void **state)
{
	(void)state;
	const uint8_t opts[12] = { 0x02, 0x03, 0x05, MSS_1460, 0x03, 0x04, 0x0e, 0x00, NOP };
	struct wire_tcp t;

	assert_int_equal(parse_opts(&t, opts, sizeof(opts)), 0);
	assert_int_equal(t.opt.has, WIRE_HAS_MSS);
	assert_int_equal(t.opt.mss, 1460);
	assert_int_equal(t.opt.count, 4);
	assert_true(t.opt.list[0].malformed);
	assert_false(t.opt.list[1].malformed);
	assert_true(t.opt.list[2].malformed);
	assert_int_equal(t.opt.wscale, 0);
}

/* RFC 9293 3.2: EOL ends the option list; what follows is not interpreted. */
static void test_tcp_opt_after_eol_ignored(void **state)
{
	(void)state;
	const uint8_t cases[][8] = {
		{ 0x00, MSS_1460, NOP, NOP, NOP },
		{ MSS_1460, 0x00, 0x08, 0x0a, 0x01 },       /* an overlong TS after EOL */
		{ NOP, 0x00, 0xfd, 0x01 },                  /* a length of 1 after EOL */
		{ NOP, NOP, 0x00, 0x02 },                   /* a lone kind after EOL */
	};
	const size_t lens[] = { 4 + 4, 8, 4, 4 };
	const uint32_t has[] = { WIRE_HAS_EOL, WIRE_HAS_MSS | WIRE_HAS_EOL, WIRE_HAS_EOL, WIRE_HAS_EOL };
	const uint8_t counts[] = { 1, 2, 2, 3 };

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct wire_tcp t;
		assert_int_equal(parse_opts(&t, cases[i], lens[i]), 0);
		assert_int_equal(t.opt.has, has[i]);
		assert_int_equal(t.opt.count, counts[i]);
		assert_int_equal(t.opt.list[t.opt.count - 1].kind, WIRE_OPT_EOL);
	}
	struct wire_tcp t;
	parse_opts(&t, cases[0], lens[0]);
	assert_int_equal(t.opt.mss, 0);
}

/* ---------------------------------------------------------------- pushing */

/* RFC 9293 3.1: the data offset allows 40 bytes of options; more is refused. */
static void test_tcp_opt_push_more_than_40_refused(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { 0 };

	for (int i = 0; i < 4; i++)
		push(&o, WIRE_OPT_TS, 10, NULL);
	assert_int_equal(wire_tcp_opts_size(&o), 40);
	assert_false(wire_tcp_opt_push(&o, WIRE_OPT_NOP, 1, NULL));
	assert_false(wire_tcp_opt_push(&o, WIRE_OPT_EOL, 1, NULL));
	assert_false(wire_tcp_opt_push(&o, WIRE_OPT_SACK_PERM, 2, NULL));
	assert_int_equal(o.count, 4);
	assert_int_equal(wire_tcp_opts_size(&o), 40);

	struct wire_tcp_opts s = { .sack_count = 4 };
	push(&s, WIRE_OPT_SACK, 34, NULL);
	assert_false(wire_tcp_opt_push(&s, WIRE_OPT_TS, 10, NULL));
	assert_false(wire_tcp_opt_push(&s, 253, 7, (const uint8_t[5]){ 0 }));
	for (int i = 0; i < 6; i++)
		push(&s, WIRE_OPT_NOP, 1, NULL);
	assert_false(wire_tcp_opt_push(&s, WIRE_OPT_NOP, 1, NULL));
	assert_int_equal(s.count, 7);

	/* One option alone over 40 bytes. */
	struct wire_tcp_opts big = { 0 };
	uint8_t data[40] = { 0 };
	assert_false(wire_tcp_opt_push(&big, 253, 41, data));
	assert_true(wire_tcp_opt_push(&big, 253, 40, data));
}

static void test_tcp_opt_push_length_below_2_refused(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { 0 };

	assert_false(wire_tcp_opt_push(&o, WIRE_OPT_MSS, 0, NULL));
	assert_false(wire_tcp_opt_push(&o, WIRE_OPT_MSS, 1, NULL));
	assert_false(wire_tcp_opt_push(&o, 253, 1, NULL));
	assert_int_equal(o.count, 0);
}

/* RFC 9293 3.1: a data offset of 15 leaves 40 bytes for options; a longer area is refused. */
static void test_tcp_opt_area_over_40_bytes_refused(void **state)
{
	(void)state;
	uint8_t area[41];
	struct wire_tcp_opts o;

	memset(area, WIRE_OPT_NOP, sizeof(area));
	assert_int_equal(wire_tcp_opts_parse(&o, area, sizeof(area)), -WIRE_E_OPT_PAST_END);
	assert_int_equal(wire_tcp_opts_parse(&o, area, 40), 0);
	assert_int_equal(o.count, 40);
}

/* RFC 9293 3.1: only padding follows an EOL, so nothing is pushed after one. */
static void test_tcp_opt_push_after_eol_refused(void **state)
{
	(void)state;
	struct wire_tcp_opts o = { 0 };

	assert_true(wire_tcp_opt_push(&o, WIRE_OPT_NOP, 1, NULL));
	assert_true(wire_tcp_opt_push(&o, WIRE_OPT_EOL, 1, NULL));
	assert_false(wire_tcp_opt_push(&o, WIRE_OPT_MSS, 4, NULL));
	assert_false(wire_tcp_opt_push(&o, WIRE_OPT_NOP, 1, NULL));
	assert_int_equal(o.count, 2);
}

/* A struct filled by a parse borrows its bytes; it is not pushed to. */
static void test_tcp_opt_push_onto_parsed_refused(void **state)
{
	(void)state;
	const uint8_t opts[4] = { MSS_1460 };
	struct wire_tcp_opts o;

	assert_int_equal(wire_tcp_opts_parse(&o, opts, sizeof(opts)), 0);
	assert_false(wire_tcp_opt_push(&o, WIRE_OPT_NOP, 1, NULL));
	assert_int_equal(o.count, 1);
}

/* A known kind pushed with the wrong length cannot be encoded. */
static void test_tcp_opt_emit_refuses_wrong_length_for_kind(void **state)
{
	(void)state;
	const struct {
		uint8_t kind, len;
	} cases[] = {
		{ WIRE_OPT_MSS, 5 }, { WIRE_OPT_MSS, 2 }, { WIRE_OPT_WSCALE, 4 }, { WIRE_OPT_SACK, 11 },
		{ WIRE_OPT_SACK, 2 }, { WIRE_OPT_TS, 8 }, { WIRE_OPT_TS, 2 }, { WIRE_OPT_MD5, 10 },
		{ WIRE_OPT_TFO, 5 }, { WIRE_OPT_SACK_PERM, 3 },
	};
	const uint8_t data[20] = { 0 };

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct wire_tcp t = { .sport = 1, .dport = 2, .flags = WIRE_TCP_SYN };
		uint8_t buf[64];
		push(&t.opt, cases[i].kind, cases[i].len, data);
		assert_int_equal(wire_tcp_emit(&t, buf, sizeof(buf), NULL), 0);
	}
}

/* ------------------------------------------------------------ no overreads */

static int parse_exact_copy(struct wire_tcp_opts *o, const uint8_t *bytes, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, bytes, len);
	int err = wire_tcp_opts_parse(o, copy + (len ? 0 : 1), len);
	free(copy);
	return err;
}

/* Every prefix of a full options area, in a buffer of exactly that size. */
static void test_tcp_opt_parse_every_prefix_stays_in_bounds(void **state)
{
	(void)state;
	const uint8_t areas[][40] = {
		{ MSS_1460, SACK_OK, TS_SYN, NOP, WSCALE_7, 0x22, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8,
		  0x1e, 0x06, 1, 2, 3, 4, 0xfd, 0x04, 0xf9, 0x89 },
		{ NOP, NOP, 0x05, 0x22, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
		  0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8, NOP, NOP, NOP, NOP },
		{ 0x13, 0x12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, TS_EST,
		  0x02, 0x03, 0x05, 0x04, 0x03, 0x00, 0x22, 0x02, 0x03, 0x02, 0x00 },
	};

	for (size_t a = 0; a < ARRAY_LEN(areas); a++)
		for (size_t len = 0; len <= 40; len++) {
			struct wire_tcp_opts o;
			int err = parse_exact_copy(&o, areas[a], len);
			assert_true(err == 0 || err == -WIRE_E_OPT_LEN || err == -WIRE_E_OPT_PAST_END);
			if (len == 40)
				assert_int_equal(err, 0);
		}
}

/* Random small kinds and lengths, so framing is exercised at every offset. */
static void test_tcp_opt_parse_random_bytes_stay_in_bounds(void **state)
{
	(void)state;
	uint32_t x = 99;
	uint8_t bytes[40];

	for (int round = 0; round < 50000; round++) {
		for (size_t i = 0; i < sizeof(bytes); i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			bytes[i] = (uint8_t)((x >> 8) % 4 ? (x >> 16) % 36 : x);
		}
		size_t len = x % (sizeof(bytes) + 1);
		struct wire_tcp_opts o;
		int err = parse_exact_copy(&o, bytes, len);
		assert_true(err == 0 || err == -WIRE_E_OPT_LEN || err == -WIRE_E_OPT_PAST_END);
		if (err == 0) {
			/* The list tiles the bytes up to EOL or the end, and nothing past. */
			size_t used = 0;
			for (size_t i = 0; i < o.count; i++) {
				assert_int_equal(o.list[i].off, used);
				used += o.list[i].len;
			}
			assert_true(used <= len);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_opt_eol),
		cmocka_unit_test(test_tcp_opt_nop),
		cmocka_unit_test(test_tcp_opt_mss),
		cmocka_unit_test(test_tcp_opt_window_scale),
		cmocka_unit_test(test_tcp_opt_sack_permitted),
		cmocka_unit_test(test_tcp_opt_sack_1_to_4_blocks),
		cmocka_unit_test(test_tcp_opt_timestamps),
		cmocka_unit_test(test_tcp_opt_tfo_cookie_request),
		cmocka_unit_test(test_tcp_opt_tfo_cookies_4_to_16),
		cmocka_unit_test(test_tcp_opt_md5),
		cmocka_unit_test(test_tcp_opt_mptcp_opaque),
		cmocka_unit_test(test_tcp_opt_unknown_kinds_opaque),
		cmocka_unit_test(test_tcp_opt_linux_syn_mss_sackok_ts_nop_wscale),
		cmocka_unit_test(test_tcp_opt_linux_syn_mss_nop_nop_sackok_nop_wscale),
		cmocka_unit_test(test_tcp_opt_linux_syn_mss_nop_wscale),
		cmocka_unit_test(test_tcp_opt_linux_syn_mss_nop_nop_sackok),
		cmocka_unit_test(test_tcp_opt_linux_syn_mss_sackok_ts),
		cmocka_unit_test(test_tcp_opt_linux_syn_mss),
		cmocka_unit_test(test_tcp_opt_linux_established_nop_nop_ts),
		cmocka_unit_test(test_tcp_opt_padding_with_eol),
		cmocka_unit_test(test_tcp_opt_size_rounds_up_to_words),
		cmocka_unit_test(test_tcp_opt_none),
		cmocka_unit_test(test_tcp_opt_emit_alone),
		cmocka_unit_test(test_tcp_opt_parsed_segment_reemits_byte_for_byte),
		cmocka_unit_test(test_tcp_opt_parsed_segment_reemits_long_eol_padding),
		cmocka_unit_test(test_tcp_opt_parsed_segment_reemits_malformed_option),
		cmocka_unit_test(test_tcp_opt_parsed_duplicates_reemit_byte_for_byte),
		cmocka_unit_test(test_tcp_opt_parsed_value_changed_reemits_new_value),
		cmocka_unit_test(test_tcp_opt_parsed_area_of_odd_length_is_padded),
		cmocka_unit_test(test_tcp_opt_length_0_or_1),
		cmocka_unit_test(test_tcp_opt_runs_past_header),
		cmocka_unit_test(test_tcp_opt_kind_alone_at_end),
		cmocka_unit_test(test_tcp_opt_wrong_length_for_kind),
		cmocka_unit_test(test_tcp_opt_wrong_length_then_good_option),
		cmocka_unit_test(test_tcp_opt_after_eol_ignored),
		cmocka_unit_test(test_tcp_opt_push_more_than_40_refused),
		cmocka_unit_test(test_tcp_opt_push_length_below_2_refused),
		cmocka_unit_test(test_tcp_opt_area_over_40_bytes_refused),
		cmocka_unit_test(test_tcp_opt_push_after_eol_refused),
		cmocka_unit_test(test_tcp_opt_push_onto_parsed_refused),
		cmocka_unit_test(test_tcp_opt_emit_refuses_wrong_length_for_kind),
		cmocka_unit_test(test_tcp_opt_parse_every_prefix_stays_in_bounds),
		cmocka_unit_test(test_tcp_opt_parse_random_bytes_stay_in_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
