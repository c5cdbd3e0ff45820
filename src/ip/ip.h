/*
 * The IP layer: IPv4 and IPv6 input (validation, the stack's addresses,
 * sources nothing may come from, fragments), the ICMP responder, and the
 * IP header of every packet the stack sends. The transport above it is
 * handed a validated packet with its addresses and never sees an IP header.
 *
 * It knows the wire layer and the public types only; the stack object that
 * owns it (src/api/stack.c) passes transport packets on to src/tcp/.
 */
#ifndef THREEWAY_IP_H
#define THREEWAY_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "threeway.h"
#include "wire/wire.h"

/* A validated packet for the transport: addresses, protocol and payload. */
struct ip_packet {
	uint8_t family;             /* TW_AF_INET or TW_AF_INET6 */
	uint8_t proto;              /* WIRE_PROTO_TCP, ... */
	uint8_t src[16], dst[16];   /* IPv4 in the first 4 bytes, the rest zero */
	const uint8_t *payload;     /* borrowed from the packet given to ip_input */
	size_t payload_len;
	struct wire_pseudo pseudo;  /* for the transport's checksum */
};

struct ip_reass_dgram;

/*
 * Datagrams in reassembly (reass.c): a keyed hash table of them, and one
 * list per family in order of arrival, which is the order of their
 * deadlines since each family has one timeout.
 */
struct ip_reass {
	struct ip_reass_dgram **table;  /* NULL until the first fragment */
	uint32_t mask;
	struct ip_reass_dgram *oldest[2], *newest[2];   /* [0] IPv4, [1] IPv6 */
	uint64_t bytes;             /* charged against reass_max_bytes */
	uint32_t count;
	uint8_t *whole;             /* the last datagram made whole, until the next packet */
};

/*
 * The IP layer's state, inside the stack object. `cfg` is the stack's own
 * configuration (addresses, MTU, output and event callbacks), `stats` its
 * counters.
 */
struct ip_layer {
	const struct tw_stack_config *cfg;
	struct tw_stack_stats *stats;
	const uint64_t *now;        /* the stack's clock, for events and reassembly */
	uint8_t *out;               /* one outgoing packet */
	size_t out_cap;
	struct ip_reass reass;
};

/* What a fragment adds to its packet's description. */
struct ip_fragment {
	bool is_fragment;
	bool more;                  /* more fragments follow (MF, M) */
	uint32_t id;                /* identification: 16 bits in IPv4, 32 in IPv6 */
	uint16_t offset;            /* bytes */
	const uint8_t *pkt;         /* the whole fragment packet, borrowed */
	size_t hdr_len;             /* its bytes before the data: the IPv4 header, or IPv6's up to the Fragment header's end */
	size_t unfrag_len;          /* of those, what the reassembled packet keeps beyond 20 or 40 bytes */
	const uint8_t *data;        /* the fragment's data, pkt + hdr_len */
	size_t data_len;
};

/* ip_input's result when the packet is for the transport in `*pkt`. */
#define IP_DELIVER 1

/*
 * Parses and validates one received packet. Returns IP_DELIVER with `pkt`
 * filled for a TCP segment to one of the stack's addresses, 0 when the IP
 * layer dealt with the packet itself (an echo request answered), or a
 * negative TW_DROP_* reason, counted and reported.
 */
int ip_input(struct ip_layer *ip, const uint8_t *buf, size_t len, struct ip_packet *pkt);

/*
 * Sending: the transport writes its header and payload at ip_payload_area,
 * then ip_send puts the IP header in front and hands the packet to the link.
 * `cap` receives the room there is for the transport's bytes.
 */
uint8_t *ip_payload_area(struct ip_layer *ip, uint8_t family, size_t *cap);
/* Returns false when the packet could not be built (nothing is sent). */
bool ip_send(struct ip_layer *ip, uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	     size_t payload_len);

/* Counts a dropped packet and tells the event hook, with its addresses when `pkt` has them; returns -why. */
int ip_drop(struct ip_layer *ip, enum tw_drop why);
int ip_drop_packet(struct ip_layer *ip, enum tw_drop why, const struct ip_packet *pkt);
/* Tells the event hook, if there is one. */
void ip_event(const struct ip_layer *ip, struct tw_event *ev);

/* Is this packet addressed to one of the stack's addresses? The fixed header only: no validation. */
bool ip_packet_is_local(const struct tw_stack_config *cfg, const uint8_t *buf, size_t len);
/* Is `addr` one of the stack's own addresses? */
bool ip_is_local(const struct tw_stack_config *cfg, uint8_t family, const uint8_t *addr);
/* A source no packet may come from and nothing may be answered to. */
bool ip_is_bad_source(uint8_t family, const uint8_t *addr);
static inline size_t ip_addr_len(uint8_t family) { return family == TW_AF_INET ? 4 : 16; }
static inline size_t ip_header_len(uint8_t family)
{
	return family == TW_AF_INET ? WIRE_IPV4_HDR_MIN : WIRE_IPV6_HDR_LEN;
}

/* icmp.c: the echo responder. 0 when answered, or a negative TW_DROP_* reason (not yet counted). */
int ip_icmp_input(struct ip_layer *ip, const struct ip_packet *pkt);
/*
 * icmp.c: an ICMP error about `invoking` (a packet received from `to` for
 * our address `from`), quoting as much of it as RFC 1812 4.3.2.3 (576 bytes
 * in all) or RFC 4443 2.4 (c) (1280) allows; `param` is the 4 bytes after
 * the checksum (an ICMPv6 Parameter Problem's pointer). True when sent;
 * never about an ICMP error.
 */
bool ip_icmp_error(struct ip_layer *ip, uint8_t family, uint8_t type, uint8_t code, uint32_t param,
		   const uint8_t *from, const uint8_t *to, const uint8_t *invoking, size_t len);

/* ip_reass_input's result when a datagram is whole: the packet is at *whole. */
#define IP_REASS_WHOLE 1

/*
 * reass.c: takes a fragment of `p` (validated, for us). 0 when held,
 * IP_REASS_WHOLE with the reassembled packet in `*whole` (owned by the IP
 * layer, valid until the next packet), or a negative TW_DROP_* reason,
 * counted and reported. IPv6's atomic fragments never come here.
 */
int ip_reass_input(struct ip_layer *ip, const struct ip_packet *p, const struct ip_fragment *f,
		   const uint8_t **whole, size_t *whole_len);
/* Gives up the datagrams whose time is over at the stack's clock. */
void ip_reass_expire(struct ip_layer *ip);
/* The earliest deadline of a datagram in reassembly, UINT64_MAX for none. */
uint64_t ip_reass_next(const struct ip_layer *ip);
/* Frees the datagram last made whole (at the next packet). */
void ip_reass_release_whole(struct ip_layer *ip);
/* Frees everything, at the stack's end. */
void ip_reass_free(struct ip_layer *ip);

#endif
