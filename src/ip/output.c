/*
 * IP output: the header in front of what the transport built, then the
 * packet to the link through the stack's output callback. One packet is
 * built at a time, in the stack's own buffer.
 */
#include <string.h>

#include "ip/ip.h"

uint8_t *ip_payload_area(struct ip_layer *ip, uint8_t family, size_t *cap)
{
	size_t hdr = ip_header_len(family);
	*cap = ip->out_cap > hdr ? ip->out_cap - hdr : 0;
	return ip->out + hdr;
}

/*
 * RFC 1122 3.2.1.7: a TTL of 64 (Linux's default, as is the hop limit);
 * DF on every IPv4 packet, since TCP's MSS and the echo responder keep
 * packets within the link MTU and nothing here fragments.
 */
static size_t put_header(struct ip_layer *ip, uint8_t family, const uint8_t *src, const uint8_t *dst,
			 uint8_t proto, size_t payload_len)
{
	if (family == TW_AF_INET) {
		struct wire_ipv4 h = {
			.hdr_len = WIRE_IPV4_HDR_MIN, .total_len = (uint16_t)(WIRE_IPV4_HDR_MIN + payload_len),
			.ttl = 64, .frag = WIRE_IPV4_FLAG_DF, .proto = proto,
		};
		memcpy(h.src, src, 4);
		memcpy(h.dst, dst, 4);
		return wire_ipv4_emit(&h, ip->out, ip->out_cap);
	}
	struct wire_ipv6 h6 = { .plen = (uint16_t)payload_len, .next = proto, .hlim = 64 };
	memcpy(h6.src, src, 16);
	memcpy(h6.dst, dst, 16);
	return wire_ipv6_emit(&h6, ip->out, ip->out_cap);
}

bool ip_send(struct ip_layer *ip, uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	     size_t payload_len)
{
	size_t hdr = ip_header_len(family);
	if (payload_len > 65535 - (family == TW_AF_INET ? hdr : 0) || hdr + payload_len > ip->out_cap)
		return false;
	if (put_header(ip, family, src, dst, proto, payload_len) != hdr)
		return false;
	if (ip->cfg->output)
		ip->cfg->output(ip->cfg->output_ctx, ip->out, hdr + payload_len);
	return true;
}
