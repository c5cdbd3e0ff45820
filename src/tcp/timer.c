/*
 * Timers. Each connection has a deadline per kind of timer (enum tcp_timer:
 * delayed ACK, retransmission or probe, and an idle one: keepalive,
 * FIN-WAIT-2 or TIME-WAIT), one handler per kind below, and sits
 * in a hashed timing wheel once, at the earliest. Arming, moving and firing
 * a timer cost the same however many connections there are; a deadline more
 * than one turn away stays in its slot and is passed over until its turn.
 */
#include <errno.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcp.h"

#define WHEEL_MASK (TCP_WHEEL_SLOTS - 1)

/* A deadline's tick: the first tick at or after it, so no timer fires early. */
static uint64_t tick_of(uint64_t t) { return (t + TCP_TICK_US - 1) / TCP_TICK_US; }

void tcp_wheel_init(struct tcp_wheel *w, uint64_t now)
{
	memset(w, 0, sizeof(*w));
	w->done_tick = now / TCP_TICK_US;
}

static void wheel_link(struct tcp_wheel *w, struct tcp_wheel_node *n, uint64_t tick)
{
	if (tick <= w->done_tick)
		tick = w->done_tick + 1;
	size_t i = tick & WHEEL_MASK;
	n->tick = tick;
	n->prev = NULL;
	n->next = w->slot[i];
	if (n->next)
		n->next->prev = n;
	w->slot[i] = n;
	w->busy[i / 64] |= 1ull << (i % 64);
	w->count++;
}

static void wheel_unlink(struct tcp_wheel *w, struct tcp_wheel_node *n)
{
	size_t i = n->tick & WHEEL_MASK;
	if (n->prev)
		n->prev->next = n->next;
	else
		w->slot[i] = n->next;
	if (n->next)
		n->next->prev = n->prev;
	if (!w->slot[i])
		w->busy[i / 64] &= ~(1ull << (i % 64));
	n->tick = 0;
	w->count--;
}

static uint64_t earliest_deadline(const struct tcp_conn *c)
{
	uint64_t t = UINT64_MAX;
	for (int k = 0; k < TCP_TIMER_COUNT; k++)
		if (c->timer_at[k] && c->timer_at[k] < t)
			t = c->timer_at[k];
	return t;
}

void tcp_timer_update(struct tcp_conn *c)
{
	struct tcp_wheel *w = &c->stack->wheel;
	uint64_t t = earliest_deadline(c);
	uint64_t tick = t == UINT64_MAX ? 0 : tick_of(t);

	if (tick && tick <= w->done_tick)
		tick = w->done_tick + 1;
	if (c->tnode.tick == tick)
		return;
	if (c->tnode.tick)
		wheel_unlink(w, &c->tnode);
	if (tick)
		wheel_link(w, &c->tnode, tick);
}

void tcp_timer_remove(struct tcp_conn *c)
{
	if (c->tnode.tick)
		wheel_unlink(&c->stack->wheel, &c->tnode);
}

static struct tcp_conn *conn_of_node(struct tcp_wheel_node *n)
{
	return (struct tcp_conn *)((char *)n - offsetof(struct tcp_conn, tnode));
}

/* ------------------------------------------------------------- the handlers */

static void give_up(struct tcp_conn *c)
{
	c->stack->stats.conns_timed_out++;
	tcp_conn_done(c, ETIMEDOUT);
}

/* RFC 6298 5.4-5.6 for a SYN or SYN-ACK; RFC 9293 3.8.1 R2 for SYNs. */
static bool syn_timeout(struct tcp_conn *c)
{
	const struct tw_stack_config *cfg = &c->stack->cfg;
	uint32_t limit = c->state == TW_SYN_SENT ? cfg->syn_retries : cfg->synack_retries;

	if (c->backoff >= limit) {
		if (c->state == TW_SYN_RECEIVED && (c->flags & TF_PASSIVE)) {
			/* A half-open connection that never completed goes quietly. */
			tcp_conn_done(c, 0);
			return false;
		}
		give_up(c);
		return false;
	}
	c->backoff++;
	/* Linux's schedule: the first syn_linear_retries retransmissions keep the initial RTO. */
	if (c->state != TW_SYN_SENT || c->backoff > cfg->syn_linear_retries)
		tcp_rto_backoff(c);
	c->stack->stats.retrans_segs++;
	tcp_send_syn(c);
	tcp_retransmit_event(c, c->iss, 1, TW_RTX_SYN);
	c->timer_at[TCP_TIMER_RTX] = c->stack->now + c->rto_us;
	return true;
}

static bool data_retries_exhausted(struct tcp_conn *c)
{
	const struct tcp_sockbuf *sb = c->sb;
	if (sb && sb->user_timeout_ms && sb->rtx_since &&
	    c->stack->now - sb->rtx_since >= (uint64_t)sb->user_timeout_ms * 1000)
		return true;
	if (sb && sb->user_timeout_ms)
		return false;
	return c->backoff >= c->stack->cfg.data_retries;
}

static bool rtx_timeout(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;

	c->timer_at[TCP_TIMER_RTX] = 0;
	if (c->state == TW_SYN_SENT || c->state == TW_SYN_RECEIVED)
		return syn_timeout(c);
	if (c->flags & TF_PROBING) {
		/* RFC 9293 3.8.6.1: probe a zero window, backing off exponentially. */
		if (c->sb && c->sb->user_timeout_ms && c->sb->rtx_since &&
		    st->now - c->sb->rtx_since >= (uint64_t)c->sb->user_timeout_ms * 1000) {
			give_up(c);
			return false;
		}
		if (!c->sb->rtx_since)
			c->sb->rtx_since = st->now;
		/*
		 * A peer that answers none of data_retries probes is gone (Linux's
		 * tcp_retries2); an orphan gives up after as many probes, answered
		 * or not, since no application waits for its data any more.
		 */
		if (c->probes >= st->cfg.data_retries ||
		    ((c->flags & TF_ORPHAN) && c->backoff >= st->cfg.data_retries)) {
			give_up(c);
			return false;
		}
		if (tcp_send_persist(c))
			return true;   /* data went out: the retransmission timer runs now */
		c->probes++;
		if (c->backoff < 31)
			c->backoff++;
		uint64_t ivl = (uint64_t)c->rto_us << c->backoff;
		if (ivl > st->cfg.probe_max_us)
			ivl = st->cfg.probe_max_us;
		c->timer_at[TCP_TIMER_RTX] = st->now + ivl;
		return true;
	}
	if (c->snd.una == c->snd.max)
		return true;   /* everything was acknowledged meanwhile */
	if (c->snd.wnd == 0 && !(c->flags & TF_ORPHAN) && c->sb) {
		/*
		 * The peer shut its window on data in flight: the retransmissions
		 * are window probes and do not count against data_retries while
		 * the peer answers (Linux: only no ACK for TCP_RTO_MAX ends it).
		 */
		if (st->now - c->sb->last_ack_at > st->cfg.rto_max_us) {
			give_up(c);
			return false;
		}
	} else if (data_retries_exhausted(c)) {
		give_up(c);
		return false;
	}
	if (c->sb && !c->sb->rtx_since)
		c->sb->rtx_since = st->now;
	st->stats.timeouts++;
	/* RFC 5681 3.1 (eq. 4) and RFC 6298 5.5: collapse the window, back off the timer. */
	tcp_recovery_timeout(c);
	tcp_rto_backoff(c);
	c->backoff++;
	c->flags &= (uint16_t)~TF_RTT_TIMING;   /* Karn: no sample from a retransmitted segment */
	tcp_retransmit_head(c, true, TW_RTX_TIMEOUT);
	c->timer_at[TCP_TIMER_RTX] = st->now + c->rto_us;
	if (c->sb && c->sb->user_timeout_ms) {
		/* Like Linux's tcp_clamp_rto_to_user_timeout: the timer fires when the user timeout does. */
		uint64_t limit = c->sb->rtx_since + (uint64_t)c->sb->user_timeout_ms * 1000;
		if (c->timer_at[TCP_TIMER_RTX] > limit)
			c->timer_at[TCP_TIMER_RTX] = limit > st->now ? limit : st->now + 1;
	}
	return true;
}

static bool idle_timeout(struct tcp_conn *c)
{
	struct tw_stack *st = c->stack;

	c->timer_at[TCP_TIMER_IDLE] = 0;
	switch (c->state) {
	case TW_TIME_WAIT:
		/* RFC 9293 3.10.8: when the 2 MSL timeout expires, delete the TCB. */
		tcp_conn_done(c, 0);
		return false;
	case TW_FIN_WAIT_2:
		/* An orphan waits for the peer's FIN only so long (Linux's tcp_fin_timeout). */
		if (c->flags & TF_ORPHAN) {
			tcp_conn_done(c, 0);
			return false;
		}
		return true;
	default:
		break;
	}
	if (!c->sb || !c->sb->keepalive || c->state != TW_ESTABLISHED)
		return true;
	if (c->snd.una != c->snd.max) {
		/* Data in flight: the retransmission timer watches the peer (Linux skips the probe too). */
		tcp_keepalive_rearm(c);
		return true;
	}
	/* RFC 9293 3.8.4: keep-alive probes after an idle period; give up after keep_probes. */
	if (c->probes >= c->sb->keep_probes) {
		tcp_send_rst_for(c);
		give_up(c);
		return false;
	}
	tcp_send_probe(c);
	c->probes++;
	c->timer_at[TCP_TIMER_IDLE] = st->now + (uint64_t)c->sb->keep_intvl_s * 1000000;
	return true;
}

static bool delack_timeout(struct tcp_conn *c)
{
	c->timer_at[TCP_TIMER_DELACK] = 0;
	if (c->flags & TF_ACK_DELAYED) {
		/* Linux's tcp_delack_timer_handler: an ACK that waited in vain ends pingpong mode. */
		if (c->sb)
			c->sb->pingpong = false;
		tcp_send_ack(c);
	}
	return true;
}

/*
 * What each kind of timer does when it fires. A handler clears its own
 * deadline (it may arm it again) and returns false when the connection is
 * gone.
 */
static bool (*const timer_handlers[TCP_TIMER_COUNT])(struct tcp_conn *c) = {
	[TCP_TIMER_DELACK] = delack_timeout,
	[TCP_TIMER_RTX] = rtx_timeout,
	[TCP_TIMER_IDLE] = idle_timeout,
};

static void conn_timers_fire(struct tcp_conn *c, uint64_t now)
{
	for (int k = 0; k < TCP_TIMER_COUNT; k++)
		if (c->timer_at[k] && c->timer_at[k] <= now && !timer_handlers[k](c))
			return;
	tcp_timer_update(c);
}

/* Moves the due nodes of one slot to a private list, then fires them. */
static void run_slot(struct tw_stack *st, size_t i, uint64_t now_tick)
{
	struct tcp_wheel *w = &st->wheel;
	struct tcp_conn *due = NULL;

	for (struct tcp_wheel_node *n = w->slot[i], *next; n; n = next) {
		next = n->next;
		if (n->tick > now_tick)
			continue;
		wheel_unlink(w, n);
		/* The node is out of the wheel: its link can chain the due list. */
		struct tcp_conn *c = conn_of_node(n);
		n->next = due ? &due->tnode : NULL;
		due = c;
	}
	while (due) {
		struct tcp_conn *c = due;
		due = c->tnode.next ? conn_of_node(c->tnode.next) : NULL;
		c->tnode.next = NULL;
		conn_timers_fire(c, st->now);
	}
}

static size_t next_busy_slot(const struct tcp_wheel *w, size_t from)
{
	for (size_t k = 0; k <= TCP_WHEEL_SLOTS / 64; k++) {
		size_t word = (from / 64 + k) % (TCP_WHEEL_SLOTS / 64);
		uint64_t bits = w->busy[word];
		if (k == 0)
			bits &= ~0ull << (from % 64);
		if (bits) {
			size_t bit = 0;
			while (!(bits >> bit & 1))
				bit++;
			return word * 64 + bit;
		}
	}
	return SIZE_MAX;
}

void tcp_timers_run(struct tw_stack *st, uint64_t now)
{
	tcp_reqs_run(st, now);
	struct tcp_wheel *w = &st->wheel;
	uint64_t now_tick = now / TCP_TICK_US;

	if (now_tick > w->done_tick) {
		uint64_t span = now_tick - w->done_tick;
		if (span > TCP_WHEEL_SLOTS)
			span = TCP_WHEEL_SLOTS;
		uint64_t first = now_tick - span + 1;
		size_t start = first & WHEEL_MASK;
		size_t visited = 0;
		/* Timers re-armed while firing land after now, never in a slot already passed. */
		w->done_tick = now_tick;
		while (visited < span && w->count) {
			size_t i = next_busy_slot(w, (start + visited) & WHEEL_MASK);
			if (i == SIZE_MAX)
				break;
			size_t dist = (i - start) & WHEEL_MASK;
			/* Past the ticks due, or wrapped round to a slot already run (its timers are for a later turn). */
			if (dist >= span || dist < visited)
				break;
			visited = dist + 1;
			run_slot(st, i, now_tick);
		}
	}
}

/* The time of the next busy slot: no later than the earliest deadline's tick. */
static uint64_t wheel_next(const struct tw_stack *st)
{
	const struct tcp_wheel *w = &st->wheel;
	if (!w->count)
		return UINT64_MAX;
	size_t i = next_busy_slot(w, (w->done_tick + 1) & WHEEL_MASK);
	uint64_t dist = (i - ((w->done_tick + 1) & WHEEL_MASK)) & WHEEL_MASK;
	return (w->done_tick + 1 + dist) * TCP_TICK_US;
}

/* The time of the next busy slot (no later than the earliest deadline's tick), or a half-open entry's. */
uint64_t tcp_timers_next(const struct tw_stack *st)
{
	uint64_t wheel = wheel_next(st), reqs = tcp_reqs_next(st);
	return wheel < reqs ? wheel : reqs;
}
