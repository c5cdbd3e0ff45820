/*
 * ARP and RARP (RFC 826, RFC 903).
 */
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

static const char *arp_hardware_name(uint16_t hrd)
{
	switch (hrd) {
	case 1: return "Ethernet";
	case 6: return "TokenRing";
	case 7: return "ArcNet";
	case 15: return "FrameRelay";
	case 19: return "ATM";
	case 23: return "Strip";
	case 24: return "IEEE 1394";
	case 32: return "InfiniBand";
	default: return NULL;
	}
}

static const char *arp_op_name(uint16_t op)
{
	static const char *const names[] = { NULL, "Request", "Reply", "Reverse Request", "Reverse Reply", NULL,
					     NULL, NULL, "Inverse Request", "Inverse Reply", "NACK Reply" };
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : NULL;
}

/* An ARP packet's addresses, per its header's lengths (RFC 826). */
struct arp {
	uint16_t hrd, pro, op;
	uint8_t hln, pln;
	const uint8_t *sha, *spa, *tha, *tpa;
};

static void put_arp_hw(struct strbuf *b, const struct arp *a, const uint8_t *addr)
{
	if (a->hln == 6)
		trace_put_mac(b, addr);
	else
		trace_put_link_addr(b, addr, a->hln);
}

/* A protocol address, which tcpdump shows only when it is IPv4 (or the old trailer type). */
static void put_arp_proto(struct strbuf *b, const struct arp *a, const uint8_t *addr)
{
	if (a->pro != 0x0800 && a->pro != 0x1000)
		trace_strbuf_printf(b, "<wrong proto type>");
	else if (a->pln != 4)
		trace_strbuf_printf(b, "<wrong len>");
	else
		trace_put_ip_addr(b, 4, addr);
}

/* The operation's sentence; false for an operation tcpdump only dumps. */
static bool put_arp_op(struct strbuf *b, const struct arp *a)
{
	switch (a->op) {
	case 1:
		trace_strbuf_printf(b, "who-has ");
		put_arp_proto(b, a, a->tpa);
		for (unsigned i = 0; i < a->hln; i++)
			if (a->tha[i]) {
				trace_strbuf_printf(b, " (");
				put_arp_hw(b, a, a->tha);
				trace_strbuf_printf(b, ")");
				break;
			}
		trace_strbuf_printf(b, " tell ");
		put_arp_proto(b, a, a->spa);
		return true;
	case 2:
		put_arp_proto(b, a, a->spa);
		trace_strbuf_printf(b, " is-at ");
		put_arp_hw(b, a, a->sha);
		return true;
	case 3: case 8:
		trace_strbuf_printf(b, "who-is ");
		put_arp_hw(b, a, a->tha);
		trace_strbuf_printf(b, " tell ");
		put_arp_hw(b, a, a->sha);
		return true;
	case 4: case 9:
		put_arp_hw(b, a, a->op == 4 ? a->tha : a->sha);
		trace_strbuf_printf(b, " at ");
		put_arp_proto(b, a, a->op == 4 ? a->tpa : a->spa);
		return true;
	default:
		return false;
	}
}

/* ARP and RARP (RFC 826, RFC 903). ATM and Frame Relay addresses are not decoded as tcpdump does. */
void trace_put_arp(struct tw_tracer *tr, const uint8_t *p, size_t captured, size_t length)
{
	struct strbuf *b = &tr->out;
	if (captured < 8 || captured < 8 + 2u * p[4] + 2u * p[5]) {
		trace_put_truncated(b, "arp");
		return;
	}
	struct arp a = { .hrd = wire_get16(p), .pro = wire_get16(p + 2), .op = wire_get16(p + 6),
			 .hln = p[4], .pln = p[5] };
	a.sha = p + 8, a.spa = a.sha + a.hln, a.tha = a.spa + a.pln, a.tpa = a.tha + a.hln;
	trace_strbuf_printf(b, "ARP, ");
	bool plain = (a.pro == 0x0800 || a.pro == 0x1000) && a.pln == 4 && a.hln != 0;
	if (!plain || tr->cfg.verbose) {
		const char *hw = arp_hardware_name(a.hrd), *pr = trace_ethertype_name(a.pro);
		if (hw)
			trace_strbuf_printf(b, "%s (len %u), ", hw, a.hln);
		else
			trace_strbuf_printf(b, "Unknown Hardware (%u) (len %u), ", a.hrd, a.hln);
		if (pr)
			trace_strbuf_printf(b, "%s (len %u)", pr, a.pln);
		else
			trace_strbuf_printf(b, "Unknown Protocol (0x%04x) (len %u)", a.pro, a.pln);
		if (!tr->cfg.verbose) {
			trace_strbuf_printf(b, ", length %zu", length);
			return;
		}
	}
	const char *op = arp_op_name(a.op);
	trace_strbuf_printf(b, "%s", tr->cfg.verbose ? ", " : "");
	if (op)
		trace_strbuf_printf(b, "%s ", op);
	else
		trace_strbuf_printf(b, "Unknown (%u) ", a.op);
	if (!put_arp_op(b, &a)) {
		trace_put_hex_ascii(b, p, captured);
		return;
	}
	trace_strbuf_printf(b, ", length %zu", length);
}
