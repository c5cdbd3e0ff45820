/*
 * Helpers the printers share: addresses, hex dumps, checksums, protocol names.
 */
#include <stdio.h>
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

/*
 * IPv6 text as tcpdump writes it: RFC 5952's "::" for the first longest run
 * of two or more zero groups, and a dotted quad for IPv4-compatible and
 * IPv4-mapped addresses (RFC 4291 2.5.5).
 */
static void put_ip6_addr(struct strbuf *b, const uint8_t *a)
{
	uint16_t g[8];
	int best = -1, best_len = 0, run = 0;
	for (int i = 0; i < 8; i++) {
		g[i] = wire_get16(a + 2 * i);
		run = g[i] == 0 ? run + 1 : 0;
		if (run > best_len) {
			best = i - run + 1;
			best_len = run;
		}
	}
	if (best_len < 2)
		best = -1;
	bool v4_tail = best == 0 && (best_len == 6 || (best_len == 5 && g[5] == 0xffff));
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			trace_strbuf_printf(b, "%s", i == best ? ":" : "");
			continue;
		}
		trace_strbuf_printf(b, "%s", i ? ":" : "");
		if (v4_tail && i == 6) {
			trace_strbuf_printf(b, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
			return;
		}
		trace_strbuf_printf(b, "%x", g[i]);
	}
	if (best >= 0 && best + best_len == 8)
		trace_strbuf_printf(b, ":");
}

void trace_put_ip_addr(struct strbuf *b, uint8_t family, const uint8_t *a)
{
	if (family == 4)
		trace_strbuf_printf(b, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	else
		put_ip6_addr(b, a);
}

void trace_put_mac(struct strbuf *b, const uint8_t *m)
{
	trace_strbuf_printf(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* A link-layer address that is not 6 bytes long: hex bytes joined by colons. */
void trace_put_link_addr(struct strbuf *b, const uint8_t *a, size_t len)
{
	if (len == 0) {
		trace_strbuf_printf(b, "<empty>");
		return;
	}
	for (size_t i = 0; i < len; i++)
		trace_strbuf_printf(b, "%s%02x", i ? ":" : "", a[i]);
}

/* tcpdump's rendering of a byte that may not be printable: M- for 8-bit, ^ for control. */
void trace_put_safe_char(struct strbuf *b, uint8_t c)
{
	if (c & 0x80) {
		c &= 0x7f;
		trace_strbuf_printf(b, "M-");
	}
	if (c < 0x20 || c == 0x7f) {
		c ^= 0x40;
		trace_strbuf_printf(b, "^");
	}
	trace_strbuf_printf(b, "%c", c);
}

/*
 * The mark tcpdump leaves where a packet's capture ends before a printer is
 * done with it, named after the printer that ran out.
 */
void trace_put_truncated(struct strbuf *b, const char *proto)
{
	trace_strbuf_printf(b, " [|%s]", proto);
}

void trace_put_addr_pair(struct strbuf *b, const struct ip_ctx *ip)
{
	trace_put_ip_addr(b, ip->family, ip->src);
	trace_strbuf_printf(b, " > ");
	trace_put_ip_addr(b, ip->family, ip->dst);
	trace_strbuf_printf(b, ": ");
}

/*
 * tcpdump's dump of data it has no printer for: 16 bytes a line, as pairs of
 * hex bytes, then the bytes that are printable.
 */
void trace_put_hex_ascii(struct strbuf *b, const uint8_t *p, size_t len)
{
	for (size_t off = 0; off < len; off += 16) {
		char hex[41] = "", text[17] = "";
		size_t n = len - off < 16 ? len - off : 16, h = 0;
		for (size_t i = 0; i < n; i++) {
			uint8_t c = p[off + i];
			h += (size_t)snprintf(hex + h, sizeof(hex) - h, i % 2 ? "%02x" : " %02x", c);
			text[i] = c > 0x20 && c < 0x7f ? (char)c : '.';
		}
		trace_strbuf_printf(b, "\n\t0x%04zx: %-40s  %s", off, hex, text);
	}
}

/* The same without the text column, as tcpdump shows data of an unknown message type. */
void trace_put_hex(struct strbuf *b, const char *indent, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (i % 16 == 0)
			trace_strbuf_printf(b, "%s0x%04zx: ", indent, i);
		trace_strbuf_printf(b, i % 2 ? "%02x" : " %02x", p[i]);
	}
}

/*
 * The value a checksum field should hold, given what it holds and the checksum
 * computed over the data with it: stored + computed in one's complement, which
 * is the complement of the sum over everything but the field.
 */
uint16_t trace_checksum_should_be(uint16_t stored, uint16_t computed)
{
	uint32_t should = (uint32_t)stored + computed;
	should = (should & 0xffff) + (should >> 16);
	return (uint16_t)((should & 0xffff) + (should >> 16));
}

/* tcpdump -v's verdict on a UDP or ICMPv6 checksum: "[udp sum ok] " or "[bad udp cksum 0x... -> 0x...!] ". */
void trace_put_checksum_note(struct strbuf *b, const struct ip_ctx *ip, uint8_t proto, const char *name,
			     const uint8_t *p, uint32_t len, uint16_t stored)
{
	uint16_t sum = trace_l4_checksum(ip, proto, p, len);
	if (sum != 0)
		trace_strbuf_printf(b, "[bad %s cksum 0x%04x -> 0x%04x!] ", name, stored,
				    trace_checksum_should_be(stored, sum));
	else
		trace_strbuf_printf(b, "[%s sum ok] ", name);
}

/* The checksum over an upper-layer message and its pseudo-header: 0 when it verifies. */
uint16_t trace_l4_checksum(const struct ip_ctx *ip, uint8_t proto, const uint8_t *p, uint32_t len)
{
	size_t alen = ip->family == 4 ? 4 : 16;
	struct wire_pseudo ph = { .family = ip->family, .proto = proto, .len = len };
	memcpy(ph.src, ip->src, alen);
	memcpy(ph.dst, ip->csum_dst, alen);
	return wire_l4_csum(&ph, p, len);
}

const char *trace_ipproto_name(uint8_t proto)
{
	switch (proto) {
	case 0: return "Options";
	case 1: return "ICMP";
	case 2: return "IGMP";
	case 4: return "IPIP";
	case 6: return "TCP";
	case 8: return "EGP";
	case 9: return "IGRP";
	case 17: return "UDP";
	case 33: return "DCCP";
	case 41: return "IPv6";
	case 43: return "Routing";
	case 44: return "Fragment";
	case 46: return "RSVP";
	case 47: return "GRE";
	case 50: return "ESP";
	case 51: return "AH";
	case 55: return "Mobile IP";
	case 58: return "ICMPv6";
	case 62: return "Mobile IP (old)";
	case 88: return "EIGRP";
	case 89: return "OSPF";
	case 103: return "PIM";
	case 108: return "Compressed IP";
	case 112: return "VRRP";
	case 113: return "PGM";
	case 132: return "SCTP";
	case 135: return "Mobility";
	case 143: return "Ethernet";
	default: return NULL;
	}
}
