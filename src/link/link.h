/*
 * Links: how a stack's packets reach something else. A link knows the wire
 * layer and the OS, never the TCP engine; src/api/ joins links to stacks.
 */
#ifndef THREEWAY_LINK_H
#define THREEWAY_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "threeway.h"

/* ------------------------------------------------------------ in-memory pipe */

/*
 * Two directions (LINK_A_TO_B, LINK_B_TO_A), each with its own impairments,
 * drawn from one seeded generator so a run repeats exactly. Packets are
 * copied into pooled buffers: once the pool has grown to the number of
 * packets in flight, sending allocates nothing.
 */
enum { LINK_A_TO_B = 0, LINK_B_TO_A = 1 };

struct link_pipe;

/* NULL on no memory. */
struct link_pipe *link_pipe_new(uint64_t seed, const struct tw_impairment *a_to_b,
				const struct tw_impairment *b_to_a);
void link_pipe_free(struct link_pipe *p);

/*
 * Takes one packet sent at `now` in direction `dir` and applies that
 * direction's impairments: it may be dropped (loss, too big for the MTU),
 * corrupted (1 or 2 bytes, always in a way the Internet checksum detects),
 * duplicated, delayed or held back. Returns false when the packet
 * was not queued at all (lost, too big, or no memory).
 */
bool link_pipe_send(struct link_pipe *p, int dir, const uint8_t *pkt, size_t len, uint64_t now);

/* The earliest time a queued packet is due, UINT64_MAX when none is queued. */
uint64_t link_pipe_next_due(const struct link_pipe *p);

/*
 * Takes the earliest packet due at or before `now` (ties in the order they
 * were sent). Returns false when none is due. *pkt stays valid until the next
 * call on the pipe.
 */
bool link_pipe_pop(struct link_pipe *p, uint64_t now, int *dir, const uint8_t **pkt, size_t *len);

void link_pipe_stats(const struct link_pipe *p, int dir, struct tw_pipe_stats *out);

#endif
