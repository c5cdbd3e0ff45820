/*
 * IPv6 (RFC 8200): the fixed header, and the extension headers walked to the
 * upper layer (4.1 order, 4.3 hop-by-hop, 4.4 routing, 4.5 fragment, 4.6
 * destination options), and the pseudo-header of 8.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"

#define PATTERN 0xa5

/* 2001:db8::1 and 2001:db8::2 (RFC 3849). */
static const uint8_t SRC[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t DST[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

/* ------------------------------------------------------- a packet builder */

struct pkt {
	uint8_t b[1024];
	size_t len;
	size_t next_at;               /* where the last next-header field is */
};

/* The fixed header; Payload Length is set by pkt_upper(). */
static void pkt_start(struct pkt *p)
{
	struct wire_ipv6 ip = { .tclass = 0, .flow = 0x54321, .hlim = 64 };
	memcpy(ip.src, SRC, 16);
	memcpy(ip.dst, DST, 16);
	memset(p->b, PATTERN, sizeof(p->b));
	assert_int_equal(wire_ipv6_emit(&ip, p->b, sizeof(p->b)), WIRE_IPV6_HDR_LEN);
	p->len = WIRE_IPV6_HDR_LEN;
	p->next_at = 6;
}

/* Links a header of `type` at the end and returns where it starts. */
static uint8_t *pkt_link(struct pkt *p, uint8_t type, size_t len)
{
	uint8_t *h = p->b + p->len;
	assert_true(p->len + len <= sizeof(p->b));
	p->b[p->next_at] = type;
	p->next_at = p->len;
	p->len += len;
	return h;
}

/*
 * Hop-by-hop or destination options (RFC 8200 4.3, 4.6): Hdr Ext Len counts
 * 8-octet units beyond the first, and the options are one PadN filling it.
 */
static void pkt_options(struct pkt *p, uint8_t type, size_t units)
{
	size_t len = (units + 1) * 8;
	uint8_t *h = pkt_link(p, type, len);
	h[1] = (uint8_t)units;
	h[2] = 1;                    /* PadN */
	h[3] = (uint8_t)(len - 4);
	memset(h + 4, 0, len - 4);
}

/* A routing header (RFC 8200 4.4): type 0 is deprecated, type 4 is SRH; 2 units of data. */
static void pkt_routing(struct pkt *p)
{
	uint8_t *h = pkt_link(p, WIRE_PROTO_ROUTING, 24);
	h[1] = 2;
	h[2] = 4;                    /* Routing Type */
	h[3] = 0;                    /* Segments Left */
	memset(h + 4, 0x11, 20);
}

/* A fragment header (RFC 8200 4.5): offset in 8-octet units, M flag, identification. */
static void pkt_fragment(struct pkt *p, uint16_t offset, bool more, uint32_t id)
{
	uint8_t *h = pkt_link(p, WIRE_PROTO_FRAGMENT, 8);
	h[1] = 0;
	wire_put16(h + 2, (uint16_t)(offset | more));
	wire_put32(h + 4, id);
}

/* The upper layer: `n` bytes of `proto`; Payload Length covers all after the fixed header. */
static void pkt_upper(struct pkt *p, uint8_t proto, size_t n)
{
	uint8_t *h = pkt_link(p, proto, n);
	for (size_t i = 0; i < n; i++)
		h[i] = (uint8_t)(0x30 + i);
	wire_put16(p->b + 4, (uint16_t)(p->len - WIRE_IPV6_HDR_LEN));
}

static void expect_upper(const struct wire_ipv6 *ip, const struct pkt *p, size_t at, uint8_t proto)
{
	assert_int_equal(ip->proto, proto);
	assert_ptr_equal(ip->payload, p->b + at);
	assert_int_equal(ip->payload_len, p->len - at);
	assert_int_equal(ip->missing, 0);
	assert_int_equal(ip->plen, p->len - WIRE_IPV6_HDR_LEN);
}

/* --------------------------------------------------------- fixed header */

static void test_ipv6_emit_fixed_header_bytes(void **state)
{
	(void)state;
	struct wire_ipv6 ip = { .tclass = 0xb8, .flow = 0x12345, .plen = 20, .next = WIRE_PROTO_TCP, .hlim = 64 };
	uint8_t buf[44];
	const uint8_t want[8] = { 0x6b, 0x81, 0x23, 0x45, 0x00, 0x14, 0x06, 0x40 };

	memcpy(ip.src, SRC, 16);
	memcpy(ip.dst, DST, 16);
	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_ipv6_emit(&ip, buf, sizeof(buf)), 40);
	assert_memory_equal(buf, want, 8);
	assert_memory_equal(buf + 8, SRC, 16);
	assert_memory_equal(buf + 24, DST, 16);
	assert_int_equal(buf[40], PATTERN);
}

static void test_ipv6_emit_parse_every_field(void **state)
{
	(void)state;
	const uint8_t tclasses[] = { 0x00, 0x01, 0x02, 0xb8, 0xff };
	const uint32_t flows[] = { 0x00000, 0x00001, 0x12345, 0x80000, 0xfffff };
	const uint8_t hlims[] = { 0, 1, 64, 255 };
	const uint16_t plens[] = { 1, 20, 100 };
	uint8_t buf[40 + 100];

	for (size_t a = 0; a < sizeof(tclasses); a++)
		for (size_t b = 0; b < sizeof(flows) / sizeof(flows[0]); b++)
			for (size_t c = 0; c < sizeof(hlims); c++)
				for (size_t d = 0; d < sizeof(plens) / sizeof(plens[0]); d++) {
					struct wire_ipv6 ip = { .tclass = tclasses[a], .flow = flows[b],
								.plen = plens[d], .next = WIRE_PROTO_TCP,
								.hlim = hlims[c] };
					memcpy(ip.src, SRC, 16);
					memcpy(ip.dst, DST, 16);
					ip.src[15] = (uint8_t)(a * 16 + b);
					ip.dst[0] = (uint8_t)(c * 16 + d);
					memset(buf, PATTERN, sizeof(buf));
					assert_int_equal(wire_ipv6_emit(&ip, buf, sizeof(buf)), 40);

					struct wire_ipv6 got;
					size_t n = 40 + plens[d];
					assert_int_equal(wire_ipv6_parse(&got, buf, n), 0);
					assert_int_equal(got.tclass, ip.tclass);
					assert_int_equal(got.flow, ip.flow);
					assert_int_equal(got.plen, ip.plen);
					assert_int_equal(got.next, WIRE_PROTO_TCP);
					assert_int_equal(got.hlim, ip.hlim);
					assert_memory_equal(got.src, ip.src, 16);
					assert_memory_equal(got.dst, ip.dst, 16);
					assert_int_equal(got.n_ext, 0);
					assert_false(got.fragmented);
					assert_int_equal(got.proto, WIRE_PROTO_TCP);
					assert_ptr_equal(got.payload, buf + 40);
					assert_int_equal(got.payload_len, plens[d]);
					assert_int_equal(got.missing, 0);
				}
}

/* The flow label is 20 bits: a wider value cannot be encoded. */
static void test_ipv6_emit_refuses_what_cannot_be_encoded(void **state)
{
	(void)state;
	struct wire_ipv6 ip = { .flow = 0x100000, .plen = 20, .next = WIRE_PROTO_TCP, .hlim = 64 };
	uint8_t buf[40];

	memset(buf, PATTERN, sizeof(buf));
	assert_int_equal(wire_ipv6_emit(&ip, buf, sizeof(buf)), 0);
	ip.flow = 0;
	assert_int_equal(wire_ipv6_emit(&ip, buf, 39), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], PATTERN);
}

/* ---------------------------------------------------- extension headers */

static void test_ipv6_parse_hop_by_hop(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	assert_int_equal(ip.next, WIRE_PROTO_HOPOPTS);
	assert_int_equal(ip.n_ext, 1);
	assert_int_equal(ip.ext[0].type, WIRE_PROTO_HOPOPTS);
	assert_int_equal(ip.ext[0].len, 8);
	assert_ptr_equal(ip.ext[0].data, p.b + 40);
	assert_false(ip.fragmented);
	expect_upper(&ip, &p, 48, WIRE_PROTO_TCP);
}

/* Hdr Ext Len is in 8-octet units, not including the first 8 octets. */
static void test_ipv6_parse_hop_by_hop_long(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 3);
	pkt_upper(&p, WIRE_PROTO_UDP, 8);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	assert_int_equal(ip.n_ext, 1);
	assert_int_equal(ip.ext[0].len, 32);
	expect_upper(&ip, &p, 72, WIRE_PROTO_UDP);
}

static void test_ipv6_parse_routing(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_routing(&p);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	assert_int_equal(ip.n_ext, 1);
	assert_int_equal(ip.ext[0].type, WIRE_PROTO_ROUTING);
	assert_int_equal(ip.ext[0].len, 24);
	assert_ptr_equal(ip.ext[0].data, p.b + 40);
	expect_upper(&ip, &p, 64, WIRE_PROTO_TCP);
}

static void test_ipv6_parse_fragment(void **state)
{
	(void)state;
	const struct {
		uint16_t offset;
		bool more;
		uint32_t id;
	} cases[] = {
		{ 0, true, 0x00000000 },
		{ 1480, true, 0xdeadbeef },
		{ 8, false, 0x00000001 },
		{ 65528, false, 0xffffffff }, /* 8191 units: the largest offset */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt p;
		struct wire_ipv6 ip;
		pkt_start(&p);
		pkt_fragment(&p, cases[i].offset, cases[i].more, cases[i].id);
		pkt_upper(&p, WIRE_PROTO_TCP, 16);
		assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
		assert_int_equal(ip.n_ext, 1);
		assert_int_equal(ip.ext[0].type, WIRE_PROTO_FRAGMENT);
		assert_int_equal(ip.ext[0].len, 8);
		assert_true(ip.fragmented);
		assert_int_equal(ip.frag_offset, cases[i].offset);
		assert_int_equal(ip.frag_more, cases[i].more);
		assert_int_equal(ip.frag_id, cases[i].id);
		expect_upper(&ip, &p, 48, WIRE_PROTO_TCP);
	}
}

/*
 * RFC 8200 4.5: the fragment header is 8 octets whatever its second byte says
 * (Reserved), and the two Res bits beside M are ignored.
 */
static void test_ipv6_parse_fragment_reserved_bits_ignored(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_fragment(&p, 1480, false, 7);
	p.b[41] = 0xff;
	p.b[43] |= 0x06;
	pkt_upper(&p, WIRE_PROTO_TCP, 16);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	assert_int_equal(ip.ext[0].len, 8);
	assert_int_equal(ip.frag_offset, 1480);
	assert_false(ip.frag_more);
	expect_upper(&ip, &p, 48, WIRE_PROTO_TCP);
}

static void test_ipv6_parse_destination_options(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 1);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	assert_int_equal(ip.n_ext, 1);
	assert_int_equal(ip.ext[0].type, WIRE_PROTO_DSTOPTS);
	assert_int_equal(ip.ext[0].len, 16);
	expect_upper(&ip, &p, 56, WIRE_PROTO_TCP);
}

/* RFC 8200 4.1: the recommended order, every kind at once. */
static void test_ipv6_parse_recommended_order(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);   /* 40..48 */
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 1);   /* 48..64 */
	pkt_routing(&p);                          /* 64..88 */
	pkt_fragment(&p, 0, true, 0x01020304);    /* 88..96, the first fragment */
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);   /* 96..104 */
	pkt_upper(&p, WIRE_PROTO_TCP, 32);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);

	const uint8_t types[] = { WIRE_PROTO_HOPOPTS, WIRE_PROTO_DSTOPTS, WIRE_PROTO_ROUTING,
				  WIRE_PROTO_FRAGMENT, WIRE_PROTO_DSTOPTS };
	const uint16_t lens[] = { 8, 16, 24, 8, 8 };
	const size_t offs[] = { 40, 48, 64, 88, 96 };
	assert_int_equal(ip.n_ext, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(ip.ext[i].type, types[i]);
		assert_int_equal(ip.ext[i].len, lens[i]);
		assert_ptr_equal(ip.ext[i].data, p.b + offs[i]);
	}
	assert_true(ip.fragmented);
	assert_int_equal(ip.frag_offset, 0);
	assert_true(ip.frag_more);
	assert_int_equal(ip.frag_id, 0x01020304);
	assert_int_equal(ip.n_ext_unfrag, 3);
	assert_int_equal(ip.unfrag_len, 48);
	assert_int_equal(ip.frag_next, WIRE_PROTO_DSTOPTS);
	assert_ptr_equal(ip.frag_data, p.b + 96);
	assert_int_equal(ip.frag_data_len, p.len - 96);
	expect_upper(&ip, &p, 104, WIRE_PROTO_TCP);
}

/*
 * RFC 8200 4.5: behind the Fragment header of a later fragment is the middle
 * of the fragmentable part, whatever Next Header names: the walk stops there,
 * and the fragment's data is not read as a header (these bytes would not
 * parse as one).
 */
static void test_ipv6_parse_later_fragment_data_not_walked(void **state)
{
	(void)state;
	const uint8_t nexts[] = { WIRE_PROTO_DSTOPTS, WIRE_PROTO_TCP, WIRE_PROTO_ROUTING, WIRE_PROTO_HOPOPTS };
	for (size_t i = 0; i < sizeof(nexts); i++) {
		struct pkt p;
		struct wire_ipv6 ip;
		pkt_start(&p);
		pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);   /* 40..48 */
		pkt_fragment(&p, 1448, true, 9);          /* 48..56 */
		pkt_upper(&p, nexts[i], 24);              /* 0x30 0x31 ...: a Hdr Ext Len of 49 units */
		assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
		assert_int_equal(ip.n_ext, 2);
		assert_int_equal(ip.n_ext_unfrag, 1);
		assert_int_equal(ip.unfrag_len, 8);
		assert_int_equal(ip.frag_next, nexts[i]);
		assert_ptr_equal(ip.frag_data, p.b + 56);
		assert_int_equal(ip.frag_data_len, 24);
		expect_upper(&ip, &p, 56, nexts[i]);
	}
}

/* The same bytes as a first fragment are walked, and here fail as the header they claim to be. */
static void test_ipv6_parse_first_fragment_walked(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;
	pkt_start(&p);
	pkt_fragment(&p, 0, true, 9);
	pkt_upper(&p, WIRE_PROTO_DSTOPTS, 24);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_HDR);
}

/* RFC 8200 4.1: a second Fragment header is refused. */
static void test_ipv6_parse_two_fragment_headers(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;
	pkt_start(&p);
	pkt_fragment(&p, 0, true, 9);
	pkt_fragment(&p, 0, false, 10);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_CHAIN);
}

/*
 * RFC 8200 4.5: the reassembled packet's header is the first fragment's
 * unfragmentable part, with the Next Header that named the Fragment header
 * naming what follows it, and a new Payload Length.
 */
static void test_ipv6_emit_unfragmentable(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;
	uint8_t out[256];

	/* No extension header before: the fixed header's Next Header changes. */
	pkt_start(&p);
	pkt_fragment(&p, 0, true, 9);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	memset(out, PATTERN, sizeof(out));
	assert_int_equal(wire_ipv6_emit_unfragmentable(&ip, 3000, out, sizeof(out)), 40);
	assert_int_equal(out[6], WIRE_PROTO_TCP);
	assert_int_equal(wire_get16(out + 4), 3000);
	assert_memory_equal(out + 8, p.b + 8, 32);
	assert_int_equal(out[40], PATTERN);

	/* Hop-by-hop and routing before: the last of them changes, the rest are copied. */
	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);   /* 40..48 */
	pkt_routing(&p);                          /* 48..72 */
	pkt_fragment(&p, 0, true, 9);             /* 72..80 */
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	memset(out, PATTERN, sizeof(out));
	assert_int_equal(wire_ipv6_emit_unfragmentable(&ip, 60, out, sizeof(out)), 72);
	assert_int_equal(out[6], WIRE_PROTO_HOPOPTS);
	assert_int_equal(out[40], WIRE_PROTO_ROUTING);
	assert_int_equal(out[48], WIRE_PROTO_DSTOPTS);
	assert_memory_equal(out + 49, p.b + 49, 23);
	assert_int_equal(out[72], PATTERN);
	assert_int_equal(wire_ipv6_emit_unfragmentable(&ip, 60, out, 71), 0);

	/* Not a fragment: nothing. */
	pkt_start(&p);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	assert_int_equal(wire_ipv6_emit_unfragmentable(&ip, 60, out, sizeof(out)), 0);
}

/* Other orders are walked too: only hop-by-hop has a fixed place. */
static void test_ipv6_parse_other_orders(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_fragment(&p, 0, true, 9);
	pkt_routing(&p);
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_ICMPV6, 8);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	assert_int_equal(ip.n_ext, 4);
	assert_int_equal(ip.ext[0].type, WIRE_PROTO_FRAGMENT);
	assert_int_equal(ip.ext[1].type, WIRE_PROTO_ROUTING);
	assert_int_equal(ip.ext[3].type, WIRE_PROTO_DSTOPTS);
	expect_upper(&ip, &p, 40 + 8 + 24 + 8 + 8, WIRE_PROTO_ICMPV6);
}

/* Next Header 59: nothing follows; the bytes there are left as the payload. */
static void test_ipv6_parse_no_next_header(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_NONE, 4);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	expect_upper(&ip, &p, 48, WIRE_PROTO_NONE);
}

/* RFC 8200 4.1: the Hop-by-Hop Options header, when present, must immediately follow the IPv6 header. */
static void test_ipv6_parse_hop_by_hop_not_first(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_CHAIN);
	assert_int_equal(ip.flow, 0x54321);

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_CHAIN);

	pkt_start(&p);
	pkt_fragment(&p, 0, true, 1);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_CHAIN);
}

static void test_ipv6_parse_max_extension_headers(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	/* WIRE_IPV6_MAX_EXT headers are walked... */
	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	for (int i = 1; i < WIRE_IPV6_MAX_EXT; i++)
		pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	assert_int_equal(ip.n_ext, WIRE_IPV6_MAX_EXT);
	expect_upper(&ip, &p, 40 + 8 * WIRE_IPV6_MAX_EXT, WIRE_PROTO_TCP);

	/* ...one more is refused, whatever its kind. */
	const uint8_t kinds[] = { WIRE_PROTO_DSTOPTS, WIRE_PROTO_ROUTING, WIRE_PROTO_FRAGMENT };
	for (size_t k = 0; k < sizeof(kinds); k++) {
		pkt_start(&p);
		for (int i = 0; i < WIRE_IPV6_MAX_EXT; i++)
			pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
		if (kinds[k] == WIRE_PROTO_ROUTING)
			pkt_routing(&p);
		else if (kinds[k] == WIRE_PROTO_FRAGMENT)
			pkt_fragment(&p, 0, false, 1);
		else
			pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
		pkt_upper(&p, WIRE_PROTO_TCP, 20);
		assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_CHAIN);
		assert_int_equal(ip.n_ext, WIRE_IPV6_MAX_EXT);
	}
}

/* An extension header whose length runs past the payload. */
static void test_ipv6_parse_extension_header_past_end(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	/* Hdr Ext Len says 16 bytes; the payload has 8. */
	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 0);
	p.b[41] = 1;
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_HDR);

	/* Fewer than 8 bytes left for the next extension header. */
	for (size_t plen = 1; plen < 8; plen++) {
		pkt_start(&p);
		pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
		wire_put16(p.b + 4, (uint16_t)plen);
		assert_int_equal(wire_ipv6_parse(&ip, p.b, 40 + plen), -WIRE_E_EXT_HDR);
	}

	/* The second header runs past the end. */
	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_routing(&p);
	pkt_upper(&p, WIRE_PROTO_TCP, 0);
	p.b[49] = 3;
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_HDR);
	assert_int_equal(ip.n_ext, 1);

	/* A fragment header cut short. */
	pkt_start(&p);
	pkt_fragment(&p, 0, true, 1);
	wire_put16(p.b + 4, 6);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, 46), -WIRE_E_EXT_HDR);
}

/* Payload Length bounds the walk: bytes past it (link padding) are not an extension header. */
static void test_ipv6_parse_extension_header_past_payload_length(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 1);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	wire_put16(p.b + 4, 8); /* says the 16-byte header is 8 bytes of payload */
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_HDR);
}

/* ------------------------------------------------------------ malformed */

static void test_ipv6_parse_truncated(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	for (size_t len = 0; len < WIRE_IPV6_HDR_LEN; len++)
		assert_int_equal(wire_ipv6_parse(&ip, p.b, len), -WIRE_E_TRUNCATED);
}

static void test_ipv6_parse_version_not_6(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;
	const uint8_t versions[] = { 0, 4, 5, 7, 15 };

	for (size_t i = 0; i < sizeof(versions); i++) {
		pkt_start(&p);
		pkt_upper(&p, WIRE_PROTO_TCP, 20);
		p.b[0] = (uint8_t)(versions[i] << 4 | (p.b[0] & 0x0f));
		assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_VERSION);
	}
}

/* A Payload Length past the buffer: a truncated capture; what is there is described. */
static void test_ipv6_parse_payload_length_past_buffer(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	wire_put16(p.b + 4, 1000);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_TOTAL_LEN);
	assert_int_equal(ip.plen, 1000);
	assert_int_equal(ip.missing, 1000 - 28);
	assert_int_equal(ip.flow, 0x54321);
	assert_int_equal(ip.hlim, 64);
	assert_memory_equal(ip.src, SRC, 16);
	assert_memory_equal(ip.dst, DST, 16);
	assert_int_equal(ip.n_ext, 1);
	assert_int_equal(ip.proto, WIRE_PROTO_TCP);
	assert_ptr_equal(ip.payload, p.b + 48);
	assert_int_equal(ip.payload_len, 20);

	/* One byte short. */
	pkt_start(&p);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len - 1), -WIRE_E_TOTAL_LEN);
	assert_int_equal(ip.missing, 1);
	assert_int_equal(ip.payload_len, 19);
}

/* Bytes past the Payload Length (Ethernet padding) are not payload. */
static void test_ipv6_parse_link_padding_is_not_payload(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_upper(&p, WIRE_PROTO_TCP, 4);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len + 30), 0);
	expect_upper(&ip, &p, 40, WIRE_PROTO_TCP);
}

/* -------------------------------------------------------- pseudo-header */

/* RFC 8200 8.1: the Upper-Layer Packet Length excludes the extension headers. */
static void test_ipv6_pseudo_excludes_extension_headers(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;
	struct wire_pseudo ph;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 1);
	pkt_fragment(&p, 0, false, 5);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	memset(&ph, PATTERN, sizeof(ph));
	wire_ipv6_pseudo(&ip, &ph);
	assert_int_equal(ph.family, 6);
	assert_int_equal(ph.proto, WIRE_PROTO_TCP);
	assert_memory_equal(ph.src, SRC, 16);
	assert_memory_equal(ph.dst, DST, 16);
	assert_int_equal(ph.len, 20);

	pkt_start(&p);
	pkt_upper(&p, WIRE_PROTO_TCP, 33);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	wire_ipv6_pseudo(&ip, &ph);
	assert_int_equal(ph.len, 33);
}

/* The whole path: a TCP segment behind extension headers verifies with the pseudo-header. */
static void test_ipv6_pseudo_verifies_tcp_behind_extension_headers(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;
	struct wire_pseudo ph;
	struct wire_tcp seg = { .sport = 443, .dport = 50000, .seq = 1, .ack = 2,
				.flags = WIRE_TCP_ACK, .wnd = 100 };
	struct wire_tcp got;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
	uint8_t *tcp = pkt_link(&p, WIRE_PROTO_TCP, 20);
	wire_put16(p.b + 4, (uint16_t)(p.len - 40));

	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
	wire_ipv6_pseudo(&ip, &ph);
	assert_int_equal(wire_tcp_emit(&seg, tcp, 20, &ph), 20);
	assert_int_equal(ph.len, 20);
	assert_int_equal(wire_tcp_parse(&got, ip.payload, ip.payload_len, &ph), 0);
}

/* ------------------------------------------------------------ no overreads */

static int parse_exact_copy(struct wire_ipv6 *ip, const uint8_t *bytes, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, bytes, len);
	int err = wire_ipv6_parse(ip, copy + (len ? 0 : 1), len);
	free(copy);
	return err;
}

/* Every prefix of a packet with every kind of extension header, in a buffer of exactly that size. */
static void test_ipv6_parse_every_prefix_stays_in_bounds(void **state)
{
	(void)state;
	struct pkt p;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 1);
	pkt_routing(&p);
	pkt_fragment(&p, 0, true, 3);
	pkt_options(&p, WIRE_PROTO_DSTOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 24);
	for (size_t len = 0; len <= p.len; len++) {
		struct wire_ipv6 ip;
		int err = parse_exact_copy(&ip, p.b, len);
		assert_true(err <= 0 && err > -WIRE_E_COUNT);
		assert_int_equal(err == 0, len == p.len);
	}
}

/* Random bytes behind a valid fixed header, with random next-header values. */
static void test_ipv6_parse_random_bytes_stay_in_bounds(void **state)
{
	(void)state;
	uint32_t x = 777;
	uint8_t bytes[160];
	const uint8_t nexts[] = { WIRE_PROTO_HOPOPTS, WIRE_PROTO_ROUTING, WIRE_PROTO_FRAGMENT,
				  WIRE_PROTO_DSTOPTS, WIRE_PROTO_TCP };

	for (int round = 0; round < 20000; round++) {
		for (size_t i = 0; i < sizeof(bytes); i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			bytes[i] = (uint8_t)x;
		}
		size_t len = x % (sizeof(bytes) + 1);
		bytes[0] = (uint8_t)(0x60 | (bytes[0] & 0x0f));
		if (round % 2)
			wire_put16(bytes + 4, (uint16_t)(len > 40 ? len - 40 : 0));
		bytes[6] = nexts[round % 5];
		/* Make the extension headers chain into each other now and then. */
		for (size_t i = 40; i + 1 < sizeof(bytes); i += 8)
			if (bytes[i] % 2) {
				bytes[i] = nexts[bytes[i] % 5];
				bytes[i + 1] &= 3;
			}
		struct wire_ipv6 ip;
		int err = parse_exact_copy(&ip, bytes, len);
		assert_true(err <= 0 && err > -WIRE_E_COUNT);
	}
}

/* A Payload Length of 0 with nothing after the header is an empty packet, not an error. */
static void test_ipv6_parse_empty_packet(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	p.b[6] = WIRE_PROTO_NONE;
	wire_put16(p.b + 4, 0);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, WIRE_IPV6_HDR_LEN), 0);
	assert_int_equal(ip.proto, WIRE_PROTO_NONE);
	assert_int_equal(ip.payload_len, 0);
}

/* A jumbogram (RFC 2675: Payload Length 0, a hop-by-hop header) is refused: no room for the header. */
static void test_ipv6_parse_jumbogram_refused(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_ipv6 ip;

	pkt_start(&p);
	pkt_options(&p, WIRE_PROTO_HOPOPTS, 0);
	pkt_upper(&p, WIRE_PROTO_TCP, 20);
	wire_put16(p.b + 4, 0);
	assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), -WIRE_E_EXT_HDR);
}

/* A routing header with `segments_left` and two addresses, 0x11.. then 0x22.. */
static void pkt_routing_with_addresses(struct pkt *p, uint8_t type, uint8_t segments_left)
{
	uint8_t *h = pkt_link(p, WIRE_PROTO_ROUTING, 8 + 32);
	h[1] = 4;
	h[2] = type;
	h[3] = segments_left;
	memset(h + 4, 0, 4);
	memset(h + 8, 0x11, 16);
	memset(h + 24, 0x22, 16);
}

/*
 * RFC 8200 8.1: with a Routing header the pseudo-header's destination is the
 * final one: the last address of a type 0 or 2 header, the first segment of
 * an SRH (type 4), and the header's own Destination Address once no segments
 * are left.
 */
static void test_ipv6_pseudo_uses_final_destination_of_routing_header(void **state)
{
	(void)state;
	static const struct {
		uint8_t type, segments_left, expect_byte;
	} cases[] = {
		{ 0, 2, 0x22 }, { 2, 1, 0x22 }, { 4, 1, 0x11 }, { 4, 0, 0 }, { 0, 0, 0 }, { 3, 1, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt p;
		struct wire_ipv6 ip;
		struct wire_pseudo ph;
		uint8_t expect[16];

		pkt_start(&p);
		pkt_routing_with_addresses(&p, cases[i].type, cases[i].segments_left);
		pkt_upper(&p, WIRE_PROTO_TCP, 20);
		assert_int_equal(wire_ipv6_parse(&ip, p.b, p.len), 0);
		wire_ipv6_pseudo(&ip, &ph);
		if (cases[i].expect_byte)
			memset(expect, cases[i].expect_byte, 16);
		else
			memcpy(expect, DST, 16);
		assert_memory_equal(ph.dst, expect, 16);
		assert_int_equal(ph.len, 20);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv6_emit_fixed_header_bytes),
		cmocka_unit_test(test_ipv6_emit_parse_every_field),
		cmocka_unit_test(test_ipv6_emit_refuses_what_cannot_be_encoded),
		cmocka_unit_test(test_ipv6_parse_hop_by_hop),
		cmocka_unit_test(test_ipv6_parse_hop_by_hop_long),
		cmocka_unit_test(test_ipv6_parse_routing),
		cmocka_unit_test(test_ipv6_parse_fragment),
		cmocka_unit_test(test_ipv6_parse_fragment_reserved_bits_ignored),
		cmocka_unit_test(test_ipv6_parse_destination_options),
		cmocka_unit_test(test_ipv6_parse_recommended_order),
		cmocka_unit_test(test_ipv6_parse_later_fragment_data_not_walked),
		cmocka_unit_test(test_ipv6_parse_first_fragment_walked),
		cmocka_unit_test(test_ipv6_parse_two_fragment_headers),
		cmocka_unit_test(test_ipv6_emit_unfragmentable),
		cmocka_unit_test(test_ipv6_parse_other_orders),
		cmocka_unit_test(test_ipv6_parse_no_next_header),
		cmocka_unit_test(test_ipv6_parse_hop_by_hop_not_first),
		cmocka_unit_test(test_ipv6_parse_max_extension_headers),
		cmocka_unit_test(test_ipv6_parse_extension_header_past_end),
		cmocka_unit_test(test_ipv6_parse_extension_header_past_payload_length),
		cmocka_unit_test(test_ipv6_parse_truncated),
		cmocka_unit_test(test_ipv6_parse_version_not_6),
		cmocka_unit_test(test_ipv6_parse_payload_length_past_buffer),
		cmocka_unit_test(test_ipv6_parse_link_padding_is_not_payload),
		cmocka_unit_test(test_ipv6_pseudo_excludes_extension_headers),
		cmocka_unit_test(test_ipv6_pseudo_verifies_tcp_behind_extension_headers),
		cmocka_unit_test(test_ipv6_parse_empty_packet),
		cmocka_unit_test(test_ipv6_parse_jumbogram_refused),
		cmocka_unit_test(test_ipv6_pseudo_uses_final_destination_of_routing_header),
		cmocka_unit_test(test_ipv6_parse_every_prefix_stays_in_bounds),
		cmocka_unit_test(test_ipv6_parse_random_bytes_stay_in_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
