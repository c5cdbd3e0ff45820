/*
 * The bounded output queue: a byte ring for the text and a ring of item
 * ends, so that an item is refused whole and what was lost can be counted
 * in items, not bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "outq.h"

int outq_init(struct outq *q, int fd, size_t cap, size_t max_items)
{
	memset(q, 0, sizeof(*q));
	q->fd = fd;
	q->cap = cap;
	q->max_items = max_items;
	q->buf = malloc(cap);
	q->ends = calloc(max_items, sizeof(*q->ends));
	if (!q->buf || !q->ends || !cap || !max_items) {
		outq_fini(q);
		return -ENOMEM;
	}
	return 0;
}

void outq_fini(struct outq *q)
{
	free(q->buf);
	free(q->ends);
	q->buf = NULL;
	q->ends = NULL;
}

size_t outq_items(const struct outq *q) { return q->n_items; }

/* Forgets the items written whole. */
static void retire_written(struct outq *q)
{
	while (q->n_items && q->ends[q->first_item] <= q->written) {
		q->first_item = (q->first_item + 1) % q->max_items;
		q->n_items--;
	}
}

void outq_discard(struct outq *q)
{
	q->dropped += q->n_items;
	q->n_items = 0;
	q->written = q->put;
}

int outq_flush(struct outq *q)
{
	if (q->error)
		return q->error;
	while (q->written < q->put) {
		/* The waiting bytes, in at most two pieces of the ring. */
		size_t at = (size_t)(q->written % q->cap), left = (size_t)(q->put - q->written);
		size_t first = left < q->cap - at ? left : q->cap - at;
		struct iovec iov[2] = { { q->buf + at, first }, { q->buf, left - first } };
		ssize_t n = writev(q->fd, iov, left > first ? 2 : 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			q->error = n < 0 ? -errno : -EIO;
			outq_discard(q);
			return q->error;
		}
		q->written += (uint64_t)n;
	}
	retire_written(q);
	return q->written < q->put;
}

bool outq_put(struct outq *q, const char *p, size_t n)
{
	if (q->error || n == 0 || n > q->cap - (size_t)(q->put - q->written) || q->n_items == q->max_items) {
		q->dropped++;
		return false;
	}
	size_t at = (size_t)(q->put % q->cap), first = n < q->cap - at ? n : q->cap - at;
	memcpy(q->buf + at, p, first);
	memcpy(q->buf, p + first, n - first);
	q->put += n;
	q->ends[(q->first_item + q->n_items) % q->max_items] = q->put;
	q->n_items++;
	/* With items waiting already the descriptor was full a moment ago: the caller flushes when it has room. */
	return q->n_items > 1 || outq_flush(q) >= 0;
}
