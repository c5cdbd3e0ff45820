/*
 * The retransmission timeout (RFC 6298): RTT samples into SRTT and RTTVAR,
 * the RTO from them, and its backoff, with Linux's constants where the RFC
 * leaves a choice.
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
