/*
 * Link layers of pcap files: which bytes are the link header and what follows.
 */
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_IPV6 0x86dd
#define ETHER_HDR_LEN 14
#define SLL_HDR_LEN 16
#define SLL2_HDR_LEN 20
/* Other numbers that mean raw IP: DLT_RAW on most systems, and on OpenBSD. */
#define LINKTYPE_RAW_ALT1 12
#define LINKTYPE_RAW_ALT2 14

bool tw_trace_linktype_supported(int linktype)
{
	switch (linktype) {
	case TW_LINK_ETHERNET:
	case TW_LINK_RAW:
	case LINKTYPE_RAW_ALT1:
	case LINKTYPE_RAW_ALT2:
	case TW_LINK_LINUX_SLL:
	case TW_LINK_LINUX_SLL2:
		return true;
	default:
		return false;
	}
}

static enum trace_l3 l3_of_ethertype(uint16_t ethertype)
{
	switch (ethertype) {
	case ETHERTYPE_IPV4:
		return TRACE_L3_IPV4;
	case ETHERTYPE_IPV6:
		return TRACE_L3_IPV6;
	case ETHERTYPE_ARP:
		return TRACE_L3_ARP;
	default:
		return TRACE_L3_OTHER;
	}
}

static bool is_vlan_tag(uint16_t ethertype)
{
	return ethertype == 0x8100 || ethertype == 0x88a8 || ethertype == 0x9100 || ethertype == 0x9200;
}

/* Ethernet II; 802.1Q and QinQ tags are skipped, as tcpdump does without -e. */
static void decode_ethernet(const uint8_t *p, size_t caplen, struct trace_link *l)
{
	if (caplen < ETHER_HDR_LEN)
		return;
	l->has_macs = true;
	memcpy(l->dst_mac, p, 6);
	memcpy(l->src_mac, p + 6, 6);
	size_t at = 12;
	uint16_t type = wire_get16(p + at);
	while (is_vlan_tag(type)) {
		if (caplen < at + 6)
			return;
		at += 4;
		type = wire_get16(p + at);
	}
	l->ethertype = type;
	l->hdr_len = at + 2;
	l->l3 = l3_of_ethertype(type);
}

static void decode_raw(const uint8_t *p, size_t caplen, struct trace_link *l)
{
	l->hdr_len = 0;
	if (caplen < 1) {
		l->l3 = TRACE_L3_TRUNCATED;
		return;
	}
	l->l3 = p[0] >> 4 == 6 ? TRACE_L3_IPV6 : TRACE_L3_IPV4;
	l->ethertype = l->l3 == TRACE_L3_IPV6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
}

void trace_link_decode(int linktype, const uint8_t *p, size_t caplen, struct trace_link *l)
{
	memset(l, 0, sizeof(*l));
	l->l3 = TRACE_L3_TRUNCATED;
	switch (linktype) {
	case TW_LINK_ETHERNET:
		decode_ethernet(p, caplen, l);
		break;
	case TW_LINK_RAW:
	case LINKTYPE_RAW_ALT1:
	case LINKTYPE_RAW_ALT2:
		decode_raw(p, caplen, l);
		break;
	case TW_LINK_LINUX_SLL:
		/* packet type, ARPHRD type, address length, 8 address bytes, protocol */
		if (caplen < SLL_HDR_LEN)
			return;
		l->pkttype = (uint8_t)wire_get16(p);
		l->ethertype = wire_get16(p + 14);
		l->hdr_len = SLL_HDR_LEN;
		l->l3 = l3_of_ethertype(l->ethertype);
		break;
	case TW_LINK_LINUX_SLL2:
		/* protocol, reserved, ifindex, ARPHRD type, packet type, address length, 8 address bytes */
		if (caplen < SLL2_HDR_LEN)
			return;
		l->has_sll2 = true;
		l->ethertype = wire_get16(p);
		l->ifindex = wire_get32(p + 4);
		l->pkttype = p[10];
		l->hdr_len = SLL2_HDR_LEN;
		l->l3 = l3_of_ethertype(l->ethertype);
		break;
	default:
		break;
	}
}

const char *trace_sll_pkttype_name(uint16_t pkttype)
{
	static const char *const names[] = { "In", "B", "M", "P", "Out" };
	return pkttype < sizeof(names) / sizeof(names[0]) ? names[pkttype] : "?";
}
