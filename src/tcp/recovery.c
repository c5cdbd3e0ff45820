/*
 * Loss detection and recovery: the sender's SACK scoreboard (RFC 2018),
 * SACK-based recovery in the manner of RFC 6675, NewReno's recovery without
 * SACK (RFC 6582), Limited Transmit (RFC 3042), and what a retransmission
 * timeout does to all of it. This module decides when a loss is presumed and
 * what is sent again; the congestion control (cc/) is told of each
 * congestion event and sets the window; input.c reports what each ACK says.
 *
 * Where recovery is, as Linux names it: OPEN, DISORDER (duplicates or SACKs
 * seen, no loss presumed yet), FAST (fast recovery), LOSS (after a timeout,
 * until what was outstanding then is acknowledged).
 */
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

#define DUP_THRESH 3

static struct tcp_recovery *rec_of(struct tcp_conn *c) { return &c->sb->rec; }

static bool has_sack(const struct tcp_conn *c) { return (c->flags & TF_SACK) && c->sb; }

bool tcp_recovery_in_fast(const struct tcp_conn *c)
{
	return c->sb && c->sb->rec.state == TW_RECOVERY_FAST;
}

/* OPEN or DISORDER, from what has been seen; FAST and LOSS end by their own rules. */
static void refresh_state(struct tcp_conn *c)
{
	struct tcp_recovery *r = rec_of(c);
	if (r->state == TW_RECOVERY_LOSS && seq_geq(c->snd.una, r->recover))
		r->state = TW_RECOVERY_OPEN;
	if (r->state == TW_RECOVERY_OPEN || r->state == TW_RECOVERY_DISORDER)
		r->state = r->dupacks || r->n_sacked ? TW_RECOVERY_DISORDER : TW_RECOVERY_OPEN;
}

void tcp_recovery_init(struct tcp_conn *c)
{
	struct tcp_recovery *r = rec_of(c);
	memset(r, 0, sizeof(*r));
	r->state = TW_RECOVERY_OPEN;
	r->recover = c->iss;
}

/* ---------------------------------------------------------- the scoreboard */

static void remove_block(struct tcp_recovery *r, size_t i)
{
	memmove(&r->sacked[i], &r->sacked[i + 1], (r->n_sacked - i - 1) * sizeof(r->sacked[0]));
	r->n_sacked--;
}

/* Adds one reported block, keeping the list sorted and merged. */
static void add_block(struct tcp_recovery *r, struct wire_sack_block b)
{
	size_t i = 0;
	while (i < r->n_sacked && seq_lt(r->sacked[i].right, b.left))
		i++;
	/* Merge every block that touches the new one. */
	while (i < r->n_sacked && seq_leq(r->sacked[i].left, b.right)) {
		b.left = seq_min(b.left, r->sacked[i].left);
		b.right = seq_max(b.right, r->sacked[i].right);
		remove_block(r, i);
	}
	if (r->n_sacked == TCP_SACKED_MAX) {
		/* Full: the highest block matters least to recovery; it goes. */
		if (i == TCP_SACKED_MAX)
			return;
		r->n_sacked--;
	}
	memmove(&r->sacked[i + 1], &r->sacked[i], (r->n_sacked - i) * sizeof(r->sacked[0]));
	r->sacked[i] = b;
	r->n_sacked++;
}

void tcp_recovery_sack(struct tcp_conn *c, const struct wire_tcp_opts *o)
{
	if (!has_sack(c) || !(o->has & WIRE_HAS_SACK))
		return;
	for (size_t i = 0; i < o->sack_count; i++) {
		struct wire_sack_block b = o->sack[i];
		/* RFC 2018 4: a block must lie above SND.UNA and within what was sent; others (D-SACK, bogus) are ignored. */
		if (!seq_lt(b.left, b.right) || !seq_gt(b.left, c->snd.una) || seq_gt(b.right, c->snd.max))
			continue;
		add_block(rec_of(c), b);
	}
}

/* RFC 2018 8: forget what the peer SACKed (after a timeout, or when it reneged). */
static void forget_sacks(struct tcp_conn *c)
{
	struct tcp_recovery *r = rec_of(c);
	r->n_sacked = 0;
	r->high_rxt = c->snd.una;
}

/* After SND.UNA moved: drop what it covers. */
static void trim_scoreboard(struct tcp_conn *c)
{
	struct tcp_recovery *r = rec_of(c);
	/*
	 * A cumulative ACK that stops at or inside a SACKed block means the
	 * receiver dropped what it SACKed (reneging, RFC 2018 8): forget the
	 * scoreboard rather than skip data the peer no longer holds (as
	 * Linux's tcp_check_sack_reneging).
	 */
	if (r->n_sacked && seq_geq(c->snd.una, r->sacked[0].left) && seq_lt(c->snd.una, r->sacked[0].right)) {
		forget_sacks(c);
		return;
	}
	while (r->n_sacked && seq_leq(r->sacked[0].right, c->snd.una))
		remove_block(r, 0);
	if (r->n_sacked && seq_lt(r->sacked[0].left, c->snd.una))
		r->sacked[0].left = c->snd.una;
	if (seq_lt(r->high_rxt, c->snd.una))
		r->high_rxt = c->snd.una;
}

static uint32_t sacked_below(const struct tcp_recovery *r, uint32_t x)
{
	uint32_t n = 0;
	for (size_t i = 0; i < r->n_sacked && seq_lt(r->sacked[i].left, x); i++)
		n += seq_min(r->sacked[i].right, x) - r->sacked[i].left;
	return n;
}

/* RFC 6675 4, IsLost(SND.UNA): DupThresh blocks, or more than (DupThresh - 1) * SMSS SACKed above it. */
static bool head_lost(const struct tcp_conn *c)
{
	const struct tcp_recovery *r = &c->sb->rec;
	if (!r->n_sacked)
		return false;
	return r->n_sacked >= DUP_THRESH || sacked_below(r, c->snd.max) > (DUP_THRESH - 1) * (uint32_t)c->snd_mss;
}

/*
 * RFC 6675 4, SetPipe, simplified with one assumption: holes below HighRxt
 * were retransmitted and are in flight, holes above it below the highest
 * SACKed byte are lost, and everything above that is in flight.
 */
static uint32_t pipe(const struct tcp_conn *c)
{
	const struct tcp_recovery *r = &c->sb->rec;
	uint32_t high_sack = r->n_sacked ? r->sacked[r->n_sacked - 1].right : c->snd.una;
	uint32_t rxt_edge = seq_min(r->high_rxt, high_sack);
	uint32_t rxt_holes = (rxt_edge - c->snd.una) - sacked_below(r, rxt_edge);
	return (c->snd.max - high_sack) + rxt_holes;
}

/* RFC 6675 4, NextSeg (rule 1): the first byte not SACKed, not yet resent, below the highest SACKed byte. */
static bool next_hole(const struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
	const struct tcp_recovery *r = &c->sb->rec;
	uint32_t s = seq_max(r->high_rxt, c->snd.una);
	for (size_t i = 0; i < r->n_sacked; i++) {
		const struct wire_sack_block *b = &r->sacked[i];
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
static void resend_holes(struct tcp_conn *c)
{
	uint32_t seq, len;
	uint32_t in_pipe = pipe(c);
	while (in_pipe < c->cwnd && next_hole(c, &seq, &len)) {
		tcp_send_range(c, seq, len, TW_RTX_RECOVERY);
		rec_of(c)->high_rxt = seq + len;
		in_pipe += len;
	}
}

uint32_t tcp_recovery_skip_sacked(struct tcp_conn *c)
{
	if (!c->sb)
		return UINT32_MAX;
	const struct tcp_recovery *r = &c->sb->rec;
	if (!r->n_sacked || !seq_lt(c->snd.nxt, c->snd.max))
		return UINT32_MAX;
	for (size_t i = 0; i < r->n_sacked; i++) {
		const struct wire_sack_block *b = &r->sacked[i];
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

uint32_t tcp_recovery_unsacked_head(const struct tcp_conn *c, uint32_t len)
{
	const struct tcp_recovery *r = &c->sb->rec;
	if (r->n_sacked && seq_lt(r->sacked[0].left, c->snd.una + len))
		len = r->sacked[0].left - c->snd.una;
	return len;
}

/* ------------------------------------------------------ entering, leaving */

/* A loss is presumed: the congestion control reduces the window, recovery starts. */
static void enter_fast_recovery(struct tcp_conn *c, uint32_t inflate_segs)
{
	struct tcp_recovery *r = rec_of(c);
	c->stack->stats.recoveries++;
	c->sb->cc.ops->on_congestion(c);
	/* RFC 5681 3.2 steps 2-3: NewReno inflates by the three duplicates; RFC 6675 does not. */
	r->inflation = (int32_t)(inflate_segs * c->snd_mss);
	/* RFC 6582 3.2 step 2, RFC 6675 5: remember the recovery point. */
	r->recover = c->snd.max;
	r->state = TW_RECOVERY_FAST;
}

static void leave_fast_recovery(struct tcp_conn *c, uint32_t cwnd_limit)
{
	struct tcp_recovery *r = rec_of(c);
	r->state = TW_RECOVERY_OPEN;
	r->inflation = 0;
	r->dupacks = 0;
	c->sb->cc.ops->after_recovery(c, cwnd_limit);
}

/* RFC 6582 3.2 steps 4 and 5: an ACK of new data during NewReno's fast recovery. */
static void newreno_partial_or_full(struct tcp_conn *c, uint32_t ack, uint32_t acked)
{
	struct tcp_recovery *r = rec_of(c);
	if (seq_geq(ack, r->recover)) {
		/* Step 4, full acknowledgment: deflate, to ssthresh or what is in flight plus one segment. */
		leave_fast_recovery(c, tcp_flight(c) + c->snd_mss);
		return;
	}
	/* Step 5, partial acknowledgment: retransmit the next hole, deflate by what was ACKed, add a segment. */
	tcp_retransmit_head(c, false, TW_RTX_RECOVERY);
	int64_t window = (int64_t)c->cwnd + r->inflation;
	window = (window > acked ? window - acked : 0) + c->snd_mss;
	r->inflation = (int32_t)(window - c->cwnd);
}

void tcp_recovery_new_ack(struct tcp_conn *c, uint32_t ack, uint32_t acked)
{
	if (!c->sb)
		return;
	struct tcp_recovery *r = rec_of(c);
	trim_scoreboard(c);
	bool fast = r->state == TW_RECOVERY_FAST;
	/*
	 * Outside recovery the recovery point follows SND.UNA, so the guard
	 * against re-entering recovery (RFC 6582 3.2, RFC 6675 5) keeps its
	 * meaning modulo 2^32 however long a connection runs without loss.
	 */
	if (!fast && seq_gt(c->snd.una, r->recover + 1))
		r->recover = c->snd.una - 1;
	if (!fast)
		c->sb->cc.ops->on_ack(c, acked);
	else if (!(c->flags & TF_SACK))
		newreno_partial_or_full(c, ack, acked);
	if (r->state != TW_RECOVERY_FAST)
		r->dupacks = 0;
	refresh_state(c);
}

void tcp_recovery_dupack(struct tcp_conn *c)
{
	if (!c->sb)
		return;
	struct tcp_recovery *r = rec_of(c);
	if (c->flags & TF_SACK) {
		/* Counted; tcp_recovery_after_ack decides. */
		if (r->dupacks < 255)
			r->dupacks++;
		refresh_state(c);
		return;
	}
	if (r->state == TW_RECOVERY_FAST) {
		/*
		 * RFC 6582 3.2 step 3: inflate by one segment per further duplicate;
		 * beyond the largest window the peer offered it would change
		 * nothing, so a peer's endless duplicates stop there.
		 */
		uint32_t most = (uint32_t)INT32_MAX - c->snd_mss;
		if (r->inflation < (int32_t)(c->snd.max_wnd < most ? c->snd.max_wnd : most))
			r->inflation += c->snd_mss;
		return;
	}
	if (r->dupacks < 255)
		r->dupacks++;
	refresh_state(c);
	/* RFC 6582 3.2 step 2 guard: no new recovery until the last one is over. */
	if (r->dupacks < DUP_THRESH || seq_leq(c->snd.una, r->recover))
		return;
	enter_fast_recovery(c, DUP_THRESH);
	/* RFC 5681 3.2: the third duplicate ACK retransmits the missing segment. */
	tcp_retransmit_head(c, false, TW_RTX_FAST);
}

/* RFC 6675 5: enter loss recovery, go on with it, or leave it. */
void tcp_recovery_after_ack(struct tcp_conn *c)
{
	if (!has_sack(c))
		return;
	struct tcp_recovery *r = rec_of(c);
	if (r->state == TW_RECOVERY_FAST) {
		if (seq_geq(c->snd.una, r->recover)) {
			/* The recovery point is acknowledged: recovery ends at ssthresh. */
			leave_fast_recovery(c, UINT32_MAX);
			refresh_state(c);
			return;
		}
	} else {
		if (c->snd.una == c->snd.max || seq_leq(c->snd.una, r->recover))
			return;
		if (r->dupacks < DUP_THRESH && !head_lost(c))
			return;
		enter_fast_recovery(c, 0);
		r->high_rxt = c->snd.una;
		/* Step (3): the first segment presumed lost goes at once, whatever the pipe. */
		tcp_retransmit_head(c, false, TW_RTX_FAST);
		r->high_rxt = seq_max(r->high_rxt, c->snd.una + c->snd_mss);
	}
	resend_holes(c);
}

void tcp_recovery_timeout(struct tcp_conn *c)
{
	if (!c->sb)
		return;
	struct tcp_recovery *r = rec_of(c);
	/*
	 * RFC 2018 8: after a retransmission timeout the sender "MUST ignore
	 * prior SACK information", since the receiver may have discarded
	 * (reneged on) what it SACKed.
	 */
	forget_sacks(c);
	/*
	 * RFC 5681 3.1 and RFC 6582 4: the window collapses and fast recovery,
	 * if it was on, ends; ssthresh is set only if the segment "has not yet
	 * been resent by way of the retransmission timer".
	 */
	c->sb->cc.ops->on_rto(c, c->backoff == 0);
	r->recover = c->snd.max;
	r->state = TW_RECOVERY_LOSS;
	r->inflation = 0;
	r->dupacks = 0;
}

/* ------------------------------------------------------------ the window */

/*
 * The congestion window in force: in NewReno's fast recovery, inflated by
 * the duplicates; otherwise with RFC 3042's Limited Transmit, which lets one
 * new segment go beyond it on each of the first two duplicate ACKs, so a
 * small window still draws the duplicates that trigger fast retransmit.
 */
static uint32_t window_in_force(const struct tcp_conn *c)
{
	const struct tcp_recovery *r = &c->sb->rec;
	if (r->state == TW_RECOVERY_FAST) {
		int64_t w = (int64_t)c->cwnd + r->inflation;
		return w > 0 ? (uint32_t)(w > UINT32_MAX ? UINT32_MAX : w) : 0;
	}
	if (!r->dupacks || c->snd.nxt != c->snd.max)
		return c->cwnd;   /* new data only: not the resending that follows a timeout */
	uint32_t extra = (r->dupacks < 2 ? r->dupacks : 2u) * c->snd_mss;
	return c->cwnd + extra;
}

uint32_t tcp_recovery_usable(const struct tcp_conn *c, uint32_t sent)
{
	uint32_t peer = c->snd.wnd > sent ? c->snd.wnd - sent : 0;
	if (tcp_recovery_in_fast(c) && (c->flags & TF_SACK)) {
		/*
		 * RFC 6675 5 (C), NextSeg rule 3: in SACK recovery new data goes
		 * while the pipe, not everything since SND.UNA, is under cwnd; the
		 * peer's window still bounds it.
		 */
		uint32_t in_pipe = pipe(c);
		uint32_t room = c->cwnd > in_pipe ? c->cwnd - in_pipe : 0;
		return room < peer ? room : peer;
	}
	uint32_t w = window_in_force(c);
	uint32_t wnd = c->snd.wnd < w ? c->snd.wnd : w;
	return wnd > sent ? wnd - sent : 0;
}

/* The window tw_conn_info reports: cwnd, inflated in NewReno's fast recovery. */
uint32_t tcp_recovery_cwnd(const struct tcp_conn *c)
{
	if (!tcp_recovery_in_fast(c))
		return c->cwnd;
	return window_in_force(c);
}
