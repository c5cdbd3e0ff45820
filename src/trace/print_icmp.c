/*
 * ICMP messages (RFC 792), with the datagram an error message quotes.
 */
#include <stdio.h>
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

/* RFC 792 error messages, which quote the datagram that caused them. */
static bool icmp_is_error(uint8_t type) { return type == 3 || type == 4 || type == 5 || type == 11 || type == 12; }

/* The text of a destination unreachable message; 0 if the bytes it needs are not captured. */
static bool icmp_unreach_text(struct strbuf *s, const uint8_t *p, size_t captured)
{
	static const char *const why[] = {
		[0] = "net %s unreachable", [1] = "host %s unreachable",
		[5] = "%s unreachable - source route failed", [6] = "net %s unreachable - unknown",
		[7] = "host %s unreachable - unknown", [8] = "%s unreachable - source host isolated",
		[9] = "net %s unreachable - admin prohibited", [10] = "host %s unreachable - admin prohibited",
		[11] = "net %s unreachable - tos prohibited", [12] = "host %s unreachable - tos prohibited",
		[13] = "host %s unreachable - admin prohibited filter",
		[14] = "host %s unreachable - host precedence violation",
		[15] = "host %s unreachable - precedence cutoff",
	};
	uint8_t code = p[1];
	const uint8_t *quoted = p + 8;
	char dst[16];
	if (code == 3) { /* port: read from the quoted transport header */
		if (captured < 9)
			return false;
		size_t at = 8 + (quoted[0] & 0xfu) * 4 + 2;
		if (captured < at + 2 || captured < 28)
			return false;
		snprintf(dst, sizeof(dst), "%u.%u.%u.%u", quoted[16], quoted[17], quoted[18], quoted[19]);
		uint16_t port = wire_get16(p + at);
		if (quoted[9] == WIRE_PROTO_TCP || quoted[9] == WIRE_PROTO_UDP)
			trace_strbuf_printf(s, "%s %s port %u unreachable", dst, quoted[9] == 6 ? "tcp" : "udp", port);
		else
			trace_strbuf_printf(s, "%s protocol %u port %u unreachable", dst, quoted[9], port);
		return true;
	}
	if (captured < 28)
		return false;
	snprintf(dst, sizeof(dst), "%u.%u.%u.%u", quoted[16], quoted[17], quoted[18], quoted[19]);
	if (code == 2)
		trace_strbuf_printf(s, "%s protocol %u unreachable", dst, quoted[9]);
	else if (code == 4 && wire_get16(p + 6))
		trace_strbuf_printf(s, "%s unreachable - need to frag (mtu %u)", dst, wire_get16(p + 6));
	else if (code == 4)
		trace_strbuf_printf(s, "%s unreachable - need to frag", dst);
	else if (code < sizeof(why) / sizeof(why[0]) && why[code])
		trace_strbuf_printf(s, why[code], dst);
	else
		trace_strbuf_printf(s, "%s unreachable - #%u", dst, code);
	return true;
}

static bool icmp_redirect_text(struct strbuf *s, const uint8_t *p, size_t captured)
{
	static const char *const kinds[] = { "redirect %s to net %s", "redirect %s to host %s",
					     "redirect-tos %s to net %s", "redirect-tos %s to host %s" };
	if (captured < 28)
		return false;
	char dst[16], gw[16];
	snprintf(dst, sizeof(dst), "%u.%u.%u.%u", p[24], p[25], p[26], p[27]);
	snprintf(gw, sizeof(gw), "%u.%u.%u.%u", p[4], p[5], p[6], p[7]);
	if (p[1] < 4)
		trace_strbuf_printf(s, kinds[p[1]], dst, gw);
	else
		trace_strbuf_printf(s, "redirect-#%u %s to %s", p[1], dst, gw);
	return true;
}

/* RFC 792 timestamps count milliseconds since midnight UT. */
static void put_icmp_time(struct strbuf *s, uint32_t ms)
{
	uint32_t sec = ms / 1000, min = sec / 60, hrs = min / 60;
	trace_strbuf_printf(s, "%02u:%02u:%02u.%03u", hrs, min - hrs * 60, sec - min * 60, ms % 1000);
}

/* RFC 1256: lifetime, then (address, preference) pairs when each entry is 2 words. */
static bool icmp_router_advert_text(struct strbuf *s, const uint8_t *p, size_t captured)
{
	if (captured < 8)
		return false;
	unsigned num = p[4], size = p[5], life = wire_get16(p + 6);
	trace_strbuf_printf(s, "router advertisement lifetime ");
	if (life < 60)
		trace_strbuf_printf(s, "%u", life);
	else if (life < 3600)
		trace_strbuf_printf(s, "%u:%02u", life / 60, life % 60);
	else
		trace_strbuf_printf(s, "%u:%02u:%02u", life / 3600, life % 3600 / 60, life % 60);
	trace_strbuf_printf(s, " %u:", num);
	if (size != 2) {
		trace_strbuf_printf(s, " [size %u]", size);
		return true;
	}
	for (size_t at = 8; num > 0; num--, at += 8) {
		if (captured < at + 8)
			return false;
		trace_strbuf_printf(s, " {%u.%u.%u.%u %u}", p[at], p[at + 1], p[at + 2], p[at + 3], wire_get32(p + at + 4));
	}
	return true;
}

/* Time exceeded and parameter problem (RFC 792). */
static bool icmp_problem_text(struct strbuf *s, const uint8_t *p, size_t captured)
{
	static const char *const exceeded[] = { "time exceeded in-transit", "ip reassembly time exceeded" };
	uint8_t code = p[1];
	if (p[0] == 11) {
		if (captured < 28)
			return false;
		if (code < 2)
			trace_strbuf_printf(s, "%s", exceeded[code]);
		else
			trace_strbuf_printf(s, "time exceeded-#%u", code);
	} else if (code) {
		trace_strbuf_printf(s, "parameter problem - code %u", code);
	} else {
		if (captured < 5)
			return false;
		trace_strbuf_printf(s, "parameter problem - octet %u", p[4]);
	}
	return true;
}

static bool icmp_simple_text(struct strbuf *s, const uint8_t *p, size_t captured)
{
	static const char *const names[] = {
		[0] = "echo reply", [4] = "source quench", [8] = "echo request", [10] = "router solicitation",
		[13] = "time stamp request", [14] = "time stamp reply", [15] = "information request",
		[16] = "information reply", [17] = "address mask request",
	};
	uint8_t type = p[0];
	switch (type) {
	case 0: case 8:
		if (captured < 8)
			return false;
		trace_strbuf_printf(s, "echo %s, id %u, seq %u", type == 8 ? "request" : "reply", wire_get16(p + 4),
			      wire_get16(p + 6));
		return true;
	case 9:
		return icmp_router_advert_text(s, p, captured);
	case 13:
		if (captured < 8)
			return false;
		trace_strbuf_printf(s, "time stamp query id %u seq %u", wire_get16(p + 4), wire_get16(p + 6));
		return true;
	case 11: case 12:
		return icmp_problem_text(s, p, captured);
	case 14:
		if (captured < 20)
			return false;
		trace_strbuf_printf(s, "time stamp reply id %u seq %u: org ", wire_get16(p + 4), wire_get16(p + 6));
		put_icmp_time(s, wire_get32(p + 8));
		trace_strbuf_printf(s, ", recv ");
		put_icmp_time(s, wire_get32(p + 12));
		trace_strbuf_printf(s, ", xmit ");
		put_icmp_time(s, wire_get32(p + 16));
		return true;
	case 18:
		if (captured < 12)
			return false;
		trace_strbuf_printf(s, "address mask is 0x%08x", wire_get32(p + 8));
		return true;
	default:
		if (type < sizeof(names) / sizeof(names[0]) && names[type])
			trace_strbuf_printf(s, "%s", names[type]);
		else
			trace_strbuf_printf(s, "type-#%u", type);
		return true;
	}
}

/* With -v, an error message is followed by the datagram it quotes, printed as IP. */
static void put_icmp_quoted(struct tw_tracer *tr, const uint8_t *p, size_t captured)
{
	struct strbuf *b = &tr->out;
	trace_strbuf_printf(b, "\n\t");
	size_t ip_len = captured >= 12 ? wire_get16(p + 10) : 0;
	/* tcpdump reads the length again once it has cut the capture to it. */
	if (ip_len < 4) {
		trace_put_truncated(b, "icmp");
		return;
	}
	size_t inner = captured - 8 < ip_len ? captured - 8 : ip_len;
	trace_put_inner_ip(tr, 4, p + 8, inner, ip_len);
}

void trace_put_icmp(struct tw_tracer *tr, const struct ip_ctx *ip, const uint8_t *p, uint32_t length,
		     size_t captured)
{
	struct strbuf *b = &tr->out;
	struct strbuf s = { 0 };
	bool ok = captured >= 2;
	if (ok && p[0] == 3)
		ok = icmp_unreach_text(&s, p, captured);
	else if (ok && p[0] == 5)
		ok = icmp_redirect_text(&s, p, captured);
	else if (ok)
		ok = icmp_simple_text(&s, p, captured);
	if (!ok || s.oom) {
		b->oom |= s.oom;
		trace_strbuf_free(&s);
		trace_put_truncated(b, "icmp");
		return;
	}
	trace_strbuf_printf(b, "ICMP %s, length %u", s.s, length);
	trace_strbuf_free(&s);
	if (tr->cfg.verbose && !ip->fragmented && captured >= length) {
		uint16_t sum = wire_csum(p, length);
		if (sum != 0 && captured < 4) {
			trace_put_truncated(b, "icmp");
			return;
		}
		if (sum != 0)
			trace_strbuf_printf(b, " (wrong icmp cksum %x (->%x)!)", wire_get16(p + 2),
				      trace_checksum_should_be(wire_get16(p + 2), sum));
	}
	if (tr->cfg.verbose && icmp_is_error(p[0]))
		put_icmp_quoted(tr, p, captured);
}
