/*
 * A bounded queue in front of a non-blocking descriptor, for output that
 * must never hold up the event loop (the live trace): items (a packet's
 * lines) go in whole or not at all, what the descriptor takes is written at
 * once, the rest waits for the descriptor to take more. When the queue is
 * full, new items are dropped and counted, as a kernel's capture buffer
 * drops packets a slow tcpdump cannot take.
 */
#ifndef THREEWAY_TOOLS_OUTQ_H
#define THREEWAY_TOOLS_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outq {
	int fd;
	char *buf;                  /* a ring of cap bytes; bytes [written, put) of the stream are in it */
	size_t cap;
	uint64_t put, written;      /* bytes of the stream queued and written, ever */
	uint64_t *ends;             /* a ring of max_items: where each item not yet written whole ends */
	size_t max_items, n_items, first_item;
	uint64_t dropped;           /* items not written: refused when full, or lost to an error */
	int error;                  /* the write error that stopped the output (-errno), or 0 */
};

/* `fd` should be non-blocking; the queue does not own it. 0, or -ENOMEM. At most `max_items` items wait. */
int outq_init(struct outq *q, int fd, size_t cap, size_t max_items);
void outq_fini(struct outq *q);
/*
 * Queues `n` bytes (1 to cap) as one item and, when it is the only one,
 * writes what the descriptor takes now (behind others it waits for the
 * next outq_flush). False when the item was dropped (no room, or the output
 * has failed): it is counted.
 */
bool outq_put(struct outq *q, const char *p, size_t n);
/*
 * Writes what the descriptor takes without blocking: 0 when nothing waits,
 * 1 when some does, or -errno when writing failed (EAGAIN aside). After a
 * failure every item waiting is counted as dropped and the queue takes no
 * more.
 */
int outq_flush(struct outq *q);
/* Items waiting, whole or in part. */
size_t outq_items(const struct outq *q);
/* Counts every item still waiting as dropped and empties the queue (the output is being given up on). */
void outq_discard(struct outq *q);

#endif
