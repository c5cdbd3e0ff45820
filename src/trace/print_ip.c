/*
 * IPv4 datagrams (RFC 791) and the protocols they carry.
 */
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

/* Protocols whose printers print the addresses themselves, with their ports. */
bool trace_proto_has_ports(uint8_t proto)
{
	return proto == WIRE_PROTO_TCP || proto == WIRE_PROTO_UDP || proto == 132 || proto == 33;
}

/* Protocols tcpdump decodes over one IP version only: the version it asks for, or NULL. */
static const char *proto_needs(uint8_t proto, uint8_t family)
{
	if ((proto == WIRE_PROTO_ICMP || proto == 2 /* IGMP */) && family == 6)
		return "IPv4";
	if ((proto == WIRE_PROTO_ICMPV6 || proto == 143 /* Ethernet, RFC 8986 */) && family == 4)
		return "IPv6";
	return NULL;
}

/*
 * The protocol after the IP headers, dispatched as tcpdump's demultiplexer
 * does. Protocols threeway does not decode (IGMP, GRE, ESP, SCTP, ...) print
 * as "ip-proto-N", where tcpdump would decode them.
 */
void trace_put_ip_payload(struct tw_tracer *tr, struct ip_ctx *ip, uint8_t first, uint8_t proto, const uint8_t *p,
			   uint32_t length, size_t captured)
{
	struct strbuf *b = &tr->out;
	const char *needs = proto_needs(proto, ip->family);
	ip->addrs_on_l4 = first == proto;
	if (needs) {
		trace_strbuf_printf(b, "[%s requires %s] (invalid)", trace_ipproto_name(proto), needs);
		return;
	}
	switch (proto) {
	case WIRE_PROTO_TCP:
		trace_put_tcp(tr, ip, p, length, captured);
		break;
	case WIRE_PROTO_UDP:
		trace_put_udp(tr, ip, p, length, captured);
		break;
	case WIRE_PROTO_ICMP:
		trace_put_icmp(tr, ip, p, length, captured);
		break;
	case WIRE_PROTO_ICMPV6:
		trace_put_icmp6(tr, ip, p, length, captured);
		break;
	case 4:
	case 41:
		trace_put_inner_ip(tr, proto == 4 ? 4 : 6, p, captured, length);
		break;
	case WIRE_PROTO_NONE:
		trace_strbuf_printf(b, "no next header");
		break;
	case 77: /* Sun ND */
		trace_strbuf_printf(b, " nd %u", length);
		break;
	default:
		trace_strbuf_printf(b, " ip-proto-%u %u", proto, length);
		break;
	}
}

/* ---------------------------------------------------------------- IPv4 */

/* How printing IPv4 options ended: tcpdump's length checks fail (TRUNC) or its reads do (CUT). */
enum v4opt_end { V4OPT_OK, V4OPT_TRUNC, V4OPT_CUT };

/* Record route and source routes (RFC 791 3.1): the addresses, a comma after each one already used. */
static enum v4opt_end put_ipv4_route(struct strbuf *b, const uint8_t *cp, uint32_t len, size_t avail)
{
	if (len < 3) {
		trace_strbuf_printf(b, " [bad length %u]", len);
		return V4OPT_OK;
	}
	if ((len + 1) & 3)
		trace_strbuf_printf(b, " [bad length %u]", len);
	uint32_t ptr = cp[2] - 1u;
	if (ptr < 3 || ((ptr + 1) & 3) || ptr > len + 1)
		trace_strbuf_printf(b, " [bad ptr %u]", cp[2]);
	for (uint32_t at = 3; at < len; at += 4) {
		if (at + 4 > avail)
			return V4OPT_TRUNC;
		trace_strbuf_printf(b, " ");
		trace_put_ip_addr(b, 4, cp + at);
		if (ptr > at)
			trace_strbuf_printf(b, ",");
	}
	return V4OPT_OK;
}

/* Internet timestamp (RFC 791 3.1): timestamps, with addresses unless the flag says only timestamps. */
static enum v4opt_end put_ipv4_timestamp(struct strbuf *b, const uint8_t *cp, uint32_t len, size_t avail)
{
	static const char *const kinds[] = { [0] = "TSONLY", [1] = "TS+ADDR", [3] = "PRESPEC" };
	if (len < 4) {
		trace_strbuf_printf(b, "[bad length %u]", len);
		return V4OPT_OK;
	}
	trace_strbuf_printf(b, " TS{");
	uint32_t flag = cp[3] & 0xf, hop = flag != 0 ? 8 : 4, ptr = cp[2] - 1u, at = 0;
	if ((len - 4) & (hop - 1))
		trace_strbuf_printf(b, "[bad length %u]", len);
	if (ptr < 4 || ((ptr - 4) & (hop - 1)) || ptr > len + 1)
		trace_strbuf_printf(b, "[bad ptr %u]", cp[2]);
	if (flag < 4 && kinds[flag]) {
		trace_strbuf_printf(b, "%s", kinds[flag]);
		for (at = 4; at < len; at += hop) {
			if (at + hop > avail)
				return V4OPT_TRUNC;
			trace_strbuf_printf(b, "%s%u@", ptr == at ? " ^ " : " ", wire_get32(cp + at + hop - 4));
			if (hop == 8)
				trace_put_ip_addr(b, 4, cp + at);
		}
	} else {
		trace_strbuf_printf(b, "[bad ts type %u]", flag);
	}
	trace_strbuf_printf(b, "%s", ptr == at ? " ^ " : "");
	if (cp[3] >> 4)
		trace_strbuf_printf(b, " [%u hops not recorded]} ", cp[3] >> 4);
	else
		trace_strbuf_printf(b, "}");
	return V4OPT_OK;
}

static const char *ipv4_option_name(uint8_t code)
{
	switch (code) {
	case 0: return "EOL";
	case 1: return "NOP";
	case 7: return "RR";
	case 68: return "timestamp";
	case 82: return "traceroute";
	case 130: return "security";
	case 131: return "LSRR";
	case 137: return "SSRR";
	case 148: return "RA";
	default: return NULL;
	}
}

/* One option's contents, once its length is known to fit. */
static enum v4opt_end put_ipv4_option(struct strbuf *b, const uint8_t *cp, uint32_t olen, size_t avail)
{
	switch (cp[0]) {
	case 68:
		return put_ipv4_timestamp(b, cp, olen, avail);
	case 7: case 131: case 137:
		return put_ipv4_route(b, cp, olen, avail);
	case 148: /* router alert (RFC 2113) */
		if (olen < 4)
			trace_strbuf_printf(b, " [bad length %u]", olen);
		else if (wire_get16(cp + 2) != 0)
			trace_strbuf_printf(b, " value %u", wire_get16(cp + 2));
		return V4OPT_OK;
	default:
		return V4OPT_OK;
	}
}

/* The options of a header, `avail` of whose `len` bytes were captured. */
static enum v4opt_end put_ipv4_options(struct strbuf *b, const uint8_t *p, uint32_t len, size_t avail)
{
	uint32_t olen;
	for (uint32_t at = 0; at < len; at += olen) {
		trace_strbuf_printf(b, "%s", at ? "," : "");
		if (at >= avail)
			return V4OPT_CUT;
		const char *name = ipv4_option_name(p[at]);
		if (name)
			trace_strbuf_printf(b, "%s", name);
		else
			trace_strbuf_printf(b, "unknown %u", p[at]);
		olen = 1;
		if (p[at] > 1) {
			if (at + 1 >= avail)
				return V4OPT_CUT;
			olen = p[at + 1];
		}
		if (olen < 2 && p[at] > 1) {
			trace_strbuf_printf(b, " [bad length %u]", olen);
			return V4OPT_OK;
		}
		if (olen > len - at) {
			trace_strbuf_printf(b, " [bad length %u]", olen);
			return V4OPT_OK;
		}
		if (at + olen > avail)
			return V4OPT_TRUNC;
		if (p[at] == 0)
			return V4OPT_OK;
		enum v4opt_end r = put_ipv4_option(b, p + at, olen, avail - at);
		if (r != V4OPT_OK)
			return r;
	}
	return V4OPT_OK;
}

/*
 * The destination the TCP and UDP pseudo-header holds: with a loose or
 * strict source route, the route's last address (RFC 1122 3.2.1.8).
 */
static const uint8_t *ipv4_csum_dst(const uint8_t *hdr, uint32_t hlen, size_t captured)
{
	uint32_t olen;
	for (uint32_t at = WIRE_IPV4_HDR_MIN; at < hlen && at + 1 < captured; at += olen) {
		uint8_t code = hdr[at];
		if (code == 0)
			break;
		olen = code == 1 ? 1 : hdr[at + 1];
		if (olen < 2 && code != 1)
			break;
		if (hlen - at < olen)
			break;
		if ((code == 131 || code == 137) && olen >= 7)
			return hdr + at + olen - 4;
	}
	return hdr + 16;
}

/* The flags as tcpdump lists them: "+" for more fragments, then DF and the reserved bit. */
static void put_ipv4_flags(struct strbuf *b, uint16_t frag)
{
	const char *sep = "";
	trace_strbuf_printf(b, ", flags [");
	if (frag & WIRE_IPV4_FLAG_MF) {
		trace_strbuf_printf(b, "+");
		sep = ", ";
	}
	if (frag & WIRE_IPV4_FLAG_DF) {
		trace_strbuf_printf(b, "%sDF", sep);
		sep = ", ";
	}
	if (frag & WIRE_IPV4_FLAG_RES)
		trace_strbuf_printf(b, "%srsvd", sep);
	if (!(frag & (WIRE_IPV4_FLAG_MF | WIRE_IPV4_FLAG_DF | WIRE_IPV4_FLAG_RES)))
		trace_strbuf_printf(b, "none");
	trace_strbuf_printf(b, "]");
}

/* ", options (...)" of a header whose first `captured` bytes are present. */
static enum v4opt_end put_ipv4_option_list(struct strbuf *b, const uint8_t *hdr, uint32_t hlen, size_t captured)
{
	trace_strbuf_printf(b, ", options (");
	enum v4opt_end r = put_ipv4_options(b, hdr + WIRE_IPV4_HDR_MIN, hlen - WIRE_IPV4_HDR_MIN,
					    captured - WIRE_IPV4_HDR_MIN);
	if (r == V4OPT_CUT) {
		trace_put_truncated(b, "ip");
		return r;
	}
	trace_strbuf_printf(b, "%s)", r == V4OPT_TRUNC ? " [truncated-option]" : "");
	return r;
}

/* "(tos ..., options (...))" with -v; false when the packet ends in the options. */
static bool put_ipv4_verbose(struct strbuf *b, const struct wire_ipv4 *ip, const uint8_t *hdr, size_t captured)
{
	static const char *const ecn[] = { "", ",ECT(1)", ",ECT(0)", ",CE" };
	const char *name = trace_ipproto_name(ip->proto);
	enum v4opt_end opts = V4OPT_OK;
	trace_strbuf_printf(b, "(tos 0x%x%s", ip->tos, ecn[ip->tos & 3]);
	if (ip->ttl >= 1)
		trace_strbuf_printf(b, ", ttl %u", ip->ttl);
	trace_strbuf_printf(b, ", id %u, offset %u", ip->id, wire_ipv4_frag_offset(ip));
	put_ipv4_flags(b, ip->frag);
	trace_strbuf_printf(b, ", proto %s (%u), length %u", name ? name : "unknown", ip->proto, ip->total_len);
	if (ip->hdr_len > WIRE_IPV4_HDR_MIN && (opts = put_ipv4_option_list(b, hdr, ip->hdr_len, captured)) == V4OPT_CUT)
		return false;
	if (ip->hdr_len <= captured) {
		uint16_t sum = wire_csum(hdr, ip->hdr_len);
		if (sum != 0)
			trace_strbuf_printf(b, ", bad cksum %x (->%x)!", ip->csum, trace_checksum_should_be(ip->csum, sum));
	}
	trace_strbuf_printf(b, ")\n    ");
	if (opts == V4OPT_OK)
		return true;
	trace_put_ip_addr(b, 4, ip->src);
	trace_strbuf_printf(b, " > ");
	trace_put_ip_addr(b, 4, ip->dst);
	trace_strbuf_printf(b, ": ");
	trace_put_truncated(b, "ip");
	return false;
}

/* The header checks tcpdump makes before it prints anything of the datagram; false if one fails. */
static bool ipv4_header_ok(struct strbuf *b, const struct wire_ipv4 *ip, size_t length)
{
	if (length < WIRE_IPV4_HDR_MIN) {
		trace_strbuf_printf(b, "truncated-ip %zu", length);
		return false;
	}
	if (ip->hdr_len < WIRE_IPV4_HDR_MIN) {
		trace_strbuf_printf(b, "bad-hlen %u", ip->hdr_len);
		return false;
	}
	if (length < ip->total_len)
		trace_strbuf_printf(b, "truncated-ip - %zu bytes missing! ", ip->total_len - length);
	if (ip->total_len < ip->hdr_len) {
		trace_strbuf_printf(b, "bad-len %u", ip->total_len);
		return false;
	}
	return true;
}

/* The version nibble, which the link layer may have got wrong; false if it is not 4. */
static bool ipv4_version_ok(struct strbuf *b, const uint8_t *p, size_t captured)
{
	if (captured < 1) {
		trace_put_truncated(b, "ip");
		return false;
	}
	if (p[0] >> 4 == 4)
		return true;
	if (p[0] >> 4 == 6)
		trace_strbuf_printf(b, "IP6, wrong link-layer encapsulation (invalid)");
	else
		trace_strbuf_printf(b, "IP%u (invalid)", p[0] >> 4);
	return false;
}

/*
 * An IP datagram inside another (IP-in-IP, or the datagram an ICMP error
 * quotes). DEVIATION(tcpdump): nesting stops at TRACE_MAX_IP_DEPTH with
 * "[|ip]", where tcpdump recurses as deep as the packet goes, because a
 * 64 KiB packet nests thousands of times and would overflow a small stack.
 */
void trace_put_inner_ip(struct tw_tracer *tr, uint8_t version, const uint8_t *p, size_t captured, size_t length)
{
	if (tr->ip_depth >= TRACE_MAX_IP_DEPTH) {
		trace_put_truncated(&tr->out, "ip");
		return;
	}
	tr->ip_depth++;
	if (version == 4)
		trace_put_ipv4(tr, p, captured, length);
	else
		trace_put_ipv6(tr, p, captured, length);
	tr->ip_depth--;
}

/* `length` is what the link layer says the datagram's length is. */
void trace_put_ipv4(struct tw_tracer *tr, const uint8_t *p, size_t captured, size_t length)
{
	struct strbuf *b = &tr->out;
	struct wire_ipv4 ip;

	if (!ipv4_version_ok(b, p, captured))
		return;
	trace_strbuf_printf(b, "IP ");
	if (wire_ipv4_parse(&ip, p, captured) == -WIRE_E_TRUNCATED) {
		trace_put_truncated(b, "ip");
		return;
	}
	if (!ipv4_header_ok(b, &ip, length))
		return;
	if (captured > ip.total_len) /* tcpdump cuts the capture where the datagram ends */
		captured = ip.total_len;
	if (tr->cfg.verbose && !put_ipv4_verbose(b, &ip, p, captured))
		return;

	struct ip_ctx ctx = { .family = 4, .src = ip.src, .dst = ip.dst, .csum_dst = ip.dst, .fragmented = wire_ipv4_mf(&ip) };
	if ((ip.frag & WIRE_IPV4_OFFMASK) != 0) {
		/* A later fragment: its transport header is in the first one. */
		trace_put_addr_pair(b, &ctx);
		trace_strbuf_printf(b, "ip-proto-%u", ip.proto);
		return;
	}
	if (!trace_proto_has_ports(ip.proto))
		trace_put_addr_pair(b, &ctx);
	if (captured < ip.hdr_len) {
		trace_strbuf_printf(b, " [remaining caplen(%zu) < header length(%u)]", captured, ip.hdr_len);
		trace_put_truncated(b, "ip");
		return;
	}
	ctx.csum_dst = ipv4_csum_dst(p, ip.hdr_len, captured);
	trace_put_ip_payload(tr, &ctx, ip.proto, ip.proto, p + ip.hdr_len, (uint32_t)(ip.total_len - ip.hdr_len),
		       captured - ip.hdr_len);
}
