/*
 * The retransmission timer (RFC 6298) and NewReno congestion control
 * (RFC 5681, RFC 6582), with Linux's constants where the RFCs leave a choice.
 */
#include "tcp/seq.h"
#include "tcp/tcp.h"

static void rto_clamp(struct tcp_conn *c)
{
	const struct tw_stack_config *cfg = &c->stack->cfg;
	if (c->rto_us > cfg->rto_max_us)
		c->rto_us = cfg->rto_max_us;
}

void tcp_rtt_sample(struct tcp_conn *c, uint32_t r)
{
	const struct tw_stack_config *cfg = &c->stack->cfg;

	if (r == 0)
		r = 1;
	if (c->srtt_us == 0) {
		/* RFC 6298 2.2: the first measurement. */
		c->srtt_us = r;
		c->rttvar_us = r / 2;
	} else {
		/* RFC 6298 2.3, alpha = 1/8, beta = 1/4. */
		uint32_t diff = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
		c->rttvar_us = c->rttvar_us - c->rttvar_us / 4 + diff / 4;
		c->srtt_us = c->srtt_us - c->srtt_us / 8 + r / 8;
	}
	/*
	 * DEVIATION(RFC 6298 2.4): the floor is rto_min above SRTT (200 ms by
	 * default, as Linux), not a 1 s minimum RTO.
	 */
	uint32_t var = 4 * c->rttvar_us;
	if (var < cfg->rto_min_us)
		var = cfg->rto_min_us;
	c->rto_us = c->srtt_us + var;
	rto_clamp(c);
}

void tcp_rto_backoff(struct tcp_conn *c)
{
	/* RFC 6298 5.5: RTO <- RTO * 2, up to the maximum. */
	uint64_t rto = (uint64_t)c->rto_us * 2;
	c->rto_us = rto > c->stack->cfg.rto_max_us ? c->stack->cfg.rto_max_us : (uint32_t)rto;
}

void tcp_cc_init(struct tcp_conn *c)
{
	/* RFC 6928: IW = init_cwnd segments (10 by default). */
	c->cwnd = c->stack->cfg.init_cwnd * c->snd_mss;
	c->ssthresh = UINT32_MAX;
	c->dupacks = 0;
}

static uint32_t half_flight(const struct tcp_conn *c)
{
	/* RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS). */
	uint32_t h = tcp_flight(c) / 2;
	return h > 2u * c->snd_mss ? h : 2u * c->snd_mss;
}

void tcp_cc_ack(struct tcp_conn *c, uint32_t acked)
{
	if (c->flags & TF_IN_RECOVERY)
		return;
	if (c->cwnd < c->ssthresh) {
		/* RFC 5681 3.1 slow start, with RFC 3465's limit L = 1 SMSS per ACK. */
		c->cwnd += acked < c->snd_mss ? acked : c->snd_mss;
	} else {
		/* RFC 5681 eq. 3: about one SMSS per RTT. */
		uint32_t inc = c->cwnd ? (uint32_t)((uint64_t)c->snd_mss * c->snd_mss / c->cwnd) : c->snd_mss;
		c->cwnd += inc ? inc : 1;
	}
}

bool tcp_cc_dupack(struct tcp_conn *c)
{
	if (c->flags & TF_IN_RECOVERY) {
		/* RFC 6582 3.2 step 3: inflate by one segment per further duplicate. */
		c->cwnd += c->snd_mss;
		return false;
	}
	if (++c->dupacks < 3)
		return false;
	/* RFC 6582 3.2 step 2 guard: no new recovery until the last one is over. */
	if (seq_leq(c->snd.una, c->recover))
		return false;
	tcp_cc_enter_recovery(c, 3);
	return true;
}

/*
 * RFC 5681 3.2 steps 2-3 (NewReno inflates by the three duplicates, RFC 6675
 * does not); RFC 6582 3.2 step 2 and RFC 6675 5: remember the recovery point.
 */
void tcp_cc_enter_recovery(struct tcp_conn *c, uint32_t inflate_segs)
{
	c->stack->stats.recoveries++;
	c->ssthresh = half_flight(c);
	c->cwnd = c->ssthresh + inflate_segs * c->snd_mss;
	c->recover = c->snd.max;
	c->flags |= TF_IN_RECOVERY;
}

void tcp_cc_partial_or_full_ack(struct tcp_conn *c, uint32_t ack, uint32_t acked)
{
	if (!(c->flags & TF_IN_RECOVERY)) {
		c->dupacks = 0;
		return;
	}
	if (seq_gt(ack, c->recover) || ack == c->recover) {
		/* RFC 6582 3.2 step 4, full acknowledgment: deflate to ssthresh. */
		uint32_t flight = tcp_flight(c) + c->snd_mss;
		c->cwnd = c->ssthresh < flight ? c->ssthresh : flight;
		c->flags &= (uint16_t)~TF_IN_RECOVERY;
		c->dupacks = 0;
		return;
	}
	/* RFC 6582 3.2 step 5, partial acknowledgment: retransmit the next hole, deflate. */
	tcp_retransmit_head(c, false);
	c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
	c->cwnd += c->snd_mss;
}

void tcp_cc_timeout(struct tcp_conn *c)
{
	/*
	 * RFC 2018 8: after a retransmission timeout the sender "MUST ignore
	 * prior SACK information", since the receiver may have discarded
	 * (reneged on) what it SACKed.
	 */
	if (c->sb) {
		c->sb->n_sacked = 0;
		c->sb->high_rxt = c->snd.una;
	}
	/*
	 * RFC 5681 3.1 eq. 4 and the loss window of one segment; RFC 6582 4:
	 * leave recovery. ssthresh is set only if the segment "has not yet been
	 * resent by way of the retransmission timer".
	 */
	if (c->backoff == 0)
		c->ssthresh = half_flight(c);
	c->cwnd = c->snd_mss;
	c->recover = c->snd.max;
	c->flags &= (uint16_t)~TF_IN_RECOVERY;
	c->dupacks = 0;
}
