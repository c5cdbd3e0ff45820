/*
 * IPv6 packets (RFC 8200) and their extension headers, walked the way tcpdump walks
 * them: it prints chains the wire layer refuses.
 */
#include <inttypes.h>
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

/*
 * IPv6 extension headers are walked here rather than taken from the wire
 * layer, which rejects chains tcpdump prints (a second hop-by-hop header,
 * a header running past the payload length) and prints differently.
 */
struct ip6_walk {
	const uint8_t *hdr;       /* the fixed header */
	size_t captured;          /* bytes present from hdr on, cut at the payload length */
	size_t at;                /* where the header being printed starts */
	uint32_t payload_len;     /* becomes a jumbogram's length (RFC 2675) */
	bool found_jumbo;
	unsigned verbose;
};

/* Results of an extension header printer, besides its length. */
enum { EXT_TRUNC = -1, EXT_CUT = -2 };

/* The length of the option at p[i] (RFC 8200 4.2: Pad1 is one byte); false if it runs past len. */
static bool ip6_option_length(const uint8_t *p, size_t i, size_t len, size_t *olen)
{
	if (p[i] == 0)
		*olen = 1;
	else if (i + 1 < len)
		*olen = p[i + 1] + 2u;
	else
		return false;
	return i + *olen <= len;
}

/* Options inside a home address option (RFC 6275 6.3). */
static bool put_ip6_sub_options(struct strbuf *b, const uint8_t *p, size_t len)
{
	size_t olen;
	for (size_t i = 0; i < len; i += olen) {
		if (!ip6_option_length(p, i, len, &olen))
			return false;
		if (p[i] == 0)
			trace_strbuf_printf(b, ", pad1");
		else if (p[i] == 1)
			trace_strbuf_printf(b, ", padn");
		else
			trace_strbuf_printf(b, ", sopt_type 0x%02x: len=%u", p[i], p[i + 1]);
	}
	return true;
}

/* The jumbo payload option (RFC 2675 2): valid only hop-by-hop, with a zero payload length. */
static void put_ip6_jumbo(struct strbuf *b, struct ip6_walk *w, const uint8_t *o, bool hop_by_hop, bool *seen)
{
	uint32_t jumbo = wire_get32(o + 2);
	const char *why = NULL;
	if (*seen)
		why = " - already seen";
	else if (!hop_by_hop)
		why = " - not a hop-by-hop option";
	else if (w->payload_len != 0)
		why = " - payload len != 0";
	else if (jumbo < 65536)
		why = " - < 65536";
	if (!*seen && !why) {
		w->found_jumbo = true;
		w->payload_len = jumbo;
	}
	*seen = true;
	if (w->verbose)
		trace_strbuf_printf(b, "(jumbo: %u%s) ", jumbo, why ? why : "");
}

/* tcpdump's complaint about an option too short for its type, or with the wrong length; always false. */
static bool ip6_option_bad(struct strbuf *b, const char *name, const uint8_t *o, bool short_of_room)
{
	if (short_of_room)
		trace_strbuf_printf(b, "(%s: trunc)", name);
	else
		trace_strbuf_printf(b, "(%s: invalid len %u)", name, o[1]);
	return false;
}

/* One option of a hop-by-hop or destination header; false where tcpdump gives up on the header. */
static bool put_ip6_option(struct strbuf *b, struct ip6_walk *w, const uint8_t *o, size_t left, size_t olen,
			   bool hop_by_hop, bool *seen_jumbo)
{
	unsigned v = w->verbose;
	switch (o[0]) {
	case 0:
		trace_strbuf_printf(b, "%s", v ? "(pad1)" : "");
		return true;
	case 1:
		trace_strbuf_printf(b, "%s", v ? "(padn)" : "");
		return true;
	case 5: /* router alert (RFC 2711) */
		if (left < 4 || o[1] != 2)
			return ip6_option_bad(b, "rtalert", o, left < 4);
		if (v)
			trace_strbuf_printf(b, "(rtalert: 0x%04x) ", wire_get16(o + 2));
		return true;
	case 0xc2:
		if (left < 6 || o[1] != 4)
			return ip6_option_bad(b, "jumbo", o, left < 6);
		put_ip6_jumbo(b, w, o, hop_by_hop, seen_jumbo);
		return true;
	case 0xc9: /* home address (RFC 6275 6.3) */
		if (left < 18 || o[1] < 16)
			return ip6_option_bad(b, "homeaddr", o, left < 18);
		if (!v)
			return true;
		trace_strbuf_printf(b, "(homeaddr: ");
		trace_put_ip_addr(b, 6, o + 2);
		if (o[1] > 16 && !put_ip6_sub_options(b, o + 18, olen - 18))
			return false;
		trace_strbuf_printf(b, ")");
		return true;
	default:
		if (v)
			trace_strbuf_printf(b, "(opt_type 0x%02x: len=%u)", o[0], o[1]);
		return true;
	}
}

/* The options of a hop-by-hop or destination header (RFC 8200 4.2). */
static bool put_ip6_options(struct strbuf *b, struct ip6_walk *w, const uint8_t *p, size_t len, bool hop_by_hop)
{
	bool seen_jumbo = false;
	size_t olen;
	if (len == 0)
		return true;
	for (size_t i = 0; i < len; i += olen) {
		if (!ip6_option_length(p, i, len, &olen) ||
		    !put_ip6_option(b, w, p + i, len - i, olen, hop_by_hop, &seen_jumbo))
			return false;
	}
	if (w->verbose)
		trace_strbuf_printf(b, " ");
	return true;
}

/* A hop-by-hop (0) or destination options (60) header: its length, or EXT_*. */
static long put_ip6_opts_header(struct strbuf *b, struct ip6_walk *w, bool hop_by_hop)
{
	const uint8_t *h = w->hdr + w->at;
	const char *proto = hop_by_hop ? "hbhopt" : "dstopt";
	size_t avail = w->captured - w->at;
	if (avail < 2) {
		trace_put_truncated(b, proto);
		return EXT_CUT;
	}
	size_t len = ((size_t)h[1] + 1) * 8;
	if (len > avail) {
		trace_put_truncated(b, proto);
		return EXT_TRUNC;
	}
	trace_strbuf_printf(b, hop_by_hop ? "HBH " : "DSTOPT ");
	if ((hop_by_hop || w->verbose) && !put_ip6_options(b, w, h + 2, len - 2, hop_by_hop)) {
		trace_put_truncated(b, proto);
		return EXT_TRUNC;
	}
	return (long)len;
}

/* A fragment header (RFC 8200 4.5); a later fragment ends the packet, as nothing after it can be read. */
static long put_ip6_fragment(struct strbuf *b, struct ip6_walk *w)
{
	const uint8_t *h = w->hdr + w->at;
	size_t avail = w->captured - w->at;
	if (avail < (w->verbose ? 8u : 4u)) {
		trace_put_truncated(b, "frag6");
		return EXT_CUT;
	}
	uint16_t off = wire_get16(h + 2) & 0xfff8;
	/* What follows the header, per the payload length; tcpdump lets it wrap around. */
	uint64_t rest = (uint64_t)WIRE_IPV6_HDR_LEN + wire_get16(w->hdr + 4) - w->at - 8;
	if (w->verbose)
		trace_strbuf_printf(b, "frag (0x%08x:%u|%" PRIu64 ")", wire_get32(h + 4), off, rest);
	else
		trace_strbuf_printf(b, "frag (%u|%" PRIu64 ")", off, rest);
	if (off != 0)
		return EXT_TRUNC;
	trace_strbuf_printf(b, " ");
	return 8;
}

/* tcpdump stopped reading a routing header at the end of the capture. */
static long rt6_cut(struct strbuf *b)
{
	trace_put_truncated(b, "rt6");
	return EXT_CUT;
}

/* A routing header (RFC 8200 4.4, RFC 8754 2), printed as far as the capture lets tcpdump read. */
static long put_ip6_routing(struct strbuf *b, struct ip6_walk *w)
{
	const uint8_t *h = w->hdr + w->at;
	size_t avail = w->captured - w->at;
	if (avail < 1) {
		trace_put_truncated(b, "ip6");
		return EXT_CUT;
	}
	trace_strbuf_printf(b, "RT6");
	if (avail < 2)
		return rt6_cut(b);
	trace_strbuf_printf(b, " (len=%u", h[1]);
	if (avail < 3)
		return rt6_cut(b);
	trace_strbuf_printf(b, ", type=%u%s", h[2], h[2] == 0 ? " [Deprecated]" : "");
	if (avail < 4)
		return rt6_cut(b);
	trace_strbuf_printf(b, ", segleft=%u", h[3]);
	if (h[2] == 0 || h[2] == 2) {
		if (avail < 8)
			return rt6_cut(b);
		if (wire_get32(h + 4) || w->verbose)
			trace_strbuf_printf(b, ", rsv=0x%x", wire_get32(h + 4));
	} else if (h[2] == 4) {
		if (avail < 5)
			return rt6_cut(b);
		trace_strbuf_printf(b, ", last-entry=%u", h[4]);
		if (avail < 6)
			return rt6_cut(b);
		if (h[5] || w->verbose)
			trace_strbuf_printf(b, ", flags=0x%x", h[5]);
		if (avail < 8)
			return rt6_cut(b);
		trace_strbuf_printf(b, ", tag=%x", wire_get16(h + 6));
	} else {
		trace_strbuf_printf(b, " (unknown type) (invalid)");
		return EXT_TRUNC;
	}
	if (h[1] % 2 == 1) {
		trace_strbuf_printf(b, " (invalid length %u) (invalid)", h[1]);
		return EXT_TRUNC;
	}
	for (unsigned i = 0; i < h[1] / 2u; i++) {
		if (avail < 8 + 16 * (i + 1u))
			return rt6_cut(b);
		trace_strbuf_printf(b, ", [%u]", i);
		trace_put_ip_addr(b, 6, h + 8 + 16 * i);
	}
	trace_strbuf_printf(b, ") ");
	return ((long)h[1] + 1) * 8;
}

/*
 * The destination in the pseudo-header (RFC 8200 8.1): with a routing
 * header, the final one, as tcpdump finds it.
 */
static const uint8_t *ipv6_csum_dst(const uint8_t *hdr, size_t captured)
{
	const uint8_t *dst = hdr + 24;
	uint8_t nh = hdr[6];
	size_t at = 0, advance = WIRE_IPV6_HDR_LEN;
	while (at < captured) {
		at += advance;
		const uint8_t *h = hdr + at;
		if (at + 4 > captured)
			break;
		if (nh == WIRE_PROTO_HOPOPTS || nh == WIRE_PROTO_DSTOPTS || nh == 135 || nh == 62) {
			advance = ((size_t)h[1] + 1) * 8;
		} else if (nh == WIRE_PROTO_FRAGMENT) {
			advance = 8;
		} else if (nh == WIRE_PROTO_ROUTING && (h[2] == 0 || h[2] == 2) && h[1] % 2 == 0) {
			for (size_t i = 0; i < h[1] / 2u && at + 8 + 16 * (i + 1) <= captured; i++)
				dst = h + 8 + 16 * i;
			break;
		} else {
			if (nh == WIRE_PROTO_ROUTING && h[2] == 4 && h[1] % 2 == 0 && at + 24 <= captured)
				dst = h + 8;
			break;
		}
		nh = h[0];
	}
	return dst;
}

/* "(class ..., hlim ..., payload length: N) " with -v. */
static void put_ipv6_verbose(struct strbuf *b, const struct wire_ipv6 *ip)
{
	const char *name = trace_ipproto_name(ip->next);
	trace_strbuf_printf(b, "(");
	if (ip->tclass)
		trace_strbuf_printf(b, "class 0x%02x, ", ip->tclass);
	if (ip->flow)
		trace_strbuf_printf(b, "flowlabel 0x%05x, ", ip->flow);
	trace_strbuf_printf(b, "hlim %u, next-header %s (%u) payload length: %u) ", ip->hlim, name ? name : "unknown",
		      ip->next, ip->plen);
}

/*
 * The upper layer once the extension headers are walked. A jumbogram's
 * length comes from its option; a zero payload length without one leaves
 * nothing to print.
 */
static void put_ipv6_upper(struct tw_tracer *tr, struct ip6_walk *w, struct ip_ctx *ctx, uint8_t nh, size_t length,
			   bool found_ext)
{
	size_t len;
	if (w->found_jumbo) {
		len = (size_t)w->payload_len + WIRE_IPV6_HDR_LEN;
		if (len < w->at) {
			trace_put_truncated(&tr->out, "ip6");
			return;
		}
		if (length < len)
			trace_strbuf_printf(&tr->out, "truncated-ip6 - %zu bytes missing!", len - length);
	} else if (w->payload_len == 0) {
		if (found_ext) {
			trace_put_truncated(&tr->out, "ip6");
			return;
		}
		len = WIRE_IPV6_HDR_LEN;
	} else {
		len = (size_t)w->payload_len + WIRE_IPV6_HDR_LEN;
	}
	if ((w->found_jumbo || w->payload_len == 0) && len <= w->captured)
		w->captured = len;
	trace_put_ip_payload(tr, ctx, w->hdr[6], nh, w->hdr + w->at, (uint32_t)(len - w->at), w->captured - w->at);
}

/* One extension header: its length, or EXT_* when the packet ends with it. */
static long put_ipv6_ext(struct strbuf *b, struct ip6_walk *w, uint8_t nh, bool *found_hbh)
{
	switch (nh) {
	case WIRE_PROTO_HOPOPTS: {
		/* RFC 8200 4.1: only once, and right after the fixed header. */
		if (*found_hbh || w->at != WIRE_IPV6_HDR_LEN) {
			trace_strbuf_printf(b, *found_hbh ? "[The Hop-by-Hop Options header was already found] (invalid)"
						    : "[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)");
			return EXT_CUT;
		}
		long advance = put_ip6_opts_header(b, w, true);
		if (advance != EXT_CUT && w->payload_len == 0 && !w->found_jumbo) {
			trace_strbuf_printf(b, "[No valid Jumbo Payload Hop-by-Hop option found] (invalid)");
			return EXT_CUT;
		}
		*found_hbh = true;
		return advance;
	}
	case WIRE_PROTO_DSTOPTS:
		return put_ip6_opts_header(b, w, false);
	case WIRE_PROTO_FRAGMENT:
		return put_ip6_fragment(b, w);
	default:
		return put_ip6_routing(b, w);
	}
}

static bool is_ipv6_ext(uint8_t nh)
{
	return nh == WIRE_PROTO_HOPOPTS || nh == WIRE_PROTO_DSTOPTS || nh == WIRE_PROTO_FRAGMENT ||
	       nh == WIRE_PROTO_ROUTING;
}

/* The extension header chain, then the upper layer. */
static void put_ipv6_chain(struct tw_tracer *tr, struct ip6_walk *w, struct ip_ctx *ctx, size_t length, size_t len)
{
	struct strbuf *b = &tr->out;
	uint8_t nh = w->hdr[6];
	long advance = WIRE_IPV6_HDR_LEN;
	bool found_ext = false, found_hbh = false;
	for (w->at = 0; w->at < w->captured && advance > 0;) {
		if (len < (size_t)advance) {
			trace_put_truncated(b, "ip6");
			return;
		}
		w->at += (size_t)advance;
		len -= (size_t)advance;
		if (w->at == WIRE_IPV6_HDR_LEN && !trace_proto_has_ports(nh))
			trace_put_addr_pair(b, ctx);
		if (!is_ipv6_ext(nh)) {
			put_ipv6_upper(tr, w, ctx, nh, length, found_ext);
			return;
		}
		advance = put_ipv6_ext(b, w, nh, &found_hbh);
		if (advance < 0 || (nh == WIRE_PROTO_FRAGMENT && w->captured <= w->at + (size_t)advance))
			return;
		ctx->fragmented |= nh == WIRE_PROTO_FRAGMENT;
		found_ext = true;
		nh = w->hdr[w->at];
	}
}

/* `length` is what the link layer says the datagram's length is. */
void trace_put_ipv6(struct tw_tracer *tr, const uint8_t *p, size_t captured, size_t length)
{
	struct strbuf *b = &tr->out;
	struct wire_ipv6 ip;

	if (captured < WIRE_IPV6_HDR_LEN) {
		trace_put_truncated(b, "ip6");
		return;
	}
	if (length < WIRE_IPV6_HDR_LEN) {
		trace_strbuf_printf(b, "truncated-ip6 %zu", length);
		return;
	}
	trace_strbuf_printf(b, "IP6 ");
	if (wire_ipv6_parse(&ip, p, captured) == -WIRE_E_VERSION) {
		trace_strbuf_printf(b, "version error: %u != 6", p[0] >> 4);
		return;
	}
	/* A zero payload length may be a jumbogram's: tcpdump reads on to find out. */
	size_t len = length + WIRE_IPV6_HDR_LEN;
	if (ip.plen != 0) {
		len = ip.plen + (size_t)WIRE_IPV6_HDR_LEN;
		if (length < len)
			trace_strbuf_printf(b, "truncated-ip6 - %zu bytes missing!", len - length);
	}
	if (tr->cfg.verbose)
		put_ipv6_verbose(b, &ip);
	if (captured > len)
		captured = len;
	struct ip6_walk w = { .hdr = p, .captured = captured, .payload_len = ip.plen, .verbose = tr->cfg.verbose };
	struct ip_ctx ctx = { .family = 6, .src = ip.src, .dst = ip.dst, .csum_dst = ip.dst };
	if (is_ipv6_ext(ip.next) || ip.next == 135 || ip.next == 62)
		ctx.csum_dst = ipv6_csum_dst(p, captured);
	put_ipv6_chain(tr, &w, &ctx, length, len);
}
