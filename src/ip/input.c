/*
 * IP input: the IPv4 or IPv6 header is parsed and validated once by the
 * wire layer; the packet must be for one of the stack's addresses and from
 * a source that can be answered; ICMP goes to the responder, fragments to
 * reassembly, and TCP up to the transport as a struct ip_packet.
 */
#include <string.h>

#include "ip/ip.h"

int ip_drop_packet(struct ip_layer *ip, enum tw_drop why, const struct ip_packet *pkt)
{
	ip->stats->drops[why]++;
	if (ip->cfg->event) {
		struct tw_event ev = { .type = TW_EVENT_DROP, .drop = why };
		if (pkt) {
			size_t n = ip_addr_len(pkt->family);
			ev.local.addr.family = ev.remote.addr.family = pkt->family;
			memcpy(ev.local.addr.bytes, pkt->dst, n);
			memcpy(ev.remote.addr.bytes, pkt->src, n);
		}
		ip_event(ip, &ev);
	}
	return -(int)why;
}

int ip_drop(struct ip_layer *ip, enum tw_drop why)
{
	return ip_drop_packet(ip, why, NULL);
}

void ip_event(const struct ip_layer *ip, struct tw_event *ev)
{
	if (!ip->cfg->event)
		return;
	ev->size = sizeof(*ev);
	ev->now = *ip->now;
	ip->cfg->event(ip->cfg->event_ctx, ev);
}

bool ip_packet_is_local(const struct tw_stack_config *cfg, const uint8_t *buf, size_t len)
{
	if (!buf || len < 1)
		return false;
	if (buf[0] >> 4 == 4 && len >= WIRE_IPV4_HDR_MIN)
		return ip_is_local(cfg, TW_AF_INET, buf + 16);
	if (buf[0] >> 4 == 6 && len >= WIRE_IPV6_HDR_LEN)
		return ip_is_local(cfg, TW_AF_INET6, buf + 24);
	return false;
}

bool ip_is_local(const struct tw_stack_config *cfg, uint8_t family, const uint8_t *addr)
{
	for (size_t i = 0; i < cfg->n_addrs; i++)
		if (cfg->addrs[i].family == family && memcmp(cfg->addrs[i].bytes, addr, ip_addr_len(family)) == 0)
			return true;
	return false;
}

/*
 * A source no packet may come from: multicast, broadcast and "this network"
 * (RFC 1122 3.2.1.3, RFC 9293 3.9.1), loopback from outside the host (RFC
 * 1122 3.2.1.3 (g), RFC 4291 2.5.3), and IPv6's unspecified address (RFC 4291
 * 2.5.2), to which nothing can be answered.
 */
bool ip_is_bad_source(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[15];
	if (family == TW_AF_INET)
		return a[0] >= 224 || a[0] == 0 || a[0] == 127;
	return a[0] == 0xff || (!memcmp(a, zero, 15) && a[15] <= 1);
}

static void describe(struct ip_packet *p, uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
		     const uint8_t *payload, size_t len)
{
	size_t n = ip_addr_len(family);
	p->family = family;
	memset(p->src, 0, sizeof(p->src));
	memset(p->dst, 0, sizeof(p->dst));
	memcpy(p->src, src, n);
	memcpy(p->dst, dst, n);
	p->proto = proto;
	p->payload = payload;
	p->payload_len = len;
}

static int parse_ipv4(struct ip_layer *ip, const uint8_t *buf, size_t len, struct ip_packet *p,
		      struct ip_fragment *frag)
{
	struct wire_ipv4 h;
	if (wire_ipv4_parse(&h, buf, len))
		return ip_drop(ip, TW_DROP_IP_MALFORMED);
	describe(p, TW_AF_INET, h.src, h.dst, h.proto, h.payload, h.payload_len);
	wire_ipv4_pseudo(&h, &p->pseudo);
	*frag = (struct ip_fragment){ .is_fragment = wire_ipv4_mf(&h) || wire_ipv4_frag_offset(&h),
				      .more = wire_ipv4_mf(&h), .id = h.id, .offset = wire_ipv4_frag_offset(&h),
				      .pkt = buf, .hdr_len = h.hdr_len, .unfrag_len = h.opts_len,
				      .data = h.payload, .data_len = h.payload_len };
	return 0;
}

static int parse_ipv6(struct ip_layer *ip, const uint8_t *buf, size_t len, struct ip_packet *p,
		      struct ip_fragment *frag)
{
	struct wire_ipv6 h;
	if (wire_ipv6_parse(&h, buf, len))
		return ip_drop(ip, TW_DROP_IP_MALFORMED);
	describe(p, TW_AF_INET6, h.src, h.dst, h.proto, h.payload, h.payload_len);
	wire_ipv6_pseudo(&h, &p->pseudo);
	*frag = (struct ip_fragment){ .is_fragment = h.fragmented, .more = h.frag_more, .id = h.frag_id,
				      .offset = h.frag_offset, .pkt = buf,
				      .hdr_len = WIRE_IPV6_HDR_LEN + (size_t)h.unfrag_len + 8, .unfrag_len = h.unfrag_len,
				      .data = h.frag_data, .data_len = h.frag_data_len };
	return 0;
}

/* An upper-layer packet for us, whole: TCP up to the transport, ICMP to the responder. */
static int deliver(struct ip_layer *ip, const struct ip_packet *p)
{
	uint8_t icmp = p->family == TW_AF_INET ? WIRE_PROTO_ICMP : WIRE_PROTO_ICMPV6;
	if (p->proto == WIRE_PROTO_TCP)
		return IP_DELIVER;
	if (p->proto == icmp) {
		int r = ip_icmp_input(ip, p);
		return r ? ip_drop_packet(ip, (enum tw_drop)-r, p) : 0;
	}
	return ip_drop_packet(ip, TW_DROP_PROTOCOL, p);
}

static int input_packet(struct ip_layer *ip, const uint8_t *buf, size_t len, struct ip_packet *p, bool reassembled);

/*
 * A fragment of a packet for us, to reassembly (reass.c), between validation
 * and delivery, so the transport above only ever sees whole packets.
 */
static int fragment_input(struct ip_layer *ip, struct ip_packet *p, const struct ip_fragment *frag)
{
	/*
	 * RFC 6946 4, RFC 8200 4.5: an atomic fragment (offset 0, M clear) is a
	 * whole packet, processed at once and apart from any fragments with its
	 * identification held for reassembly.
	 */
	if (frag->offset == 0 && !frag->more)
		return deliver(ip, p);
	const uint8_t *whole;
	size_t len;
	int r = ip_reass_input(ip, p, frag, &whole, &len);
	if (r != IP_REASS_WHOLE)
		return r;
	/* RFC 791 3.2, RFC 8200 4.5: the datagram made whole is input as if it had come so. */
	return input_packet(ip, whole, len, p, true);
}

static int input_packet(struct ip_layer *ip, const uint8_t *buf, size_t len, struct ip_packet *p, bool reassembled)
{
	struct ip_fragment frag = { 0 }; /* GCC 12 -O2 cannot see that a parse returning 0 filled it */
	int r;

	if (len < 1)
		return ip_drop(ip, TW_DROP_IP_MALFORMED);
	if (buf[0] >> 4 == 4)
		r = parse_ipv4(ip, buf, len, p, &frag);
	else if (buf[0] >> 4 == 6)
		r = parse_ipv6(ip, buf, len, p, &frag);
	else
		return ip_drop(ip, TW_DROP_IP_MALFORMED);
	if (r)
		return r;
	/* RFC 1122 3.2.1.3, RFC 9293 3.9.1: only our addresses, never from a source nothing can be answered to. */
	if (!ip_is_local(ip->cfg, p->family, p->dst))
		return ip_drop_packet(ip, TW_DROP_NOT_LOCAL, p);
	/*
	 * Nor from one of our own addresses (a "land" packet, which would have
	 * the stack answer itself): Linux drops it as a martian source on
	 * IPv4 (accept_local off by default); the same holds for IPv6 here.
	 */
	if (ip_is_bad_source(p->family, p->src) || ip_is_local(ip->cfg, p->family, p->src))
		return ip_drop_packet(ip, TW_DROP_BAD_SOURCE, p);
	if (frag.is_fragment) {
		/* A reassembled packet has no fragment header: the first fragment's chain was walked whole. */
		if (reassembled)
			return ip_drop_packet(ip, TW_DROP_IP_MALFORMED, p);
		return fragment_input(ip, p, &frag);
	}
	return deliver(ip, p);
}

int ip_input(struct ip_layer *ip, const uint8_t *buf, size_t len, struct ip_packet *p)
{
	/* The transport is done with the last datagram reassembly made whole. */
	ip_reass_release_whole(ip);
	return input_packet(ip, buf, len, p, false);
}
