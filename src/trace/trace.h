/*
 * Internals of the tracer: the link layers it unwraps and a growing string.
 */
#ifndef THREEWAY_TRACE_H
#define THREEWAY_TRACE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trace_l3 {
	TRACE_L3_IPV4,
	TRACE_L3_IPV6,
	TRACE_L3_ARP,
	TRACE_L3_OTHER,       /* an ethertype the tracer does not decode */
	TRACE_L3_TRUNCATED,   /* the link header itself is cut short */
};

/* What a link-layer header says, and where the network layer starts. */
struct trace_link {
	enum trace_l3 l3;
	uint16_t ethertype;
	size_t hdr_len;
	bool has_macs;        /* Ethernet: src and dst are set */
	uint8_t src_mac[6], dst_mac[6];
	bool has_sll2;        /* SLL2: ifindex and pkttype are set */
	uint32_t ifindex;
	uint8_t pkttype;
};

/* Unwraps Ethernet (with 802.1Q tags), raw IP, Linux SLL and SLL2. */
void trace_link_decode(int linktype, const uint8_t *p, size_t caplen, struct trace_link *l);

/* tcpdump's name for a Linux packet type ("In", "Out", "B", "M", "P"). */
const char *trace_sll_pkttype_name(uint16_t pkttype);

/* A string that grows; on no memory it stops growing and remembers. */
struct strbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void strbuf_reset(struct strbuf *b);
void strbuf_free(struct strbuf *b);
void strbuf_printf(struct strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

#endif
