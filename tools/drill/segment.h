/*
 * TCP segments in IP packets, the runner's own small builder and parser:
 * the tools use the library through its public API only, and the runner
 * must see exactly what went on the wire.
 */
#ifndef DRILL_SEGMENT_H
#define DRILL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "script.h"
#include "threeway.h"

struct drill_seg {
	struct tw_addr src, dst;    /* one family for both */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;              /* DRILL_TH_* */
	uint16_t win, urg;
	uint8_t opts_len;
	uint8_t opts[DRILL_OPT_SPACE];
	const uint8_t *payload;     /* borrowed; NULL builds payload_len zeros */
	size_t payload_len;
};

/* IPv4 (20 bytes) or IPv6 (40 bytes) header, TCP header and options, the payload. */
#define DRILL_SEG_MAX (40 + 60 + 65535)

/* Writes the packet with correct checksums; its length, or 0 if it does not fit in `cap`. */
size_t drill_seg_build(const struct drill_seg *seg, uint8_t *buf, size_t cap);

/*
 * Reads a packet the stack sent: IPv4 or IPv6 carrying TCP, lengths and
 * checksums right. 0, or -1 with what is wrong in `why`.
 */
int drill_seg_parse(const uint8_t *pkt, size_t len, struct drill_seg *seg, char *why, size_t cap);

#endif
