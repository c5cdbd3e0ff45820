/* Helpers shared by the stack fuzz targets; see fuzz_common.h. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

const uint8_t fz_our4[4] = { 10, 0, 0, 2 }, fz_peer4[4] = { 10, 0, 0, 1 };
const uint8_t fz_our6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
const uint8_t fz_peer6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

uint8_t fz_take8(struct fz_input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

uint16_t fz_take16(struct fz_input *in)
{
	uint16_t hi = fz_take8(in);
	return (uint16_t)(hi << 8 | fz_take8(in));
}

uint32_t fz_take32(struct fz_input *in)
{
	uint32_t hi = fz_take16(in);
	return hi << 16 | fz_take16(in);
}

const uint8_t *fz_take_bytes(struct fz_input *in, size_t max, size_t *len)
{
	size_t n = fz_take8(in) % (max + 1);
	if (n > in->left)
		n = in->left;
	const uint8_t *p = in->p;
	in->p += n;
	in->left -= n;
	*len = n;
	return p;
}

struct tw_stack *fz_stack_new(struct tw_stack_config *cfg)
{
	cfg->secret_fixed = true;
	cfg->n_addrs = 2;
	cfg->addrs[0].family = TW_AF_INET;
	memcpy(cfg->addrs[0].bytes, fz_our4, 4);
	cfg->addrs[1].family = TW_AF_INET6;
	memcpy(cfg->addrs[1].bytes, fz_our6, 16);
	int err = 0;
	struct tw_stack *st = tw_stack_new(cfg, &err);
	if (!st)
		abort();
	return st;
}

size_t fz_build_tcp(uint8_t *buf, size_t cap, const struct fz_seg *g)
{
	size_t hdr = g->family == TW_AF_INET ? WIRE_IPV4_HDR_MIN : WIRE_IPV6_HDR_LEN;
	size_t opt_len = (g->opt_len + 3) & ~(size_t)3;
	size_t tcp_len = WIRE_TCP_HDR_MIN + opt_len + g->payload_len;
	if (opt_len > WIRE_TCP_OPT_SPACE || hdr + tcp_len > cap || hdr + tcp_len > 65535)
		return 0;
	struct wire_pseudo ph;
	memset(&ph, 0, sizeof(ph));
	ph.family = g->family;
	ph.proto = WIRE_PROTO_TCP;
	ph.len = (uint32_t)tcp_len;
	if (g->family == TW_AF_INET) {
		struct wire_ipv4 ip;
		memset(&ip, 0, sizeof(ip));
		ip.ttl = 64;
		ip.proto = WIRE_PROTO_TCP;
		memcpy(ip.src, fz_peer4, 4);
		ip.src[3] = g->peer ? g->peer : 1;
		memcpy(ip.dst, fz_our4, 4);
		ip.hdr_len = WIRE_IPV4_HDR_MIN;
		ip.total_len = (uint16_t)(hdr + tcp_len);
		if (!wire_ipv4_emit(&ip, buf, cap))
			return 0;
		memcpy(ph.src, ip.src, 4);
		memcpy(ph.dst, ip.dst, 4);
	} else {
		struct wire_ipv6 ip;
		memset(&ip, 0, sizeof(ip));
		ip.hlim = 64;
		ip.next = WIRE_PROTO_TCP;
		memcpy(ip.src, fz_peer6, 16);
		ip.src[15] = g->peer ? g->peer : 1;
		memcpy(ip.dst, fz_our6, 16);
		ip.plen = (uint16_t)tcp_len;
		if (!wire_ipv6_emit(&ip, buf, cap))
			return 0;
		memcpy(ph.src, ip.src, 16);
		memcpy(ph.dst, ip.dst, 16);
	}
	uint8_t *t = buf + hdr;
	wire_put16(t, g->sport);
	wire_put16(t + 2, g->dport);
	wire_put32(t + 4, g->seq);
	wire_put32(t + 8, g->ack);
	t[12] = (uint8_t)((WIRE_TCP_HDR_MIN + opt_len) / 4 << 4);
	t[13] = g->flags;
	wire_put16(t + 14, g->wnd);
	wire_put16(t + 16, 0);
	wire_put16(t + 18, g->urp);
	memset(t + WIRE_TCP_HDR_MIN, WIRE_OPT_EOL, opt_len);
	if (g->opt_len)
		memcpy(t + WIRE_TCP_HDR_MIN, g->opts, g->opt_len);
	if (g->payload_len)
		memcpy(t + WIRE_TCP_HDR_MIN + opt_len, g->payload, g->payload_len);
	wire_put16(t + 16, wire_l4_csum(&ph, t, tcp_len));
	return hdr + tcp_len;
}

static bool is_our_addr(uint8_t family, const uint8_t *a)
{
	return family == TW_AF_INET ? !memcmp(a, fz_our4, 4) : !memcmp(a, fz_our6, 16);
}

void fz_check_output(const uint8_t *pkt, size_t len, struct fz_sent *sent)
{
	struct wire_pseudo ph;
	const uint8_t *payload;
	size_t payload_len;
	uint8_t proto, family;
	const uint8_t *src, *dst;
	struct wire_ipv4 ip4;
	struct wire_ipv6 ip6;
	if (len && pkt[0] >> 4 == 4) {
		if (wire_ipv4_parse(&ip4, pkt, len) != 0 || ip4.missing || ip4.frag & ~WIRE_IPV4_FLAG_DF)
			abort();
		wire_ipv4_pseudo(&ip4, &ph);
		family = TW_AF_INET;
		proto = ip4.proto;
		payload = ip4.payload;
		payload_len = ip4.payload_len;
		src = ip4.src;
		dst = ip4.dst;
	} else {
		if (wire_ipv6_parse(&ip6, pkt, len) != 0 || ip6.missing || ip6.n_ext)
			abort();
		wire_ipv6_pseudo(&ip6, &ph);
		family = TW_AF_INET6;
		proto = ip6.proto;
		payload = ip6.payload;
		payload_len = ip6.payload_len;
		src = ip6.src;
		dst = ip6.dst;
	}
	if (!is_our_addr(family, src))
		abort();
	if (proto == WIRE_PROTO_TCP) {
		struct wire_tcp t;
		if (wire_tcp_parse(&t, payload, payload_len, &ph) != 0)
			abort();
		/* The stack never sends to or from port 0, nor SYN with FIN or RST. */
		if (!t.sport || !t.dport)
			abort();
		if ((t.flags & WIRE_TCP_SYN) && (t.flags & (WIRE_TCP_FIN | WIRE_TCP_RST)))
			abort();
		if (sent) {
			sent->family = family;
			memset(sent->src, 0, 16);
			memset(sent->dst, 0, 16);
			memcpy(sent->src, src, family == TW_AF_INET ? 4 : 16);
			memcpy(sent->dst, dst, family == TW_AF_INET ? 4 : 16);
			sent->t = t;
			sent->t.payload = NULL;
			sent->t.opt.raw = NULL;
		}
	} else if (proto == WIRE_PROTO_ICMP || proto == WIRE_PROTO_ICMPV6) {
		struct wire_icmp ic;
		if (wire_icmp_parse(&ic, payload, payload_len, proto == WIRE_PROTO_ICMPV6 ? &ph : NULL) != 0)
			abort();
	} else {
		abort();
	}
}

void fz_advance(struct tw_stack *st, uint64_t *now, uint64_t us)
{
	uint64_t end = *now + us;
	for (int guard = 0; guard < 100000; guard++) {
		uint64_t next = tw_poll(st, *now);
		if (next > end)
			break;
		*now = next > *now ? next : *now + 1;
	}
	*now = end;
	tw_poll(st, *now);
}

void fz_check_stats(const struct tw_stack *st, const struct tw_stack_config *cfg)
{
	struct tw_stack_stats ss;
	tw_stack_stats(st, &ss);
	if (ss.conns > cfg->max_conns)
		abort();
	if (ss.cookies_valid > ss.in_segs || ss.cookies_sent > ss.syns_received)
		abort();
	if (ss.syn_queue_overflows > ss.syns_received || ss.conns_established > ss.active_opens + ss.passive_opens)
		abort();
	/* Reasons past the last one are never counted. */
	for (int i = TW_DROP_COUNT; i < TW_DROP_SLOTS; i++)
		if (ss.drops[i])
			abort();
}

void fz_finish(struct tw_stack *st, uint64_t *now)
{
	fz_advance(st, now, 3600ull * 1000000);
	struct tw_stack_stats ss;
	tw_stack_stats(st, &ss);
	if (ss.conns != 0 || ss.reass_datagrams != 0 || ss.reass_bytes != 0)
		abort();   /* every connection ended and no datagram left in reassembly */
	tw_stack_free(st);
}
