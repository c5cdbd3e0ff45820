/*
 * The stack's ICMP responder: echo requests to the stack's own addresses are
 * answered (RFC 1122 3.2.2.6, RFC 4443 4.2), so ping works. Nothing else of
 * ICMP is acted on. The errors the IP layer itself reports (reassembly's
 * time exceeded, IPv6's parameter problems) are built here too.
 *
 * DEVIATION(RFC 1122 3.2.2.6): IPv4 options of a request (Record Route,
 * Timestamp, a source route) are not carried into the reply; the reply has
 * none. DEVIATION(RFC 4443 4.2): requests to multicast addresses are not
 * answered (the stack joins no group). A fragmented request is answered once
 * reassembled, if the reply fits the link: replies are never fragmented.
 */
#include <string.h>

#include "ip/ip.h"

/* Builds the reply in the stack's packet buffer and sends it. */
static int send_echo_reply(struct ip_layer *ip, const struct ip_packet *req_pkt, const struct wire_icmp *req)
{
	uint8_t family = req_pkt->family;
	size_t icmp_len = WIRE_ICMP_HDR_LEN + req->data_len;
	size_t cap;
	uint8_t *msg = ip_payload_area(ip, family, &cap);
	if (ip_header_len(family) + icmp_len > ip->cfg->mtu || icmp_len > cap)
		return -TW_DROP_ICMP_TOO_BIG;

	/* RFC 792, RFC 4443 4.2: the reply swaps the addresses and keeps identifier, sequence and data. */
	struct wire_icmp reply = *req;
	struct wire_pseudo ph = { .family = family, .proto = WIRE_PROTO_ICMPV6 };
	size_t n;
	if (family == TW_AF_INET) {
		reply.type = WIRE_ICMP_ECHO_REPLY;
		n = wire_icmp_emit(&reply, msg, cap, NULL);
	} else {
		reply.type = WIRE_ICMP6_ECHO_REPLY;
		memcpy(ph.src, req_pkt->dst, 16);
		memcpy(ph.dst, req_pkt->src, 16);
		n = wire_icmp_emit(&reply, msg, cap, &ph);
	}
	uint8_t proto = family == TW_AF_INET ? WIRE_PROTO_ICMP : WIRE_PROTO_ICMPV6;
	if (!n || !ip_send(ip, family, req_pkt->dst, req_pkt->src, proto, n))
		return -TW_DROP_ICMP_TOO_BIG;
	ip->stats->icmp_echo_replies++;
	return 0;
}

/*
 * RFC 1122 3.2.2, RFC 4443 2.4 (e.1): no ICMP error about an ICMP error. A
 * fragment that is not the first says nothing of its message's type.
 */
static bool about_icmp_error(uint8_t family, const uint8_t *pkt, size_t len)
{
	if (family == TW_AF_INET) {
		struct wire_ipv4 h;
		return !wire_ipv4_parse(&h, pkt, len) && h.proto == WIRE_PROTO_ICMP && !wire_ipv4_frag_offset(&h) &&
		       wire_icmp_is_error(h.payload, h.payload_len, false);
	}
	struct wire_ipv6 h6;
	return !wire_ipv6_parse(&h6, pkt, len) && h6.proto == WIRE_PROTO_ICMPV6 && !h6.frag_offset &&
	       wire_icmp_is_error(h6.payload, h6.payload_len, true);
}

bool ip_icmp_error(struct ip_layer *ip, uint8_t family, uint8_t type, uint8_t code, uint32_t param,
		   const uint8_t *from, const uint8_t *to, const uint8_t *invoking, size_t len)
{
	if (about_icmp_error(family, invoking, len))
		return false;
	/*
	 * RFC 1812 4.3.2.3 (as Linux's icmp_send): the error is 576 bytes at most;
	 * RFC 4443 2.4 (c): as much of the packet as fits IPv6's minimum MTU.
	 */
	size_t hdr = ip_header_len(family), cap;
	size_t total = family == TW_AF_INET ? 576 : 1280;
	if (total > ip->cfg->mtu)
		total = ip->cfg->mtu;
	uint8_t *msg = ip_payload_area(ip, family, &cap);
	if (total > hdr + cap)
		total = hdr + cap;
	if (total < hdr + WIRE_ICMP_HDR_LEN)
		return false;
	size_t room = total - hdr - WIRE_ICMP_HDR_LEN;
	struct wire_icmp m = { .type = type, .code = code, .id = (uint16_t)(param >> 16), .seq = (uint16_t)param,
			       .data = invoking, .data_len = len < room ? len : room };
	struct wire_pseudo ph = { .family = family, .proto = WIRE_PROTO_ICMPV6 };
	size_t n;
	if (family == TW_AF_INET) {
		n = wire_icmp_emit(&m, msg, cap, NULL);
	} else {
		memcpy(ph.src, from, 16);
		memcpy(ph.dst, to, 16);
		n = wire_icmp_emit(&m, msg, cap, &ph);
	}
	uint8_t proto = family == TW_AF_INET ? WIRE_PROTO_ICMP : WIRE_PROTO_ICMPV6;
	if (!n || !ip_send(ip, family, from, to, proto, n))
		return false;
	ip->stats->icmp_errors_sent++;
	return true;
}

int ip_icmp_input(struct ip_layer *ip, const struct ip_packet *pkt)
{
	struct wire_icmp m;
	bool v6 = pkt->family == TW_AF_INET6;
	struct wire_pseudo ph = { .family = pkt->family, .proto = WIRE_PROTO_ICMPV6, .len = (uint32_t)pkt->payload_len };
	if (v6) {
		memcpy(ph.src, pkt->src, 16);
		memcpy(ph.dst, pkt->dst, 16);
	}
	if (wire_icmp_parse(&m, pkt->payload, pkt->payload_len, v6 ? &ph : NULL))
		return -TW_DROP_ICMP_MALFORMED;
	uint8_t request = v6 ? WIRE_ICMP6_ECHO_REQUEST : WIRE_ICMP_ECHO_REQUEST;
	if (m.type != request || m.code != 0)
		return -TW_DROP_ICMP_IGNORED;
	/*
	 * The request was parsed in the caller's buffer; the reply is built in
	 * the stack's, so the data is copied across by the emitter.
	 */
	return send_echo_reply(ip, pkt, &m);
}
