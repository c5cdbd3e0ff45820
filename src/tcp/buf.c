/*
 * Byte rings for the send and receive buffers. A ring's storage is allocated
 * on first use, so connections that never carry data (half-open, handshake
 * only) cost no buffer memory; after that, no packet allocates.
 *
 * The receive ring holds the unread in-order bytes, and beyond them, at their
 * offset from RCV.NXT, out-of-order data: the advertised window never exceeds
 * the free space, so any acceptable segment fits.
 */
#include <stdlib.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

int tcp_ring_reserve(struct tcp_ring *r)
{
	if (r->buf || r->cap == 0)
		return 0;
	r->buf = malloc(r->cap);
	return r->buf ? 0 : -1;
}

void tcp_ring_free(struct tcp_ring *r)
{
	free(r->buf);
	r->buf = NULL;
	r->head = r->len = 0;
}

static void ring_copy_in(struct tcp_ring *r, uint32_t pos, const uint8_t *data, uint32_t len)
{
	uint32_t first = r->cap - pos < len ? r->cap - pos : len;
	memcpy(r->buf + pos, data, first);
	memcpy(r->buf, data + first, len - first);
}

/* Writes at `off` bytes past the head; the caller keeps off + len <= cap. */
void tcp_ring_write_at(struct tcp_ring *r, uint32_t off, const uint8_t *data, uint32_t len)
{
	if (len)
		ring_copy_in(r, (uint32_t)(((uint64_t)r->head + off) % r->cap), data, len);
}

uint32_t tcp_ring_write(struct tcp_ring *r, const uint8_t *data, uint32_t len)
{
	uint32_t room = r->cap - r->len;
	if (len > room)
		len = room;
	tcp_ring_write_at(r, r->len, data, len);
	r->len += len;
	return len;
}

void tcp_ring_read_at(const struct tcp_ring *r, uint32_t off, uint8_t *out, uint32_t len)
{
	if (!len)
		return;
	uint32_t pos = (uint32_t)(((uint64_t)r->head + off) % r->cap);
	uint32_t first = r->cap - pos < len ? r->cap - pos : len;
	memcpy(out, r->buf + pos, first);
	memcpy(out + first, r->buf, len - first);
}

void tcp_ring_consume(struct tcp_ring *r, uint32_t len)
{
	r->head = (uint32_t)(((uint64_t)r->head + len) % r->cap);
	r->len -= len;
	/* head stays where it is even when empty: out-of-order data may lie beyond it */
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
 * every range slot is taken and the segment joins none.
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

	tcp_ring_write_at(&sb->rcv, sb->rcv.len + (seq - c->rcv.nxt), data, len);
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
