/*
 * Two stacks joined by the in-memory link, and the virtual clock that drives
 * them: the clock jumps straight to the next event (a packet due, a timer
 * due), so a scenario of many protocol-minutes runs in milliseconds and
 * repeats exactly for a given seed.
 */
#include <stdlib.h>

#include "link/link.h"
#include "tcp/tcp.h"

struct pipe_end {
	struct tw_pipe *pipe;
	int dir;                    /* LINK_A_TO_B for what stack a sends */
};

struct tw_pipe {
	struct link_pipe *link;
	struct tw_stack *a, *b;
	struct pipe_end end_a, end_b;
	uint64_t now;
	tw_pipe_tap_fn tap;
	void *tap_ctx;
};

static void pipe_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct pipe_end *end = ctx;
	struct tw_pipe *p = end->pipe;
	if (p->tap)
		p->tap(p->tap_ctx, p->now, end->dir == LINK_A_TO_B, pkt, len);
	link_pipe_send(p->link, end->dir, pkt, len, p->now);
}

struct tw_pipe *tw_pipe_new(const struct tw_pipe_config *cfg, struct tw_stack *a, struct tw_stack *b)
{
	if (!cfg || !a || !b || a == b)
		return NULL;
	struct tw_pipe *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->link = link_pipe_new(cfg->seed, &cfg->a_to_b, &cfg->b_to_a);
	if (!p->link) {
		free(p);
		return NULL;
	}
	p->a = a;
	p->b = b;
	p->end_a = (struct pipe_end){ p, LINK_A_TO_B };
	p->end_b = (struct pipe_end){ p, LINK_B_TO_A };
	tw_stack_set_output(a, pipe_output, &p->end_a);
	tw_stack_set_output(b, pipe_output, &p->end_b);
	return p;
}

void tw_pipe_free(struct tw_pipe *p)
{
	if (!p)
		return;
	tw_stack_set_output(p->a, NULL, NULL);
	tw_stack_set_output(p->b, NULL, NULL);
	link_pipe_free(p->link);
	free(p);
}

uint64_t tw_pipe_now(const struct tw_pipe *p) { return p->now; }

void tw_pipe_set_now(struct tw_pipe *p, uint64_t now)
{
	if (now > p->now)
		p->now = now;
}

void tw_pipe_set_tap(struct tw_pipe *p, tw_pipe_tap_fn tap, void *ctx)
{
	p->tap = tap;
	p->tap_ctx = ctx;
}

void tw_pipe_stats(const struct tw_pipe *p, bool from_a, struct tw_pipe_stats *out)
{
	link_pipe_stats(p->link, from_a ? LINK_A_TO_B : LINK_B_TO_A, out);
}

static uint64_t min3(uint64_t x, uint64_t y, uint64_t z)
{
	uint64_t m = x < y ? x : y;
	return m < z ? m : z;
}

bool tw_pipe_run(struct tw_pipe *p, uint64_t until, bool (*done)(void *ctx), void *ctx)
{
	if (done && done(ctx))
		return true;
	for (;;) {
		/* Everything due now: packets first, then the timers they leave due. */
		int dir;
		const uint8_t *pkt;
		size_t len;
		while (link_pipe_pop(p->link, p->now, &dir, &pkt, &len)) {
			tw_input(dir == LINK_A_TO_B ? p->b : p->a, pkt, len, p->now);
			if (done && done(ctx))
				return true;
		}
		uint64_t next = min3(tw_poll(p->a, p->now), tw_poll(p->b, p->now), link_pipe_next_due(p->link));
		if (done && done(ctx))
			return true;
		if (next <= p->now)
			continue;   /* a timer sent a packet due at once */
		if (next == UINT64_MAX || next > until) {
			if (until != UINT64_MAX && until > p->now) {
				p->now = until;
				tw_poll(p->a, p->now);
				tw_poll(p->b, p->now);
			}
			return done && done(ctx);
		}
		p->now = next;
	}
}
