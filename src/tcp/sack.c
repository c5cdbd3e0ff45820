/*
 * The sender's SACK scoreboard (RFC 2018) and SACK-based loss recovery in
 * the manner of RFC 6675: what the peer holds beyond SND.UNA is not sent
 * again, and the holes between are retransmitted as the pipe allows, one
 * round trip for many losses where NewReno needs one per loss.
 */
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

#define DUP_THRESH 3

static void remove_block(struct tcp_sockbuf *sb, size_t i)
{
	memmove(&sb->sacked[i], &sb->sacked[i + 1], (sb->n_sacked - i - 1) * sizeof(sb->sacked[0]));
	sb->n_sacked--;
}

/* Adds one reported block, keeping the list sorted and merged. */
static void add_block(struct tcp_sockbuf *sb, struct wire_sack_block b)
{
	size_t i = 0;
	while (i < sb->n_sacked && seq_lt(sb->sacked[i].right, b.left))
		i++;
	/* Merge every block that touches the new one. */
	while (i < sb->n_sacked && seq_leq(sb->sacked[i].left, b.right)) {
		b.left = seq_min(b.left, sb->sacked[i].left);
		b.right = seq_max(b.right, sb->sacked[i].right);
		remove_block(sb, i);
	}
	if (sb->n_sacked == TCP_SACKED_MAX) {
		/* Full: the highest block matters least to recovery; it goes. */
		if (i == TCP_SACKED_MAX)
			return;
		sb->n_sacked--;
	}
	memmove(&sb->sacked[i + 1], &sb->sacked[i], (sb->n_sacked - i) * sizeof(sb->sacked[0]));
	sb->sacked[i] = b;
	sb->n_sacked++;
}

void tcp_sack_update(struct tcp_conn *c, const struct wire_tcp_opts *o)
{
	struct tcp_sockbuf *sb = c->sb;
	if (!sb || !(c->flags & TF_SACK) || !(o->has & WIRE_HAS_SACK))
		return;
	for (size_t i = 0; i < o->sack_count; i++) {
		struct wire_sack_block b = o->sack[i];
		/* RFC 2018 4: a block must lie above SND.UNA and within what was sent; others (D-SACK, bogus) are ignored. */
		if (!seq_lt(b.left, b.right) || !seq_gt(b.left, c->snd.una) || seq_gt(b.right, c->snd.max))
			continue;
		add_block(sb, b);
	}
}

/* After SND.UNA moved: drop what it covers. */
void tcp_sack_trim(struct tcp_conn *c)
{
	struct tcp_sockbuf *sb = c->sb;
	if (!sb)
		return;
	/*
	 * A cumulative ACK that stops at or inside a SACKed block means the
	 * receiver dropped what it SACKed (reneging, RFC 2018 8): forget the
	 * scoreboard rather than skip data the peer no longer holds (as
	 * Linux's tcp_check_sack_reneging).
	 */
	if (sb->n_sacked && seq_geq(c->snd.una, sb->sacked[0].left) && seq_lt(c->snd.una, sb->sacked[0].right)) {
		sb->n_sacked = 0;
		sb->high_rxt = c->snd.una;
		return;
	}
	while (sb->n_sacked && seq_leq(sb->sacked[0].right, c->snd.una))
		remove_block(sb, 0);
	if (sb->n_sacked && seq_lt(sb->sacked[0].left, c->snd.una))
		sb->sacked[0].left = c->snd.una;
	if (seq_lt(sb->high_rxt, c->snd.una))
		sb->high_rxt = c->snd.una;
}

static uint32_t sacked_below(const struct tcp_sockbuf *sb, uint32_t x)
{
	uint32_t n = 0;
	for (size_t i = 0; i < sb->n_sacked && seq_lt(sb->sacked[i].left, x); i++)
		n += seq_min(sb->sacked[i].right, x) - sb->sacked[i].left;
	return n;
}

/* RFC 6675 4, IsLost(SND.UNA): DupThresh blocks, or more than (DupThresh - 1) * SMSS SACKed above it. */
bool tcp_sack_head_lost(const struct tcp_conn *c)
{
	const struct tcp_sockbuf *sb = c->sb;
	if (!sb || !sb->n_sacked)
		return false;
	return sb->n_sacked >= DUP_THRESH ||
	       sacked_below(sb, c->snd.max) > (DUP_THRESH - 1) * (uint32_t)c->snd_mss;
}

/*
 * RFC 6675 4, SetPipe, simplified with one assumption: holes below HighRxt
 * were retransmitted and are in flight, holes above it below the highest
 * SACKed byte are lost, and everything above that is in flight.
 */
uint32_t tcp_sack_pipe(const struct tcp_conn *c)
{
	const struct tcp_sockbuf *sb = c->sb;
	uint32_t high_sack = sb->n_sacked ? sb->sacked[sb->n_sacked - 1].right : c->snd.una;
	uint32_t rxt_edge = seq_min(sb->high_rxt, high_sack);
	uint32_t rxt_holes = (rxt_edge - c->snd.una) - sacked_below(sb, rxt_edge);
	return (c->snd.max - high_sack) + rxt_holes;
}

/* RFC 6675 4, NextSeg (rule 1): the first byte not SACKed, not yet resent, below the highest SACKed byte. */
static bool next_hole(const struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
	const struct tcp_sockbuf *sb = c->sb;
	uint32_t s = seq_max(sb->high_rxt, c->snd.una);
	for (size_t i = 0; i < sb->n_sacked; i++) {
		const struct wire_sack_block *b = &sb->sacked[i];
		if (seq_geq(s, b->right))
			continue;
		if (seq_geq(s, b->left)) {
			s = b->right;
			continue;
		}
		uint32_t n = b->left - s;
		*seq = s;
		*len = n < c->snd_mss ? n : c->snd_mss;
		return true;
	}
	return false;
}

/* RFC 6675 5, steps (C): while the pipe has room, resend holes. */
void tcp_sack_recover(struct tcp_conn *c)
{
	struct tcp_sockbuf *sb = c->sb;
	uint32_t seq, len;
	uint32_t pipe = tcp_sack_pipe(c);
	while (pipe < c->cwnd && next_hole(c, &seq, &len)) {
		tcp_send_range(c, seq, len);
		sb->high_rxt = seq + len;
		pipe += len;
	}
}

/*
 * Where sending resumes after a timeout moved SND.NXT back: past anything
 * the peer holds. Returns how much may be sent before the next SACKed block.
 */
uint32_t tcp_sack_skip(struct tcp_conn *c)
{
	struct tcp_sockbuf *sb = c->sb;
	if (!sb || !sb->n_sacked || !seq_lt(c->snd.nxt, c->snd.max))
		return UINT32_MAX;
	for (size_t i = 0; i < sb->n_sacked; i++) {
		const struct wire_sack_block *b = &sb->sacked[i];
		if (seq_leq(b->right, c->snd.nxt))
			continue;
		if (seq_leq(b->left, c->snd.nxt)) {
			c->snd.nxt = b->right;
			continue;
		}
		return b->left - c->snd.nxt;
	}
	return UINT32_MAX;
}
