/*
 * UDP datagrams (RFC 768).
 */
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

/* "src.sport > dst.dport: ", or only the ports when a header came between IP and UDP. */
static void put_udp_ports(struct strbuf *b, const struct ip_ctx *ip, uint16_t sport, uint16_t dport)
{
	if (!ip->addrs_on_l4) {
		trace_strbuf_printf(b, "%u > %u: ", sport, dport);
		return;
	}
	trace_put_ip_addr(b, ip->family, ip->src);
	trace_strbuf_printf(b, ".%u > ", sport);
	trace_put_ip_addr(b, ip->family, ip->dst);
	trace_strbuf_printf(b, ".%u: ", dport);
}

/*
 * With -v tcpdump checks UDP checksums over IPv6, where they are mandatory
 * (RFC 8200 8.1); over IPv4 only with -vv, and a zero there means none.
 */
static void put_udp_checksum(struct strbuf *b, const struct ip_ctx *ip, const uint8_t *p, uint32_t length,
			     size_t captured)
{
	uint16_t stored = wire_get16(p + 6);
	if (ip->family == 4 && stored == 0) {
		trace_strbuf_printf(b, "[no cksum] ");
		return;
	}
	if (captured < 8 + (size_t)length)
		return;
	trace_put_checksum_note(b, ip, WIRE_PROTO_UDP, "udp", p, length + 8, stored);
}

/*
 * UDP in tcpdump's generic form. tcpdump decodes many protocols by port (DNS,
 * NTP, DHCP, ...); threeway prints all of them this way.
 */
void trace_put_udp(struct tw_tracer *tr, const struct ip_ctx *ip, const uint8_t *p, uint32_t length,
		    size_t captured)
{
	struct strbuf *b = &tr->out;
	if (captured < 4) {
		if (ip->addrs_on_l4)
			trace_put_addr_pair(b, ip);
		trace_put_truncated(b, "udp");
		return;
	}
	put_udp_ports(b, ip, wire_get16(p), wire_get16(p + 2));
	if (length < 8) {
		trace_strbuf_printf(b, "truncated-udp %u", length);
		return;
	}
	if (captured < 6) {
		trace_put_truncated(b, "udp");
		return;
	}
	uint32_t ulen = wire_get16(p + 4);
	if (ulen == 0 && length > 65535) /* RFC 2675: a jumbogram's UDP length is 0 */
		ulen = length;
	if (ulen < 8) {
		trace_strbuf_printf(b, "truncated-udplength %u", ulen);
		return;
	}
	if (captured < 8) {
		trace_put_truncated(b, "udp");
		return;
	}
	ulen -= 8;
	length -= 8;
	if (ulen < length)
		length = ulen;
	bool checked = ip->family == 6 ? tr->cfg.verbose > 0 : tr->cfg.verbose > 1;
	if (checked && !ip->fragmented)
		put_udp_checksum(b, ip, p, length, captured);
	if (ulen > length && !ip->fragmented)
		trace_strbuf_printf(b, "UDP, bad length %u > %u", ulen, length);
	else
		trace_strbuf_printf(b, "UDP, length %u", ulen);
}
