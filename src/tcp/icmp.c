/*
 * The stack's ICMP responder: echo requests to the stack's own addresses are
 * answered (RFC 1122 3.2.2.6, RFC 4443 4.2), so ping works. Nothing else of
 * ICMP is acted on.
 *
 * DEVIATION(RFC 1122 3.2.2.6): IPv4 options of a request (Record Route,
 * Timestamp, a source route) are not carried into the reply; the reply has
 * none. DEVIATION(RFC 4443 4.2): requests to multicast addresses are not
 * answered (the stack joins no group). Fragmented requests are dropped with
 * every other fragment (no reassembly, see src/tcp/input.c).
 */
#include <string.h>

#include "tcp/tcp.h"

/* Builds the reply over the request's bytes in the stack's packet buffer and sends it. */
static int send_echo_reply(struct tw_stack *st, uint8_t family, const uint8_t *src, const uint8_t *dst,
			   const struct wire_icmp *req)
{
	size_t ip_len = family == TW_AF_INET ? WIRE_IPV4_HDR_MIN : WIRE_IPV6_HDR_LEN;
	size_t icmp_len = WIRE_ICMP_HDR_LEN + req->data_len;
	if (ip_len + icmp_len > st->cfg.mtu || ip_len + icmp_len > st->out_cap)
		return -TW_DROP_INVALID;

	struct wire_icmp reply = *req;
	struct wire_pseudo ph = { .family = family, .proto = WIRE_PROTO_ICMPV6 };
	size_t n;
	if (family == TW_AF_INET) {
		/* RFC 792: the reply swaps the addresses and keeps identifier, sequence and data. */
		reply.type = WIRE_ICMP_ECHO_REPLY;
		n = wire_icmp_emit(&reply, st->out + ip_len, st->out_cap - ip_len, NULL);
		struct wire_ipv4 ip = {
			.hdr_len = WIRE_IPV4_HDR_MIN, .total_len = (uint16_t)(ip_len + n), .ttl = 64,
			.frag = WIRE_IPV4_FLAG_DF, .proto = WIRE_PROTO_ICMP,
		};
		memcpy(ip.src, dst, 4);
		memcpy(ip.dst, src, 4);
		if (!n || wire_ipv4_emit(&ip, st->out, st->out_cap) != ip_len)
			return -TW_DROP_INVALID;
	} else {
		/* RFC 4443 4.2: the Echo Reply carries the request's identifier, sequence and data. */
		reply.type = WIRE_ICMP6_ECHO_REPLY;
		memcpy(ph.src, dst, 16);
		memcpy(ph.dst, src, 16);
		n = wire_icmp_emit(&reply, st->out + ip_len, st->out_cap - ip_len, &ph);
		struct wire_ipv6 ip6 = { .plen = (uint16_t)n, .next = WIRE_PROTO_ICMPV6, .hlim = 64 };
		memcpy(ip6.src, dst, 16);
		memcpy(ip6.dst, src, 16);
		if (!n || wire_ipv6_emit(&ip6, st->out, st->out_cap) != ip_len)
			return -TW_DROP_INVALID;
	}
	st->stats.icmp_echo_replies++;
	if (st->cfg.output)
		st->cfg.output(st->cfg.output_ctx, st->out, ip_len + n);
	return 0;
}

int tcp_icmp_input(struct tw_stack *st, uint8_t family, const uint8_t *src, const uint8_t *dst,
		   const uint8_t *msg, size_t len)
{
	struct wire_icmp m;
	struct wire_pseudo ph = { .family = family, .proto = WIRE_PROTO_ICMPV6, .len = (uint32_t)len };
	if (family == TW_AF_INET6) {
		memcpy(ph.src, src, 16);
		memcpy(ph.dst, dst, 16);
	}
	if (wire_icmp_parse(&m, msg, len, family == TW_AF_INET6 ? &ph : NULL))
		return -TW_DROP_MALFORMED;
	uint8_t request = family == TW_AF_INET ? WIRE_ICMP_ECHO_REQUEST : WIRE_ICMP6_ECHO_REQUEST;
	if (m.type != request || m.code != 0)
		return -TW_DROP_NOT_OURS;
	/*
	 * The request was parsed in the caller's buffer; the reply is built in
	 * the stack's, so the data is copied across by the emitter.
	 */
	return send_echo_reply(st, family, src, dst, &m);
}
