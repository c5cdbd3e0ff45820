/*
 * Buffers: a pool of equal chunks, byte rings built from them, the send
 * queue's per-segment records, and out-of-order ranges.
 *
 * Memory follows the data. A ring holds only the chunks its bytes touch,
 * drawn from the stack's pool as data is written and given back as it is
 * consumed; a connection that never carries data, or holds none right now,
 * holds no chunk. Recycled chunks are kept for reuse, so once warm no packet
 * allocates.
 *
 * The receive ring holds the unread in-order bytes, and beyond them, at their
 * offset from RCV.NXT, out-of-order data: the advertised window never exceeds
 * the ring's capacity, so any acceptable segment has a place.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

/* Recycled chunks kept per stack; beyond this they go back to the C library. */
#define POOL_KEEP_MAX 8192u

/* ------------------------------------------------------------------- pool */

void *tcp_pool_get(struct tcp_pool *p)
{
	/*
	 * The stack's memory bound: past it, data that arrives is not taken
	 * (and not acknowledged: the peer sends it again) and a write takes
	 * no more, whatever any one connection's buffer would allow.
	 */
	if (tcp_pool_at_bound(p)) {
		p->refused++;
		return NULL;
	}
	void *c = p->free;
	if (c) {
		memcpy(&p->free, c, sizeof(void *));
		p->n_free--;
	} else {
		c = malloc(TCP_CHUNK_SIZE);
		if (!c)
			return NULL;
		p->allocated++;
	}
	p->in_use++;
	return c;
}

bool tcp_pool_at_bound(const struct tcp_pool *p)
{
	return p->max_in_use && p->in_use >= p->max_in_use;
}

/*
 * Room for a writer the bound refused: an eighth of the bound free (at least
 * a chunk), so that, as Linux wakes a writer only once a good part of its
 * buffer is free, a waiter is not woken for every chunk.
 */
bool tcp_pool_writable(const struct tcp_pool *p)
{
	if (!p->max_in_use)
		return true;
	uint32_t slack = p->max_in_use / 8 ? p->max_in_use / 8 : 1;
	return p->in_use <= p->max_in_use - slack;
}

void tcp_pool_put(struct tcp_pool *p, void *chunk)
{
	if (!chunk)
		return;
	p->in_use--;
	if (p->n_free >= POOL_KEEP_MAX) {
		free(chunk);
		return;
	}
	memcpy(chunk, &p->free, sizeof(void *));
	p->free = chunk;
	p->n_free++;
}

void tcp_pool_fini(struct tcp_pool *p)
{
	while (p->free) {
		void *c = p->free;
		memcpy(&p->free, c, sizeof(void *));
		free(c);
	}
	p->n_free = 0;
}

/* ------------------------------------------------------------------ rings */

/* Enough slots for `cap` bytes starting anywhere in the first chunk. */
static uint32_t slots_for(uint32_t cap) { return cap / TCP_CHUNK_SIZE + 2; }

static bool slots_alloc(struct tcp_pool *p, struct tcp_ring *r, uint32_t n)
{
	size_t bytes = (size_t)n * sizeof(uint8_t *);
	bool big = bytes > TCP_CHUNK_SIZE;
	uint8_t **s = big ? malloc(bytes) : tcp_pool_get(p);
	if (!s)
		return false;
	memset(s, 0, bytes);
	r->slot = s;
	r->n_slots = n;
	r->slot_malloced = big;
	return true;
}

static void slots_release(struct tcp_pool *p, struct tcp_ring *r)
{
	if (!r->slot)
		return;
	if (r->slot_malloced)
		free(r->slot);
	else
		tcp_pool_put(p, r->slot);
	r->slot = NULL;
	r->n_slots = 0;
}

/* The chunk holding offset `off` from the head, and the byte's place in it. */
static uint8_t **slot_at(const struct tcp_ring *r, uint32_t off, uint32_t *within)
{
	uint64_t pos = (uint64_t)r->head + off;
	*within = (uint32_t)(pos % TCP_CHUNK_SIZE);
	return &r->slot[(r->first + pos / TCP_CHUNK_SIZE) % r->n_slots];
}

bool tcp_ring_write_at(struct tcp_pool *p, struct tcp_ring *r, uint32_t off, const uint8_t *data, uint32_t len)
{
	if (!len)
		return true;
	if ((uint64_t)off + len > r->cap)
		return false;
	if (!r->slot && !slots_alloc(p, r, slots_for(r->cap)))
		return false;
	while (len) {
		uint32_t within;
		uint8_t **chunk = slot_at(r, off, &within);
		if (!*chunk && !(*chunk = tcp_pool_get(p)))
			return false;   /* what was written stays; the caller counts none of it */
		uint32_t n = TCP_CHUNK_SIZE - within < len ? TCP_CHUNK_SIZE - within : len;
		memcpy(*chunk + within, data, n);
		data += n;
		off += n;
		len -= n;
	}
	return true;
}

uint32_t tcp_ring_append(struct tcp_pool *p, struct tcp_ring *r, const uint8_t *data, uint32_t len)
{
	uint32_t room = r->cap > r->len ? r->cap - r->len : 0;
	if (len > room)
		len = room;
	/* Chunk by chunk, so running out of memory still keeps what fitted. */
	uint32_t done = 0;
	while (done < len) {
		uint32_t within = (uint32_t)(((uint64_t)r->head + r->len) % TCP_CHUNK_SIZE);
		uint32_t n = TCP_CHUNK_SIZE - within < len - done ? TCP_CHUNK_SIZE - within : len - done;
		if (!tcp_ring_write_at(p, r, r->len, data + done, n))
			break;
		r->len += n;
		done += n;
	}
	return done;
}

void tcp_ring_read_at(const struct tcp_ring *r, uint32_t off, uint8_t *out, uint32_t len)
{
	while (len) {
		uint32_t within;
		uint8_t *const *chunk = slot_at(r, off, &within);
		uint32_t n = TCP_CHUNK_SIZE - within < len ? TCP_CHUNK_SIZE - within : len;
		if (*chunk)
			memcpy(out, *chunk + within, n);
		else
			memset(out, 0, n);   /* never written: callers read only what they wrote */
		out += n;
		off += n;
		len -= n;
	}
}

void tcp_ring_consume(struct tcp_pool *p, struct tcp_ring *r, uint32_t len)
{
	if (len > r->len)
		len = r->len;
	r->len -= len;
	r->head += len;
	/* Chunks wholly before the head hold nothing any more: out-of-order data lies after it. */
	while (r->head >= TCP_CHUNK_SIZE) {
		if (r->slot) {
			tcp_pool_put(p, r->slot[r->first]);
			r->slot[r->first] = NULL;
		}
		r->first = (r->first + 1) % (r->n_slots ? r->n_slots : 1);
		r->head -= TCP_CHUNK_SIZE;
	}
}

void tcp_ring_free(struct tcp_pool *p, struct tcp_ring *r)
{
	if (r->slot)
		for (uint32_t i = 0; i < r->n_slots; i++)
			tcp_pool_put(p, r->slot[i]);
	slots_release(p, r);
	r->first = r->head = r->len = 0;
}

/* Gives back the chunks that lie wholly at or beyond offset `off`: nothing there is kept. */
static void ring_free_from(struct tcp_pool *p, struct tcp_ring *r, uint32_t off)
{
	if (!r->slot)
		return;
	uint64_t first = ((uint64_t)r->head + off + TCP_CHUNK_SIZE - 1) / TCP_CHUNK_SIZE;
	for (uint64_t i = first; i < r->n_slots; i++) {
		uint8_t **chunk = &r->slot[(r->first + i) % r->n_slots];
		tcp_pool_put(p, *chunk);
		*chunk = NULL;
	}
}

void tcp_ring_release_if_empty(struct tcp_pool *p, struct tcp_ring *r)
{
	if (r->len == 0 && r->slot)
		tcp_ring_free(p, r);
}

/*
 * A new capacity, keeping the bytes: the chunk pointers move to a slot array
 * of the new size. Offsets past the new capacity hold nothing (the caller
 * keeps out-of-order data from a shrink), so their chunks go.
 */
int tcp_ring_set_cap(struct tcp_pool *p, struct tcp_ring *r, uint32_t cap)
{
	if (cap < r->len)
		return -EINVAL;
	if (!r->slot) {
		r->cap = cap;
		return 0;
	}
	struct tcp_ring n = { .cap = cap, .head = r->head, .len = r->len };
	if (!slots_alloc(p, &n, slots_for(cap)))
		return -ENOMEM;
	for (uint32_t i = 0; i < r->n_slots; i++) {
		uint8_t **from = &r->slot[(r->first + i) % r->n_slots];
		if (i < n.n_slots)
			n.slot[i] = *from;
		else
			tcp_pool_put(p, *from);
		*from = NULL;
	}
	slots_release(p, r);
	*r = n;
	return 0;
}

/* -------------------------------------------------------- segment records */

static struct tcp_txrec *rec_at(const struct tcp_txblock *b, uint32_t i)
{
	return (struct tcp_txrec *)&b->rec[b->first + i];
}

static uint32_t recs_end(const struct tcp_sndq *q)
{
	const struct tcp_txblock *t = q->tail;
	const struct tcp_txrec *last = rec_at(t, t->count - 1);
	return last->seq + last->len;
}

static bool rec_append(struct tcp_pool *p, struct tcp_sndq *q, uint32_t seq, uint32_t len, uint64_t now)
{
	const uint32_t per_block = sizeof(q->tail->rec) / sizeof(q->tail->rec[0]);
	if (!q->tail || q->tail->first + q->tail->count == per_block) {
		struct tcp_txblock *b = tcp_pool_get(p);
		if (!b)
			return false;
		b->next = NULL;
		b->first = b->count = 0;
		if (q->tail)
			q->tail->next = b;
		else
			q->head = b;
		q->tail = b;
	}
	*rec_at(q->tail, q->tail->count) = (struct tcp_txrec){ .seq = seq, .len = len, .sent_at = now };
	q->tail->count++;
	q->n_recs++;
	return true;
}

/* The records overlapping [seq, end) were sent again at `now`. Records are in sequence order. */
static void mark_resent(struct tcp_sndq *q, uint32_t seq, uint32_t end, uint64_t now)
{
	for (struct tcp_txblock *b = q->head; b; b = b->next) {
		for (uint32_t i = 0; i < b->count; i++) {
			struct tcp_txrec *r = rec_at(b, i);
			if (!seq_lt(r->seq, end))
				return;
			if (seq_lt(seq, r->seq + r->len)) {
				r->sent_at = now;
				if (r->rexmits < UINT16_MAX)
					r->rexmits++;
			}
		}
	}
}

/*
 * `len` of sequence space from `seq` left now. Records it overlaps were sent
 * before: they count a retransmission and take the new time; what lies past
 * the last record is new and gets one. Without memory for a record the
 * segment still goes; only its timing is not known.
 */
void tcp_sndq_sent(struct tcp_pool *p, struct tcp_sndq *q, uint32_t seq, uint32_t len, uint64_t now)
{
	if (!len)
		return;
	/* New data, the common case: past every record. */
	if (!q->tail || seq_geq(seq, recs_end(q))) {
		rec_append(p, q, seq, len, now);
		return;
	}
	uint32_t end = seq + len;
	mark_resent(q, seq, end, now);
	uint32_t from = recs_end(q);
	if (seq_lt(from, end))
		rec_append(p, q, from, end - from, now);
}

/* SND.UNA moved to `una`: records wholly below it go, one it cuts is trimmed. */
void tcp_sndq_acked(struct tcp_pool *p, struct tcp_sndq *q, uint32_t una)
{
	while (q->head) {
		struct tcp_txblock *b = q->head;
		while (b->count) {
			struct tcp_txrec *r = rec_at(b, 0);
			if (seq_leq(r->seq + r->len, una)) {
				b->first++;
				b->count--;
				q->n_recs--;
				continue;
			}
			if (seq_lt(r->seq, una)) {
				r->len -= una - r->seq;
				r->seq = una;
			}
			return;
		}
		q->head = b->next;
		if (!q->head)
			q->tail = NULL;
		tcp_pool_put(p, b);
	}
}

void tcp_sndq_clear(struct tcp_pool *p, struct tcp_sndq *q)
{
	while (q->head) {
		struct tcp_txblock *b = q->head;
		q->head = b->next;
		tcp_pool_put(p, b);
	}
	q->tail = NULL;
	q->n_recs = 0;
	q->bytes.len = 0;
	tcp_ring_free(p, &q->bytes);
}

/* The record holding `seq`, or NULL. */
const struct tcp_txrec *tcp_sndq_record(const struct tcp_sndq *q, uint32_t seq)
{
	for (const struct tcp_txblock *b = q->head; b; b = b->next) {
		for (uint32_t i = 0; i < b->count; i++) {
			const struct tcp_txrec *r = rec_at(b, i);
			if (seq_in(seq, r->seq, r->seq + r->len))
				return r;
		}
	}
	return NULL;
}

/* ------------------------------------------------------- out-of-order data */

static void ooo_remove(struct tcp_sockbuf *sb, size_t i)
{
	memmove(&sb->ooo[i], &sb->ooo[i + 1], (sb->n_ooo - i - 1) * sizeof(sb->ooo[0]));
	sb->n_ooo--;
}

/*
 * Stores data that lies beyond RCV.NXT and records its range, merging ranges
 * that touch. The newest range goes first: RFC 2018 4 wants the block holding
 * the most recent segment reported first. Returns the bytes stored: 0 when
 * every range slot is taken and the segment joins none, or no chunk could
 * be had for it.
 */
uint32_t tcp_rcv_ooo_add(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct tcp_sockbuf *sb = c->sb;
	struct wire_sack_block blk = { seq, seq + len };

	bool joins = false;
	for (size_t i = 0; i < sb->n_ooo; i++)
		if (seq_leq(sb->ooo[i].left, blk.right) && seq_leq(blk.left, sb->ooo[i].right))
			joins = true;
	if (!joins && sb->n_ooo == TCP_OOO_MAX)
		return 0;

	if (!tcp_ring_write_at(&c->stack->pool, &sb->rcv, sb->rcv.len + (seq - c->rcv.nxt), data, len))
		return 0;
	for (size_t i = 0; i < sb->n_ooo;) {
		struct wire_sack_block *o = &sb->ooo[i];
		if (seq_leq(o->left, blk.right) && seq_leq(blk.left, o->right)) {
			blk.left = seq_min(blk.left, o->left);
			blk.right = seq_max(blk.right, o->right);
			ooo_remove(sb, i);
		} else {
			i++;
		}
	}
	memmove(&sb->ooo[1], &sb->ooo[0], sb->n_ooo * sizeof(sb->ooo[0]));
	sb->ooo[0] = blk;
	sb->n_ooo++;
	return len;
}

/*
 * After RCV.NXT advanced: makes the stored range that now starts at or
 * before RCV.NXT part of the in-order data. Returns how far RCV.NXT moves.
 */
uint32_t tcp_rcv_ooo_merge(struct tcp_conn *c)
{
	struct tcp_sockbuf *sb = c->sb;
	uint32_t advanced = 0;

	for (size_t i = 0; i < sb->n_ooo;) {
		struct wire_sack_block *o = &sb->ooo[i];
		uint32_t nxt = c->rcv.nxt + advanced;
		if (seq_leq(o->right, nxt)) {
			ooo_remove(sb, i);          /* wholly received already */
		} else if (seq_leq(o->left, nxt)) {
			advanced += o->right - nxt;
			ooo_remove(sb, i);
			i = 0;                      /* another range may now touch */
		} else {
			i++;
		}
	}
	sb->rcv.len += advanced;
	return advanced;
}

/*
 * Gives up the out-of-order range furthest from RCV.NXT, and the chunks only
 * it held, for in-order data that found no chunk (Linux's
 * tcp_prune_ofo_queue). The peer sends it again: SACK no longer reports it,
 * which RFC 2018 8 allows the receiver (reneging). Returns the bytes given
 * up; 0 when no range is held.
 */
uint32_t tcp_rcv_ooo_prune(struct tcp_conn *c)
{
	struct tcp_sockbuf *sb = c->sb;
	if (!sb->n_ooo)
		return 0;
	size_t far = 0;
	for (size_t i = 1; i < sb->n_ooo; i++)
		if (seq_gt(sb->ooo[i].right, sb->ooo[far].right))
			far = i;
	uint32_t gone = sb->ooo[far].right - sb->ooo[far].left;
	ooo_remove(sb, far);
	/* What is still held ends with the in-order bytes or with the furthest range left. */
	uint32_t end = 0;
	for (size_t i = 0; i < sb->n_ooo; i++)
		if (sb->ooo[i].right - c->rcv.nxt > end)
			end = sb->ooo[i].right - c->rcv.nxt;
	ring_free_from(&c->stack->pool, &sb->rcv, sb->rcv.len + end);
	return gone;
}
