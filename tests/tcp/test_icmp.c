/*
 * The stack's echo responder (RFC 1122 3.2.2.6, RFC 4443 4.1-4.2): an echo
 * request to one of the stack's addresses is answered with exactly one echo
 * reply, addresses swapped and identifier, sequence number and data kept;
 * anything else of ICMP is dropped with a counted reason. And
 * tw_stack_is_local, which tells a host's loop which packets are the stack's.
 *
 * Checksums of replies are verified against an RFC 1071 sum written out
 * here, not the wire layer's.
 */
#include "harness.h"

#define TTL_REPLY 64

/* Linux ping's ICMP message (`ping -c1`, captured on lo) and the kernel's reply to it. */
#define PING_DATA                                                                                  \
	0x3f, 0x18, 0x06, 0x6b, 0x00, 0x00, 0x00, 0x00, 0xbf, 0xfb, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, \
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, \
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, \
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37
static const uint8_t LINUX_PING[64] = { 0x08, 0x00, 0xf9, 0x7a, 0x32, 0x32, 0x00, 0x01, PING_DATA };
static const uint8_t LINUX_PING_REPLY[64] = { 0x00, 0x00, 0x01, 0x7b, 0x32, 0x32, 0x00, 0x01, PING_DATA };

/* ------------------------------------------------------------------ helpers */

/*
 * Stacks made by a test, freed by the test (with the teardown check of
 * leak_check.h) or, when an assertion ends it early, by the teardown
 * (without): a failure shows as itself, not as leaks.
 */
static struct harness *live[4];

static struct harness *new_cfg(const struct tw_stack_config *cfg)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (!live[i]) {
			live[i] = h_new_cfg(cfg);
			return live[i];
		}
	}
	fail_msg("more than %zu stacks at once", sizeof(live) / sizeof(live[0]));
	return NULL;
}

static struct harness *new_stack(uint8_t family)
{
	struct tw_stack_config cfg;
	h_config(&cfg, family);
	return new_cfg(&cfg);
}

static void free_stack(struct harness *h)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == h)
			live[i] = NULL;
	h_free(h);
}

static int free_leftovers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (live[i])
			h_free_unchecked(live[i]);
		live[i] = NULL;
	}
	return 0;
}

/* An ICMP message the peer sends, and the IP packet around it. Zero fields take defaults. */
struct ping {
	const struct tw_addr *src, *dst;   /* NULL: the peer, the stack */
	uint8_t type;
	uint8_t code;
	uint16_t id, seq;
	const uint8_t *data;
	size_t len;
	uint16_t frag;                     /* IPv4 flags and offset field */
	uint8_t ttl;                       /* 0: 64 */
	uint8_t ip_opts;                   /* IPv4: this many bytes of NOP options (a multiple of 4) */
	bool dstopts;                      /* IPv6: an 8-byte Destination Options header first */
	bool frag6;                        /* IPv6: a Fragment header first ... */
	uint16_t frag6_off_m;              /* ... with this offset/M field */
	bool no_pseudo;                    /* IPv6: checksum without the pseudo-header, as ICMPv4's */
	bool bad_csum;                     /* the ICMP checksum off by one */
	const uint8_t *raw;                /* the ICMP message as these bytes, as they are */
	size_t raw_len;
};

static uint8_t echo_request_type(uint8_t family)
{
	return family == TW_AF_INET ? WIRE_ICMP_ECHO_REQUEST : WIRE_ICMP6_ECHO_REQUEST;
}

static uint8_t echo_reply_type(uint8_t family)
{
	return family == TW_AF_INET ? WIRE_ICMP_ECHO_REPLY : WIRE_ICMP6_ECHO_REPLY;
}

/* An echo request of `len` bytes of data, id 0x1234, seq 7. */
static struct ping ping_req(const struct harness *h, const uint8_t *data, size_t len)
{
	struct ping p;
	memset(&p, 0, sizeof(p));
	p.type = echo_request_type(h->family);
	p.id = 0x1234;
	p.seq = 7;
	p.data = data;
	p.len = len;
	return p;
}

/* RFC 1071, big-endian words one by one; for IPv6 the pseudo-header of RFC 8200 8.1 first. */
static uint16_t ref_csum(uint8_t family, const uint8_t *src, const uint8_t *dst, const uint8_t *msg, size_t len)
{
	uint32_t sum = 0;
	if (family == TW_AF_INET6) {
		for (int i = 0; i < 16; i += 2)
			sum += (uint32_t)(src[i] << 8 | src[i + 1]) + (uint32_t)(dst[i] << 8 | dst[i + 1]);
		sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + WIRE_PROTO_ICMPV6;
	}
	for (size_t i = 0; i < len; i++)
		sum += i % 2 ? msg[i] : (uint32_t)msg[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Builds the packet; returns its length. */
static size_t build_ping(const struct harness *h, const struct ping *p, uint8_t *buf, size_t cap)
{
	const struct tw_addr *src = p->src ? p->src : &h->peer;
	const struct tw_addr *dst = p->dst ? p->dst : &h->ours;
	uint8_t family = dst->family;
	size_t ip_len = family == TW_AF_INET ? 20u + p->ip_opts : 40u + (p->dstopts || p->frag6 ? 8u : 0u);
	size_t icmp_len = p->raw ? p->raw_len : 8 + p->len;
	assert_true(ip_len + icmp_len <= cap);
	uint8_t *m = buf + ip_len;

	if (p->raw) {
		memcpy(m, p->raw, p->raw_len);
	} else {
		m[0] = p->type;
		m[1] = p->code;
		wire_put16(m + 2, 0);
		wire_put16(m + 4, p->id);
		wire_put16(m + 6, p->seq);
		if (p->len)
			memcpy(m + 8, p->data, p->len);
		uint16_t c = p->no_pseudo ? ref_csum(TW_AF_INET, NULL, NULL, m, icmp_len)
					  : ref_csum(family, src->bytes, dst->bytes, m, icmp_len);
		wire_put16(m + 2, (uint16_t)(c + p->bad_csum));
	}
	if (family == TW_AF_INET) {
		static const uint8_t nops[40] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
						  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
		struct wire_ipv4 ip;
		memset(&ip, 0, sizeof(ip));
		ip.hdr_len = (uint8_t)ip_len;
		ip.total_len = (uint16_t)(ip_len + icmp_len);
		ip.id = 0x4242;
		ip.frag = p->frag;
		ip.ttl = p->ttl ? p->ttl : 64;
		ip.proto = WIRE_PROTO_ICMP;
		ip.opts = nops;
		ip.opts_len = p->ip_opts;
		memcpy(ip.src, src->bytes, 4);
		memcpy(ip.dst, dst->bytes, 4);
		assert_int_equal(wire_ipv4_emit(&ip, buf, cap), ip_len);
	} else {
		struct wire_ipv6 ip6;
		memset(&ip6, 0, sizeof(ip6));
		ip6.plen = (uint16_t)(ip_len - 40 + icmp_len);
		ip6.next = p->dstopts ? WIRE_PROTO_DSTOPTS : p->frag6 ? WIRE_PROTO_FRAGMENT : WIRE_PROTO_ICMPV6;
		ip6.hlim = p->ttl ? p->ttl : 64;
		memcpy(ip6.src, src->bytes, 16);
		memcpy(ip6.dst, dst->bytes, 16);
		assert_int_equal(wire_ipv6_emit(&ip6, buf, cap), 40);
		if (p->dstopts) {
			/* RFC 8200 4.6: next header, length 0 (8 bytes), a PadN of 4 bytes of padding. */
			static const uint8_t opts[8] = { WIRE_PROTO_ICMPV6, 0, 1, 4, 0, 0, 0, 0 };
			memcpy(buf + 40, opts, 8);
		} else if (p->frag6) {
			/* RFC 8200 4.5: next header, reserved, offset and M, identification. */
			const uint8_t fh[8] = { WIRE_PROTO_ICMPV6, 0, (uint8_t)(p->frag6_off_m >> 8),
						(uint8_t)p->frag6_off_m, 0xde, 0xad, 0xbe, 0xef };
			memcpy(buf + 40, fh, 8);
		}
	}
	return ip_len + icmp_len;
}

/* The peer sends the ping from a heap buffer of exactly its size; returns tw_input's result. */
static int send_ping(struct harness *h, const struct ping *p)
{
	static uint8_t buf[70000];
	size_t len = build_ping(h, p, buf, sizeof(buf));
	uint8_t *pkt = malloc(len);
	assert_non_null(pkt);
	memcpy(pkt, buf, len);
	int r = tw_input(h->st, pkt, len, h->now);
	/* The request is the caller's, borrowed: a reply is never built over it. */
	assert_memory_equal(pkt, buf, len);
	free(pkt);
	return r;
}

static struct tw_stack_stats stats_of(const struct harness *h)
{
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	return ss;
}

static uint64_t all_drops(const struct tw_stack_stats *ss)
{
	uint64_t n = 0;
	for (int i = 0; i < TW_DROP_COUNT; i++)
		n += ss->drops[i];
	return n;
}

/*
 * The next packet sent is the echo reply to `req`: one IP packet from the
 * address asked to the one asking, nothing fragmented, TTL/hop limit 64,
 * both checksums right, the identifier, sequence number and data of the
 * request. Returns the reply's ICMP bytes (in the capture) and length.
 */
static const uint8_t *expect_reply(struct harness *h, const struct ping *req, size_t *icmp_len)
{
	assert_int_equal(h_pending(h), 1);
	struct h_pkt *pkt = &h->out[h->next_out++];
	const struct tw_addr *asker = req->src ? req->src : &h->peer;
	const struct tw_addr *asked = req->dst ? req->dst : &h->ours;
	const uint8_t *m;
	size_t n;

	if (asked->family == TW_AF_INET) {
		struct wire_ipv4 ip;
		assert_int_equal(pkt->bytes[0] >> 4, 4);
		assert_int_equal(wire_ipv4_parse(&ip, pkt->bytes, pkt->len), 0);   /* header checksum too */
		assert_int_equal(ip.total_len, pkt->len);
		assert_int_equal(ip.proto, WIRE_PROTO_ICMP);
		assert_int_equal(ip.ttl, TTL_REPLY);
		assert_false(wire_ipv4_mf(&ip));
		assert_int_equal(wire_ipv4_frag_offset(&ip), 0);
		assert_memory_equal(ip.src, asked->bytes, 4);
		assert_memory_equal(ip.dst, asker->bytes, 4);
		m = ip.payload;
		n = ip.payload_len;
	} else {
		struct wire_ipv6 ip6;
		assert_int_equal(pkt->bytes[0] >> 4, 6);
		assert_int_equal(wire_ipv6_parse(&ip6, pkt->bytes, pkt->len), 0);
		assert_int_equal(ip6.plen + 40, pkt->len);
		assert_int_equal(ip6.next, WIRE_PROTO_ICMPV6);
		assert_int_equal(ip6.n_ext, 0);
		assert_int_equal(ip6.hlim, TTL_REPLY);
		assert_memory_equal(ip6.src, asked->bytes, 16);
		assert_memory_equal(ip6.dst, asker->bytes, 16);
		m = ip6.payload;
		n = ip6.payload_len;
	}
	assert_true(n >= 8);
	assert_int_equal(m[0], echo_reply_type(asked->family));
	assert_int_equal(m[1], 0);
	assert_int_equal(ref_csum(asked->family, asked->bytes, asker->bytes, m, n), 0);
	if (!req->raw) {
		assert_int_equal(wire_get16(m + 4), req->id);
		assert_int_equal(wire_get16(m + 6), req->seq);
		assert_int_equal(n, 8 + req->len);
		if (req->len)
			assert_memory_equal(m + 8, req->data, req->len);
	}
	*icmp_len = n;
	return m;
}

/* The packet was taken and answered: tw_input's 0, one more reply counted, no drop. */
static void expect_answered(struct harness *h, const struct ping *p)
{
	struct tw_stack_stats before = stats_of(h);
	assert_int_equal(send_ping(h, p), 0);
	size_t n;
	expect_reply(h, p, &n);
	struct tw_stack_stats after = stats_of(h);
	assert_int_equal(after.icmp_echo_replies, before.icmp_echo_replies + 1);
	assert_int_equal(all_drops(&after), all_drops(&before));
}

/* The packet was dropped for `why`: returned, counted once, nothing sent or answered. */
static void expect_dropped(struct harness *h, const struct ping *p, enum tw_drop why)
{
	struct tw_stack_stats before = stats_of(h);
	assert_int_equal(send_ping(h, p), -(int)why);
	h_expect_none(h);
	struct tw_stack_stats after = stats_of(h);
	assert_int_equal(after.icmp_echo_replies, before.icmp_echo_replies);
	assert_int_equal(after.drops[why], before.drops[why] + 1);
	assert_int_equal(all_drops(&after), all_drops(&before) + 1);
}

/* Dropped for some reason, as long as it is returned and counted. */
static void expect_unanswered(struct harness *h, const struct ping *p)
{
	struct tw_stack_stats before = stats_of(h);
	int r = send_ping(h, p);
	h_expect_none(h);
	assert_true(r < 0 && r > -TW_DROP_COUNT);
	struct tw_stack_stats after = stats_of(h);
	assert_int_equal(after.icmp_echo_replies, before.icmp_echo_replies);
	assert_int_equal(after.drops[-r], before.drops[-r] + 1);
	assert_int_equal(all_drops(&after), all_drops(&before) + 1);
}

static struct tw_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct tw_addr x;
	memset(&x, 0, sizeof(x));
	x.family = TW_AF_INET;
	x.bytes[0] = a;
	x.bytes[1] = b;
	x.bytes[2] = c;
	x.bytes[3] = d;
	return x;
}

/* 2001:db8::<last>, or with a first byte of 0xff a multicast address ff<second>::<last>. */
static struct tw_addr v6(uint8_t first, uint8_t second, uint8_t last)
{
	struct tw_addr x;
	memset(&x, 0, sizeof(x));
	x.family = TW_AF_INET6;
	if (first == 0x20) {
		x.bytes[0] = 0x20;
		x.bytes[1] = 0x01;
		x.bytes[2] = 0x0d;
		x.bytes[3] = 0xb8;
	} else {
		x.bytes[0] = first;
		x.bytes[1] = second;
	}
	x.bytes[15] = last;
	return x;
}

static const uint8_t families[] = { TW_AF_INET, TW_AF_INET6 };
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static const uint8_t DATA56[56] = { PING_DATA };

/* ------------------------------------------------------------ echo answered */

static void test_icmp_echo_request_answered(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = new_stack(families[f]);
		struct ping p = ping_req(h, DATA56, sizeof(DATA56));
		assert_int_equal(send_ping(h, &p), 0);
		size_t n;
		expect_reply(h, &p, &n);
		struct tw_stack_stats ss = stats_of(h);
		assert_int_equal(ss.icmp_echo_replies, 1);
		assert_int_equal(all_drops(&ss), 0);
		assert_int_equal(ss.conns, 0);
		free_stack(h);
	}
}

/* Linux's own ping, answered with the very bytes Linux's kernel answered it with. */
static void test_icmp4_linux_ping_answered_as_linux_does(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET);
	struct ping p = ping_req(h, NULL, 0);
	p.raw = LINUX_PING;
	p.raw_len = sizeof(LINUX_PING);
	assert_int_equal(send_ping(h, &p), 0);
	size_t n;
	const uint8_t *m = expect_reply(h, &p, &n);
	assert_int_equal(n, sizeof(LINUX_PING_REPLY));
	assert_memory_equal(m, LINUX_PING_REPLY, n);
	free_stack(h);
}

/* The IPv4 header of the reply, field by field: version 4, IHL 5, no options. */
static void test_icmp4_reply_header(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET);
	struct ping p = ping_req(h, DATA56, sizeof(DATA56));
	p.ttl = 1;   /* the request's TTL is not the reply's */
	assert_int_equal(send_ping(h, &p), 0);
	assert_int_equal(h_pending(h), 1);
	const uint8_t *b = h->out[0].bytes;
	assert_int_equal(h->out[0].len, 20 + 8 + 56);
	assert_int_equal(b[0], 0x45);
	assert_int_equal(wire_get16(b + 2), 84);
	assert_int_equal(b[8], TTL_REPLY);
	assert_int_equal(b[9], WIRE_PROTO_ICMP);
	assert_int_equal(ref_csum(TW_AF_INET, NULL, NULL, b, 20), 0);
	size_t n;
	expect_reply(h, &p, &n);
	free_stack(h);
}

static void test_icmp6_reply_header(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET6);
	struct ping p = ping_req(h, DATA56, sizeof(DATA56));
	p.ttl = 255;
	assert_int_equal(send_ping(h, &p), 0);
	assert_int_equal(h_pending(h), 1);
	const uint8_t *b = h->out[0].bytes;
	assert_int_equal(h->out[0].len, 40 + 8 + 56);
	assert_int_equal(b[0] >> 4, 6);
	assert_int_equal(wire_get16(b + 4), 64);
	assert_int_equal(b[6], WIRE_PROTO_ICMPV6);
	assert_int_equal(b[7], TTL_REPLY);
	/* RFC 4443 2.3: the checksum covers the pseudo-header: the reply's own addresses, length 64, 58. */
	assert_int_equal(ref_csum(TW_AF_INET6, b + 8, b + 24, b + 40, 64), 0);
	assert_int_not_equal(ref_csum(TW_AF_INET, NULL, NULL, b + 40, 64), 0);
	size_t n;
	expect_reply(h, &p, &n);
	free_stack(h);
}

/* RFC 792: "The data received in the echo message must be returned": none, one byte, odd, even. */
static void test_icmp_echo_data_lengths(void **state)
{
	(void)state;
	static uint8_t data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	const size_t lens[] = { 0, 1, 2, 3, 55, 56, 57, 999, 1000 };
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = new_stack(families[f]);
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			struct ping p = ping_req(h, data, lens[i]);
			p.id = (uint16_t)(0xfff0 + i);
			p.seq = (uint16_t)(65535 - i);
			expect_answered(h, &p);
		}
		assert_int_equal(stats_of(h).icmp_echo_replies, sizeof(lens) / sizeof(lens[0]));
		free_stack(h);
	}
}

/* The reply comes from the address the request went to, of any the stack has. */
static void test_icmp_reply_from_the_address_asked(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	cfg.n_addrs = 4;
	cfg.addrs[1] = v4(10, 7, 0, 2);
	cfg.addrs[2] = v6(0x20, 0, 0x22);
	cfg.addrs[3] = v6(0x20, 0, 0x33);
	struct harness *h = new_cfg(&cfg);
	struct tw_addr peer6 = v6(0x20, 0, 1);
	for (size_t i = 0; i < cfg.n_addrs; i++) {
		struct ping p = ping_req(h, DATA56, 9);
		p.type = echo_request_type(cfg.addrs[i].family);
		p.dst = &cfg.addrs[i];
		p.src = cfg.addrs[i].family == TW_AF_INET6 ? &peer6 : NULL;
		expect_answered(h, &p);
	}
	free_stack(h);
}

/* The header is read for what it says: IPv4 options, an IPv6 extension header before ICMPv6. */
static void test_icmp4_request_with_ip_options(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET);
	struct ping p = ping_req(h, DATA56, sizeof(DATA56));
	p.ip_opts = 8;
	expect_answered(h, &p);
	p.ip_opts = 40;
	expect_answered(h, &p);
	free_stack(h);
}

/* RFC 8200 8.1: the pseudo-header's length is the ICMPv6 message's, not the Payload Length. */
static void test_icmp6_request_after_destination_options(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET6);
	struct ping p = ping_req(h, DATA56, sizeof(DATA56));
	p.dstopts = true;
	expect_answered(h, &p);
	free_stack(h);
}

/* DF on the request is fine; so is any TTL. */
static void test_icmp4_request_with_df(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET);
	struct ping p = ping_req(h, DATA56, sizeof(DATA56));
	p.frag = WIRE_IPV4_FLAG_DF;
	p.ttl = 1;
	expect_answered(h, &p);
	free_stack(h);
}

/* Bytes past the IPv4 total length are link padding: not echoed. */
static void test_icmp4_link_padding_not_echoed(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET);
	struct ping p = ping_req(h, DATA56, 4);
	uint8_t buf[128];
	size_t len = build_ping(h, &p, buf, sizeof(buf));
	assert_int_equal(len, 32);
	memset(buf + len, 0xee, 14);   /* an Ethernet frame's minimum, say */
	uint8_t *pkt = malloc(len + 14);
	assert_non_null(pkt);
	memcpy(pkt, buf, len + 14);
	assert_int_equal(tw_input(h->st, pkt, len + 14, h->now), 0);
	free(pkt);
	size_t n;
	expect_reply(h, &p, &n);
	assert_int_equal(n, 12);
	free_stack(h);
}

/* Each request gets its own reply; the stack's packet buffer holds no leftovers. */
static void test_icmp_replies_to_each_request(void **state)
{
	(void)state;
	static uint8_t big[1000], small[3] = { 9, 8, 7 };
	memset(big, 0x5a, sizeof(big));
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = new_stack(families[f]);
		struct ping p = ping_req(h, big, sizeof(big));
		expect_answered(h, &p);
		p = ping_req(h, small, sizeof(small));
		p.seq = 8;
		expect_answered(h, &p);
		p = ping_req(h, NULL, 0);
		p.seq = 9;
		expect_answered(h, &p);
		assert_int_equal(stats_of(h).icmp_echo_replies, 3);
		free_stack(h);
	}
}

/* With no output set, the reply has nowhere to go; the stack must not fall over. */
static void test_icmp_echo_without_output(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = new_stack(families[f]);
		tw_stack_set_output(h->st, NULL, NULL);
		struct ping p = ping_req(h, DATA56, sizeof(DATA56));
		assert_int_equal(send_ping(h, &p), 0);
		h_expect_none(h);
		free_stack(h);
	}
}

/* ---------------------------------------------------------- not answered */

/* RFC 1122 3.2.2.6: echo requests to the stack's own addresses; others are not its to answer. */
static void test_icmp_request_not_to_our_address(void **state)
{
	(void)state;
	struct tw_addr v4_others[] = {
		v4(192, 168, 0, 2), v4(192, 0, 2, 1) /* the peer's own */, v4(192, 168, 0, 255),
		v4(255, 255, 255, 255), v4(224, 0, 0, 1), v4(0, 0, 0, 0), v4(127, 0, 0, 1),
	};
	struct tw_addr v6_others[] = {
		v6(0x20, 0, 3), v6(0x20, 0, 1), v6(0xff, 0x02, 1), v6(0xff, 0x02, 2), v6(0, 0, 1), v6(0, 0, 0),
	};
	struct harness *h = new_stack(TW_AF_INET);
	for (size_t i = 0; i < sizeof(v4_others) / sizeof(v4_others[0]); i++) {
		struct ping p = ping_req(h, DATA56, 8);
		p.dst = &v4_others[i];
		expect_dropped(h, &p, TW_DROP_NOT_LOCAL);
	}
	/* An IPv6 request to a stack with no IPv6 address. */
	struct tw_addr me6 = v6(0x20, 0, 2), peer6 = v6(0x20, 0, 1);
	struct ping p6 = ping_req(h, DATA56, 8);
	p6.type = WIRE_ICMP6_ECHO_REQUEST;
	p6.src = &peer6;
	p6.dst = &me6;
	expect_dropped(h, &p6, TW_DROP_NOT_LOCAL);
	free_stack(h);

	h = new_stack(TW_AF_INET6);
	for (size_t i = 0; i < sizeof(v6_others) / sizeof(v6_others[0]); i++) {
		struct ping p = ping_req(h, DATA56, 8);
		p.dst = &v6_others[i];
		expect_dropped(h, &p, TW_DROP_NOT_LOCAL);
	}
	free_stack(h);
}

/* RFC 1122 3.2.2.6: an echo request from a broadcast or multicast source is not answered. */
static void test_icmp4_request_from_multicast_or_broadcast(void **state)
{
	(void)state;
	struct tw_addr srcs[] = {
		v4(224, 0, 0, 1), v4(239, 255, 255, 250), v4(255, 255, 255, 255), v4(240, 0, 0, 1),
		v4(0, 0, 0, 0),   /* "this host": no one to answer */
	};
	struct harness *h = new_stack(TW_AF_INET);
	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		struct ping p = ping_req(h, DATA56, 8);
		p.src = &srcs[i];
		expect_unanswered(h, &p);
	}
	free_stack(h);
}

static void test_icmp6_request_from_multicast(void **state)
{
	(void)state;
	struct tw_addr srcs[] = { v6(0xff, 0x02, 1), v6(0xff, 0x05, 2), v6(0xff, 0x0e, 0x42) };
	struct harness *h = new_stack(TW_AF_INET6);
	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		struct ping p = ping_req(h, DATA56, 8);
		p.src = &srcs[i];
		expect_unanswered(h, &p);
	}
	free_stack(h);
}

/*
 * RFC 4291 2.5.2: the unspecified address "must not be used as the
 * destination address of IPv6 packets", so a request from :: has no one to
 * answer (IPv4's 0.0.0.0 is refused above).
 */
static void test_icmp6_request_from_unspecified(void **state)
{
	(void)state;
	struct tw_addr unspec = v6(0, 0, 0);
	struct harness *h = new_stack(TW_AF_INET6);
	struct ping p = ping_req(h, DATA56, 8);
	p.src = &unspec;
	expect_unanswered(h, &p);
	free_stack(h);
}

/*
 * RFC 1122 3.2.1.3 (g): 127.x.x.x "MUST NOT appear outside a host", and "a
 * host MUST silently discard an incoming datagram containing an IP source
 * address that is invalid by the rules of this section". A request from the
 * link claiming a loopback source is not answered.
 */
static void test_icmp4_request_from_loopback(void **state)
{
	(void)state;
	struct tw_addr srcs[] = { v4(127, 0, 0, 1), v4(127, 1, 2, 3) };
	struct harness *h = new_stack(TW_AF_INET);
	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		struct ping p = ping_req(h, DATA56, 8);
		p.src = &srcs[i];
		expect_unanswered(h, &p);
	}
	free_stack(h);
}

/* RFC 792, RFC 4443 2.3: a message whose checksum does not verify is dropped. */
static void test_icmp_bad_checksum(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = new_stack(families[f]);
		struct ping p = ping_req(h, DATA56, sizeof(DATA56));
		p.bad_csum = true;
		expect_dropped(h, &p, TW_DROP_ICMP_MALFORMED);
		p = ping_req(h, DATA56, 0);
		p.bad_csum = true;
		expect_dropped(h, &p, TW_DROP_ICMP_MALFORMED);
		free_stack(h);
	}
}

/* ICMPv6 without its pseudo-header (summed as ICMPv4 is), or over other addresses: bad. */
static void test_icmp6_checksum_needs_pseudo_header(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET6);
	struct ping p = ping_req(h, DATA56, sizeof(DATA56));
	p.no_pseudo = true;
	expect_dropped(h, &p, TW_DROP_ICMP_MALFORMED);

	/* Summed for another destination, then sent to ours. */
	struct tw_addr other = v6(0x20, 0, 9);
	uint8_t buf[200];
	p = ping_req(h, DATA56, sizeof(DATA56));
	p.dst = &other;
	size_t len = build_ping(h, &p, buf, sizeof(buf));
	memcpy(buf + 24, h->ours.bytes, 16);
	assert_int_equal(tw_input(h->st, buf, len, h->now), -TW_DROP_ICMP_MALFORMED);
	h_expect_none(h);
	free_stack(h);
}

/* ICMPv4's checksum has no pseudo-header: summed with one (as TCP's and ICMPv6's are), it is bad. */
static void test_icmp4_checksum_has_no_pseudo_header(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET);
	uint8_t buf[200];
	struct ping p = ping_req(h, DATA56, sizeof(DATA56));
	size_t len = build_ping(h, &p, buf, sizeof(buf));
	uint8_t *m = buf + 20;
	struct wire_pseudo ph = { .family = 4, .proto = WIRE_PROTO_ICMP };
	memcpy(ph.src, h->peer.bytes, 4);
	memcpy(ph.dst, h->ours.bytes, 4);
	wire_put16(m + 2, 0);
	ph.len = (uint32_t)(len - 20);
	wire_put16(m + 2, wire_l4_csum(&ph, m, len - 20));
	assert_int_equal(tw_input(h->st, buf, len, h->now), -TW_DROP_ICMP_MALFORMED);
	h_expect_none(h);
	free_stack(h);
}

/* An ICMP message of fewer than 8 bytes in an IP packet that is whole. */
static void test_icmp_message_shorter_than_header(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = new_stack(families[f]);
		for (size_t n = 0; n < 8; n++) {
			struct ping p = ping_req(h, NULL, 0);
			p.raw = LINUX_PING;
			p.raw_len = n;
			expect_dropped(h, &p, TW_DROP_ICMP_MALFORMED);
		}
		free_stack(h);
	}
}

/* RFC 792, RFC 4443: only an Echo Request asks for a reply. */
static void test_icmp4_other_types_not_answered(void **state)
{
	(void)state;
	const uint8_t types[] = {
		WIRE_ICMP_ECHO_REPLY, 3 /* destination unreachable */, 4, 5 /* redirect */, 9, 10,
		11 /* time exceeded */, 12, 13 /* timestamp */, 15, 17, 42,
		WIRE_ICMP6_ECHO_REQUEST /* ICMPv6's number for it */, 255,
	};
	struct harness *h = new_stack(TW_AF_INET);
	for (size_t i = 0; i < sizeof(types); i++) {
		struct ping p = ping_req(h, DATA56, sizeof(DATA56));
		p.type = types[i];
		expect_dropped(h, &p, TW_DROP_ICMP_IGNORED);
	}
	free_stack(h);
}

static void test_icmp6_other_types_not_answered(void **state)
{
	(void)state;
	const uint8_t types[] = {
		1 /* destination unreachable */, 2 /* packet too big */, 3, 4, WIRE_ICMP6_ECHO_REPLY,
		130, 133 /* router solicitation */, 134, 135 /* neighbor solicitation */, 136, 137, 143,
		WIRE_ICMP_ECHO_REQUEST /* ICMPv4's number for it */, 0, 255,
	};
	struct harness *h = new_stack(TW_AF_INET6);
	for (size_t i = 0; i < sizeof(types); i++) {
		struct ping p = ping_req(h, DATA56, 16);
		p.type = types[i];
		if (types[i] >= 133 && types[i] <= 137)
			p.ttl = 255;   /* as neighbor discovery sends them (RFC 4861 6.1) */
		expect_dropped(h, &p, TW_DROP_ICMP_IGNORED);
	}
	free_stack(h);
}

/* RFC 792 and RFC 4443 4.1 define only code 0 for echo. */
static void test_icmp_echo_nonzero_code_not_answered(void **state)
{
	(void)state;
	const uint8_t codes[] = { 1, 2, 0x80, 255 };
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = new_stack(families[f]);
		for (size_t i = 0; i < sizeof(codes); i++) {
			struct ping p = ping_req(h, DATA56, sizeof(DATA56));
			p.code = codes[i];
			expect_dropped(h, &p, TW_DROP_ICMP_IGNORED);
		}
		free_stack(h);
	}
}

/*
 * RFC 791 3.2: a fragment is held for reassembly, never answered on its own,
 * not even a first one whose checksum happens to verify alone (a request
 * reassembled from fragments is answered: tests/ip/test_reass.c).
 */
static void expect_held_unanswered(struct harness *h, const struct ping *p)
{
	struct tw_stack_stats before = stats_of(h);
	int r = send_ping(h, p);
	h_expect_none(h);
	assert_true(r <= 0 && r > -TW_DROP_COUNT);
	struct tw_stack_stats after = stats_of(h);
	assert_int_equal(after.icmp_echo_replies, before.icmp_echo_replies);
	assert_int_equal(after.frags_received, before.frags_received + 1);
}

static void test_icmp4_fragment_not_answered(void **state)
{
	(void)state;
	const uint16_t frags[] = {
		WIRE_IPV4_FLAG_MF,                        /* first fragment */
		WIRE_IPV4_FLAG_MF | 185,                  /* middle */
		1,                                        /* last */
		WIRE_IPV4_OFFMASK,
		WIRE_IPV4_FLAG_DF | 3,
	};
	struct harness *h = new_stack(TW_AF_INET);
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		struct ping p = ping_req(h, DATA56, sizeof(DATA56));
		p.frag = frags[i];
		expect_held_unanswered(h, &p);
	}
	free_stack(h);
}

static void test_icmp6_fragment_not_answered(void **state)
{
	(void)state;
	const uint16_t off_m[] = { 0x0001 /* first, more */, (185 << 3) | 1, 185 << 3 /* last */ };
	struct harness *h = new_stack(TW_AF_INET6);
	for (size_t i = 0; i < sizeof(off_m) / sizeof(off_m[0]); i++) {
		struct ping p = ping_req(h, DATA56, sizeof(DATA56));
		p.frag6 = true;
		p.frag6_off_m = off_m[i];
		expect_held_unanswered(h, &p);
	}
	free_stack(h);
}

/* A reply as large as the request would not fit the link: not sent, and not sent in pieces. */
static void test_icmp_reply_larger_than_mtu(void **state)
{
	(void)state;
	static uint8_t data[65535];
	memset(data, 0x77, sizeof(data));
	const uint32_t mtus[] = { 1500, 1280, 576 };
	for (size_t f = 0; f < N_FAMILIES; f++) {
		for (size_t i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
			uint8_t family = families[f];
			size_t ip_len = family == TW_AF_INET ? 20 : 40;
			if (family == TW_AF_INET6 && mtus[i] < 1280)
				continue;
			struct tw_stack_config cfg;
			h_config(&cfg, family);
			cfg.mtu = mtus[i];
			struct harness *h = new_cfg(&cfg);

			/* Exactly the MTU: answered. */
			struct ping p = ping_req(h, data, mtus[i] - ip_len - 8);
			expect_answered(h, &p);
			assert_int_equal(h->out[0].len, mtus[i]);
			/* One byte more: not. */
			p = ping_req(h, data, mtus[i] - ip_len - 8 + 1);
			expect_unanswered(h, &p);
			/* The largest the length fields allow: 65,535 bytes of IPv4, of IPv6 payload. */
			p = ping_req(h, data, family == TW_AF_INET ? 65535 - 20 - 8 : 65535 - 8);
			expect_unanswered(h, &p);
			assert_int_equal(stats_of(h).icmp_echo_replies, 1);
			free_stack(h);
		}
	}
}

/* ------------------------------------------------------------ bad packets */

/* An IP packet cut short (its length promises more): dropped as malformed, from every prefix. */
static void test_icmp_truncated_ip_packet(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = new_stack(families[f]);
		uint8_t buf[200];
		struct ping p = ping_req(h, DATA56, sizeof(DATA56));
		size_t len = build_ping(h, &p, buf, sizeof(buf));
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *pkt = malloc(cut ? cut : 1);
			assert_non_null(pkt);
			memcpy(pkt, buf, cut);
			struct tw_stack_stats before = stats_of(h);
			assert_int_equal(tw_input(h->st, pkt, cut, h->now), -TW_DROP_IP_MALFORMED);
			free(pkt);
			h_expect_none(h);
			struct tw_stack_stats after = stats_of(h);
			assert_int_equal(after.drops[TW_DROP_IP_MALFORMED], before.drops[TW_DROP_IP_MALFORMED] + 1);
		}
		assert_int_equal(stats_of(h).icmp_echo_replies, 0);
		free_stack(h);
	}
}

/* The IP length says the message is shorter than the bytes at hand: the checksum then fails. */
static void test_icmp4_total_length_shorter_than_message(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET);
	uint8_t buf[200];
	struct ping p = ping_req(h, DATA56, sizeof(DATA56));
	size_t len = build_ping(h, &p, buf, sizeof(buf));
	struct wire_ipv4 ip;
	assert_int_equal(wire_ipv4_parse(&ip, buf, len), 0);
	ip.total_len = (uint16_t)(len - 2);
	assert_int_equal(wire_ipv4_emit(&ip, buf, sizeof(buf)), 20);
	assert_int_equal(tw_input(h->st, buf, len, h->now), -TW_DROP_ICMP_MALFORMED);
	h_expect_none(h);
	free_stack(h);
}

/* A NULL packet, and bytes that are no IP at all. */
static void test_icmp_input_garbage(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET);
	assert_int_equal(tw_input(h->st, NULL, 0, h->now), -TW_DROP_IP_MALFORMED);
	static const uint8_t junk[64] = { 0x08, 0x00, 0xf7, 0xff };   /* an ICMP message without IP */
	assert_int_equal(tw_input(h->st, junk, sizeof(junk), h->now), -TW_DROP_IP_MALFORMED);
	h_expect_none(h);
	free_stack(h);
}

/* ------------------------------------------------------ tw_stack_is_local */

/* A heap copy of exactly `len` bytes asked about, so ASan sees a read past the end. */
static bool is_local(const struct harness *h, const uint8_t *pkt, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, pkt, len);
	bool r = tw_stack_is_local(h->st, p, len);
	free(p);
	return r;
}

static void test_is_local_ipv4(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET);
	uint8_t buf[200];
	struct ping p = ping_req(h, DATA56, 8);
	size_t len = build_ping(h, &p, buf, sizeof(buf));
	assert_true(is_local(h, buf, len));
	/* The header alone is enough; one byte less is not. */
	assert_true(is_local(h, buf, 20));
	assert_false(is_local(h, buf, 19));
	assert_false(is_local(h, buf, 1));
	assert_false(is_local(h, buf, 0));
	assert_false(tw_stack_is_local(h->st, NULL, 20));

	/* From us to the peer: not local. */
	struct ping back = p;
	back.src = &h->ours;
	back.dst = &h->peer;
	len = build_ping(h, &back, buf, sizeof(buf));
	assert_false(is_local(h, buf, len));

	/* To an address one off ours. */
	struct tw_addr near = h->ours;
	near.bytes[3] ^= 1;
	p.dst = &near;
	len = build_ping(h, &p, buf, sizeof(buf));
	assert_false(is_local(h, buf, len));
	free_stack(h);
}

static void test_is_local_ipv6(void **state)
{
	(void)state;
	struct harness *h = new_stack(TW_AF_INET6);
	uint8_t buf[200];
	struct ping p = ping_req(h, DATA56, 8);
	size_t len = build_ping(h, &p, buf, sizeof(buf));
	assert_true(is_local(h, buf, len));
	assert_true(is_local(h, buf, 40));
	assert_false(is_local(h, buf, 39));
	assert_false(is_local(h, buf, 20));

	struct ping back = p;
	back.src = &h->ours;
	back.dst = &h->peer;
	len = build_ping(h, &back, buf, sizeof(buf));
	assert_false(is_local(h, buf, len));

	struct tw_addr near = h->ours;
	near.bytes[0] ^= 0x80;
	p.dst = &near;
	len = build_ping(h, &p, buf, sizeof(buf));
	assert_false(is_local(h, buf, len));
	free_stack(h);
}

/* The version nibble decides where the destination is, and which of the stack's addresses count. */
static void test_is_local_family_and_garbage(void **state)
{
	(void)state;
	struct tw_stack_config cfg;
	h_config(&cfg, TW_AF_INET);
	/* An IPv6 address whose first 4 bytes are an IPv4 address's: 192.168.0.7 / c0a8:7::. */
	cfg.n_addrs = 2;
	cfg.addrs[1] = v6(0xc0, 0xa8, 0);
	cfg.addrs[1].bytes[3] = 7;
	struct harness *h = new_cfg(&cfg);
	uint8_t pkt[64];

	/* An IPv4 header to 192.168.0.7: the IPv6 address does not make it local. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x45;
	memcpy(pkt + 16, cfg.addrs[1].bytes, 4);
	assert_false(is_local(h, pkt, 20));
	/* To 192.168.0.1, ours: local, whatever follows. */
	memcpy(pkt + 16, cfg.addrs[0].bytes, 4);
	assert_true(is_local(h, pkt, 20));
	/* The same bytes under other versions: not local. */
	const uint8_t versions[] = { 0x05, 0x15, 0x55, 0x65, 0xf5 };
	for (size_t i = 0; i < sizeof(versions); i++) {
		pkt[0] = versions[i];
		assert_false(is_local(h, pkt, sizeof(pkt)));
	}

	/* An IPv6 header to c0a8:7:: is local; to c0a8:7::1 not; as a version 4 packet not either. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x60;
	memcpy(pkt + 24, cfg.addrs[1].bytes, 16);
	assert_true(is_local(h, pkt, 40));
	assert_false(is_local(h, pkt, 39));
	pkt[39] = 1;
	assert_false(is_local(h, pkt, 40));
	pkt[39] = 0;
	const uint8_t not6[] = { 0x00, 0x40, 0x45, 0x50, 0x70, 0xf0 };
	for (size_t i = 0; i < sizeof(not6); i++) {
		pkt[0] = not6[i];
		assert_false(is_local(h, pkt, 40));
	}
	/* An IPv6 header whose destination starts with our IPv4 address. */
	pkt[0] = 0x60;
	memset(pkt + 24, 0, 16);
	memcpy(pkt + 24, cfg.addrs[0].bytes, 4);
	assert_false(is_local(h, pkt, 40));
	free_stack(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_icmp_echo_request_answered, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_linux_ping_answered_as_linux_does, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_reply_header, free_leftovers),
		cmocka_unit_test_teardown(test_icmp6_reply_header, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_echo_data_lengths, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_reply_from_the_address_asked, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_request_with_ip_options, free_leftovers),
		cmocka_unit_test_teardown(test_icmp6_request_after_destination_options, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_request_with_df, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_link_padding_not_echoed, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_replies_to_each_request, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_echo_without_output, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_request_not_to_our_address, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_request_from_multicast_or_broadcast, free_leftovers),
		cmocka_unit_test_teardown(test_icmp6_request_from_multicast, free_leftovers),
		cmocka_unit_test_teardown(test_icmp6_request_from_unspecified, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_request_from_loopback, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_bad_checksum, free_leftovers),
		cmocka_unit_test_teardown(test_icmp6_checksum_needs_pseudo_header, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_checksum_has_no_pseudo_header, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_message_shorter_than_header, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_other_types_not_answered, free_leftovers),
		cmocka_unit_test_teardown(test_icmp6_other_types_not_answered, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_echo_nonzero_code_not_answered, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_fragment_not_answered, free_leftovers),
		cmocka_unit_test_teardown(test_icmp6_fragment_not_answered, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_reply_larger_than_mtu, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_truncated_ip_packet, free_leftovers),
		cmocka_unit_test_teardown(test_icmp4_total_length_shorter_than_message, free_leftovers),
		cmocka_unit_test_teardown(test_icmp_input_garbage, free_leftovers),
		cmocka_unit_test_teardown(test_is_local_ipv4, free_leftovers),
		cmocka_unit_test_teardown(test_is_local_ipv6, free_leftovers),
		cmocka_unit_test_teardown(test_is_local_family_and_garbage, free_leftovers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
