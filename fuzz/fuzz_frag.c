/*
 * libFuzzer target over IP input with fragments among the packets (RFC 791
 * 3.2, RFC 8200 4.5), through the stack's public input only, so it drives
 * reassembly (src/ip/reass.c) as a peer would: the pieces of a datagram come
 * together and go up, or are refused with a drop reason.
 *
 * Input: operations. A datagram (a TCP SYN to a listener, a segment to a
 * closed port, or an ICMP echo request, all with correct checksums) is cut
 * into pieces at offsets from the input, which may overlap, repeat, leave
 * holes or come in any order, and sent as IPv4 or IPv6 fragments; fragments
 * of any bytes; raw packets; time passing.
 *
 * Checked besides crashes, leaks and sanitizer reports: tw_input returns 0
 * or a drop reason and counts exactly that reason; every packet the stack
 * sends is well-formed; the stack's counters stay sane; after everything is
 * closed and time has passed, nothing is left.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DGRAM_MAX 2048
#define PKT_MAX (WIRE_IPV6_HDR_LEN + 8 + DGRAM_MAX)

struct world {
	struct tw_stack_config cfg;
	struct tw_stack *st;
	uint64_t now;
};

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	fz_check_output(pkt, len, NULL);
}

/* tw_input, checking that a drop is counted under the reason it returns, once. */
static void input(struct world *w, const uint8_t *pkt, size_t len)
{
	struct tw_stack_stats before, after;
	tw_stack_stats(w->st, &before);
	int r = tw_input(w->st, pkt, len, w->now);
	tw_stack_stats(w->st, &after);
	if (r > 0 || r <= -TW_DROP_COUNT)
		abort();
	for (int i = 1; i < TW_DROP_COUNT; i++) {
		uint64_t expect = before.drops[i] + (r == -i);
		if (after.drops[i] != expect)
			abort();
	}
}

/* One fragment: `len` bytes of the datagram's upper-layer data at byte `off`. */
static size_t build_fragment(uint8_t *pkt, uint8_t family, uint8_t proto, uint32_t id, size_t off, bool more,
			     const uint8_t *bytes, size_t len)
{
	if (family == TW_AF_INET) {
		struct wire_ipv4 ip;
		memset(&ip, 0, sizeof(ip));
		ip.ttl = 64;
		ip.proto = proto;
		ip.id = (uint16_t)id;
		ip.frag = (uint16_t)((more ? WIRE_IPV4_FLAG_MF : 0) | ((off / 8) & WIRE_IPV4_OFFMASK));
		memcpy(ip.src, fz_peer4, 4);
		memcpy(ip.dst, fz_our4, 4);
		ip.hdr_len = WIRE_IPV4_HDR_MIN;
		ip.total_len = (uint16_t)(WIRE_IPV4_HDR_MIN + len);
		wire_ipv4_emit(&ip, pkt, PKT_MAX);
		memcpy(pkt + WIRE_IPV4_HDR_MIN, bytes, len);
		return WIRE_IPV4_HDR_MIN + len;
	}
	struct wire_ipv6 ip;
	memset(&ip, 0, sizeof(ip));
	ip.hlim = 64;
	ip.next = WIRE_PROTO_FRAGMENT;
	ip.plen = (uint16_t)(8 + len);
	memcpy(ip.src, fz_peer6, 16);
	memcpy(ip.dst, fz_our6, 16);
	wire_ipv6_emit(&ip, pkt, PKT_MAX);
	/* RFC 8200 4.5: next header, reserved, offset (13 bits) and M, identification. */
	uint8_t *fh = pkt + WIRE_IPV6_HDR_LEN;
	fh[0] = proto;
	fh[1] = 0;
	wire_put16(fh + 2, (uint16_t)((off / 8) << 3 | (more ? 1 : 0)));
	wire_put32(fh + 4, id);
	memcpy(fh + 8, bytes, len);
	return WIRE_IPV6_HDR_LEN + 8 + len;
}

/* The upper-layer bytes of a datagram from the peer: TCP or ICMP, checksums right. */
static size_t build_datagram(struct fz_input *in, uint8_t family, uint8_t *proto, uint8_t *out)
{
	uint8_t kind = fz_take8(in);
	size_t data_len = (size_t)fz_take8(in) * 8;
	static uint8_t payload[DGRAM_MAX];
	memset(payload, kind, sizeof(payload));
	if (kind & 1) {
		uint8_t pkt[PKT_MAX];
		struct wire_icmp m = { .type = family == TW_AF_INET ? WIRE_ICMP_ECHO_REQUEST : WIRE_ICMP6_ECHO_REQUEST,
				       .id = 7, .seq = fz_take16(in), .data = payload, .data_len = data_len };
		struct wire_pseudo ph = { .family = family, .proto = WIRE_PROTO_ICMPV6 };
		memcpy(ph.src, family == TW_AF_INET ? fz_peer4 : fz_peer6, family == TW_AF_INET ? 4 : 16);
		memcpy(ph.dst, family == TW_AF_INET ? fz_our4 : fz_our6, family == TW_AF_INET ? 4 : 16);
		*proto = family == TW_AF_INET ? WIRE_PROTO_ICMP : WIRE_PROTO_ICMPV6;
		size_t n = wire_icmp_emit(&m, pkt, sizeof(pkt), family == TW_AF_INET ? NULL : &ph);
		memcpy(out, pkt, n);
		return n;
	}
	struct fz_seg g = { .family = family, .peer = 1, .sport = (uint16_t)(40000 + (kind >> 4)),
			    .dport = kind & 2 ? 81 : 80, .seq = fz_take32(in), .flags = kind & 4 ? WIRE_TCP_ACK : WIRE_TCP_SYN,
			    .wnd = 65535, .payload = payload, .payload_len = data_len < 1400 ? data_len : 1400 };
	static const uint8_t mss[4] = { WIRE_OPT_MSS, 4, 0x05, 0xb4 };
	g.opts = mss;
	g.opt_len = sizeof(mss);
	uint8_t pkt[PKT_MAX];
	size_t n = fz_build_tcp(pkt, sizeof(pkt), &g);
	size_t hdr = family == TW_AF_INET ? WIRE_IPV4_HDR_MIN : WIRE_IPV6_HDR_LEN;
	*proto = WIRE_PROTO_TCP;
	memcpy(out, pkt + hdr, n - hdr);
	return n - hdr;
}

/* A datagram cut into pieces from the input: any overlap, gap, repeat or order. */
static void op_datagram(struct world *w, struct fz_input *in)
{
	uint8_t b = fz_take8(in);
	uint8_t family = b & 1 ? TW_AF_INET6 : TW_AF_INET;
	uint32_t id = (b >> 1) & 3;
	uint8_t proto;
	static uint8_t dgram[DGRAM_MAX];
	size_t len = build_datagram(in, family, &proto, dgram);
	unsigned pieces = 1 + (b >> 3) % 8;
	for (unsigned i = 0; i < pieces; i++) {
		uint8_t c = fz_take8(in);
		size_t units = (len + 7) / 8;
		size_t off, plen;
		if (c & 0x80) {
			/* The i-th of `pieces` equal cuts, in order. */
			off = units * i / pieces * 8;
			plen = units * (i + 1) / pieces * 8 - off;
		} else {
			off = (size_t)fz_take8(in) % (units + 1) * 8;
			plen = (size_t)(c & 0x7f) * 8;
		}
		if (off > len)
			off = len;
		if (plen > len - off)
			plen = len - off;
		bool more = off + plen < len ? !(c & 0x40) || !(c & 0x80) : false;
		uint8_t pkt[PKT_MAX];
		size_t n = build_fragment(pkt, family, proto, id, off, more, dgram + off, plen);
		input(w, pkt, n);
	}
}

/* A fragment header around bytes from the input: any offset, any M bit, any length. */
static void op_fragment(struct world *w, struct fz_input *in)
{
	uint8_t b = fz_take8(in);
	uint8_t family = b & 1 ? TW_AF_INET6 : TW_AF_INET;
	size_t off = (size_t)(fz_take16(in) & WIRE_IPV4_OFFMASK) * 8, len;
	const uint8_t *bytes = fz_take_bytes(in, 255, &len);
	uint8_t proto = b & 2 ? WIRE_PROTO_TCP : (b & 4 ? fz_take8(in) : WIRE_PROTO_ICMP);
	uint8_t pkt[PKT_MAX];
	size_t n = build_fragment(pkt, family, proto, (b >> 3) & 3, off, b & 0x80, bytes, len);
	input(w, pkt, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world w;
	memset(&w, 0, sizeof(w));
	tw_stack_config_init(&w.cfg);
	w.cfg.output = on_output;
	w.cfg.max_conns = 32;
	w.st = fz_stack_new(&w.cfg);
	w.now = 1000000;
	tw_poll(w.st, w.now);
	struct tw_sock *listener[2];
	for (int i = 0; i < 2; i++) {
		int err = 0;
		struct tw_endpoint ep = { .addr = w.cfg.addrs[i], .port = 80 };
		if (!(listener[i] = tw_socket(w.st, &err)) || tw_bind(listener[i], &ep) || tw_listen(listener[i], 8))
			abort();
	}
	struct fz_input in = { data, size };
	for (int steps = 0; in.left && steps < 256; steps++) {
		uint8_t op = fz_take8(&in);
		switch (op % 4) {
		case 0: op_datagram(&w, &in); break;
		case 1: op_fragment(&w, &in); break;
		case 2: fz_advance(w.st, &w.now, (uint64_t)fz_take8(&in) << (op >> 3)); break;
		default: {
			size_t len;
			const uint8_t *p = fz_take_bytes(&in, 255, &len);
			input(&w, p, len);
			break;
		}
		}
		fz_check_stats(w.st, &w.cfg);
	}
	tw_close(listener[0]);
	tw_close(listener[1]);
	fz_finish(w.st, &w.now);
	return 0;
}
