/*
 * Internals of the tracer: the link layers it unwraps, a growing string, and
 * what the printers (print_*.c, one per protocol) share.
 */
#ifndef THREEWAY_TRACE_H
#define THREEWAY_TRACE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "threeway.h"

enum trace_l3 {
	TRACE_L3_IPV4,
	TRACE_L3_IPV6,
	TRACE_L3_ARP,
	TRACE_L3_OTHER,       /* a type the tracer does not decode: a line naming it, then the bytes */
	TRACE_L3_DATA,        /* SLL protocol numbers below 1536 tcpdump has no name for: the bytes only */
	TRACE_L3_BAD_VERSION, /* raw IP whose version is neither 4 nor 6 */
	TRACE_L3_TRUNCATED,   /* the link header itself is cut short */
};

#define TRACE_MAX_TAGS 8

/* What a link-layer header says, and where the network layer starts. */
struct trace_link {
	enum trace_l3 l3;
	uint16_t ethertype;   /* the type of what follows the link header */
	size_t hdr_len;
	size_t wirelen;       /* the frame's length less the 802.1Q tags in an SLL header */
	const char *cut;      /* TRACE_L3_TRUNCATED: the header cut short ("ether", "vlan", "sll", "sll2") */
	bool has_macs;        /* Ethernet: src and dst are set */
	uint8_t src_mac[6], dst_mac[6];
	bool has_sll2;        /* SLL2: ifindex is set */
	uint32_t ifindex;
	/* Linux cooked (SLL and SLL2) */
	uint16_t pkttype;
	uint16_t halen;       /* address length and address, as the header has them */
	uint8_t addr[8];
	uint16_t protocol;    /* the header's own protocol field, before any 802.1Q tag */
	uint8_t n_tags;       /* the types that 802.1Q tags in the cooked header announce, which tcpdump names */
	uint16_t tag_types[TRACE_MAX_TAGS];
};

/* Unwraps Ethernet (with 802.1Q tags), raw IP, Linux SLL and SLL2. */
void trace_link_decode(int linktype, const uint8_t *p, size_t caplen, size_t wirelen, struct trace_link *l);

/* tcpdump's name for a Linux packet type ("In", "Out", "B", "M", "P"). */
const char *trace_sll_pkttype_name(uint16_t pkttype);

/* tcpdump's name for an Ethernet type ("IPv4", "802.1Q", ...), or NULL. */
const char *trace_ethertype_name(uint16_t type);

/* A string that grows; on no memory it stops growing and remembers. */
struct strbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void trace_strbuf_reset(struct strbuf *b);
void trace_strbuf_free(struct strbuf *b);
void trace_strbuf_printf(struct strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* ------------------------------------------------------------ printers */

struct conv;

/* How many IP headers deep the tracer follows IP-in-IP and ICMP's quoted datagrams. */
#define TRACE_MAX_IP_DEPTH 16

/* The connections a tracer remembers for relative sequence numbers: an open-addressed table at most half full. */
struct trace_conv_table {
	struct conv *slots;
	size_t n, cap;
};
/* Connections in a generation of the table (print_tcp.c): a tracer remembers at most twice as many. */
#define TRACE_CONV_GENERATION 16384u

struct tw_tracer {
	struct tw_trace_config cfg;
	struct strbuf out;
	struct trace_conv_table convs[2];   /* the current generation, and the one before */
	unsigned ip_depth;        /* IP headers being printed inside another */
};

/*
 * What the transport printers need from the IP layer. `captured` arguments
 * throughout count the bytes present from a pointer on, already cut where
 * the IP length says the datagram ends, as tcpdump cuts its snapshot.
 */
struct ip_ctx {
	uint8_t family;
	const uint8_t *src, *dst;
	const uint8_t *csum_dst;  /* the pseudo-header's destination: a source route's last hop */
	bool addrs_on_l4;         /* TCP or UDP right after the fixed header: addresses go on its line */
	bool fragmented;
};

/*
 * tcpdump stops at the end of the capture in two ways: a length check that
 * fails (WALK_TRUNC, after which it closes the option list with ">"), and a
 * read past the capture (WALK_CUT, which ends the packet on the spot).
 */
enum walk_result { WALK_DONE, WALK_BAD, WALK_TRUNC, WALK_CUT };

/* The options area as tcpdump walks it. */
struct opt_walk {
	const uint8_t *p;
	uint32_t hlen;            /* header bytes left, per the data offset */
	size_t avail;             /* bytes captured from p on, which may run past the header */
	uint8_t flags;            /* the segment's flags: MPTCP's reading depends on them */
	uint32_t thseq, thack;    /* relative sequence bases, for SACK blocks */
	bool rev;
	bool payload_captured;    /* the whole segment is present, so MD5 could be checked */
	const char *proto;        /* the name a truncation mark carries */
};

/* print_util.c */
void trace_put_ip_addr(struct strbuf *b, uint8_t family, const uint8_t *a);
void trace_put_mac(struct strbuf *b, const uint8_t *m);
void trace_put_link_addr(struct strbuf *b, const uint8_t *a, size_t len);
void trace_put_safe_char(struct strbuf *b, uint8_t c);
void trace_put_truncated(struct strbuf *b, const char *proto);
void trace_put_addr_pair(struct strbuf *b, const struct ip_ctx *ip);
void trace_put_hex_ascii(struct strbuf *b, const uint8_t *p, size_t len);
void trace_put_hex(struct strbuf *b, const char *indent, const uint8_t *p, size_t len);
uint16_t trace_checksum_should_be(uint16_t stored, uint16_t computed);
uint16_t trace_l4_checksum(const struct ip_ctx *ip, uint8_t proto, const uint8_t *p, uint32_t len);
void trace_put_checksum_note(struct strbuf *b, const struct ip_ctx *ip, uint8_t proto, const char *name,
			     const uint8_t *p, uint32_t len, uint16_t stored);
const char *trace_ipproto_name(uint8_t proto);

/* print_tcp_opt.c */
enum walk_result trace_put_tcp_options(struct strbuf *b, struct opt_walk *w, bool *any);

/* print_tcp.c */
void trace_put_tcp(struct tw_tracer *tr, const struct ip_ctx *ip, const uint8_t *seg, uint32_t length,
		    size_t captured);

/* print_udp.c */
void trace_put_udp(struct tw_tracer *tr, const struct ip_ctx *ip, const uint8_t *p, uint32_t length,
		    size_t captured);

/* print_icmp.c */
void trace_put_icmp(struct tw_tracer *tr, const struct ip_ctx *ip, const uint8_t *p, uint32_t length,
		     size_t captured);

/* print_icmp6.c */
void trace_put_icmp6(struct tw_tracer *tr, const struct ip_ctx *ip, const uint8_t *p, uint32_t length,
		      size_t captured);

/* print_ip.c */
bool trace_proto_has_ports(uint8_t proto);
void trace_put_ip_payload(struct tw_tracer *tr, struct ip_ctx *ip, uint8_t first, uint8_t proto, const uint8_t *p,
			   uint32_t length, size_t captured);
void trace_put_ipv4(struct tw_tracer *tr, const uint8_t *p, size_t captured, size_t length);
void trace_put_inner_ip(struct tw_tracer *tr, uint8_t version, const uint8_t *p, size_t captured, size_t length);

/* print_ipv6.c */
void trace_put_ipv6(struct tw_tracer *tr, const uint8_t *p, size_t captured, size_t length);

/* print_arp.c */
void trace_put_arp(struct tw_tracer *tr, const uint8_t *p, size_t captured, size_t length);

#endif
