/*
 * What the stack fuzz targets share: reading an input as a stream of
 * choices, building well-formed TCP/IP packets with correct checksums, a
 * check of every packet the stack sends, and letting time pass.
 */
#ifndef THREEWAY_FUZZ_COMMON_H
#define THREEWAY_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "threeway.h"
#include "wire/wire.h"

/* The input, read front to back; past its end every read gives 0. */
struct fz_input {
	const uint8_t *p;
	size_t left;
};

uint8_t fz_take8(struct fz_input *in);
uint16_t fz_take16(struct fz_input *in);
uint32_t fz_take32(struct fz_input *in);
/* Up to `max` bytes, as many as the next byte says (and the input holds); *len gets the count. */
const uint8_t *fz_take_bytes(struct fz_input *in, size_t max, size_t *len);

/* The stack's address and the peers', for IPv4 and IPv6. */
extern const uint8_t fz_our4[4], fz_peer4[4], fz_our6[16], fz_peer6[16];

/* A stack with one IPv4 and one IPv6 address and a fixed secret; `cfg` is initialised by the caller. */
struct tw_stack *fz_stack_new(struct tw_stack_config *cfg);

/* A segment from a peer, as the TCP header's fields; options are raw bytes (padded with EOL). */
struct fz_seg {
	uint8_t family;             /* TW_AF_INET or TW_AF_INET6 */
	uint8_t peer;               /* the last byte of the peer's address; 0 counts as 1 */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd, urp;
	const uint8_t *opts;
	size_t opt_len;             /* at most 40 */
	const uint8_t *payload;
	size_t payload_len;
};

/* Writes the IP packet with correct checksums; its length, or 0 if it does not fit. */
size_t fz_build_tcp(uint8_t *buf, size_t cap, const struct fz_seg *g);

/* What fz_check_output saw of the last TCP segment the stack sent. */
struct fz_sent {
	uint8_t family;
	uint8_t src[16], dst[16];
	struct wire_tcp t;          /* the payload pointer is not kept */
};

/*
 * Aborts unless the packet is well-formed IPv4 or IPv6 from one of the
 * stack's addresses carrying TCP or ICMP with correct checksums. A TCP
 * segment is copied into *sent when it is not NULL.
 */
void fz_check_output(const uint8_t *pkt, size_t len, struct fz_sent *sent);

/* Runs every timer due up to now + us, one deadline at a time. */
void fz_advance(struct tw_stack *st, uint64_t *now, uint64_t us);

/*
 * Sanity of the counters that hold at any time: the socket count within
 * max_conns, cookie ACK checks within what was sent and received.
 */
void fz_check_stats(const struct tw_stack *st, const struct tw_stack_config *cfg);

/*
 * With every socket closed: after an hour of timers, no connection may be
 * left in any state. Then frees the stack.
 */
void fz_finish(struct tw_stack *st, uint64_t *now);

#endif
