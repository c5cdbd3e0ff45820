/*
 * Address arguments of the TUN commands: ADDR/LEN prefixes, plain
 * addresses and their text, and the address the kernel takes on the link
 * (the lowest usable one in our prefix other than ours; RFC 3021 for IPv4
 * /31, RFC 6164 for IPv6 /127).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "net.h"

/* ------------------------------------------------------------------ helpers */

/* Parses `s` from a heap copy of exactly its size (NUL included), so ASan sees any read past it. */
static int parse_prefix(const char *s, struct net_prefix *out)
{
	char *copy = strdup(s);
	assert_non_null(copy);
	memset(out, 0xa5, sizeof(*out));
	int r = net_parse_prefix(copy, out);
	free(copy);
	return r;
}

static struct net_prefix prefix(const char *s)
{
	struct net_prefix p;
	if (parse_prefix(s, &p) != 0)
		fail_msg("\"%s\" does not parse", s);
	return p;
}

static void expect_bad_prefix(const char *s)
{
	struct net_prefix p;
	if (parse_prefix(s, &p) != -1)
		fail_msg("\"%s\" parses as a prefix (length %u)", s, p.len);
}

static const char *str(const struct tw_addr *a)
{
	static char buf[INET6_ADDRSTRLEN];
	return net_addr_str(a, buf, sizeof(buf));
}

/* The host side of `ours` is `want` (an address; the length is ours). */
static void expect_host(const char *ours, const char *want)
{
	struct net_prefix p = prefix(ours), h;
	memset(&h, 0xa5, sizeof(h));
	int r = net_host_side(&p, &h);
	if (r != 0)
		fail_msg("host side of %s: %d, want %s", ours, r, want);
	struct tw_addr w;
	assert_int_equal(net_parse_addr(want, &w), 0);
	if (h.addr.family != w.family || memcmp(h.addr.bytes, w.bytes, 16) != 0)
		fail_msg("host side of %s: %s, want %s", ours, str(&h.addr), want);
	assert_int_equal(h.len, p.len);
}

static void expect_no_host(const char *ours)
{
	struct net_prefix p = prefix(ours), h;
	int r = net_host_side(&p, &h);
	if (r != -1)
		fail_msg("host side of %s: %d (%s), want -1", ours, r, r ? "" : str(&h.addr));
}

/* ------------------------------------------------------------ prefixes */

static void test_net_parse_prefix_ipv4(void **state)
{
	(void)state;
	struct net_prefix p = prefix("10.7.0.2/24");
	assert_int_equal(p.addr.family, TW_AF_INET);
	static const uint8_t want[16] = { 10, 7, 0, 2 };
	assert_memory_equal(p.addr.bytes, want, 16);   /* the 12 bytes IPv4 leaves are zero */
	assert_int_equal(p.len, 24);

	p = prefix("0.0.0.0/0");
	assert_int_equal(p.len, 0);
	p = prefix("255.255.255.255/32");
	assert_int_equal(p.len, 32);
	assert_int_equal(p.addr.bytes[3], 255);
}

static void test_net_parse_prefix_every_length(void **state)
{
	(void)state;
	char s[64];
	for (unsigned len = 0; len <= 33; len++) {
		snprintf(s, sizeof(s), "192.0.2.7/%u", len);
		if (len <= 32)
			assert_int_equal(prefix(s).len, len);
		else
			expect_bad_prefix(s);
	}
	for (unsigned len = 0; len <= 129; len++) {
		snprintf(s, sizeof(s), "2001:db8:7::2/%u", len);
		if (len <= 128) {
			struct net_prefix p = prefix(s);
			assert_int_equal(p.addr.family, TW_AF_INET6);
			assert_int_equal(p.len, len);
		} else {
			expect_bad_prefix(s);
		}
	}
}

static void test_net_parse_prefix_ipv6(void **state)
{
	(void)state;
	struct net_prefix p = prefix("2001:db8:7::2/64");
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x07, [15] = 2 };
	assert_int_equal(p.addr.family, TW_AF_INET6);
	assert_memory_equal(p.addr.bytes, want, 16);
	assert_int_equal(p.len, 64);
	assert_int_equal(prefix("::/0").len, 0);
	assert_int_equal(prefix("::1/128").len, 128);
	/* An IPv4-mapped address is IPv6, and takes IPv6 lengths. */
	p = prefix("::ffff:10.0.0.1/100");
	assert_int_equal(p.addr.family, TW_AF_INET6);
	assert_int_equal(p.len, 100);
	/* The longest text an IPv6 address has. */
	p = prefix("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128");
	assert_int_equal(p.addr.family, TW_AF_INET6);
	assert_int_equal(p.len, 128);
	p = prefix("0000:0000:0000:0000:0000:0000:0000:0001/127");
	assert_int_equal(p.addr.bytes[15], 1);
}

static void test_net_parse_prefix_invalid(void **state)
{
	(void)state;
	const char *bad[] = {
		"",  "/", "/24", "10.7.0.2", "2001:db8::2",          /* no length */
		"10.7.0.2/", "2001:db8::2/",                          /* empty length */
		"10.7.0.2/33", "10.7.0.2/99", "10.7.0.2/255", "10.7.0.2/256", "2001:db8::2/129", "::/999",
		"10.7.0.2/4294967320", "10.7.0.2/18446744073709551640",   /* wrap to 24 in 32 or 64 bits */
		"10.7.0.2/24x", "10.7.0.2/2x", "10.7.0.2/x", "10.7.0.2/24/8", "10.7.0.2//24",
		"10.7.0.2/24 ", "10.7.0.2/24\n", "10.7.0.2/ 24", "10.7.0.2 /24", " 10.7.0.2/24", "10.7.0.2/\t24",
		"10.7.0.2/+24", "10.7.0.2/-1", "10.7.0.2/-0", "10.7.0.2/+0", "2001:db8::2/-64",
		"10.7.0.2/0x18", "10.7.0.2/1e1", "10.7.0.2/2.4",
		"10.7.0/24", "10.7.0.256/24", "1.2.3.4.5/8", "10.7.0.2.", "a.b.c.d/8",
		"2001:db8::g/64", "2001:db8:::1/64", "fe80::1%lo/64", "[2001:db8::2]/64",
		"localhost/8",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_prefix(bad[i]);
}

/* Text longer than any address before the slash, or after it: refused, not cut, not overrun. */
static void test_net_parse_prefix_overlong(void **state)
{
	(void)state;
	char s[2048];
	const size_t lens[] = { 46, 53, 54, 55, 60, 100, 1000, 2000 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(s, '1', lens[i]);
		strcpy(s + lens[i], "/24");
		expect_bad_prefix(s);
		/* A real address with junk to make it long. */
		memset(s, ':', lens[i]);
		memcpy(s, "2001:db8", 8);
		strcpy(s + lens[i], "/64");
		expect_bad_prefix(s);
		/* A long length. */
		strcpy(s, "10.7.0.2/");
		memset(s + 9, '0', lens[i]);
		strcpy(s + 9 + lens[i], "24");
		expect_bad_prefix(s);
	}
	/* An address padded within an address's longest text still parses. */
	assert_int_equal(prefix("0000:0000:0000:0000:0000:0000:0000:0002/64").addr.bytes[15], 2);
}

/* ------------------------------------------------------------ addresses */

static void test_net_parse_addr(void **state)
{
	(void)state;
	struct tw_addr a;
	memset(&a, 0xa5, sizeof(a));
	assert_int_equal(net_parse_addr("10.7.0.2", &a), 0);
	static const uint8_t want4[16] = { 10, 7, 0, 2 };
	assert_int_equal(a.family, TW_AF_INET);
	assert_memory_equal(a.bytes, want4, 16);

	memset(&a, 0xa5, sizeof(a));
	assert_int_equal(net_parse_addr("2001:db8::2", &a), 0);
	static const uint8_t want6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	assert_int_equal(a.family, TW_AF_INET6);
	assert_memory_equal(a.bytes, want6, 16);

	assert_int_equal(net_parse_addr("::", &a), 0);
	assert_int_equal(a.family, TW_AF_INET6);
	assert_int_equal(net_parse_addr("0.0.0.0", &a), 0);
	assert_int_equal(a.family, TW_AF_INET);

	const char *bad[] = {
		"", "10.7.0.2/24", "10.7.0", "10.7.0.2.1", " 10.7.0.2", "10.7.0.2 ", "256.0.0.1",
		"localhost", "2001:db8::g", "2001::db8::1", ":::", "2001:db8::2/64", "fe80::1%lo",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (net_parse_addr(bad[i], &a) != -1)
			fail_msg("\"%s\" parses as an address", bad[i]);
	}
}

/* Text as inet_ntop writes it (RFC 5952 for IPv6), and parsed back to the same address. */
static void test_net_addr_str(void **state)
{
	(void)state;
	const char *texts[] = {
		"10.7.0.2", "0.0.0.0", "255.255.255.255", "192.0.2.1",
		"2001:db8::2", "::", "::1", "2001:db8:7::", "fe80::1:2", "::ffff:10.0.0.1",
		"2001:db8:0:1:1:1:1:1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct tw_addr a;
		assert_int_equal(net_parse_addr(texts[i], &a), 0);
		char buf[INET6_ADDRSTRLEN];
		assert_ptr_equal(net_addr_str(&a, buf, sizeof(buf)), buf);
		assert_string_equal(buf, texts[i]);
		/* Exactly enough room. */
		size_t need = strlen(texts[i]) + 1;
		char *exact = malloc(need);
		assert_non_null(exact);
		assert_string_equal(net_addr_str(&a, exact, need), texts[i]);
		free(exact);
	}
	/* RFC 5952 4.2.1: zeros compressed, the longest run, lower case. */
	struct tw_addr a;
	assert_int_equal(net_parse_addr("2001:0DB8:0000:0000:0001:0000:0000:0001", &a), 0);
	char buf[INET6_ADDRSTRLEN];
	assert_string_equal(net_addr_str(&a, buf, sizeof(buf)), "2001:db8::1:0:0:1");
}

/* Too little room: a "?" rather than a cut-off address. */
static void test_net_addr_str_small_buffer(void **state)
{
	(void)state;
	struct tw_addr a;
	char buf[8];
	assert_int_equal(net_parse_addr("10.7.0.2", &a), 0);
	assert_string_equal(net_addr_str(&a, buf, sizeof(buf)), "?");
	assert_int_equal(net_parse_addr("2001:db8::2", &a), 0);
	assert_string_equal(net_addr_str(&a, buf, sizeof(buf)), "?");
}

/* ------------------------------------------------------------ host side */

static void test_net_host_side_ipv4_24(void **state)
{
	(void)state;
	expect_host("10.7.0.2/24", "10.7.0.1");
	expect_host("10.7.0.1/24", "10.7.0.2");
	expect_host("10.7.0.254/24", "10.7.0.1");
	expect_host("10.7.0.100/24", "10.7.0.1");
	expect_host("10.7.0.0/24", "10.7.0.1");     /* ours is the network's own address */
	expect_host("10.7.0.255/24", "10.7.0.1");   /* ours is the broadcast address */
	expect_host("192.168.1.1/24", "192.168.1.2");
}

/* RFC 3021: a /31 has two addresses and both are hosts; each side gets the other. */
static void test_net_host_side_ipv4_31(void **state)
{
	(void)state;
	expect_host("10.0.0.0/31", "10.0.0.1");
	expect_host("10.0.0.1/31", "10.0.0.0");
	expect_host("192.0.2.254/31", "192.0.2.255");
	expect_host("192.0.2.255/31", "192.0.2.254");
}

/* A /30: network .0, hosts .1 and .2, broadcast .3. The answer is always the host that is not ours. */
static void test_net_host_side_ipv4_30(void **state)
{
	(void)state;
	expect_host("10.0.0.1/30", "10.0.0.2");
	expect_host("10.0.0.2/30", "10.0.0.1");
	expect_host("10.0.0.0/30", "10.0.0.1");
	expect_host("10.0.0.3/30", "10.0.0.1");
	expect_host("10.0.0.5/30", "10.0.0.6");
	expect_host("10.0.0.6/30", "10.0.0.5");
	expect_host("10.255.255.253/30", "10.255.255.254");
	expect_host("10.255.255.254/30", "10.255.255.253");
}

/* Nothing else in a /32 or /128. */
static void test_net_host_side_single_address(void **state)
{
	(void)state;
	expect_no_host("10.7.0.2/32");
	expect_no_host("0.0.0.0/32");
	expect_no_host("255.255.255.255/32");
	expect_no_host("2001:db8::2/128");
	expect_no_host("::/128");
}

/* Prefix lengths that are not whole bytes: the network is found bit by bit. */
static void test_net_host_side_unaligned(void **state)
{
	(void)state;
	expect_host("10.7.13.200/20", "10.7.0.1");
	expect_host("10.7.15.255/20", "10.7.0.1");
	expect_host("10.7.0.1/20", "10.7.0.2");
	expect_host("10.7.16.9/20", "10.7.16.1");
	expect_host("10.15.255.3/13", "10.8.0.1");
	expect_host("10.8.0.1/13", "10.8.0.2");
	expect_host("10.23.4.5/13", "10.16.0.1");
	expect_host("10.200.3.4/9", "10.128.0.1");
	expect_host("172.31.255.254/12", "172.16.0.1");
	expect_host("10.7.0.200/25", "10.7.0.129");
	expect_host("10.7.0.129/25", "10.7.0.130");
	expect_host("10.7.0.14/29", "10.7.0.9");
	expect_host("0.0.0.1/0", "0.0.0.2");
	expect_host("203.0.113.9/0", "0.0.0.1");
	expect_host("203.0.113.9/1", "128.0.0.1");
	expect_host("2001:db8:0:7::5/61", "2001:db8::1");
	expect_host("2001:db8:0:f::5/61", "2001:db8:0:8::1");
	expect_host("2001:db8::ff/121", "2001:db8::81");
	expect_host("2001:db8::81/121", "2001:db8::82");
	expect_host("2001:db8:ffff::9/35", "2001:db8:e000::1");
}

/*
 * Every IPv4 prefix length and many addresses, against the rule worked out
 * in 32-bit arithmetic: below /31, the network + 1, or + 2 where that is
 * ours; never the network, the broadcast address, or ours.
 */
static void test_net_host_side_ipv4_rule(void **state)
{
	(void)state;
	uint32_t x = 0x9e3779b9u;
	for (unsigned len = 0; len <= 32; len++) {
		for (int k = 0; k < 200; k++) {
			x = x * 1664525u + 1013904223u;
			uint32_t a = x;
			uint32_t mask = len ? ~0u << (32 - len) : 0;
			uint32_t net = a & mask, bcast = net | ~mask;
			if (k == 0)
				a = net;
			else if (k == 1)
				a = net + 1;
			else if (k == 2)
				a = bcast;
			struct net_prefix p, h;
			memset(&p, 0, sizeof(p));
			p.addr.family = TW_AF_INET;
			p.len = len;
			p.addr.bytes[0] = (uint8_t)(a >> 24);
			p.addr.bytes[1] = (uint8_t)(a >> 16);
			p.addr.bytes[2] = (uint8_t)(a >> 8);
			p.addr.bytes[3] = (uint8_t)a;
			int r = net_host_side(&p, &h);
			if (len == 32) {
				assert_int_equal(r, -1);
				continue;
			}
			uint32_t want = len == 31 ? (a == net ? net + 1 : net) : (a == net + 1 ? net + 2 : net + 1);
			assert_int_equal(r, 0);
			uint32_t got = (uint32_t)h.addr.bytes[0] << 24 | (uint32_t)h.addr.bytes[1] << 16 |
				       (uint32_t)h.addr.bytes[2] << 8 | h.addr.bytes[3];
			if (got != want)
				fail_msg("/%u ours %08x: host %08x, want %08x", len, a, got, want);
			assert_int_equal(h.addr.family, TW_AF_INET);
			assert_int_equal(h.len, len);
			assert_true(got != a);
			assert_true((got & mask) == net);
			if (len < 31)
				assert_true(got != net && got != bcast);
		}
	}
}

static void test_net_host_side_ipv6_64(void **state)
{
	(void)state;
	expect_host("2001:db8:7::2/64", "2001:db8:7::1");
	expect_host("2001:db8:7::1/64", "2001:db8:7::2");
	expect_host("2001:db8:7::abcd/64", "2001:db8:7::1");
	expect_host("2001:db8:7:0:ffff:ffff:ffff:ffff/64", "2001:db8:7::1");
	expect_host("2001:db8:7::/64", "2001:db8:7::1");
	expect_host("fd00:1:2:3:4:5:6:7/64", "fd00:1:2:3::1");
	expect_host("2001:db8::1/126", "2001:db8::2");
	expect_host("2001:db8::3/126", "2001:db8::1");
	expect_host("::1/0", "::2");
}

/*
 * RFC 6164: a /127 is a point-to-point link of two addresses, like IPv4's
 * /31, and each side takes the other. (Its Subnet-Router anycast address,
 * the lower one, "MUST be disabled" there, so it is a host's.)
 */
static void test_net_host_side_ipv6_127(void **state)
{
	(void)state;
	expect_host("2001:db8::/127", "2001:db8::1");
	expect_host("2001:db8::1/127", "2001:db8::");
	expect_host("2001:db8::6/127", "2001:db8::7");
	expect_host("2001:db8::7/127", "2001:db8::6");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_net_parse_prefix_ipv4),
		cmocka_unit_test(test_net_parse_prefix_every_length),
		cmocka_unit_test(test_net_parse_prefix_ipv6),
		cmocka_unit_test(test_net_parse_prefix_invalid),
		cmocka_unit_test(test_net_parse_prefix_overlong),
		cmocka_unit_test(test_net_parse_addr),
		cmocka_unit_test(test_net_addr_str),
		cmocka_unit_test(test_net_addr_str_small_buffer),
		cmocka_unit_test(test_net_host_side_ipv4_24),
		cmocka_unit_test(test_net_host_side_ipv4_31),
		cmocka_unit_test(test_net_host_side_ipv4_30),
		cmocka_unit_test(test_net_host_side_single_address),
		cmocka_unit_test(test_net_host_side_unaligned),
		cmocka_unit_test(test_net_host_side_ipv4_rule),
		cmocka_unit_test(test_net_host_side_ipv6_64),
		cmocka_unit_test(test_net_host_side_ipv6_127),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
