/*
 * Link layers of pcap files: which bytes are the link header and what follows,
 * read the way tcpdump reads them.
 */
#include <string.h>

#include "threeway.h"
#include "trace/trace.h"
#include "wire/wire.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_REVARP 0x8035
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHER_HDR_LEN 14
#define SLL_HDR_LEN 16
#define SLL2_HDR_LEN 20
/* Values up to this in an Ethernet type field are an 802.3 length instead. */
#define ETHER_MAX_LENGTH 1500
/* Linux cooked protocol numbers below 1536: raw 802.3 (IPX) and 802.2 LLC. */
#define SLL_P_802_3 0x0001
#define SLL_P_802_2 0x0004
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

const char *trace_ethertype_name(uint16_t type)
{
	static const struct { uint16_t type; const char *name; } names[] = {
		{ 0x0800, "IPv4" }, { 0x8847, "MPLS unicast" }, { 0x8848, "MPLS multicast" }, { 0x86dd, "IPv6" },
		{ 0x8100, "802.1Q" }, { 0x9100, "802.1Q-9100" }, { 0x88a8, "802.1Q-QinQ" },
		{ 0x9200, "802.1Q-9200" }, { 0x88e5, "802.1AE MACsec" }, { 0x0200, "PUP" }, { 0x0806, "ARP" },
		{ 0x8035, "Reverse ARP" }, { 0x0600, "NS" }, { 0x0500, "Sprite" }, { 0x1000, "Trail" },
		{ 0x6001, "MOP DL" }, { 0x6002, "MOP RC" }, { 0x6003, "DN" }, { 0x6004, "LAT" }, { 0x6007, "SCA" },
		{ 0x6558, "TEB" }, { 0x8038, "Lanbridge" }, { 0x803c, "DEC DNS" }, { 0x803e, "DEC DTS" },
		{ 0x805b, "VEXP" }, { 0x805c, "VPROD" }, { 0x809b, "Appletalk" }, { 0x80f3, "Appletalk ARP" },
		{ 0x8137, "IPX" }, { 0x880b, "PPP" }, { 0x8808, "MPCP" }, { 0x8809, "Slow Protocols" },
		{ 0x8863, "PPPoE D" }, { 0x8864, "PPPoE S" }, { 0x888e, "EAPOL" }, { 0x8899, "Realtek protocols" },
		{ 0x886f, "MS NLB heartbeat" }, { 0x8870, "Jumbo" }, { 0x894f, "NSH" }, { 0x9000, "Loopback" },
		{ 0xfefe, "OSI" }, { 0x00fe, "GRE-OSI" }, { 0xabcd, "CFM (old)" }, { 0x8902, "CFM" },
		{ 0x893a, "IEEE1905.1" }, { 0x88cc, "LLDP" }, { 0x88ca, "TIPC" }, { 0x0707, "GeoNet (old)" },
		{ 0x8947, "GeoNet" }, { 0x1111, "CALM FAST" }, { 0x88a2, "AoE" }, { 0x88f7, "PTP" },
		{ 0xd28b, "Arista Vendor Specific Protocol" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == type)
			return names[i].name;
	return NULL;
}

static enum trace_l3 l3_of_ethertype(uint16_t ethertype)
{
	switch (ethertype) {
	case ETHERTYPE_IPV4:
		return TRACE_L3_IPV4;
	case ETHERTYPE_IPV6:
		return TRACE_L3_IPV6;
	case ETHERTYPE_ARP:
	case ETHERTYPE_REVARP:
		return TRACE_L3_ARP;
	default:
		return TRACE_L3_OTHER;
	}
}

static bool is_vlan_tag(uint16_t ethertype)
{
	return ethertype == 0x8100 || ethertype == 0x88a8 || ethertype == 0x9100 || ethertype == 0x9200;
}

static void cut_short(struct trace_link *l, const char *header)
{
	l->l3 = TRACE_L3_TRUNCATED;
	l->cut = header;
}

/* Ethernet II; 802.1Q and QinQ tags are skipped, as tcpdump does without -e. */
static void decode_ethernet(const uint8_t *p, size_t caplen, size_t wirelen, struct trace_link *l)
{
	if (caplen < ETHER_HDR_LEN) {
		cut_short(l, "ether");
		return;
	}
	l->has_macs = true;
	memcpy(l->dst_mac, p, 6);
	memcpy(l->src_mac, p + 6, 6);
	size_t at = 12;
	uint16_t type = wire_get16(p + at);
	while (is_vlan_tag(type)) {
		if (caplen < at + 6 || wirelen < at + 6) {
			cut_short(l, "vlan");
			return;
		}
		at += 4;
		type = wire_get16(p + at);
	}
	l->ethertype = type;
	l->hdr_len = at + 2;
	l->l3 = l3_of_ethertype(type);
}

/* Raw IP is told apart by the version nibble (RFC 791, RFC 8200). */
static void decode_raw(const uint8_t *p, size_t caplen, struct trace_link *l)
{
	l->hdr_len = 0;
	if (caplen < 1) {
		cut_short(l, "raw");
		return;
	}
	switch (p[0] >> 4) {
	case 4:
		l->l3 = TRACE_L3_IPV4;
		l->ethertype = ETHERTYPE_IPV4;
		break;
	case 6:
		l->l3 = TRACE_L3_IPV6;
		l->ethertype = ETHERTYPE_IPV6;
		break;
	default:
		l->l3 = TRACE_L3_BAD_VERSION;
		break;
	}
}

/*
 * What follows a Linux cooked header at p[at]: 802.1Q tags, each announcing
 * a type that tcpdump names, then the protocol.
 */
static void decode_cooked_protocol(const uint8_t *p, size_t caplen, size_t at, struct trace_link *l)
{
	uint16_t type = l->protocol;
	while (type == ETHERTYPE_8021Q) {
		if (caplen < at + 4) {
			cut_short(l, "vlan");
			return;
		}
		type = wire_get16(p + at + 2);
		if (type <= ETHER_MAX_LENGTH)
			type = SLL_P_802_2;
		if (l->n_tags < TRACE_MAX_TAGS)
			l->tag_types[l->n_tags++] = type;
		at += 4;
		l->wirelen -= 4;
	}
	l->ethertype = type;
	l->hdr_len = at;
	if (type > ETHER_MAX_LENGTH)
		l->l3 = l3_of_ethertype(type);
	else if (type == SLL_P_802_3 || type == SLL_P_802_2)
		l->l3 = TRACE_L3_OTHER;
	else
		l->l3 = TRACE_L3_DATA;
}

/* SLL: packet type, ARPHRD type, address length, 8 address bytes, protocol. */
static void decode_sll(const uint8_t *p, size_t caplen, struct trace_link *l)
{
	if (caplen < SLL_HDR_LEN) {
		cut_short(l, "sll");
		return;
	}
	l->pkttype = wire_get16(p);
	l->halen = wire_get16(p + 4);
	memcpy(l->addr, p + 6, 8);
	l->protocol = wire_get16(p + 14);
	decode_cooked_protocol(p, caplen, SLL_HDR_LEN, l);
}

/* SLL2: protocol, reserved, ifindex, ARPHRD type, packet type, address length, 8 address bytes. */
static void decode_sll2(const uint8_t *p, size_t caplen, struct trace_link *l)
{
	if (caplen < SLL2_HDR_LEN) {
		cut_short(l, "sll2");
		return;
	}
	l->has_sll2 = true;
	l->protocol = wire_get16(p);
	l->ifindex = wire_get32(p + 4);
	l->pkttype = p[10];
	l->halen = p[11];
	memcpy(l->addr, p + 12, 8);
	decode_cooked_protocol(p, caplen, SLL2_HDR_LEN, l);
}

void trace_link_decode(int linktype, const uint8_t *p, size_t caplen, size_t wirelen, struct trace_link *l)
{
	memset(l, 0, sizeof(*l));
	l->wirelen = wirelen;
	cut_short(l, "");
	switch (linktype) {
	case TW_LINK_ETHERNET:
		decode_ethernet(p, caplen, wirelen, l);
		break;
	case TW_LINK_RAW:
	case LINKTYPE_RAW_ALT1:
	case LINKTYPE_RAW_ALT2:
		decode_raw(p, caplen, l);
		break;
	case TW_LINK_LINUX_SLL:
		decode_sll(p, caplen, l);
		break;
	case TW_LINK_LINUX_SLL2:
		decode_sll2(p, caplen, l);
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
