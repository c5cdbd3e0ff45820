/*
 * ICMPv6 messages (RFC 4443) and neighbor discovery (RFC 4861).
 */
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

static const char *icmp6_type_name(uint8_t type)
{
	switch (type) {
	case 1: return "destination unreachable";
	case 2: return "packet too big";
	case 3: return "time exceeded in-transit";
	case 4: return "parameter problem";
	case 128: return "echo request";
	case 129: return "echo reply";
	case 130: return "multicast listener query";
	case 131: return "multicast listener report";
	case 132: return "multicast listener done";
	case 133: return "router solicitation";
	case 134: return "router advertisement";
	case 135: return "neighbor solicitation";
	case 136: return "neighbor advertisement";
	case 137: return "redirect";
	case 138: return "router renumbering";
	case 139: return "who-are-you request";
	case 140: return "who-are-you reply";
	case 141: return "inverse neighbor solicitation";
	case 142: return "inverse neighbor advertisement";
	case 143: return "multicast listener report v2";
	case 144: return "ha discovery request";
	case 145: return "ha discovery reply";
	case 146: return "mobile router solicitation";
	case 147: return "mobile router advertisement";
	case 155: return "RPL";
	case 200: return "mtrace response";
	case 201: return "mtrace message";
	default: return NULL;
	}
}

/*
 * The quoted datagram's upper-layer header, found the way tcpdump looks for
 * it (through hop-by-hop, destination, routing and first-fragment headers);
 * NULL if it is not captured or not TCP or UDP.
 */
static const uint8_t *icmp6_quoted_upper(const uint8_t *q, size_t captured, uint8_t *proto)
{
	if (captured < 7)
		return NULL;
	uint8_t nh = q[6];
	size_t at = 0, hlen = WIRE_IPV6_HDR_LEN;
	while (at < captured) {
		at += hlen;
		if (nh == WIRE_PROTO_TCP || nh == WIRE_PROTO_UDP) {
			*proto = nh;
			return at + 4 <= captured ? q + at : NULL;
		}
		if (nh == WIRE_PROTO_HOPOPTS || nh == WIRE_PROTO_DSTOPTS || nh == WIRE_PROTO_ROUTING) {
			if (at + 2 > captured)
				return NULL;
			nh = q[at];
			hlen = ((size_t)q[at + 1] + 1) * 8;
		} else if (nh == WIRE_PROTO_FRAGMENT) {
			if (at + 4 > captured || (wire_get16(q + at + 2) & 0xfff8) != 0)
				return NULL;
			nh = q[at];
			hlen = 8;
		} else if (nh == 51) { /* AH: length in 4-octet units, less 2 */
			if (at + 2 > captured)
				return NULL;
			nh = q[at];
			hlen = ((size_t)q[at + 1] + 2) * 4;
		} else {
			return NULL;
		}
	}
	return NULL;
}

/* How an ICMPv6 type printer ended: go on to the length, stop, or stop truncated. */
enum icmp6_end { ICMP6_MORE, ICMP6_STOP, ICMP6_CUT };

/* Destination unreachable (RFC 4443 3.1): the reason, and whom it concerns. */
static enum icmp6_end put_icmp6_unreach(struct strbuf *b, unsigned verbose, const uint8_t *p, uint32_t length,
					size_t captured)
{
	static const char *const codes[] = { "unreachable route", " unreachable prohibited", "beyond scope",
					     "unreachable address", "unreachable port" };
	const uint8_t *q = p + 8;
	uint8_t code = p[1], proto = 0;
	if (code < 5)
		trace_strbuf_printf(b, ", %s", codes[code]);
	else
		trace_strbuf_printf(b, ", unknown unreach code (%u)", code);
	if (code > 4) {
		if (verbose > 1)
			return ICMP6_STOP;
		trace_put_hex(b, "\n\t", p, captured < length ? captured : length);
		return ICMP6_STOP;
	}
	const uint8_t *u = code == 4 ? icmp6_quoted_upper(q, captured > 8 ? captured - 8 : 0, &proto) : q;
	if (!u || captured < 48)
		return ICMP6_CUT;
	trace_strbuf_printf(b, code == 4 ? ", " : " ");
	trace_put_ip_addr(b, 6, q + 24);
	if (code == 4)
		trace_strbuf_printf(b, " %s port %u", proto == WIRE_PROTO_TCP ? "tcp" : "udp", wire_get16(u + 2));
	if (code == 2) {
		trace_strbuf_printf(b, ", source address ");
		trace_put_ip_addr(b, 6, q + 8);
	}
	return ICMP6_MORE;
}

/* Time exceeded (RFC 4443 3.3) and parameter problem (3.4). */
static enum icmp6_end put_icmp6_problem(struct strbuf *b, const uint8_t *p, size_t captured)
{
	static const char *const param[] = { "erroneous", "next header", "option", "incomplete header chain" };
	uint8_t code = p[1];
	if (p[0] == 3 && code == 0) {
		if (captured < 48)
			return ICMP6_CUT;
		trace_strbuf_printf(b, " for ");
		trace_put_ip_addr(b, 6, p + 32);
	} else if (p[0] == 3) {
		if (code == 1)
			trace_strbuf_printf(b, " (reassembly)");
		else
			trace_strbuf_printf(b, ", unknown code (%u)", code);
	} else if (captured < 48) {
		return ICMP6_CUT;
	} else if (code < 4) {
		trace_strbuf_printf(b, ", %s - octet %u", param[code], wire_get32(p + 4));
	} else {
		trace_strbuf_printf(b, ", code-#%u", code);
	}
	return ICMP6_MORE;
}

/*
 * Neighbor discovery options (RFC 4861 4.6) with -v. Only the link-layer
 * address and MTU options are decoded; tcpdump's reading of the others
 * (prefixes, DNS servers, routes) is not reproduced.
 */
static enum icmp6_end put_nd_options(struct strbuf *b, unsigned verbose, const uint8_t *p, size_t len,
				     size_t captured)
{
	static const char *const names[] = { [1] = "source link-address", [2] = "destination link-address",
					     [3] = "prefix info", [4] = "redirected header", [5] = "mtu" };
	for (size_t at = 0; at < captured;) {
		if (at + 2 > captured)
			return ICMP6_CUT;
		if (at >= len)
			return ICMP6_MORE;
		uint8_t type = p[at];
		size_t olen = (size_t)p[at + 1] * 8;
		if (olen == 0 || at + olen > captured)
			return ICMP6_CUT;
		trace_strbuf_printf(b, "\n\t  %s option (%u), length %zu (%u): ",
			      type < 6 && names[type] ? names[type] : "unknown", type, olen, p[at + 1]);
		if (type == 1 || type == 2) {
			for (size_t i = 2; i < olen; i++)
				trace_strbuf_printf(b, "%s%02x", i > 2 ? ":" : "", p[at + i]);
		} else if (type == 5) {
			trace_strbuf_printf(b, " %u%s", wire_get32(p + at + 4), olen != 8 ? "bad option length" : "");
		} else if (verbose <= 1) {
			trace_put_hex(b, "\n\t  ", p + at + 2, olen - 2);
			return ICMP6_MORE;
		}
		if (verbose > 1)
			trace_put_hex(b, "\n\t    ", p + at + 2, olen - 2);
		at += olen;
	}
	return ICMP6_MORE;
}

/* Neighbor solicitation and advertisement (RFC 4861 4.3, 4.4), and redirect (4.5). */
static enum icmp6_end put_icmp6_nd(struct strbuf *b, unsigned verbose, const uint8_t *p, uint32_t length,
				   size_t captured)
{
	size_t fixed = p[0] == 137 ? 40 : 24;
	if (captured < fixed)
		return ICMP6_CUT;
	if (p[0] == 135) {
		trace_strbuf_printf(b, ", who has ");
		trace_put_ip_addr(b, 6, p + 8);
	} else if (p[0] == 136) {
		trace_strbuf_printf(b, ", tgt is ");
		trace_put_ip_addr(b, 6, p + 8);
	} else {
		trace_strbuf_printf(b, ", ");
		trace_put_ip_addr(b, 6, p + 24);
		trace_strbuf_printf(b, " to ");
		trace_put_ip_addr(b, 6, p + 8);
	}
	if (!verbose)
		return ICMP6_MORE;
	if (p[0] == 136) {
		static const char *const flags[] = { "router", "solicited", "override" };
		const char *sep = "";
		trace_strbuf_printf(b, ", Flags [");
		for (int i = 0; i < 3; i++)
			if (p[4] & (0x80 >> i)) {
				trace_strbuf_printf(b, "%s%s", sep, flags[i]);
				sep = ", ";
			}
		trace_strbuf_printf(b, "%s]", *sep ? "" : "none");
	}
	return put_nd_options(b, verbose, p + fixed, length - fixed, captured - fixed);
}

static enum icmp6_end put_icmp6_body(struct strbuf *b, unsigned verbose, const uint8_t *p, uint32_t length,
				     size_t captured)
{
	switch (p[0]) {
	case 1:
		return put_icmp6_unreach(b, verbose, p, length, captured);
	case 2:
		if (captured < 8)
			return ICMP6_CUT;
		trace_strbuf_printf(b, ", mtu %u", wire_get32(p + 4));
		return ICMP6_MORE;
	case 3: case 4:
		return put_icmp6_problem(b, p, captured);
	case 128: case 129:
		if (captured < 8)
			return ICMP6_CUT;
		trace_strbuf_printf(b, ", id %u, seq %u", wire_get16(p + 4), wire_get16(p + 6));
		return ICMP6_MORE;
	case 133:
		if (!verbose || captured <= 8 || length <= 8)
			return ICMP6_MORE;
		return put_nd_options(b, verbose, p + 8, length - 8, captured - 8);
	case 135: case 136: case 137:
		return put_icmp6_nd(b, verbose, p, length, captured);
	case 134: case 141: case 142:
		return ICMP6_MORE;
	case 144: case 146:
		if (captured < 6)
			return ICMP6_CUT;
		trace_strbuf_printf(b, ", id 0x%04x", wire_get16(p + 4));
		return ICMP6_MORE;
	default:
		trace_strbuf_printf(b, ", length %u", length);
		if (verbose <= 1)
			trace_put_hex(b, "\n\t", p, captured < length ? captured : length);
		return ICMP6_STOP;
	}
}

/* ND messages whose length tcpdump shows first when it will show their options. */
static bool icmp6_length_first(uint8_t type)
{
	return type == 133 || type == 134 || type == 135 || type == 136 || type == 137 || type == 145 || type == 147;
}

static void put_icmp6_checksum(struct strbuf *b, const struct ip_ctx *ip, const uint8_t *p, uint32_t length)
{
	trace_put_checksum_note(b, ip, WIRE_PROTO_ICMPV6, "icmp6", p, length, wire_get16(p + 2));
}

/*
 * ICMPv6 (RFC 4443, RFC 4861). Multicast listener, router advertisement and
 * other messages print in tcpdump's generic form.
 */
void trace_put_icmp6(struct tw_tracer *tr, const struct ip_ctx *ip, const uint8_t *p, uint32_t length,
		      size_t captured)
{
	struct strbuf *b = &tr->out;
	unsigned verbose = tr->cfg.verbose;
	if (length == 0) {
		trace_strbuf_printf(b, "ICMP6, length 0 (invalid)");
		return;
	}
	if (verbose && !ip->fragmented && captured >= length) {
		if (captured < 4) {
			trace_put_truncated(b, "icmp6");
			return;
		}
		put_icmp6_checksum(b, ip, p, length);
	}
	if (captured < 1) {
		trace_put_truncated(b, "icmp6");
		return;
	}
	const char *name = icmp6_type_name(p[0]);
	if (name)
		trace_strbuf_printf(b, "ICMP6, %s", name);
	else
		trace_strbuf_printf(b, "ICMP6, unknown icmp6 type (%u)", p[0]);
	if (verbose && icmp6_length_first(p[0]))
		trace_strbuf_printf(b, ", length %u", length);
	if (captured < 2) {
		trace_put_truncated(b, "icmp6");
		return;
	}
	switch (put_icmp6_body(b, verbose, p, length, captured)) {
	case ICMP6_MORE:
		if (!verbose)
			trace_strbuf_printf(b, ", length %u", length);
		break;
	case ICMP6_STOP:
		break;
	case ICMP6_CUT:
		trace_put_truncated(b, "icmp6");
		break;
	}
}
