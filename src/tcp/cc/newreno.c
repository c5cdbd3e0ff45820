/*
 * NewReno congestion control (RFC 5681, RFC 6582's window arithmetic), with
 * Linux's choices where the RFCs leave one. It owns cwnd and ssthresh; when
 * to reduce them, and what to resend, is the recovery module's decision.
 */
#include "tcp/tcp.h"

/* The window before the last reduction, for undo: priv[0] cwnd, priv[1] ssthresh. */
enum { PRIOR_CWND, PRIOR_SSTHRESH };

/* RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS). */
static uint32_t half_flight(const struct tcp_conn *c)
{
	uint32_t h = tcp_flight(c) / 2;
	return h > 2u * c->snd_mss ? h : 2u * c->snd_mss;
}

static void remember(struct tcp_conn *c)
{
	c->sb->cc.priv[PRIOR_CWND] = c->cwnd;
	c->sb->cc.priv[PRIOR_SSTHRESH] = c->ssthresh;
}

/*
 * RFC 6928: IW = init_cwnd segments (10 by default). RFC 5681 3.1, RFC 6928
 * 2: one segment when the SYN or SYN-ACK had to be sent again.
 */
static void newreno_init(struct tcp_conn *c, unsigned syn_rexmits)
{
	c->cwnd = (syn_rexmits ? 1 : c->stack->cfg.init_cwnd) * c->snd_mss;
	c->ssthresh = UINT32_MAX;
	remember(c);
}

static void newreno_on_ack(struct tcp_conn *c, uint32_t acked)
{
	if (c->cwnd < c->ssthresh) {
		/* RFC 5681 3.1 slow start, with RFC 3465's limit L = 1 SMSS per ACK. */
		c->cwnd += acked < c->snd_mss ? acked : c->snd_mss;
	} else {
		/* RFC 5681 eq. 3: about one SMSS per RTT. */
		uint32_t inc = c->cwnd ? (uint32_t)((uint64_t)c->snd_mss * c->snd_mss / c->cwnd) : c->snd_mss;
		c->cwnd += inc ? inc : 1;
	}
}

/* RFC 5681 3.2 step 2, RFC 6582 3.2 step 2, RFC 6675 5 step 4. */
static void newreno_on_congestion(struct tcp_conn *c)
{
	remember(c);
	c->ssthresh = half_flight(c);
	c->cwnd = c->ssthresh;
}

/* RFC 5681 3.1 eq. 4 and the loss window of one segment (RFC 5681 3.1). */
static void newreno_on_rto(struct tcp_conn *c, bool first)
{
	if (first) {
		remember(c);
		c->ssthresh = half_flight(c);
	}
	c->cwnd = c->snd_mss;
}

/* RFC 6675 5 and RFC 6582 3.2 step 4: the window deflates to ssthresh, at most `limit`. */
static void newreno_after_recovery(struct tcp_conn *c, uint32_t limit)
{
	c->cwnd = c->ssthresh < limit ? c->ssthresh : limit;
}

/*
 * RFC 5681 4.1 as Linux does it (tcp_cwnd_restart), counted in segments as
 * Linux counts: after an idle period the window halves for every RTO that
 * passed, down to the initial window; ssthresh keeps three quarters of the
 * old window.
 */
static void newreno_after_idle(struct tcp_conn *c, uint64_t idle_us)
{
	uint32_t mss = c->snd_mss;
	uint32_t segs = c->cwnd / mss;
	uint32_t restart = c->stack->cfg.init_cwnd;
	if (!segs)
		return;
	uint64_t three_quarters = (uint64_t)((segs >> 1) + (segs >> 2)) * mss;
	if (c->ssthresh < three_quarters)
		c->ssthresh = (uint32_t)three_quarters;
	if (restart > segs)
		restart = segs;
	uint64_t rto = c->rto_us ? c->rto_us : 1;
	for (uint64_t left = idle_us; left > rto && segs > restart; left -= rto)
		segs >>= 1;
	c->cwnd = (segs > restart ? segs : restart) * mss;
}

/* The reduction was for nothing (a spurious retransmission): the window comes back, as Linux's tcp_undo_cwnd. */
static void newreno_undo(struct tcp_conn *c)
{
	uint32_t prior_cwnd = c->sb->cc.priv[PRIOR_CWND];
	uint32_t prior_ssthresh = c->sb->cc.priv[PRIOR_SSTHRESH];
	if (c->cwnd < prior_cwnd)
		c->cwnd = prior_cwnd;
	if (c->ssthresh < prior_ssthresh)
		c->ssthresh = prior_ssthresh;
}

const struct tcp_cc_ops tcp_cc_newreno = {
	.name = "newreno",
	.init = newreno_init,
	.on_ack = newreno_on_ack,
	.on_congestion = newreno_on_congestion,
	.on_rto = newreno_on_rto,
	.after_recovery = newreno_after_recovery,
	.after_idle = newreno_after_idle,
	.undo = newreno_undo,
};

const struct tcp_cc_ops *tcp_cc_default(const struct tw_stack *st)
{
	(void)st;   /* one algorithm so far; the stack's choice goes here */
	return &tcp_cc_newreno;
}
