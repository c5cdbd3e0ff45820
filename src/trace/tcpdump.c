/*
 * Renders packets the way tcpdump 4.99 prints them with -nn, so a person who
 * reads tcpdump reads threeway's traces without learning anything new.
 *
 * Fixed headers come from the wire layer's representations. The tracer
 * departs from "parse once" where tcpdump's reading of a malformed or cut
 * header is what the trace must reproduce, even where it differs from the
 * right reading: TCP and IPv4 options, IPv6 extension headers, and the
 * messages the wire layer has no representation for (UDP, ICMP, ARP).
 *
 * tcpdump reads a packet against the end of its capture, which each IP
 * layer pulls in to where its length field says the datagram ends. It stops
 * in one of two ways when a read would pass that end: after a length check,
 * with a "[|proto]" mark and what the printer adds to close its text, or on
 * the spot, with only the mark. The printers below follow it in both.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

static void put_timestamp(struct tw_tracer *tr, int64_t sec, uint32_t usec)
{
	switch (tr->cfg.time) {
	case TW_TIME_OF_DAY: {
		uint32_t day_sec = tr->cfg.time_of_day ? tr->cfg.time_of_day(sec, tr->cfg.ctx) % 86400
						       : (uint32_t)(((sec % 86400) + 86400) % 86400);
		trace_strbuf_printf(&tr->out, "%02u:%02u:%02u.%06u ", day_sec / 3600, day_sec / 60 % 60, day_sec % 60, usec);
		break;
	}
	case TW_TIME_EPOCH:
		trace_strbuf_printf(&tr->out, "%" PRId64 ".%06u ", sec, usec);
		break;
	case TW_TIME_NONE:
		break;
	}
}

/* "ethertype NAME (0x....)", with tcpdump's name for the type or "Unknown". */
static void put_ethertype(struct strbuf *b, uint16_t type)
{
	const char *name = trace_ethertype_name(type);
	trace_strbuf_printf(b, "ethertype %s (0x%04x)", name ? name : "Unknown", type);
}

/* A cooked header's protocol, as tcpdump names it when it cannot decode what follows. */
static void put_cooked_protocol(struct strbuf *b, uint16_t protocol)
{
	if (protocol == 0x0001)
		trace_strbuf_printf(b, "802.3");
	else if (protocol == 0x0004)
		trace_strbuf_printf(b, "802.2");
	else if (protocol <= 1500)
		trace_strbuf_printf(b, "ethertype Unknown (0x%04x)", protocol);
	else
		put_ethertype(b, protocol);
}

/*
 * The link header tcpdump shows, without -e, before the bytes of a type it
 * cannot decode. tcpdump decodes many more types (LLC, LLDP, MPLS, ...) than
 * threeway, which shows them all this way.
 */
static void put_link_header(struct strbuf *b, const struct trace_link *l)
{
	if (l->has_macs) {
		trace_put_mac(b, l->src_mac);
		trace_strbuf_printf(b, " > ");
		trace_put_mac(b, l->dst_mac);
		trace_strbuf_printf(b, ", ");
		put_ethertype(b, l->ethertype);
	} else {
		if (l->has_sll2)
			trace_strbuf_printf(b, "ifindex %u ", l->ifindex);
		else
			trace_strbuf_printf(b, "%3s ", trace_sll_pkttype_name(l->pkttype));
		if (l->halen == 6) {
			trace_put_mac(b, l->addr);
			trace_strbuf_printf(b, " ");
		}
		put_cooked_protocol(b, l->protocol);
	}
	trace_strbuf_printf(b, ", length %zu: ", l->wirelen);
}

/* SLL2's interface and direction, which tcpdump prints on every packet. */
static void put_sll2_prefix(struct tw_tracer *tr, const struct trace_link *l)
{
	const char *name = tr->cfg.ifname ? tr->cfg.ifname(l->ifindex, tr->cfg.ctx) : NULL;
	trace_strbuf_printf(&tr->out, "%-5s %-3s ", name ? name : "?", trace_sll_pkttype_name(l->pkttype));
}

static void put_network_layer(struct tw_tracer *tr, const struct trace_link *l, const uint8_t *p, size_t captured,
			      size_t length)
{
	struct strbuf *b = &tr->out;
	for (unsigned i = 0; i < l->n_tags; i++) {
		const char *name = trace_ethertype_name(l->tag_types[i]);
		trace_strbuf_printf(b, "ethertype %s, ", name ? name : "Unknown");
	}
	switch (l->l3) {
	case TRACE_L3_IPV4:
		trace_put_ipv4(tr, p, captured, length);
		break;
	case TRACE_L3_IPV6:
		trace_put_ipv6(tr, p, captured, length);
		break;
	case TRACE_L3_ARP:
		trace_put_arp(tr, p, captured, length);
		break;
	case TRACE_L3_OTHER:
		put_link_header(b, l);
		trace_put_hex_ascii(b, p, captured);
		break;
	case TRACE_L3_DATA:
		trace_put_hex_ascii(b, p, captured);
		break;
	case TRACE_L3_BAD_VERSION:
		trace_strbuf_printf(b, "unknown ip %u", p[0] >> 4);
		break;
	case TRACE_L3_TRUNCATED:
		trace_put_truncated(b, l->cut);
		break;
	}
}

struct tw_tracer *tw_tracer_new(const struct tw_trace_config *cfg)
{
	struct tw_tracer *tr = calloc(1, sizeof(*tr));
	if (tr && cfg)
		tr->cfg = *cfg;
	return tr;
}

void tw_tracer_free(struct tw_tracer *tr)
{
	if (!tr)
		return;
	trace_strbuf_free(&tr->out);
	free(tr->convs[0].slots);
	free(tr->convs[1].slots);
	free(tr);
}

/* libpcap's largest snapshot length; tcpdump refuses lengths beyond it. */
#define MAX_SNAPLEN 262144

/* tcpdump's sanity checks on a record's lengths; false (and a note) if one fails. */
static bool record_lengths_ok(struct strbuf *b, size_t caplen, size_t wirelen)
{
	const char *sep = "[Invalid header:";
	if (caplen == 0) {
		trace_strbuf_printf(b, "%s caplen==0", sep);
		sep = ",";
	}
	if (wirelen == 0) {
		trace_strbuf_printf(b, "%s len==0", sep);
		sep = ",";
	} else if (wirelen < caplen) {
		trace_strbuf_printf(b, "%s len(%zu) < caplen(%zu)", sep, wirelen, caplen);
		sep = ",";
	}
	if (caplen > MAX_SNAPLEN) {
		trace_strbuf_printf(b, "%s caplen(%zu) > %u", sep, caplen, MAX_SNAPLEN);
		sep = ",";
	}
	if (wirelen > MAX_SNAPLEN) {
		trace_strbuf_printf(b, "%s len(%zu) > %u", sep, wirelen, MAX_SNAPLEN);
		sep = ",";
	}
	if (*sep == '[')
		return true;
	trace_strbuf_printf(b, "]\n");
	return false;
}

const char *tw_trace_render(struct tw_tracer *tr, int64_t sec, uint32_t usec, int linktype, const uint8_t *pkt,
			    size_t caplen, size_t wirelen)
{
	struct strbuf *b = &tr->out;
	struct trace_link l;

	trace_strbuf_reset(b);
	if (!record_lengths_ok(b, caplen, wirelen))
		return b->oom ? NULL : b->s;
	put_timestamp(tr, sec, usec);
	if (!tw_trace_linktype_supported(linktype)) {
		trace_strbuf_printf(b, "[unsupported link-type %d]\n", linktype);
		return b->oom ? NULL : b->s;
	}
	trace_link_decode(linktype, pkt, caplen, wirelen, &l);
	if (l.has_sll2)
		put_sll2_prefix(tr, &l);
	put_network_layer(tr, &l, pkt + l.hdr_len, caplen - l.hdr_len, wirelen - l.hdr_len);
	trace_strbuf_printf(b, "\n");
	return b->oom ? NULL : b->s;
}

