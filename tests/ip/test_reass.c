/*
 * IP reassembly (src/ip/reass.c): datagrams made whole from fragments in any
 * order, duplicates, every attack class refused with its own reason, the
 * memory bound, the timeouts with their ICMP errors, IPv4 and IPv6, and a
 * fragmented SYN opening a connection. Every test ends with the teardown
 * check, which also fails on a datagram left in reassembly.
 */
#include "../tcp/harness.h"

#define ECHO_ID 0x77
#define PEER_ISS 0xfffffc00u   /* below 2^32, so sequence numbers wrap */

static const uint8_t families[] = { TW_AF_INET, TW_AF_INET6 };
#define N_FAMILIES 2

/* An IPv6 Destination Options header before the Fragment header (the unfragmentable part). */
static bool with_dstopts;

static struct tw_stack_stats stats(const struct harness *h)
{
	struct tw_stack_stats ss;
	tw_stack_stats(h->st, &ss);
	return ss;
}

/* An echo request with `n` bytes of data, its checksum for this harness's addresses. */
static size_t echo_request(const struct harness *h, uint8_t *out, size_t cap, size_t n, uint16_t seq)
{
	static uint8_t data[65536];
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 13 + seq);
	bool v6 = h->family == TW_AF_INET6;
	struct wire_icmp m = { .type = v6 ? WIRE_ICMP6_ECHO_REQUEST : WIRE_ICMP_ECHO_REQUEST, .id = ECHO_ID,
			       .seq = seq, .data = data, .data_len = n };
	struct wire_pseudo ph = { .family = h->family, .proto = WIRE_PROTO_ICMPV6 };
	memcpy(ph.src, h->peer.bytes, 16);
	memcpy(ph.dst, h->ours.bytes, 16);
	size_t len = wire_icmp_emit(&m, out, cap, v6 ? &ph : NULL);
	assert_int_equal(len, 8 + n);
	return len;
}

/* The transport bytes of the peer's segment `s` (what follows the IP header). */
static size_t tcp_bytes(const struct harness *h, const struct h_seg *s, uint8_t *out, size_t cap)
{
	uint8_t buf[H_PKT_MAX + 100];
	size_t ip_len = h->family == TW_AF_INET ? 20 : 40;
	size_t len = h_build(h, s, buf, sizeof(buf));
	assert_true(len - ip_len <= cap);
	memcpy(out, buf + ip_len, len - ip_len);
	return len - ip_len;
}

/* Builds one fragment: `n` bytes of data at `off` of an upper-layer message of `proto`. */
static size_t build_frag(const struct harness *h, uint8_t proto, const uint8_t *data, size_t off, size_t n, bool more,
			 uint32_t id, uint8_t *out, size_t cap)
{
	if (h->family == TW_AF_INET) {
		struct wire_ipv4 ip;
		memset(&ip, 0, sizeof(ip));
		ip.hdr_len = 20;
		ip.total_len = (uint16_t)(20 + n);
		ip.id = (uint16_t)id;
		ip.frag = (uint16_t)((more ? WIRE_IPV4_FLAG_MF : 0) | off / 8);
		ip.ttl = 64;
		ip.proto = proto;
		memcpy(ip.src, h->peer.bytes, 4);
		memcpy(ip.dst, h->ours.bytes, 4);
		assert_true(20 + n <= cap);
		assert_int_equal(wire_ipv4_emit(&ip, out, cap), 20);
		memcpy(out + 20, data, n);
		return 20 + n;
	}
	size_t ext = with_dstopts ? 8 : 0;
	struct wire_ipv6 ip6;
	memset(&ip6, 0, sizeof(ip6));
	ip6.plen = (uint16_t)(ext + 8 + n);
	ip6.next = with_dstopts ? WIRE_PROTO_DSTOPTS : WIRE_PROTO_FRAGMENT;
	ip6.hlim = 64;
	memcpy(ip6.src, h->peer.bytes, 16);
	memcpy(ip6.dst, h->ours.bytes, 16);
	assert_true(40 + ext + 8 + n <= cap);
	assert_int_equal(wire_ipv6_emit(&ip6, out, cap), 40);
	if (with_dstopts) {
		/* RFC 8200 4.6: next header, length 0 (8 bytes), a PadN of 4. */
		const uint8_t opts[8] = { WIRE_PROTO_FRAGMENT, 0, 1, 4, 0, 0, 0, 0 };
		memcpy(out + 40, opts, 8);
	}
	uint8_t *fh = out + 40 + ext;
	fh[0] = proto;
	fh[1] = 0;
	wire_put16(fh + 2, (uint16_t)(off | more));
	wire_put32(fh + 4, id);
	memcpy(fh + 8, data, n);
	return 40 + ext + 8 + n;
}

static uint8_t last_frag[70000];
static size_t last_frag_len;

/* The peer sends one fragment of `msg` from a buffer of exactly its size; returns tw_input's result. */
static int feed_frag(struct harness *h, uint8_t proto, const uint8_t *msg, size_t off, size_t n, bool more, uint32_t id)
{
	last_frag_len = build_frag(h, proto, msg + off, off, n, more, id, last_frag, sizeof(last_frag));
	uint8_t *pkt = malloc(last_frag_len);
	assert_non_null(pkt);
	memcpy(pkt, last_frag, last_frag_len);
	int r = tw_input(h->st, pkt, last_frag_len, h->now);
	free(pkt);
	return r;
}

static uint8_t icmp_proto(const struct harness *h)
{
	return h->family == TW_AF_INET ? WIRE_PROTO_ICMP : WIRE_PROTO_ICMPV6;
}

/* Parses the next packet sent as ICMP to the peer; its message in `m`. */
static void next_icmp(struct harness *h, struct wire_icmp *m)
{
	assert_true(h_pending(h) > 0);
	struct h_pkt *p = &h->out[h->next_out++];
	struct wire_pseudo ph;
	if (h->family == TW_AF_INET) {
		struct wire_ipv4 ip;
		assert_int_equal(wire_ipv4_parse(&ip, p->bytes, p->len), 0);
		assert_int_equal(ip.proto, WIRE_PROTO_ICMP);
		assert_memory_equal(ip.src, h->ours.bytes, 4);
		assert_memory_equal(ip.dst, h->peer.bytes, 4);
		/* RFC 1812 4.3.2.3: an error is 576 bytes at most. */
		if (ip.payload_len && ip.payload[0] != WIRE_ICMP_ECHO_REPLY)
			assert_true(p->len <= 576);
		assert_int_equal(wire_icmp_parse(m, ip.payload, ip.payload_len, NULL), 0);
	} else {
		struct wire_ipv6 ip6;
		assert_int_equal(wire_ipv6_parse(&ip6, p->bytes, p->len), 0);
		assert_int_equal(ip6.proto, WIRE_PROTO_ICMPV6);
		assert_memory_equal(ip6.src, h->ours.bytes, 16);
		assert_memory_equal(ip6.dst, h->peer.bytes, 16);
		/* RFC 4443 2.4 (c): an error fits the minimum MTU. */
		if (ip6.payload_len && ip6.payload[0] != WIRE_ICMP6_ECHO_REPLY)
			assert_true(p->len <= 1280);
		wire_ipv6_pseudo(&ip6, &ph);
		assert_int_equal(wire_icmp_parse(m, ip6.payload, ip6.payload_len, &ph), 0);
	}
}

/* The next packet is the echo reply to the request of `n` bytes and `seq`. */
static void expect_echo_reply(struct harness *h, size_t n, uint16_t seq)
{
	struct wire_icmp m;
	next_icmp(h, &m);
	assert_int_equal(m.type, h->family == TW_AF_INET ? WIRE_ICMP_ECHO_REPLY : WIRE_ICMP6_ECHO_REPLY);
	assert_int_equal(m.id, ECHO_ID);
	assert_int_equal(m.seq, seq);
	assert_int_equal(m.data_len, n);
	for (size_t i = 0; i < n; i++)
		if (m.data[i] != (uint8_t)(i * 13 + seq))
			fail_msg("echo data differs at %zu", i);
}

static void expect_nothing_held(const struct harness *h)
{
	struct tw_stack_stats ss = stats(h);
	assert_int_equal(ss.reass_datagrams, 0);
	assert_int_equal(ss.reass_bytes, 0);
}

/* Feeds `msg` cut at 8-byte multiples of `piece`, in the order `order` gives (NULL: in order). */
static void feed_pieces(struct harness *h, uint8_t proto, const uint8_t *msg, size_t len, size_t piece,
			const size_t *order, uint32_t id)
{
	size_t n = (len + piece - 1) / piece;
	for (size_t i = 0; i < n; i++) {
		size_t k = order ? order[i] : i;
		size_t off = k * piece, cnt = off + piece < len ? piece : len - off;
		int r = feed_frag(h, proto, msg, off, cnt, off + cnt < len, id);
		assert_int_equal(r, 0);
		if (i + 1 < n)
			h_expect_none(h);
	}
}

/* ----------------------------------------------------------- whole datagrams */

static void run_order(void (*make_order)(size_t *order, size_t n), size_t data_len, size_t piece)
{
	for (size_t f = 0; f < N_FAMILIES; f++) {
		for (int opts = 0; opts < (families[f] == TW_AF_INET6 ? 2 : 1); opts++) {
			with_dstopts = opts;
			struct harness *h = h_new(families[f]);
			uint8_t msg[2048];
			size_t len = echo_request(h, msg, sizeof(msg), data_len, 3);
			size_t n = (len + piece - 1) / piece;
			size_t order[2048];
			for (size_t i = 0; i < n; i++)
				order[i] = i;
			if (make_order)
				make_order(order, n);
			feed_pieces(h, icmp_proto(h), msg, len, piece, order, 0x1001);
			/* RFC 791 3.2, RFC 8200 4.5: whole, it is an echo request like any other. */
			expect_echo_reply(h, data_len, 3);
			h_expect_none(h);
			struct tw_stack_stats ss = stats(h);
			assert_int_equal(ss.reass_ok, 1);
			assert_int_equal(ss.frags_received, n);
			assert_int_equal(ss.icmp_echo_replies, 1);
			expect_nothing_held(h);
			h_free(h);
			with_dstopts = false;
		}
	}
}

static void reverse(size_t *order, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		size_t t = order[i];
		order[i] = order[n - 1 - i];
		order[n - 1 - i] = t;
	}
}

/* A fixed permutation (a seeded Fisher-Yates), the same on every run. */
static void shuffle(size_t *order, size_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = n - 1; i > 0; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t j = (size_t)(x % (i + 1));
		size_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

static void test_reass_in_order(void **state)
{
	(void)state;
	run_order(NULL, 1000, 128);
}

static void test_reass_reverse_order(void **state)
{
	(void)state;
	run_order(reverse, 1000, 128);
}

/* 8-byte pieces in a shuffled order: 126 fragments. */
static void test_reass_shuffled_tiny_pieces(void **state)
{
	(void)state;
	run_order(shuffle, 1000, 8);
}

/*
 * RFC 8200 4.5: exact duplicates may be dropped "while keeping the other
 * fragments", as Linux does: each is counted and the datagram completes.
 */
/*
 * The largest datagram, 65,535 bytes in 8-byte pieces in a shuffled order
 * (8,190 or 8,191 fragments): made whole, then refused by delivery (UDP is not
 * served); the memory it took is all given back.
 */
static void test_reass_largest_datagram_tiny_pieces(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		static uint8_t data[65536];
		size_t len = families[f] == TW_AF_INET ? 65535 - 20 : 65535 - 8;
		size_t n = (len + 7) / 8;
		static size_t order[8192];
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		shuffle(order, n);
		for (size_t i = 0; i < n; i++) {
			size_t off = order[i] * 8, cnt = off + 8 < len ? 8 : len - off;
			int r = feed_frag(h, WIRE_PROTO_UDP, data, off, cnt, off + cnt < len, 0x5151);
			assert_int_equal(r, i + 1 < n ? 0 : -TW_DROP_PROTOCOL);
		}
		assert_int_equal(stats(h).reass_ok, 1);
		expect_nothing_held(h);
		h_free(h);
	}
}

static void test_reass_exact_duplicates_ignored(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		uint8_t msg[2048];
		size_t len = echo_request(h, msg, sizeof(msg), 1000, 4);   /* 1008 bytes */
		uint8_t p = icmp_proto(h);
		assert_int_equal(feed_frag(h, p, msg, 0, 256, true, 9), 0);
		assert_int_equal(feed_frag(h, p, msg, 0, 256, true, 9), -TW_DROP_FRAG_DUPLICATE);
		assert_int_equal(feed_frag(h, p, msg, 768, len - 768, false, 9), 0);
		assert_int_equal(feed_frag(h, p, msg, 768, len - 768, false, 9), -TW_DROP_FRAG_DUPLICATE);
		assert_int_equal(feed_frag(h, p, msg, 512, 256, true, 9), 0);
		assert_int_equal(feed_frag(h, p, msg, 512, 256, true, 9), -TW_DROP_FRAG_DUPLICATE);
		h_expect_none(h);
		assert_int_equal(stats(h).drops[TW_DROP_FRAG_DUPLICATE], 3);
		assert_int_equal(stats(h).reass_datagrams, 1);
		assert_int_equal(feed_frag(h, p, msg, 256, 256, true, 9), 0);
		expect_echo_reply(h, 1000, 4);
		expect_nothing_held(h);
		h_free(h);
	}
}

/* RFC 6946 4: an atomic fragment is processed at once, apart from what is held with its id. */
static void test_reass_ipv6_atomic_fragment(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET6);
	uint8_t msg[2048], other[2048];
	size_t len = echo_request(h, msg, sizeof(msg), 200, 5);
	echo_request(h, other, sizeof(other), 200, 6);
	assert_int_equal(feed_frag(h, WIRE_PROTO_ICMPV6, other, 0, 64, true, 77), 0);
	assert_int_equal(stats(h).reass_datagrams, 1);
	assert_int_equal(feed_frag(h, WIRE_PROTO_ICMPV6, msg, 0, len, false, 77), 0);
	expect_echo_reply(h, 200, 5);
	/* The datagram held with the same id is untouched: it completes by itself. */
	assert_int_equal(stats(h).reass_datagrams, 1);
	echo_request(h, other, sizeof(other), 200, 6);
	assert_int_equal(feed_frag(h, WIRE_PROTO_ICMPV6, other, 64, len - 64, false, 77), 0);
	expect_echo_reply(h, 200, 6);
	assert_int_equal(stats(h).reass_ok, 1);
	expect_nothing_held(h);
	h_free(h);
}

/* IPv4's key has the protocol: the same id under two protocols is two datagrams. */
static void test_reass_ipv4_key_has_protocol(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	uint8_t msg[2048];
	size_t len = echo_request(h, msg, sizeof(msg), 200, 1);
	assert_int_equal(feed_frag(h, WIRE_PROTO_ICMP, msg, 0, 64, true, 5), 0);
	assert_int_equal(feed_frag(h, WIRE_PROTO_UDP, msg, 64, len - 64, false, 5), 0);
	assert_int_equal(stats(h).reass_datagrams, 2);
	h_expect_none(h);
	assert_int_equal(feed_frag(h, WIRE_PROTO_ICMP, msg, 64, len - 64, false, 5), 0);
	expect_echo_reply(h, 200, 1);
	assert_int_equal(stats(h).reass_datagrams, 1);
	h_free(h);
}

/* ------------------------------------------------------------------ attacks */

/*
 * RFC 5722 4: an overlap drops the whole datagram, in IPv4 too (Linux since
 * CVE-2018-5391). What comes after it starts a new datagram, which cannot
 * complete with the fragments that were dropped.
 */
static void test_reass_overlap_drops_datagram(void **state)
{
	(void)state;
	const struct { size_t off, n; bool more; } second[] = {
		{ 128, 256, true },   /* inside and beyond */
		{ 0, 128, true },     /* the same start, shorter */
		{ 0, 512, true },     /* the same start, longer */
		{ 248, 8, true },     /* the last block only */
		{ 128, 200, false },  /* a last fragment ending inside */
	};
	for (size_t f = 0; f < N_FAMILIES; f++) {
		for (size_t i = 0; i < sizeof(second) / sizeof(second[0]); i++) {
			struct harness *h = h_new(families[f]);
			uint8_t msg[2048];
			size_t len = echo_request(h, msg, sizeof(msg), 600, 2);
			uint8_t p = icmp_proto(h);
			assert_int_equal(feed_frag(h, p, msg, 0, 256, true, 3), 0);
			assert_int_equal(feed_frag(h, p, msg, second[i].off, second[i].n, second[i].more, 3),
					 -TW_DROP_FRAG_OVERLAP);
			assert_int_equal(stats(h).drops[TW_DROP_FRAG_OVERLAP], 1);
			expect_nothing_held(h);
			assert_int_equal(feed_frag(h, p, msg, 256, len - 256, false, 3), 0);
			h_expect_none(h);
			assert_int_equal(stats(h).reass_ok, 0);
			h_free(h);
		}
	}
}

/* RFC 1858 3.2: a TCP first fragment shorter than the TCP header, or TCP at offset 8. */
static void test_reass_tiny_tcp_fragments(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct h_seg s = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
		h_opt_linux_syn(&s, 1, 0);                    /* a 40-byte header */
		uint8_t data[64];
		memset(data, 0x5a, sizeof(data));
		s.data = data;
		s.len = sizeof(data);
		uint8_t seg[256];
		tcp_bytes(h, &s, seg, sizeof(seg));
		/* The flags in, the options cut: shorter than the data offset says. */
		assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 0, 32, true, 1), -TW_DROP_FRAG_TINY);
		/* Not even the data offset. */
		assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 0, 8, true, 2), -TW_DROP_FRAG_TINY);
		/* FO = 1: it would rewrite the flags of a first fragment of 8 bytes. */
		assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 8, 32, true, 3), -TW_DROP_FRAG_TINY);
		assert_int_equal(stats(h).drops[TW_DROP_FRAG_TINY], 3);
		expect_nothing_held(h);
		/* The whole header in the first fragment is fine, and the rest may come at any offset. */
		assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 0, 40, true, 4), 0);
		assert_int_equal(stats(h).reass_datagrams, 1);
		/* Other protocols are not held to it: an 8-byte first fragment of ICMP. */
		uint8_t msg[256];
		echo_request(h, msg, sizeof(msg), 56, 1);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 8, true, 5), 0);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 8, 56, false, 5), 0);
		expect_echo_reply(h, 56, 1);
		h_free(h);
	}
}

/*
 * The ping of death: a fragment that would reassemble past 65,535 bytes.
 * RFC 8200 4.5: discarded, with a Parameter Problem pointing at its
 * Fragment Offset field (IPv6 only; Linux sends none for IPv4).
 */
static void test_reass_too_big(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		uint8_t msg[64];
		memset(msg, 0xee, sizeof(msg));
		uint8_t pkt[256];
		/* 65,528 + 16 bytes: past the limit by any header. */
		size_t n = build_frag(h, icmp_proto(h), msg, 65528, 16, false, 8, pkt, sizeof(pkt));
		assert_int_equal(tw_input(h->st, pkt, n, h->now), -TW_DROP_FRAG_TOO_BIG);
		if (h->family == TW_AF_INET) {
			/* 65,512 + 8 + 20 header = 65,540. */
			n = build_frag(h, WIRE_PROTO_ICMP, msg, 65512, 8, true, 8, pkt, sizeof(pkt));
			assert_int_equal(tw_input(h->st, pkt, n, h->now), -TW_DROP_FRAG_TOO_BIG);
			/* 65,504 + 8 + 20 = 65,532 fits. */
			n = build_frag(h, WIRE_PROTO_ICMP, msg, 65504, 8, true, 8, pkt, sizeof(pkt));
			assert_int_equal(tw_input(h->st, pkt, n, h->now), 0);
			h_expect_none(h);
		} else {
			struct wire_icmp m;
			next_icmp(h, &m);
			assert_int_equal(m.type, WIRE_ICMP6_PARAM_PROBLEM);
			assert_int_equal(m.code, 0);
			assert_int_equal((uint32_t)m.id << 16 | m.seq, 42);   /* 40 + 2: the Fragment Offset */
			assert_int_equal(m.data_len, n);
			assert_memory_equal(m.data, pkt, n);
			/* 65,520 + 8 (+ 0 extension headers) = 65,528 fits a Payload Length. */
			n = build_frag(h, WIRE_PROTO_ICMPV6, msg, 65520, 8, true, 8, pkt, sizeof(pkt));
			assert_int_equal(tw_input(h->st, pkt, n, h->now), 0);
			h_expect_none(h);
			assert_int_equal(stats(h).icmp_errors_sent, 1);
		}
		h_free(h);
	}
}

/* The whole datagram's size is checked again with the first fragment's header (IPv4 options). */
static void test_reass_too_big_with_first_fragment_options(void **state)
{
	(void)state;
	struct harness *h = h_new(TW_AF_INET);
	static uint8_t data[65536];
	memset(data, 0, sizeof(data));
	data[0] = 0x45;                                   /* nothing reads it: the datagram is refused */
	uint8_t pkt[256];
	/* A first fragment with 40 bytes of options, then a last one that fits a 20-byte header only. */
	struct wire_ipv4 ip;
	memset(&ip, 0, sizeof(ip));
	static const uint8_t nops[40] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
					  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	ip.hdr_len = 60;
	ip.opts = nops;
	ip.opts_len = 40;
	ip.total_len = 60 + 8;
	ip.id = 12;
	ip.frag = WIRE_IPV4_FLAG_MF;
	ip.ttl = 64;
	ip.proto = WIRE_PROTO_UDP;
	memcpy(ip.src, h->peer.bytes, 4);
	memcpy(ip.dst, h->ours.bytes, 4);
	assert_int_equal(wire_ipv4_emit(&ip, pkt, sizeof(pkt)), 60);
	memset(pkt + 60, 0, 8);
	assert_int_equal(tw_input(h->st, pkt, 68, h->now), 0);
	/* Every other fragment in 1480-byte pieces up to 65,512 + 3 = 65,515 bytes of data. */
	size_t off = 8;
	while (off < 65512) {
		size_t n = off + 1480 < 65512 ? 1480 : 65512 - off;
		assert_int_equal(feed_frag(h, WIRE_PROTO_UDP, data, off, n, true, 12), 0);
		off += n;
	}
	assert_int_equal(feed_frag(h, WIRE_PROTO_UDP, data, 65512, 3, false, 12), -TW_DROP_FRAG_TOO_BIG);
	expect_nothing_held(h);
	assert_int_equal(stats(h).reass_ok, 0);
	h_free(h);
}

/* RFC 8200 4.5: M set and a length not a multiple of 8: discarded, a Parameter Problem at Payload Length. */
static void test_reass_unaligned_fragment(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		uint8_t msg[256];
		echo_request(h, msg, sizeof(msg), 100, 1);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 100, true, 4), -TW_DROP_FRAG_UNALIGNED);
		if (h->family == TW_AF_INET6) {
			struct wire_icmp m;
			next_icmp(h, &m);
			assert_int_equal(m.type, WIRE_ICMP6_PARAM_PROBLEM);
			assert_int_equal(m.code, 0);
			assert_int_equal((uint32_t)m.id << 16 | m.seq, 4);
			assert_memory_equal(m.data, last_frag, last_frag_len);
		}
		h_expect_none(h);
		expect_nothing_held(h);
		h_free(h);
	}
}

/* Linux's ip_frag_queue: ends that disagree with the datagram's, and empty fragments, are dropped alone. */
static void test_reass_bad_lengths(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		uint8_t msg[2048];
		size_t len = echo_request(h, msg, sizeof(msg), 600, 8);   /* 608 bytes */
		uint8_t p = icmp_proto(h);
		assert_int_equal(feed_frag(h, p, msg, 256, len - 256, false, 6), 0);
		/* Beyond the end the last fragment set. */
		assert_int_equal(feed_frag(h, p, msg, 608, 8, true, 6), -TW_DROP_FRAG_BAD_LENGTH);
		/* Another last fragment, ending elsewhere. */
		assert_int_equal(feed_frag(h, p, msg, 128, 72, false, 6), -TW_DROP_FRAG_BAD_LENGTH);
		/* No data at all. */
		assert_int_equal(feed_frag(h, p, msg, 0, 0, true, 6), -TW_DROP_FRAG_BAD_LENGTH);
		assert_int_equal(stats(h).drops[TW_DROP_FRAG_BAD_LENGTH], 3);
		/* The datagram is intact. */
		assert_int_equal(feed_frag(h, p, msg, 0, 256, true, 6), 0);
		expect_echo_reply(h, 600, 8);
		/* A last fragment below data already held. */
		assert_int_equal(feed_frag(h, p, msg, 256, 256, true, 7), 0);
		assert_int_equal(feed_frag(h, p, msg, 128, 72, false, 7), -TW_DROP_FRAG_BAD_LENGTH);
		h_free(h);
	}
}

/* Reassembly off: every fragment is dropped as TW_DROP_FRAGMENT; atomic fragments are not fragments. */
static void test_reass_off(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct tw_stack_config cfg;
		h_config(&cfg, families[f]);
		cfg.reass_max_bytes = 0;
		struct harness *h = h_new_cfg(&cfg);
		uint8_t msg[256];
		size_t len = echo_request(h, msg, sizeof(msg), 100, 1);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 64, true, 1), -TW_DROP_FRAGMENT);
		if (h->family == TW_AF_INET6) {
			assert_int_equal(feed_frag(h, WIRE_PROTO_ICMPV6, msg, 0, len, false, 1), 0);
			expect_echo_reply(h, 100, 1);
		}
		expect_nothing_held(h);
		h_free(h);
	}
}

/* ------------------------------------------------------------ memory bound */

/* reass_max_datagrams: the next datagram is refused; those held go on. */
static void test_reass_datagram_cap(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct tw_stack_config cfg;
		h_config(&cfg, families[f]);
		cfg.reass_max_datagrams = 4;
		struct harness *h = h_new_cfg(&cfg);
		uint8_t msg[256];
		size_t len = echo_request(h, msg, sizeof(msg), 100, 1);
		for (uint32_t id = 0; id < 4; id++)
			assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 64, true, id), 0);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 64, true, 4), -TW_DROP_FRAG_NO_ROOM);
		assert_int_equal(stats(h).reass_datagrams, 4);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 64, len - 64, false, 2), 0);
		expect_echo_reply(h, 100, 1);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 64, true, 4), 0);
		assert_int_equal(stats(h).reass_datagrams, 4);
		h_free(h);
	}
}

/*
 * reass_max_bytes bounds everything held; past it new fragments are dropped
 * (Linux's ipfrag_high_thresh) until the timeout frees the memory.
 */
static void test_reass_memory_bound(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct tw_stack_config cfg;
		h_config(&cfg, families[f]);
		cfg.reass_max_bytes = 64 * 1024;
		struct harness *h = h_new_cfg(&cfg);
		static uint8_t data[65536];
		uint32_t refused = 0, taken = 0;
		for (uint32_t id = 0; id < 400; id++) {
			int r = feed_frag(h, WIRE_PROTO_UDP, data, 1480, 1480, true, id);
			if (r == 0)
				taken++;
			else {
				assert_int_equal(r, -TW_DROP_FRAG_NO_ROOM);
				refused++;
			}
			struct tw_stack_stats ss = stats(h);
			assert_true(ss.reass_bytes <= cfg.reass_max_bytes);
		}
		assert_true(taken > 10 && refused > 0);
		/* A datagram held takes no more fragments either, once full. */
		int r = 0;
		for (size_t off = 2960; r == 0 && off < 20000; off += 1480) {
			r = feed_frag(h, WIRE_PROTO_UDP, data, off, 1480, true, 0);
			assert_true(stats(h).reass_bytes <= cfg.reass_max_bytes);
		}
		assert_int_equal(r, -TW_DROP_FRAG_NO_ROOM);
		assert_int_equal(stats(h).drops[TW_DROP_FRAG_NO_ROOM], refused + 1);
		/* No first fragment came: the timeout frees all, with no ICMP. */
		h_advance(h, families[f] == TW_AF_INET ? 30000000 : 60000000);
		h_expect_none(h);
		expect_nothing_held(h);
		assert_int_equal(stats(h).reass_timeouts, taken);
		assert_int_equal(feed_frag(h, WIRE_PROTO_UDP, data, 1480, 1480, true, 1000), 0);
		h_free(h);
	}
}

/* ----------------------------------------------------------------- timeouts */

/*
 * Linux's ipfrag_time (30 s) for IPv4, RFC 8200 4.5's 60 s for IPv6, from
 * the first fragment to arrive; then ICMP Time Exceeded, code 1, quoting the
 * first fragment, if it came.
 */
static void test_reass_timeout(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		uint64_t timeout = families[f] == TW_AF_INET ? 30000000 : 60000000;
		struct harness *h = h_new(families[f]);
		uint8_t msg[2048];
		size_t len = echo_request(h, msg, sizeof(msg), 600, 1);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 256, len - 256, false, 1), 0);
		h_advance(h, 1000000);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 128, true, 1), 0);
		uint8_t first[2048];
		size_t first_len = last_frag_len;
		memcpy(first, last_frag, first_len);
		/* The deadline is the host's next wake-up. */
		assert_int_equal(tw_poll(h->st, h->now), h->now - 1000000 + timeout);
		h_advance(h, timeout - 1000000 - 1);
		h_expect_none(h);
		assert_int_equal(stats(h).reass_datagrams, 1);
		h_advance(h, 1);
		struct wire_icmp m;
		next_icmp(h, &m);
		assert_int_equal(m.type, families[f] == TW_AF_INET ? WIRE_ICMP_TIME_EXCEEDED : WIRE_ICMP6_TIME_EXCEEDED);
		assert_int_equal(m.code, 1);
		assert_int_equal(m.id, 0);
		assert_int_equal(m.seq, 0);
		/* The first fragment, whole: it fits 576 (IPv4) or 1280 (IPv6) bytes. */
		assert_int_equal(m.data_len, first_len);
		assert_memory_equal(m.data, first, first_len);
		h_expect_none(h);
		struct tw_stack_stats ss = stats(h);
		assert_int_equal(ss.reass_timeouts, 1);
		assert_int_equal(ss.drops[TW_DROP_FRAG_TIMEOUT], 1);
		assert_int_equal(ss.icmp_errors_sent, 1);
		expect_nothing_held(h);
		/* The rest arriving late starts over, and completes nothing. */
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 128, 128, true, 1), 0);
		h_expect_none(h);
		h_free(h);
	}
}

/* Without the first fragment there is nothing to quote: no ICMP; a long first fragment is cut to fit. */
static void test_reass_timeout_quote_bounds(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		uint64_t timeout = families[f] == TW_AF_INET ? 30000000 : 60000000;
		struct harness *h = h_new(families[f]);
		uint8_t msg[2048];
		size_t len = echo_request(h, msg, sizeof(msg), 1400, 1);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 1400, len - 1400, false, 1), 0);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 1392, true, 2), 0);
		uint8_t first[2048];
		memcpy(first, last_frag, last_frag_len);
		h_advance(h, timeout);
		struct wire_icmp m;
		next_icmp(h, &m);
		size_t quote = families[f] == TW_AF_INET ? 576 - 28 : 1280 - 48;
		assert_int_equal(m.data_len, quote);
		assert_memory_equal(m.data, first, quote);
		h_expect_none(h);
		assert_int_equal(stats(h).reass_timeouts, 2);
		assert_int_equal(stats(h).icmp_errors_sent, 1);
		h_free(h);
	}
}

/* RFC 1122 3.2.2, RFC 4443 2.4 (e.1): no ICMP error about an ICMP error, even one in fragments. */
static void test_reass_timeout_no_error_about_an_error(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		uint8_t msg[600];
		memset(msg, 0, sizeof(msg));
		msg[0] = families[f] == TW_AF_INET ? WIRE_ICMP_TIME_EXCEEDED : WIRE_ICMP6_TIME_EXCEEDED;
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 256, true, 1), 0);
		/* An echo request's first fragment is answered at its timeout, as the control. */
		echo_request(h, msg, sizeof(msg), 500, 1);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 256, true, 2), 0);
		h_advance(h, families[f] == TW_AF_INET ? 30000000 : 60000000);
		struct wire_icmp m;
		next_icmp(h, &m);
		assert_int_equal(m.code, 1);
		assert_int_equal(m.data[m.data_len - 256], msg[0]);
		h_expect_none(h);
		assert_int_equal(stats(h).reass_timeouts, 2);
		assert_int_equal(stats(h).icmp_errors_sent, 1);
		/* Nor a Parameter Problem about one. */
		msg[0] = WIRE_ICMP6_PARAM_PROBLEM;
		if (h->family == TW_AF_INET6) {
			assert_int_equal(feed_frag(h, WIRE_PROTO_ICMPV6, msg, 0, 100, true, 3), -TW_DROP_FRAG_UNALIGNED);
			h_expect_none(h);
		}
		h_free(h);
	}
}

/* ---------------------------------------------------------------------- TCP */

/* The peer's SYN with <mss,sackOK,TS,nop,wscale> and 24 bytes of data: 64 bytes of TCP. */
static size_t fragmented_syn(const struct harness *h, uint8_t *seg, size_t cap)
{
	static uint8_t data[24];
	memset(data, 'x', sizeof(data));
	struct h_seg s = h_seg(WIRE_TCP_SYN, PEER_ISS, 0);
	s.sport = PEER_PORT;
	h_opt_linux_syn(&s, 100, 0);
	s.data = data;
	s.len = sizeof(data);
	return tcp_bytes(h, &s, seg, cap);
}

/* A SYN in two fragments, either order, opens a connection like any SYN. */
static void test_reass_fragmented_syn_opens_connection(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		for (int rev = 0; rev < 2; rev++) {
			struct harness *h = h_new(families[f]);
			struct tw_sock *l = h_listen(h, 8);
			uint8_t seg[256];
			size_t len = fragmented_syn(h, seg, sizeof(seg));
			assert_int_equal(len, 64);
			if (!rev) {
				assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 0, 40, true, 0xabc), 0);
				h_expect_none(h);
				assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 40, 24, false, 0xabc), 0);
			} else {
				assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 40, 24, false, 0xabc), 0);
				h_expect_none(h);
				assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 0, 40, true, 0xabc), 0);
			}
			struct wire_tcp sa = h_next(h);
			assert_int_equal(sa.flags, WIRE_TCP_SYN | WIRE_TCP_ACK);
			assert_int_equal(sa.dport, PEER_PORT);
			assert_int_equal(sa.ack, PEER_ISS + 1);
			assert_true(sa.opt.has & WIRE_HAS_TS);
			struct h_seg a = h_seg(WIRE_TCP_ACK, PEER_ISS + 1, sa.seq + 1);
			h_opt_nop(&a);
			h_opt_nop(&a);
			h_opt_ts(&a, 101, sa.opt.ts_val);
			assert_int_equal(h_feed(h, &a), 0);
			int err = 0;
			struct tw_sock *c = tw_accept(l, NULL, &err);
			assert_non_null(c);
			assert_int_equal(h_state(c), TW_ESTABLISHED);
			assert_int_equal(stats(h).reass_ok, 1);
			expect_nothing_held(h);
			tw_abort(c);
			h_free(h);
		}
	}
}

/* Whole, the segment's TCP checksum is verified as any segment's: a byte changed in a fragment is caught. */
static void test_reass_tcp_checksum_verified(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		struct tw_sock *l = h_listen(h, 8);
		(void)l;
		uint8_t seg[256];
		fragmented_syn(h, seg, sizeof(seg));
		seg[50] ^= 0x20;
		assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 0, 40, true, 1), 0);
		assert_int_equal(feed_frag(h, WIRE_PROTO_TCP, seg, 40, 24, false, 1), -TW_DROP_TCP_CHECKSUM);
		h_expect_none(h);
		assert_int_equal(stats(h).reass_ok, 1);
		expect_nothing_held(h);
		h_free(h);
	}
}

/* ---------------------------------------------------------------- teardown */

/* Freeing a stack frees what reassembly holds (LeakSanitizer would tell). */
static void test_reass_stack_free_with_datagrams_held(void **state)
{
	(void)state;
	for (size_t f = 0; f < N_FAMILIES; f++) {
		struct harness *h = h_new(families[f]);
		uint8_t msg[2048];
		echo_request(h, msg, sizeof(msg), 1000, 1);
		for (uint32_t id = 0; id < 50; id++) {
			assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 256, true, id), 0);
			assert_int_equal(feed_frag(h, icmp_proto(h), msg, 512, 256, true, id), 0);
		}
		/* A datagram just made whole is held until the next packet: freed with the stack too. */
		size_t len = echo_request(h, msg, sizeof(msg), 100, 2);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 0, 64, true, 999), 0);
		assert_int_equal(feed_frag(h, icmp_proto(h), msg, 64, len - 64, false, 999), 0);
		assert_true(stats(h).reass_bytes > 100 * 256);
		assert_int_equal(stats(h).reass_datagrams, 50);
		h_free_unchecked(h);
	}
}

/* The drop reasons have names. */
static void test_reass_drop_names(void **state)
{
	(void)state;
	assert_string_equal(tw_drop_name(TW_DROP_FRAG_OVERLAP), "frag-overlap");
	assert_string_equal(tw_drop_name(TW_DROP_FRAG_DUPLICATE), "frag-duplicate");
	assert_string_equal(tw_drop_name(TW_DROP_FRAG_TINY), "frag-tiny");
	assert_string_equal(tw_drop_name(TW_DROP_FRAG_TOO_BIG), "frag-too-big");
	assert_string_equal(tw_drop_name(TW_DROP_FRAG_UNALIGNED), "frag-unaligned");
	assert_string_equal(tw_drop_name(TW_DROP_FRAG_BAD_LENGTH), "frag-bad-length");
	assert_string_equal(tw_drop_name(TW_DROP_FRAG_NO_ROOM), "frag-no-room");
	assert_string_equal(tw_drop_name(TW_DROP_FRAG_TIMEOUT), "frag-timeout");
	assert_string_equal(tw_drop_name(TW_DROP_FRAGMENT), "fragment");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reass_in_order),
		cmocka_unit_test(test_reass_reverse_order),
		cmocka_unit_test(test_reass_shuffled_tiny_pieces),
		cmocka_unit_test(test_reass_largest_datagram_tiny_pieces),
		cmocka_unit_test(test_reass_exact_duplicates_ignored),
		cmocka_unit_test(test_reass_ipv6_atomic_fragment),
		cmocka_unit_test(test_reass_ipv4_key_has_protocol),
		cmocka_unit_test(test_reass_overlap_drops_datagram),
		cmocka_unit_test(test_reass_tiny_tcp_fragments),
		cmocka_unit_test(test_reass_too_big),
		cmocka_unit_test(test_reass_too_big_with_first_fragment_options),
		cmocka_unit_test(test_reass_unaligned_fragment),
		cmocka_unit_test(test_reass_bad_lengths),
		cmocka_unit_test(test_reass_off),
		cmocka_unit_test(test_reass_datagram_cap),
		cmocka_unit_test(test_reass_memory_bound),
		cmocka_unit_test(test_reass_timeout),
		cmocka_unit_test(test_reass_timeout_quote_bounds),
		cmocka_unit_test(test_reass_timeout_no_error_about_an_error),
		cmocka_unit_test(test_reass_fragmented_syn_opens_connection),
		cmocka_unit_test(test_reass_tcp_checksum_verified),
		cmocka_unit_test(test_reass_stack_free_with_datagrams_held),
		cmocka_unit_test(test_reass_drop_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
